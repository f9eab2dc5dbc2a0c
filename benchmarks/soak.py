"""Soak (issue 7): 50 WebSocket clients on one list, 200 lists written over HTTP.

Run it as ``.venv/bin/python benchmarks/soak.py`` (10 minutes by default). It
starts one Daphne (temporary SQLite file, or ``--database-url``; ``DJANGO_DEBUG=0``,
see ``tests/live.py``), then ``benchmarks/soak_clients.mjs``: WebSocket clients
editing one list with the browser app's protocol, and plain Automerge clients
writing other documents over HTTP (see that file). No client compacts the list:
the server compacts its own copy. Every 10 s it samples the server's resident
memory (``VmRSS`` in ``/proc/<pid>/status``) and CPU time.

It prints a JSON report (``--out`` to keep it): writes per second (WebSocket
edits and HTTP writes), push latency (median, p99 over every push every other
client received), server memory over time, lost edits (changes a client made
that the server's copy lacks, and acknowledged HTTP items missing from theirs),
full saves sent (after a 409) and the most stored chunks any ack or update frame
reported.
Figures go to ``docs/benchmarks.md`` by hand; this is not a test.

``--trace PATH`` runs the server under ``benchmarks/traced_daphne.py``: a thread
inside it appends the server's own memory figures to PATH every 10 s (glibc
malloc in use and free, Python's allocator arenas, live objects, the channel
layer's groups; tracemalloc with ``TODOS_TRACE_FRAMES=N``), so that growth of RSS
can be told apart from growth of live data. See that file.

The default load (each client edits every 6 s, so about 8 edits a second on the
list, each pushed to 49 sockets; 10 HTTP writes a second) is one that one Daphne
process keeps up with on a shared 2-core machine; with ``--edit-every 2000`` it
fell behind (push latency grew without bound), see ``docs/benchmarks.md``.
"""

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import live  # noqa: E402

CLIENTS = ROOT / "benchmarks" / "soak_clients.mjs"
TRACED_DAPHNE = ROOT / "benchmarks" / "traced_daphne.py"
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
TICKS = os.sysconf("SC_CLK_TCK")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--edit-every", type=int, default=6000, help="ms per client")
    parser.add_argument("--http-rate", type=float, default=10, help="writes/s")
    parser.add_argument("--http-concurrency", type=int, default=4)
    parser.add_argument("--sample-every", type=float, default=10, help="seconds")
    parser.add_argument("--database-url", help="PostgreSQL (default: SQLite)")
    parser.add_argument("--redis-url", help="channels_redis (default: in-memory)")
    parser.add_argument("--out", help="write the JSON report here")
    parser.add_argument("--log", help="copy the server's log here")
    parser.add_argument(
        "--trace",
        help="run the server under benchmarks/traced_daphne.py, which appends "
        "memory samples (malloc, Python objects, channel layer, tracemalloc with "
        "TODOS_TRACE_FRAMES) here",
    )
    return parser.parse_args()


def rss_kb(pid):
    """Resident memory of process ``pid`` in KiB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


def cpu_seconds(pid):
    """User + system CPU time of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


class Sampler(threading.Thread):
    """Every ``every`` seconds: server RSS, server CPU use and the load average."""

    def __init__(self, pid, every):
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.samples = []
        self.halt = threading.Event()

    def run(self):
        started = time.monotonic()
        last_cpu, last_at = cpu_seconds(self.pid), started
        while not self.halt.wait(self.every):
            now, cpu = time.monotonic(), cpu_seconds(self.pid)
            self.samples.append(
                {
                    "seconds": round(now - started, 1),
                    "rss_mib": round(rss_kb(self.pid) / 1024, 1),
                    "server_cpu": round((cpu - last_cpu) / (now - last_at), 2),
                    "load1": os.getloadavg()[0],
                }
            )
            last_cpu, last_at = cpu, now


class TracedServer(live.LiveServer):
    """``live.LiveServer``, but Daphne runs under ``benchmarks/traced_daphne.py``."""

    def __init__(self, env, trace_path, **kwargs):
        super().__init__(env, **kwargs)
        self.trace_path = Path(trace_path).resolve()

    def start(self):
        self.trace_path.write_text("")  # the sampler appends
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [
                str(live.BIN / "python"),
                str(TRACED_DAPHNE),
                str(self.trace_path),
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                "--websocket-max-message-size",
                str(live.WS_MAX_BYTES),
                "--websocket-max-frame-size",
                str(live.WS_MAX_BYTES),
                "todo_site.asgi:application",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        # Importing Django under tracemalloc is slow on a busy machine.
        live.wait_for_port(self.port, timeout=180, process=self.process)
        return self


def start_server(args, workdir):
    env = live.server_env(
        database_url=args.database_url,
        sqlite_path=None if args.database_url else workdir / "soak.sqlite3",
        redis_url=args.redis_url,
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_SECURE_SSL_REDIRECT="0",
        TODOS_LOG_LEVEL="WARNING",
    )
    live.migrate(env)
    if args.trace:
        server = TracedServer(env, args.trace, log_path=workdir / "daphne.log")
    else:
        server = live.LiveServer(env, log_path=workdir / "daphne.log")
    return server.start()


def run_clients(args, server):
    command = [
        "node",
        "--experimental-websocket",
        "--no-warnings",
        str(CLIENTS),
        "--url",
        server.url,
        "--clients",
        str(args.clients),
        "--docs",
        str(args.docs),
        "--seconds",
        str(int(args.minutes * 60)),
        "--edit-every",
        str(args.edit_every),
        "--http-rate",
        str(args.http_rate),
        "--http-concurrency",
        str(args.http_concurrency),
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    progress, report = [], None
    for line in process.stdout:
        message = json.loads(line)
        if "progress" in message:
            progress.append(message["progress"])
            print(json.dumps(message["progress"]), file=sys.stderr, flush=True)
        else:
            report = message["report"]
    if process.wait() != 0 or report is None:
        raise SystemExit(f"soak_clients.mjs failed with status {process.returncode}")
    return progress, report


TRACE_FIELDS = (
    "rss_mib",
    "rss_peak_mib",
    "malloc_used_mib",
    "malloc_free_mib",
    "pymalloc_arenas",
    "pymalloc_used_mib",
    "gc_objects",
    "traced_mib",
)


def summarise_trace(path, warm=120):
    """The server's own memory figures (traced_daphne.py): at ``warm`` s and last."""
    records = [json.loads(line) for line in Path(path).read_text().splitlines()]
    records = [r for r in records if "rss_mib" in r]
    if not records:
        return None
    first = next((r for r in records if r["seconds"] >= warm), records[0])
    return {
        field: [first.get(field), records[-1].get(field)]
        for field in TRACE_FIELDS
        if field in first
    }


def summarise(report, progress, samples, wall):
    edited = report["editedSeconds"]
    warm = [s["rss_mib"] for s in samples if s["seconds"] >= 120] or [
        s["rss_mib"] for s in samples
    ]
    return {
        "ws_edits_per_second": round(report["wsEdits"] / edited, 1),
        "http_writes_per_second": round(report["httpWrites"] / edited, 1),
        "writes_per_second": round(
            (report["wsEdits"] + report["httpWrites"]) / edited, 1
        ),
        "push_latency_ms": {
            k: None if v is None else round(v, 1)
            for k, v in report["pushLatency"].items()
        },
        "push_p99_per_interval_ms": [
            None if p["pushP99"] is None else round(p["pushP99"], 1) for p in progress
        ],
        "rss_mib": {
            "first": samples[0]["rss_mib"] if samples else None,
            "warm_min": min(warm, default=None),
            "warm_max": max(warm, default=None),
            "last": samples[-1]["rss_mib"] if samples else None,
        },
        "lost_edits": report["lostWebSocketEdits"] + report["lostHttpEdits"],
        "undelivered_edits": report["undeliveredWebSocketEdits"],
        "full_saves_sent": report["wsSaves"],
        "max_stored_chunks": report["maxStoredChunks"],
        "last_stored_chunks": report["lastStoredChunks"],
        "socket_closes": report["socketCloses"],
        "wall_seconds": round(wall, 1),
    }


def main():
    args = parse_args()
    # On SIGTERM too, stop the server below rather than leave it running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="soak-") as directory:
        workdir = Path(directory)
        server = start_server(args, workdir)
        sampler = Sampler(server.process.pid, args.sample_every)
        started = time.monotonic()
        try:
            sampler.start()
            progress, report = run_clients(args, server)
        finally:
            sampler.halt.set()
            sampler.join()
            server.stop()
            if args.log:
                shutil.copy(workdir / "daphne.log", args.log)
        summary = summarise(
            report, progress, sampler.samples, time.monotonic() - started
        )
        if args.trace:
            summary["server_memory_at_2_min_and_last"] = summarise_trace(args.trace)
        result = {
            "args": vars(args),
            "summary": summary,
            "report": report,
            "samples": sampler.samples,
            "progress": progress,
        }
    text = json.dumps(result, indent=2)
    if args.out:
        Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
