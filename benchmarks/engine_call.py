"""Round-trip time of one small engine call: the server's cost of reaching the engine.

Times ``Pool.call(doc_id, "apply", heads, None, b"", False)`` on a warm document
(an empty upload: the engine does almost nothing, so what is timed is the way
there and back: pickling, the pipe or queues, waking threads), ``--calls`` times
after 20 warm-up calls, in a child process per run, and prints the median and
the 90th percentile in milliseconds, and the caller's CPU per call.

``--server-root DIR`` times another checkout's ``todos/engine/pool.py``; give it
twice to alternate the two, ``--runs`` times each.
"""

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import json, sys, time
from automerge.core import ROOT, Document, ScalarType
from todos.engine.pool import Pool

calls = int(sys.argv[1])
doc = Document()
with doc.transaction() as change:
    change.put(ROOT, "title", ScalarType.Str, "a list")
stored = doc.save()
heads = sorted(head.hex() for head in doc.get_heads())
pool = Pool(workers=1)
for _ in range(20):
    pool.call("doc", "apply", heads, stored, b"", False)
times = []
cpu = time.process_time()
for _ in range(calls):
    start = time.perf_counter()
    pool.call("doc", "apply", heads, None, b"", False)
    times.append(time.perf_counter() - start)
cpu = time.process_time() - cpu
pool.shutdown()
print(json.dumps({"times": times, "cpu": cpu / calls}))
"""


def run(root, calls):
    """One run in a child process from checkout ``root``: (times, CPU per call)."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(calls)],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout)
    return result["times"], result["cpu"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server-root", action="append", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--calls", type=int, default=500)
    args = parser.parse_args()
    roots = args.server_root or [ROOT]
    medians = {root: [] for root in roots}
    for number in range(args.runs):
        turn = roots[number % len(roots) :] + roots[: number % len(roots)]
        for root in turn:
            times, cpu = run(root, args.calls)
            median = statistics.median(times) * 1000
            p90 = statistics.quantiles(times, n=10)[-1] * 1000
            medians[root].append(median)
            print(
                f"run {number + 1} {root}: median {median:.3f} ms, p90 {p90:.3f} ms, "
                f"caller CPU {cpu * 1000:.3f} ms per call",
                flush=True,
            )
    for root, runs in medians.items():
        print(
            f"{root}: median of run medians {statistics.median(runs):.3f} ms "
            f"({min(runs):.3f}–{max(runs):.3f})"
        )


if __name__ == "__main__":
    main()
