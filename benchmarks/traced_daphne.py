"""Daphne with a memory sampler inside, for finding what grows in the soak (issue 7).

Usage: ``python benchmarks/traced_daphne.py TRACE_PATH [daphne options] APP``.
``benchmarks/soak.py --trace PATH`` runs the server this way.

It runs Daphne's own command line in this process, with a thread that appends
one JSON line to ``TRACE_PATH`` every ``TODOS_TRACE_EVERY`` seconds (default 10):

- ``rss_mib``: the process's resident memory (``VmRSS``), ``rss_peak_mib`` its
  peak so far (``VmHWM``);
- ``malloc_*``: glibc's ``mallinfo2()``: ``malloc_arena_mib`` is heap obtained
  with ``brk``/arenas, ``malloc_mmap_mib`` large blocks ``mmap``-ed on their own,
  ``malloc_used_mib`` what is allocated, ``malloc_free_mib`` what is free but
  still held (fragmentation), summed over all arenas;
- ``py_blocks``: ``sys.getallocatedblocks()``, the objects Python's own allocator
  holds; ``pymalloc_*``: that allocator's 1 MiB arenas (each resident once
  touched) and the bytes used and free in them; ``gc_objects``: objects the
  collector tracks; ``threads``: threads alive; ``executors_started``: thread
  pools ever created;
- ``layer_channels`` / ``layer_group_members``: the in-memory channel layer's
  queues and group memberships, when it is the layer in use;
- with ``TODOS_TRACE_FRAMES`` > 0 (default 0), ``tracemalloc`` runs with that many
  frames; ``traced_mib`` is the memory it traces, ``traced_peak_mib`` the most
  it traced since the previous sample. Every
  ``TODOS_TRACE_SNAPSHOT_EVERY`` seconds (default 180) after
  ``TODOS_TRACE_WARM`` seconds (default 60) a sample also holds the allocation
  sites (grouped by traceback) and object types that grew since the first such
  snapshot. Snapshots cost seconds of CPU, and tracing slows every allocation, so
  a traced server falls behind a load an untraced one keeps up with;
- with ``TODOS_TRACE_TRIM=1``, ``rss_after_trim_mib``: RSS after
  ``malloc_trim(0)`` hands free heap back to the system. Growth that a trim
  takes back is free memory the allocator held on to, not live data.

If RSS grows while traced memory, ``py_blocks`` and ``malloc_used_mib`` stay
flat, the growth is allocator fragmentation, not a leak.
"""

import collections
import ctypes
import ctypes.util
import gc
import json
import os
import re
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

FRAMES = int(os.environ.get("TODOS_TRACE_FRAMES", "0"))
EVERY = float(os.environ.get("TODOS_TRACE_EVERY", "10"))
SNAPSHOT_EVERY = float(os.environ.get("TODOS_TRACE_SNAPSHOT_EVERY", "180"))
WARM = float(os.environ.get("TODOS_TRACE_WARM", "60"))
TRIM = os.environ.get("TODOS_TRACE_TRIM", "") == "1"
TOP = int(os.environ.get("TODOS_TRACE_TOP", "25"))
MIB = 2**20


class MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks "
            "keepcost"
        ).split()
    ]


_libc = ctypes.CDLL(ctypes.util.find_library("c"))
_mallinfo2 = getattr(_libc, "mallinfo2", None)
if _mallinfo2 is not None:
    _mallinfo2.restype = MallInfo2


def rss_mib(field="VmRSS"):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return round(int(line.split()[1]) / 1024, 2)
    return 0.0


def malloc_figures():
    if _mallinfo2 is None:
        return {}
    info = _mallinfo2()
    return {
        "malloc_arena_mib": round(info.arena / MIB, 2),
        "malloc_mmap_mib": round(info.hblkhd / MIB, 2),
        "malloc_used_mib": round(info.uordblks / MIB, 2),
        "malloc_free_mib": round(info.fordblks / MIB, 2),
    }


def pymalloc_figures():
    """Python's small-object allocator: its 1 MiB arenas and what they hold.

    ``sys._debugmallocstats()`` prints to the C-level stderr, so fd 2 points at a
    temporary file for the moment it runs (a line the server logs in that moment
    would land there instead).
    """
    with tempfile.TemporaryFile() as out:
        saved = os.dup(2)
        try:
            os.dup2(out.fileno(), 2)
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        text = out.read().decode(errors="replace")
    figures = {}
    for line in text.splitlines():
        name, _, value = line.partition("=")
        name = name.strip()
        value = value.strip().replace(",", "")
        if name == "# arenas allocated current":
            figures["pymalloc_arenas"] = int(value)
        elif name == "# bytes in allocated blocks":
            figures["pymalloc_used_mib"] = round(int(value) / MIB, 2)
        elif name == "# bytes in available blocks":
            figures["pymalloc_free_mib"] = round(int(value) / MIB, 2)
    return figures


def layer_figures():
    layers = sys.modules.get("channels.layers")
    if layers is None:
        return {}
    layer = layers.channel_layers.backends.get("default")
    if not isinstance(layer, layers.InMemoryChannelLayer):
        return {}
    groups = list(layer.groups.values())
    return {
        "layer_channels": len(layer.channels),
        "layer_groups": len(groups),
        "layer_group_members": sum(len(members) for members in groups),
    }


def started_executors():
    """Thread pools created so far (``ThreadPoolExecutor``'s own name counter).

    asgiref makes a one-thread pool for each HTTP request that runs sync code
    (Django's ``ThreadSensitiveContext``), so this counts threads started too.
    """
    from concurrent.futures import ThreadPoolExecutor

    count = getattr(ThreadPoolExecutor._counter, "__self__", None)
    match = re.fullmatch(r"count\((\d+)\)", repr(count))
    return int(match.group(1)) if match else None


def type_counts():
    counts = collections.Counter()
    for obj in gc.get_objects():
        kind = type(obj)
        counts[f"{kind.__module__}.{kind.__qualname__}"] += 1
    return counts


class Sampler(threading.Thread):
    """Appends a sample to ``path`` every ``EVERY`` seconds while the server runs."""

    def __init__(self, path):
        super().__init__(daemon=True, name="memory-sampler")
        self.path = Path(path)
        self.started = time.monotonic()
        self.first = self.first_types = None
        self.next_snapshot = WARM

    def sample(self):
        seconds = time.monotonic() - self.started
        record = {
            "seconds": round(seconds, 1),
            "rss_mib": rss_mib(),
            "rss_peak_mib": rss_mib("VmHWM"),
            **malloc_figures(),
            "py_blocks": sys.getallocatedblocks(),
            **pymalloc_figures(),
            "gc_objects": len(gc.get_objects()),
            "threads": threading.active_count(),
            "executors_started": started_executors(),
            **layer_figures(),
        }
        if tracemalloc.is_tracing():
            current, peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            record["traced_mib"] = round(current / MIB, 2)
            record["traced_peak_mib"] = round(peak / MIB, 2)
            if seconds >= self.next_snapshot:
                self.next_snapshot = seconds + SNAPSHOT_EVERY
                record.update(self.compare())
        if TRIM:
            _libc.malloc_trim(0)
            record["rss_after_trim_mib"] = rss_mib()
        return record

    def compare(self):
        snapshot, types = tracemalloc.take_snapshot(), type_counts()
        if self.first is None:
            self.first, self.first_types = snapshot, types
            return {"baseline": True}
        grown = types.copy()
        grown.subtract(self.first_types)
        return {
            "grown_sites": [
                {
                    "kib": round(stat.size_diff / 1024, 1),
                    "count": stat.count_diff,
                    "frames": [f"{f.filename}:{f.lineno}" for f in stat.traceback],
                }
                for stat in snapshot.compare_to(self.first, "traceback")[:TOP]
                if stat.size_diff > 0
            ],
            "grown_types": dict(grown.most_common(TOP)),
        }

    def run(self):
        while True:
            try:
                record = self.sample()
            except Exception as exc:  # keep the server serving
                record = {"error": repr(exc)}
            with self.path.open("a") as out:
                out.write(json.dumps(record) + "\n")
            time.sleep(EVERY)


def main():
    path, sys.argv = sys.argv[1], [sys.argv[0], *sys.argv[2:]]
    if FRAMES > 0:
        tracemalloc.start(FRAMES)
    Sampler(path).start()
    from daphne.cli import CommandLineInterface

    CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
