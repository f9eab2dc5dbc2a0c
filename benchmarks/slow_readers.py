"""Slow readers of a 16 MiB document: the server's RSS and a normal GET meanwhile.

Usage: .venv/bin/python benchmarks/slow_readers.py [--root CHECKOUT] [--readers N]
       [--seconds S]

Starts a live Daphne (tests/live.py) from CHECKOUT (default: this one; pass an
older checkout for a before/after comparison, its schema must match), stores a
16 MiB document and a 2 KB one, then opens N connections that GET the large one
reading 1 KB/s, and meanwhile GETs the small one every half second. Prints the
figures of tests/test_streaming.py's measurement as JSON.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django  # noqa: E402

django.setup()

from tests import live  # noqa: E402
from tests.test_streaming import (  # noqa: E402
    MIB,
    measure_slow_readers,
    request,
    store_chunks,
)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", default=str(live.ROOT))
    parser.add_argument("--readers", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    live.ROOT = Path(args.root)
    tmp = Path(tempfile.mkdtemp(prefix="slow-readers-"))
    env = live.server_env(sqlite_path=tmp / "db.sqlite3")
    live.migrate(env)
    server = live.LiveServer(env, log_path=tmp / "daphne.log").start()
    try:
        store_chunks(server, "big", [16 * MIB])
        store_chunks(server, "small", [2000])
        for _ in range(3):
            request(server, "GET", "/docs/small")
            request(server, "HEAD", "/docs/big")
        time.sleep(0.5)
        stats = measure_slow_readers(
            server, "/docs/big", "/docs/small", args.readers, args.seconds
        )
    finally:
        server.stop()
    gets = sorted(stats.pop("normal_get_seconds"))
    print(
        json.dumps(
            {
                "root": args.root,
                "readers": args.readers,
                "rss_before_mib": round(stats["rss_before"] / MIB, 1),
                "rss_growth_mib": round(stats["rss_growth"] / MIB, 1),
                "normal_get_median_ms": round(stats["normal_get_median"] * 1000, 1),
                "normal_get_p90_ms": round(gets[int(len(gets) * 0.9)] * 1000, 1),
                "normal_get_max_ms": round(stats["normal_get_max"] * 1000, 1),
                "bytes_read_by_readers": stats["bytes_read"],
            }
        )
    )


if __name__ == "__main__":
    main()
