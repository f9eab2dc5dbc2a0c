"""What the per-client limits cost a write (issue 14, items 3 and 4).

Run it as ``.venv/bin/python benchmarks/limits_cost.py [--before DIR]``. For each
configuration it starts a fresh Daphne (temporary SQLite file; ``tests/live.py``)
and times, on one keep-alive connection, 300 PUTs of the same small list to one
id (answered ``changed: false``, so the time is the write path without storing)
and 100 PUTs creating new lists, in ``--rounds`` rounds, printing each round's
median in milliseconds. Configurations, run in turn each round:

- ``before``: the checkout at ``--before`` (e.g. ``git archive`` of the commit
  before the limits, with ``.venv`` and ``node_modules`` linked in), if given;
- ``off``: this checkout, no limit set;
- ``redis``: this checkout with ``CACHE_URL`` (``--redis``) and every limit on,
  set so high that nothing is refused.
"""

import argparse
import http.client
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import automerge_node, live  # noqa: E402

ALL_LIMITS = {
    "TODOS_WRITE_RATE_LIMIT": "100000/m",
    "TODOS_CREATE_RATE_LIMIT": "100000/h",
    "TODOS_MAX_CLIENT_BYTES": str(10**12),
}


def run(root, env_extra, body, rounds):
    """Start Daphne from ``root``; return per-round medians (unchanged, create)."""
    tmp = Path(tempfile.mkdtemp())
    env = live.server_env(sqlite_path=tmp / "db.sqlite3", **env_extra)
    python = Path(root) / ".venv" / "bin" / "python"
    migrate = [str(python), "manage.py", "migrate", "-v", "0"]
    subprocess.run(migrate, cwd=root, env=env, check=True)
    port = live.free_port()
    daphne = Path(root) / ".venv" / "bin" / "daphne"
    server = subprocess.Popen(
        [str(daphne), "-p", str(port), "todo_site.asgi:application"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        live.wait_for_port(port, process=server)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

        def put(doc_id):
            started = time.perf_counter()
            headers = {"Content-Type": "application/octet-stream"}
            conn.request("PUT", f"/docs/{doc_id}", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            assert response.status == 200, response.status
            return (time.perf_counter() - started) * 1000

        put("bench")
        medians = []
        for n in range(rounds):
            unchanged = statistics.median(put("bench") for _ in range(300))
            create = statistics.median(put(f"new-{n}-{i}") for i in range(100))
            medians.append((round(unchanged, 2), round(create, 2)))
        return medians
    finally:
        server.terminate()
        server.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", help="a checkout of the code before the limits")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    body = automerge_node.make_scenario(tempfile.mkdtemp())["base"]
    configs = {
        "off": (ROOT, {}),
        "redis": (ROOT, {"CACHE_URL": args.redis, **ALL_LIMITS}),
    }
    if args.before:
        configs = {"before": (args.before, {}), **configs}
    print(f"{len(body)}-byte list; per round: (unchanged ms, create ms) medians")
    for name, (root, env) in configs.items():
        print(name, run(root, env, body, args.rounds), flush=True)


if __name__ == "__main__":
    main()
