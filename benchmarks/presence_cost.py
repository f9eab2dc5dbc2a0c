"""What presence costs the server while N tabs hold a list open and say nothing else.

Usage (from the repository root)::

    PYTHONPATH=. .venv/bin/python -m benchmarks.presence_cost \
        [--sockets 10,50,100] [--systems one,two] [--seconds 10] [--rounds 1]

Starts the servers of each system as ``benchmarks/push_latency.py`` does
(``one``: one Daphne process, SQLite, the in-memory channel layer; ``two``: two
Daphne processes sharing PostgreSQL and Redis; DEBUG off) with
``TODOS_PRESENCE_TIMEOUT=3``, so each socket announces itself every
second, and runs ``tests/node/presence_clients.mjs``: N sockets on one list
that speak presence as the app does (a frame a second). Once every socket sees
all the others, it measures for ``--seconds`` the CPU time (user + system, from
``/proc``) of the Daphne processes and, for ``two``, of the Redis server, and
prints it as a share of one core, with the presence frames the clients received
per second. Nothing else happens on the list, so the CPU is what presence's
heartbeats cost.
"""

import argparse
import json
import secrets
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.push_latency import Servers, cpu_seconds

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = ROOT / "tests" / "node" / "presence_clients.mjs"
TIMEOUT = 3  # seconds: a heartbeat every second


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", default="10,50,100")
    parser.add_argument("--systems", default="one,two")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=1)
    return parser.parse_args()


def redis_pids():
    """The Redis server's process ids (its CPU counts for ``two``)."""
    found = subprocess.run(["pgrep", "-x", "redis-server"], capture_output=True)
    return [int(pid) for pid in found.stdout.split()]


class System:
    """The Daphne processes of one system (push_latency's ``Servers``)."""

    def __init__(self, name, directory):
        self.servers = Servers(
            [name],
            directory,
            TODOS_PRESENCE_TIMEOUT=TIMEOUT,
            TODOS_LOG_LEVEL="WARNING",
        )
        self.name = name
        self.others = redis_pids() if name == "two" else []

    def urls(self):
        return ",".join(self.servers.urls[self.name])

    def cpu(self):
        daphne = cpu_seconds(self.servers.pids[self.name])
        return daphne, sum(cpu_seconds([pid]) for pid in self.others)

    def stop(self):
        self.servers.stop()


def measure(system, sockets, seconds):
    """One run: (Daphne CPU share, Redis CPU share, the clients' report)."""
    command = ["node", str(CLIENTS), "--urls", system.urls()]
    command += ["--doc", f"presence-{secrets.token_hex(4)}"]
    command += ["--sockets", str(sockets), "--seconds", str(seconds)]
    client = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert client.stderr.readline().strip() == b"ready"
    before, started = system.cpu(), time.monotonic()
    assert client.stderr.readline().strip() == b"done"
    after, wall = system.cpu(), time.monotonic() - started
    report = json.loads(client.communicate(timeout=60)[0])
    daphne, redis = ((b - a) / wall for a, b in zip(before, after, strict=True))
    return daphne, redis, report


def main():
    args = parse_args()
    counts = [int(n) for n in args.sockets.split(",")]
    with tempfile.TemporaryDirectory(prefix="presence-cost-") as tmp:
        for name in args.systems.split(","):
            system = System(name, Path(tmp))
            try:
                for _ in range(args.rounds):
                    for sockets in counts:
                        daphne, redis, report = measure(system, sockets, args.seconds)
                        print(
                            f"{name} N={sockets}: Daphne {daphne * 100:.1f}% of a "
                            f"core, Redis {redis * 100:.1f}%; "
                            f"{report['sawEveryone']} of {sockets} saw everyone "
                            f"(the fewest saw {report['fewestSeen']}); "
                            f"{report['framesPerSecond']:.0f} presence frames/s "
                            "to the clients",
                            flush=True,
                        )
            finally:
                system.stop()


if __name__ == "__main__":
    main()
