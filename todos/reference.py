"""The independent reader: the ``automerge`` package from PyPI.

It loads and decodes documents but cannot save them; we use it to check uploads a
second time and to turn documents into Python objects for display. On bad input it
raises ``pyo3_runtime.PanicException`` (a BaseException) after the Rust runtime has
printed the panic to file descriptor 2; we catch the exception and keep that output
out of the server's logs.
"""

import os
import tempfile
import threading
from contextlib import contextmanager

os.environ.setdefault("RUST_BACKTRACE", "0")

import automerge  # noqa: E402

__all__ = ["DecodeError", "load_error", "to_python"]

_stderr_lock = threading.Lock()
_PANIC_LINE_PREFIXES = (
    "thread '",
    "note: run with `RUST_BACKTRACE",
    "note: Some details are omitted",  # the trailer when RUST_BACKTRACE=1
    "stack backtrace",
)


class DecodeError(Exception):
    """The ``automerge`` package could not load or decode a document."""


@contextmanager
def _rust_panics_silenced():
    """Capture fd 2 while Rust may panic, then re-emit anything that is not a panic.

    Rust writes panic messages straight to the process's stderr, bypassing Python's
    logging; other threads' output in the same moment is passed through afterwards.
    """
    with _stderr_lock, tempfile.TemporaryFile() as capture:
        saved = os.dup(2)
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = [
                line
                for line in capture.read().decode(errors="replace").splitlines(True)
                if not line.startswith(_PANIC_LINE_PREFIXES)
            ]
            if kept:
                os.write(2, "".join(kept).encode())


def to_python(data):
    """Decode Automerge bytes into Python objects; raise DecodeError on failure.

    Text comes back as Automerge text, a list of one-character strings; callers that
    display it join it (see ``todos.display``).
    """
    with _rust_panics_silenced():
        try:
            return automerge.Doc(data).obj()
        except BaseException as exc:  # PanicException is a BaseException
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            raise DecodeError(_describe(exc)) from None


def load_error(data):
    """Return why the ``automerge`` package cannot load ``data``, or None if it can."""
    try:
        to_python(data)
    except DecodeError as exc:
        return str(exc)
    return None


def _describe(exc):
    message = str(exc).strip() or type(exc).__name__
    prefix = "called `Result::unwrap()` on an `Err` value: "
    return message.removeprefix(prefix)[:300]
