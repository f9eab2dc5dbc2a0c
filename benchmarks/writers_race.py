"""Writes per second of 8 racing writers: our server against the naive tutorial server.

Runs ``tests/node/race_clients.mjs --clients 8 --rounds 25 --mode incremental
--start base --refetch-every 0`` against one Daphne process on a fresh SQLite
file (DEBUG off, as ``benchmarks/write_latency.py`` runs it) and, alternately,
``--mode save`` against the tutorial's overwriting file server
(``benchmarks/tutorial_server.mjs`` without ``--merge``), ``--pairs`` times, each
race on a new document. Prints each run's writes/s (uploads ÷ race seconds),
how many of the 200 edits the final document lacks, and the CPU time (user +
system) spent per write: by the server process (from ``/proc``, over the whole
client run), by its children (our engine processes) and by the clients' Node
process while they raced (``process.cpuUsage()``); then the medians, ranges,
how many cores the three kept busy together (CPU per write × writes/s), and
the ratio ours ÷ naive. The clients and the servers share the machine's cores,
so a server's CPU per write is what it takes from the clients' share. Each
server first runs one race that is not counted (it starts the engine processes).

``--server-root DIR`` runs Daphne from another checkout (its code, this venv),
so that a before/after pair can alternate in one session: give it twice
(``--server-root A --server-root B``) to alternate A, B and the naive server.
"""

import argparse
import json
import os
import secrets
import statistics
import subprocess
import tempfile
from contextlib import ExitStack
from pathlib import Path

from tests import live
from tests.conftest import run_node

ROOT = Path(__file__).resolve().parent.parent
RACE_CLIENTS = ROOT / "tests" / "node" / "race_clients.mjs"
TUTORIAL_SERVER = ROOT / "benchmarks" / "tutorial_server.mjs"
CLIENTS = 8
ROUNDS = 25


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=6, help="runs per side")
    parser.add_argument(
        "--server-root",
        action="append",
        type=Path,
        help="checkout to run Daphne from (repeat to compare; default: this one)",
    )
    return parser.parse_args()


class Process:
    """A server subprocess that is terminated on exit."""

    def __init__(self, command, cwd, env=None, log_path=None):
        self.command, self.cwd, self.env, self.log_path = command, cwd, env, log_path

    def __enter__(self):
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            self.command,
            cwd=self.cwd,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def our_server(root, workdir):
    """Daphne from checkout ``root`` on a fresh SQLite file; (Process, base URL)."""
    env = live.server_env(
        sqlite_path=workdir / "bench.sqlite3",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_SECURE_SSL_REDIRECT="0",
        TODOS_LOG_LEVEL="WARNING",
    )
    subprocess.run(
        [str(live.BIN / "python"), "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=root,
        env=env,
        check=True,
    )
    port = live.free_port()
    command = live.LiveServer(env, port=port).command()
    server = Process(command, root, env, workdir / "daphne.log")
    return server, port, f"http://127.0.0.1:{port}/docs/"


def naive_server(workdir):
    """The tutorial's overwriting file server; (Process, port, base URL)."""
    port = live.free_port()
    command = ["node", str(TUTORIAL_SERVER), "--port", str(port)]
    command += ["--data", str(workdir / "files")]
    server = Process(command, ROOT, log_path=workdir / "tutorial.log")
    return server, port, f"http://127.0.0.1:{port}/"


def cpu_seconds(pid):
    """User + system CPU seconds process ``pid`` has used (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid):
    """The ids of ``pid``'s child processes (its engine processes, for Daphne)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError):
            continue
        if parent == pid:
            found.append(int(entry))
    return found


def cpu_of(pid):
    """(CPU seconds of ``pid``, CPU seconds of its children) so far."""
    return cpu_seconds(pid), sum(cpu_seconds(child) for child in children(pid))


def race(url, mode):
    """One race of CLIENTS × ROUNDS; (writes/s, edits lost, statuses, clients' CPU).

    The clients' CPU is their Node process's user + system milliseconds per
    write while they raced.
    """
    args = ["--urls", url, "--doc", f"bench-{secrets.token_hex(4)}"]
    args += ["--clients", CLIENTS, "--rounds", ROUNDS, "--mode", mode]
    args += ["--start", "base", "--refetch-every", 0]
    result = run_node(RACE_CLIENTS, *args, timeout=600, check=False)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    report = json.loads(result.stdout)
    uploads = sum(report["stats"]["uploads"].values())
    lost = report["checks"][0]["missingCount"]
    rate = uploads / report["seconds"]
    clients_cpu = report["cpuSeconds"] * 1000 / uploads
    return rate, lost, report["stats"]["statuses"], clients_cpu


def main():
    args = parse_args()
    roots = args.server_root or [ROOT]
    with (
        tempfile.TemporaryDirectory(prefix="writers-race-") as tmp,
        ExitStack() as stack,
    ):
        servers = []
        for index, root in enumerate(roots):
            workdir = Path(tmp) / f"ours-{index}"
            workdir.mkdir()
            process, port, url = our_server(root, workdir)
            servers.append(
                (
                    f"ours[{root}]",
                    "incremental",
                    stack.enter_context(process),
                    port,
                    url,
                )
            )
        naive_dir = Path(tmp) / "naive"
        naive_dir.mkdir()
        process, port, url = naive_server(naive_dir)
        servers.append(("naive", "save", stack.enter_context(process), port, url))
        for _, mode, process, port, url in servers:
            live.wait_for_port(port, process=process.process)
            # Not counted: starts the engine processes and warms the caches.
            race(url, mode)
        figures = {name: [] for name, *_ in servers}
        cpu = {name: [] for name, *_ in servers}
        for pair in range(args.pairs):
            # Rotate the order so that no side always runs first.
            turn = servers[pair % len(servers) :] + servers[: pair % len(servers)]
            for name, mode, process, _, url in turn:
                before = cpu_of(process.process.pid)
                rate, lost, statuses, clients_cpu = race(url, mode)
                after = cpu_of(process.process.pid)
                figures[name].append((rate, lost))
                spent = [b - a for a, b in zip(before, after, strict=True)]
                server, engines = (s * 1000 / (CLIENTS * ROUNDS) for s in spent)
                cpu[name].append((server, engines, clients_cpu))
                print(
                    f"pair {pair + 1} {name}: {rate:.1f} writes/s, "
                    f"{lost} of {CLIENTS * ROUNDS} edits lost, {statuses}, "
                    f"CPU per write: server {server:.2f} ms, engines {engines:.2f} "
                    f"ms, clients {clients_cpu:.2f} ms",
                    flush=True,
                )
        print(f"load average at the end: {os.getloadavg()}")
    report(figures, cpu)


def report(figures, cpu):
    """Print each side's medians and ranges, and the ratios to the naive server."""
    medians = {
        name: statistics.median(r for r, _ in runs) for name, runs in figures.items()
    }
    for name, runs in figures.items():
        rates = [rate for rate, _ in runs]
        lost = [lost for _, lost in runs]
        print(
            f"{name}: median {medians[name]:.1f} writes/s "
            f"({min(rates):.1f}–{max(rates):.1f}), lost {lost}"
        )
        parts = list(zip(*cpu[name], strict=True))
        busy = [
            sum(ms) * rate / 1000 for ms, (rate, _) in zip(cpu[name], runs, strict=True)
        ]
        print(
            "  CPU per write, median (range): "
            + ", ".join(
                f"{part} {statistics.median(ms):.2f} ms ({min(ms):.2f}–{max(ms):.2f})"
                for part, ms in zip(
                    ("server", "engines", "clients"), parts, strict=True
                )
            )
            + f"; cores busy {statistics.median(busy):.2f}"
        )
    for name in medians:
        if name != "naive":
            print(f"{name} ÷ naive: {medians[name] / medians['naive']:.2f}")


if __name__ == "__main__":
    main()
