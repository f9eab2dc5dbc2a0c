"""Push latency between automerge-repo 2.x clients, through this server and theirs.

One writer Repo and L listener Repos (automerge-repo 2.5.6, WebSocket client
adapter, no storage) run ``benchmarks/automerge_repo_push_latency.mjs
--repo-version 2`` against:

- ``ours``: one Daphne process (SQLite) at ``ws://.../automerge-repo``, where
  every change is validated and stored under the document's lock before the
  sync reply and the pushes;
- ``theirs``: ``@automerge/automerge-repo-sync-server`` 0.2.8 on Node (it
  stores to files).

Runs alternate between the two, ``--rounds`` times per listener count, so that
a noisy machine affects both alike. Prints each run's median (ms from
``handle.change`` in the writer to the listener's change event) and, per
listener count, the median of the runs' medians and their ratio.

Usage: python benchmarks/repo_endpoint_latency.py [--listeners 1,10]
       [--rounds 3] [--repetitions 50]
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.push_latency import BASELINE, SyncServer  # noqa: E402
from tests import live  # noqa: E402


def run(url, listeners, repetitions):
    command = [
        "node",
        str(BASELINE),
        "--url",
        url,
        "--listeners",
        str(listeners),
        "--repetitions",
        str(repetitions),
        "--repo-version",
        "2",
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True)
    if done.returncode:
        raise SystemExit(done.stderr.decode())
    report = json.loads(done.stdout)
    return report["perSocket"]["median"], report["lost"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listeners", default="1,10")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repetitions", type=int, default=50)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        env = live.server_env(sqlite_path=directory / "db.sqlite3")
        live.migrate(env)
        daphne = live.LiveServer(env, log_path=directory / "daphne.log").start()
        theirs = SyncServer(directory)
        urls = {"ours": f"{daphne.ws_url}/automerge-repo", "theirs": theirs.url}
        try:
            for listeners in map(int, options.listeners.split(",")):
                medians = {"ours": [], "theirs": []}
                for round_ in range(options.rounds):
                    order = (
                        ("ours", "theirs") if round_ % 2 == 0 else ("theirs", "ours")
                    )
                    for system in order:
                        median, lost = run(urls[system], listeners, options.repetitions)
                        medians[system].append(median)
                        print(
                            f"listeners={listeners} round={round_} {system}: "
                            f"median {median} ms, lost {lost}",
                            flush=True,
                        )
                ours = statistics.median(medians["ours"])
                theirs_ = statistics.median(medians["theirs"])
                print(
                    f"listeners={listeners}: ours {ours} ms, theirs {theirs_} ms, "
                    f"ratio {ours / theirs_:.2f}",
                    flush=True,
                )
        finally:
            daphne.stop()
            theirs.stop()


if __name__ == "__main__":
    main()
