"""Hand the C allocator's free memory back to the system after a large upload.

Reading a ``save()`` is the server's one big transient allocation: tens to
hundreds of bytes per byte of the upload (the pure-Python parse, and the
independent reader's Rust decode). glibc's malloc keeps what is freed afterwards
in its arenas, one per thread that allocated, so a process's resident size
follows the largest upload it has read, long after the memory is free (the soak
in docs/benchmarks.md: live data flat, RSS rising with each compaction).
``malloc_trim(0)`` returns that free memory; it costs well under a millisecond.
Elsewhere than glibc this does nothing.
"""

import ctypes
import ctypes.util

# Uploads at least this large are followed by a trim: every save() of a real
# list, never a single edit (a change chunk is tens to hundreds of bytes).
TRIM_AFTER_BYTES = 16 * 1024


def _find_malloc_trim():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_malloc_trim = _find_malloc_trim()


def release_after(upload_size):
    """Trim the C heap if an upload of ``upload_size`` bytes was just handled.

    Returns whether a trim ran.
    """
    if _malloc_trim is None or upload_size < TRIM_AFTER_BYTES:
        return False
    _malloc_trim(0)
    return True
