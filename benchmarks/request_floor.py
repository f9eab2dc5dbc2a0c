"""What a request costs the server before any write: the floor under the 8-writer race.

Usage (from the repository root)::

    PYTHONPATH=. .venv/bin/python -m benchmarks.request_floor [--rounds 3]

The 8-writer race (``benchmarks/writers_race.py``) keeps the machine's cores busy
with its clients and the server together, so a server's CPU per write decides
its writes/s. This prints the CPU per request (user + system, from ``/proc``) of
three servers answering 8 concurrent clients (``request_floor.mjs``, 400
requests a run; POST of 100 bytes, then GET) that do no work at all:

- ``daphne-bare``: Daphne with an ASGI app that reads the body and answers
  ``ok`` (``benchmarks/bare_asgi.py``): the protocol server alone;
- ``django-healthz``: our Daphne (as the race runs it) answering ``/healthz``,
  which the second middleware answers: Django's request handling, no view;
- ``naive``: the tutorial's overwriting file server, a GET (its POST writes).

Each run's figure is printed, then the medians and ranges per server.
"""

import argparse
import json
import statistics
import tempfile
from contextlib import ExitStack
from pathlib import Path

from benchmarks.writers_race import Process, cpu_seconds, naive_server, our_server
from tests import live
from tests.conftest import run_node

ROOT = Path(__file__).resolve().parent.parent
CLIENT = ROOT / "benchmarks" / "request_floor.mjs"
REQUESTS = 400


def bare_daphne(workdir):
    """Daphne serving ``benchmarks/bare_asgi.py``; (Process, port)."""
    port = live.free_port()
    command = [str(live.BIN / "daphne"), "-p", str(port), "-v", "0"]
    command += ["benchmarks.bare_asgi:application"]
    return Process(command, ROOT, log_path=workdir / "bare.log"), port


def run(url, method, pid):
    """(server CPU ms per request, client CPU ms per request, requests/s)."""
    before = cpu_seconds(pid)
    result = run_node(CLIENT, "--url", url, "--method", method, "--requests", REQUESTS)
    spent = cpu_seconds(pid) - before
    report = json.loads(result.stdout)
    return spent * 1000 / REQUESTS, report["clientCpuMs"], report["perSecond"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="request-floor-") as tmp,
        ExitStack() as stack,
    ):
        workdir = Path(tmp)
        bare, bare_port = bare_daphne(workdir)
        (workdir / "ours").mkdir()
        ours, ours_port, _ = our_server(ROOT, workdir / "ours")
        (workdir / "naive").mkdir()
        naive, naive_port, _ = naive_server(workdir / "naive")
        targets = []
        for name, process, port, path, methods in (
            ("daphne-bare", bare, bare_port, "/", ("POST", "GET")),
            ("django-healthz", ours, ours_port, "/healthz", ("POST", "GET")),
            ("naive", naive, naive_port, "/floor", ("GET",)),
        ):
            stack.enter_context(process)
            live.wait_for_port(port, process=process.process)
            for method in methods:
                targets.append(
                    (
                        f"{name} {method}",
                        f"http://127.0.0.1:{port}{path}",
                        method,
                        process.process.pid,
                    )
                )
        figures = {name: [] for name, *_ in targets}
        for _, url, method, pid in targets:
            run(url, method, pid)  # not counted: warms the server up
        for round_ in range(args.rounds):
            for name, url, method, pid in targets:
                server, client, rate = run(url, method, pid)
                figures[name].append(server)
                print(
                    f"round {round_ + 1} {name}: server {server:.2f} ms per request, "
                    f"client {client:.2f} ms, {rate:.0f} requests/s",
                    flush=True,
                )
    for name, values in figures.items():
        print(
            f"{name}: server CPU per request median {statistics.median(values):.2f} ms "
            f"({min(values):.2f}–{max(values):.2f})"
        )


if __name__ == "__main__":
    main()
