"""Write latency of our server against the tutorial's load-merge-save server (issue 2).

Run it as ``.venv/bin/python benchmarks/write_latency.py``. For every run it starts
a fresh Daphne server (temporary SQLite file, DEBUG off; see ``tests/live.py``) and
a fresh ``benchmarks/tutorial_server.mjs --merge`` (the tutorial's suggested fix:
load the stored file, Automerge.merge the upload, save, write), then times
``benchmarks/write_client.mjs`` against both for four cases:

- incremental: a list of 10 / 5,000 items is stored, then every write uploads
  ``Automerge.saveIncremental()`` of one new item;
- save: the same, but every write uploads ``Automerge.save()`` of the whole list
  with the new item (the tutorial client's way of writing);
- floor: GETs of a stored empty list, what a minimal request costs.

Each case writes sequentially on one keep-alive connection; warm-up writes are not
counted. It prints a table per run and the issue's targets, and replaces the
"Writes (issue 2)" section of ``docs/benchmarks.md`` (``--no-docs`` to skip).
"""

import argparse
import datetime
import json
import os
import platform
import re
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import live  # noqa: E402

CLIENT = ROOT / "benchmarks" / "write_client.mjs"
TUTORIAL_SERVER = ROOT / "benchmarks" / "tutorial_server.mjs"
REPORT = ROOT / "docs" / "benchmarks.md"
SECTION = "## Writes (issue 2)"
SMALL, LARGE = 10, 5000
FLOOR = ("floor", 0)
CASES = [
    FLOOR,
    ("incremental", SMALL),
    ("incremental", LARGE),
    ("save", SMALL),
    ("save", LARGE),
]
SERVERS = ("ours", "baseline")
# Targets from issue 2, on medians of incremental writes.
MAX_LARGE_TO_SMALL = 1.5
MIN_SPEEDUP_OVER_BASELINE = 50
SAVE_WARMUP = 3


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2, help="full runs (default 2)")
    parser.add_argument(
        "--repetitions",
        type=int,
        default=200,
        help="timed incremental writes per case (default 200)",
    )
    parser.add_argument(
        "--save-repetitions",
        type=int,
        default=20,
        help="timed full-save writes per case (default 20)",
    )
    parser.add_argument(
        "--warmup", type=int, default=20, help="untimed writes first (default 20)"
    )
    parser.add_argument(
        "--no-docs", action="store_true", help=f"do not rewrite {REPORT.name}"
    )
    return parser.parse_args()


class OurServer:
    """A Daphne server as an operator would run it, on a temporary SQLite file."""

    def __init__(self, workdir):
        env = live.server_env(
            sqlite_path=workdir / "bench.sqlite3",
            DJANGO_DEBUG="0",
            DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
            # Plain HTTP on 127.0.0.1, as behind a proxy that terminates TLS.
            DJANGO_SECURE_SSL_REDIRECT="0",
            TODOS_LOG_LEVEL="WARNING",
        )
        live.migrate(env)
        self.server = live.LiveServer(env, log_path=workdir / "daphne.log")

    def __enter__(self):
        self.server.start()
        return self

    def __exit__(self, *exc):
        self.server.stop()

    def doc_url(self, doc_id):
        return f"{self.server.url}/docs/{doc_id}"


class BaselineServer:
    """The tutorial's file server with its suggested fix, ``--merge``."""

    def __init__(self, workdir):
        self.port = live.free_port()
        self.command = ["node", str(TUTORIAL_SERVER), "--merge"]
        self.command += ["--port", str(self.port), "--data", str(workdir / "files")]
        self.log_path = workdir / "tutorial.log"
        self.process = None

    def __enter__(self):
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            self.command, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT
        )
        live.wait_for_port(self.port, process=self.process)
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(10)
        self.log.close()

    def doc_url(self, doc_id):
        return f"http://127.0.0.1:{self.port}/{doc_id}"


def time_writes(url, mode, items, repetitions, warmup):
    """Run the Node client for one case; return its JSON report."""
    result = subprocess.run(
        ["node", str(CLIENT), "--url", url, "--items", str(items), "--mode", mode]
        + ["--repetitions", str(repetitions), "--warmup", str(warmup)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if result.returncode != 0:
        raise RuntimeError(f"write_client.mjs failed for {url}:\n{result.stderr}")
    return json.loads(result.stdout)


def run_once(args):
    """One run on fresh servers: {(server, mode, items): client report}."""
    results = {}
    with tempfile.TemporaryDirectory(prefix="write-latency-") as tmp:
        workdir = Path(tmp)
        with OurServer(workdir) as ours, BaselineServer(workdir) as baseline:
            servers = {"ours": ours, "baseline": baseline}
            for mode, items in CASES:
                reps, warmup = repetitions(args, mode)
                for name in SERVERS:
                    url = servers[name].doc_url(f"bench-{mode}-{items}")
                    print(f"  {name:8} {mode:11} {items:5} items ...", file=sys.stderr)
                    results[name, mode, items] = time_writes(
                        url, mode, items, reps, warmup
                    )
    return results


def repetitions(args, mode):
    """(timed writes, warm-up writes) for a case: full saves are slow, so fewer."""
    if mode != "save":
        return args.repetitions, args.warmup
    return args.save_repetitions, min(args.warmup, SAVE_WARMUP)


def machine():
    """What the figures were measured on."""
    cpuinfo_path = Path("/proc/cpuinfo")
    cpuinfo = cpuinfo_path.read_text() if cpuinfo_path.exists() else ""
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    node = subprocess.run(["node", "--version"], capture_output=True, text=True)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    automerge = json.loads(
        (ROOT / "node_modules/@automerge/automerge/package.json").read_text()
    )["version"]
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": model.group(1).strip() if model else platform.processor() or "unknown",
        "python": platform.python_version(),
        "node": node.stdout.strip(),
        "automerge": automerge,
        "os": f"{platform.system()} {platform.release()}",
        "load": "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg()),
        "commit": commit.stdout.strip() or "unknown",
    }


def ratios(results):
    """The issue's two target ratios, on incremental medians."""
    ours_small = results["ours", "incremental", SMALL]["medianMs"]
    ours_large = results["ours", "incremental", LARGE]["medianMs"]
    base_large = results["baseline", "incremental", LARGE]["medianMs"]
    return ours_large / ours_small, base_large / ours_large


def table(results):
    """A Markdown table of one run: both servers side by side, per case."""
    lines = [
        "| Case | Body | Ours median / p90 / p99 (ms) | Ours writes/s "
        "| Baseline median / p90 / p99 (ms) | Baseline writes/s | Baseline ÷ ours |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for mode, items in CASES:
        ours = results["ours", mode, items]
        base = results["baseline", mode, items]
        lines.append(
            f"| {_case(mode, items)} | {_size(ours.get('bodyBytesMedian'))} "
            f"| {_latency(ours)} | {ours['writesPerSecond']:.0f} "
            f"| {_latency(base)} | {base['writesPerSecond']:.1f} "
            f"| {_ratio(base['medianMs'] / ours['medianMs'])} |"
        )
    return "\n".join(lines)


def drift_table(results):
    """How our latency moves as uncompacted chunks pile up during one case."""
    lines = [
        "| Case | Ours: chunks stored, first → last timed write "
        "| Ours: median of first → last tenth (ms) "
        "| Baseline: median of first → last tenth (ms) |",
        "|---|--:|--:|--:|",
    ]
    for mode, items in CASES[1:]:
        ours = results["ours", mode, items]
        base = results["baseline", mode, items]
        lines.append(
            f"| {_case(mode, items)} | {ours['firstChunks']} → {ours['lastChunks']} "
            f"| {ours['firstTenthMedianMs']:.2f} → {ours['lastTenthMedianMs']:.2f} "
            f"| {base['firstTenthMedianMs']:.2f} → {base['lastTenthMedianMs']:.2f} |"
        )
    return "\n".join(lines)


def verdict(results):
    """The targets, each with its figure and whether this run met it."""
    large_to_small, speedup = ratios(results)
    return [
        (
            f"ours 5,000-item ÷ 10-item incremental median = {large_to_small:.2f} "
            f"(target ≤ {MAX_LARGE_TO_SMALL})",
            large_to_small <= MAX_LARGE_TO_SMALL,
        ),
        (
            f"baseline ÷ ours, 5,000-item incremental median = {speedup:.1f}x "
            f"(target ≥ {MIN_SPEEDUP_OVER_BASELINE}x)",
            speedup >= MIN_SPEEDUP_OVER_BASELINE,
        ),
    ]


def floor_note(results):
    """What the request floor means for the speed-up target, in this run."""
    floor = results["ours", *FLOOR]["medianMs"]
    needed = (
        results["baseline", "incremental", LARGE]["medianMs"]
        / MIN_SPEEDUP_OVER_BASELINE
    )
    return (
        f"our request floor (GET of an empty list) has a median of {floor:.2f} ms; "
        f"{MIN_SPEEDUP_OVER_BASELINE}x the baseline needs a write in ≤ {needed:.2f} ms"
    )


# Why the figures look as they do, from reading and profiling the server at the
# commit named in the section; update it when the server changes.
NOTES = """\
Reading the figures (server code as of commit d9628a3). An incremental write to
our server reads neither the document's bytes nor its chunk rows: it parses the
upload, locks the document row, checks the change against the row's clock and the
known change hashes, and inserts one chunk row, so 10 and 5,000 items cost the
same, however many chunks are stored (second table). Profiled in-process that
is about 2.5 ms a write; the rest is the request itself, the floor row: Daphne,
and Django's ASGI handler running each synchronous view in a fresh worker thread
(in-process, a GET through Django's ASGI handler took about 3 ms against 0.5 ms
through WSGI). On this loaded 2-core machine that costs about as much as the
whole 10-item load-merge-save in Node, and the 50x target is out of reach while
the floor alone is above 1/50 of the baseline's 5,000-item write. (Before
d9628a3 a write read every stored chunk row and computed heads over them, so
its latency grew with the chunks not yet compacted: 9 ms to 38 ms over 200
incremental writes in one of our runs.) A full `save()` upload is slow
on our server: it is parsed in pure Python (about 50 ms for the 64 KB document)
and, being self-contained, checked with `todos.reference.load_error`, which
builds Python objects of the whole document (about 270 ms) where loading it with
`automerge.Doc` alone takes about 1 ms. The baseline's cost is loading and saving
the whole document on every write, whatever the upload."""


def section(runs, info, args):
    """The "Writes (issue 2)" section of docs/benchmarks.md."""
    stored = runs[0]["ours", "incremental", LARGE]["baseBytes"]
    warmup = min(args.warmup, SAVE_WARMUP)
    out = [
        SECTION,
        "",
        "How long one write takes: our server (Django on Daphne, chunk-level merge in "
        "SQLite) against the Automerge tutorial's file server with its suggested fix "
        "(`benchmarks/tutorial_server.mjs --merge`: load the stored file, "
        "`Automerge.merge` the upload, `save`, write), the load-merge-save baseline.",
        "",
        f"Machine: {info['nproc']} cores ({info['cpu']}), {info['os']}; Python "
        f"{info['python']}, Node {info['node']}, @automerge/automerge "
        f"{info['automerge']}; code at commit {info['commit']}. Measured "
        f"{info['date']}; load average at start {info['load']}: the machine is "
        "shared with other engineers' test suites, so the figures are noisy, the "
        "p99s most of all.",
        "",
        "How: `.venv/bin/python benchmarks/write_latency.py`. Each run starts fresh "
        "servers (ours with a temporary SQLite file and `DJANGO_DEBUG=0`). For each "
        "case `benchmarks/write_client.mjs` (real Automerge in Node) stores a list of "
        f"10 or 5,000 items (built one change per item; the 5,000-item save is "
        f"{stored / 1000:.0f} KB), then writes one new item at a time, sequentially "
        "on one keep-alive connection: *incremental* uploads "
        "`Automerge.saveIncremental()` (one change), *save* uploads "
        "`Automerge.save()` of the whole list. Only the HTTP request is timed. The "
        "*request floor* row times GETs of a stored empty list (about 100 bytes): "
        f"what a minimal request costs on that server. Incremental and floor cases: "
        f"{args.repetitions} timed requests after {args.warmup} warm-up ones; save "
        f"cases: {args.save_repetitions} after {warmup}. Each case runs against ours "
        "and then the baseline, so both see the same background load. Figures are "
        "medians, 90th and 99th percentiles; writes/s is 1000 ÷ mean latency (one "
        "client, one request at a time). Body is the median upload size.",
        "",
    ]
    for number, results in enumerate(runs, 1):
        out += [f"### Run {number}", "", table(results), "", drift_table(results), ""]
        out += [f"- {_met(ok)}: {text}" for text, ok in verdict(results)]
        out += [f"- note: {floor_note(results)}", ""]
    out += [
        "Targets (issue 2): our 5,000-item incremental median within 1.5x of our "
        "10-item one, and at least 50x faster than the baseline's 5,000-item "
        "incremental median.",
        "",
        NOTES,
        "",
    ]
    return "\n".join(out)


def write_section(text):
    """Replace (or append) our section of docs/benchmarks.md, keeping the others."""
    current = REPORT.read_text() if REPORT.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.M | re.S)
    if pattern.search(current):
        updated = pattern.sub(lambda _: text.rstrip("\n") + "\n\n", current, count=1)
    else:
        updated = current.rstrip("\n") + "\n\n" + text + "\n"
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(updated.rstrip("\n") + "\n")


def _ratio(ratio):
    return f"{ratio:.2f}x" if ratio < 1 else f"{ratio:.1f}x"


def _met(ok):
    return "met" if ok else "MISSED"


def _latency(report):
    return f"{report['medianMs']:.2f} / {report['p90Ms']:.2f} / {report['p99Ms']:.2f}"


def _case(mode, items):
    if (mode, items) == FLOOR:
        return "request floor: GET of an empty list"
    return f"{mode}, {items:,} items"


def _size(size):
    if size is None:
        return "–"
    return f"{size / 1000:.1f} KB" if size >= 1000 else f"{size} B"


def main():
    args = parse_args()
    info = machine()
    print(f"Machine: {json.dumps(info)}", file=sys.stderr)
    runs = []
    for number in range(1, args.runs + 1):
        print(f"Run {number} of {args.runs}", file=sys.stderr)
        runs.append(run_once(args))
        print(f"\nRun {number}\n\n{table(runs[-1])}\n\n{drift_table(runs[-1])}\n")
        for text, ok in verdict(runs[-1]):
            print(f"- {_met(ok)}: {text}")
        print(f"- note: {floor_note(runs[-1])}")
        print(flush=True)
    if not args.no_docs:
        write_section(section(runs, info, args))
        print(f"Wrote the {SECTION!r} section of {REPORT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
