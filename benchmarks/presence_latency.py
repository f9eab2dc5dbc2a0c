"""Presence latency: how soon the others see someone come, go, or vanish.

Alice holds a socket on a list (todos/presence/); Bob opens one on the same list
and later closes it. Each trial measures, on Alice's socket:

- ``join``: from Bob starting his WebSocket handshake to Alice's presence frame
  showing one other;
- ``leave``: from Bob closing his socket to Alice's frame showing none.

Two setups, trials alternating between them so a noisy machine affects both
alike: ``single``, Alice and Bob on one Daphne process (SQLite, in-memory
channel layer); ``pair``, Alice and Bob on two Daphne processes sharing
PostgreSQL and Redis. Then, on the pair with ``TODOS_PRESENCE_TIMEOUT`` short:

- ``silent``: Bob's socket stays open but his client sends nothing more (the
  tab vanished without closing it): from his last frame to Alice seeing none;
- ``killed``: Bob's Daphne process is SIGKILLed: from the kill to Alice seeing
  none (each trial restarts the process).

Prints each figure's median (and quartiles), the pair/single ratios, and the
load average before and after. Needs PostgreSQL and Redis (tests/services.py).

Usage: python benchmarks/presence_latency.py [--trials 30] [--timeout 3]
       [--vanish-trials 5] [--kill-trials 3]
"""

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import live, services  # noqa: E402
from tests.helpers.presence import join, wait_for_others  # noqa: E402


def ms(seconds):
    return round(seconds * 1000, 1)


def summary(values):
    """'median (q1–q3) ms, n' of a list of seconds."""
    q1, median, q3 = (
        statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
    )
    return f"median {ms(median)} ms (quartiles {ms(q1)}–{ms(q3)}), n={len(values)}"


def come_and_go(alice_server, bob_server):
    """One trial: (join seconds, leave seconds) as Alice sees Bob."""
    doc_id = secrets.token_urlsafe(18)
    alice = join(alice_server, doc_id)
    wait_for_others(alice, 0)
    started = time.perf_counter()
    bob = join(bob_server, doc_id)
    wait_for_others(alice, 1)
    joined = time.perf_counter() - started
    started = time.perf_counter()
    bob.close()
    wait_for_others(alice, 0)
    left = time.perf_counter() - started
    alice.close()
    return joined, left


def vanish_silent(alice_server, bob_server, timeout):
    """Seconds from Bob's last frame to Alice seeing none; Bob's socket stays."""
    doc_id = secrets.token_urlsafe(18)
    alice = join(alice_server, doc_id)
    started = time.perf_counter()
    bob = join(bob_server, doc_id)
    wait_for_others(alice, 1)
    wait_for_others(alice, 0, timeout=timeout * 2)
    gone = time.perf_counter() - started
    alice.close()
    bob.close()
    return gone


def vanish_killed(alice_server, bob_server, timeout):
    """Seconds from SIGKILL of Bob's process to Alice seeing none."""
    doc_id = secrets.token_urlsafe(18)
    alice = join(alice_server, doc_id)
    bob = join(bob_server, doc_id)
    wait_for_others(alice, 1)
    started = time.perf_counter()
    bob_server.kill()
    wait_for_others(alice, 0, timeout=timeout * 2)
    gone = time.perf_counter() - started
    alice.close()
    bob.close()
    bob_server.start()
    return gone


def start(directory, name, **env_kwargs):
    env = live.server_env(**env_kwargs)
    live.migrate(env)
    return live.LiveServer(env, log_path=directory / f"{name}.log").start()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--timeout", type=float, default=3.0)
    parser.add_argument("--vanish-trials", type=int, default=5)
    parser.add_argument("--kill-trials", type=int, default=3)
    options = parser.parse_args()
    for service in ("postgres", "redis"):
        reason = services.unavailable_reason(service)
        if reason:
            raise SystemExit(reason)
    print(f"load average before: {os.getloadavg()}", flush=True)
    database = live.PostgresDatabase(services.service_url("postgres"))
    servers = []
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        try:
            single = start(directory, "single", sqlite_path=directory / "db.sqlite3")
            shared = {
                "database_url": database.url,
                "redis_url": services.service_url("redis"),
            }
            pair = [start(directory, f"pair{i}", **shared) for i in range(2)]
            short = [
                start(
                    directory,
                    f"short{i}",
                    **shared,
                    TODOS_PRESENCE_TIMEOUT=options.timeout,
                )
                for i in range(2)
            ]
            servers = [single, *pair, *short]
            figures = {key: [] for key in ("single", "pair")}
            for trial in range(options.trials):
                order = ("single", "pair") if trial % 2 == 0 else ("pair", "single")
                for setup in order:
                    ends = (single, single) if setup == "single" else pair
                    figures[setup].append(come_and_go(*ends))
            for setup in ("single", "pair"):
                joins, leaves = zip(*figures[setup], strict=True)
                print(f"{setup} join:  {summary(joins)}")
                print(f"{setup} leave: {summary(leaves)}")
            for index, what in ((0, "join"), (1, "leave")):
                pair_median = statistics.median(t[index] for t in figures["pair"])
                one = statistics.median(t[index] for t in figures["single"])
                print(f"{what} ratio pair/single: {pair_median / one:.2f}")
            silent = [
                vanish_silent(*short, options.timeout)
                for _ in range(options.vanish_trials)
            ]
            print(
                f"silent client gone (timeout {options.timeout} s): {summary(silent)}"
            )
            killed = [
                vanish_killed(*short, options.timeout)
                for _ in range(options.kill_trials)
            ]
            print(
                f"killed process gone (timeout {options.timeout} s): {summary(killed)}"
            )
        finally:
            for server in servers:
                server.stop()
            database.drop()
    print(f"load average after: {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
