"""Engine processes: where Automerge runs, away from the server's event loop.

The engine holds the GIL while it works and can panic, so it never runs in a
server process. Each of ``workers`` single-process pools owns the documents whose
ids hash to it, so a document's warm copy lives in one place and consecutive
writes to it find it there. A call that takes longer than ``timeout`` seconds,
or whose process dies, costs that process: it is killed and replaced, and the
caller gets ``EngineUnavailable``.

Public API: ``Pool``, ``EngineUnavailable``, ``EngineTimeout``.
"""

import concurrent.futures
import multiprocessing
import threading
import zlib
from concurrent.futures.process import BrokenProcessPool

from . import sync, worker

__all__ = ["Pool", "EngineUnavailable", "EngineTimeout"]


class EngineUnavailable(Exception):
    """The engine process died or had to be stopped; nothing was applied."""


class EngineTimeout(EngineUnavailable):
    """The engine did not finish within the time allowed; its process was stopped."""


class Pool:
    """``workers`` engine processes, each owning the documents that hash to it."""

    def __init__(self, workers=2, timeout=30.0, cache_docs=32, cache_bytes=32 << 20):
        self.size = max(1, workers)
        self.timeout = timeout
        self.cache_limits = (cache_docs, cache_bytes)
        self._lock = threading.Lock()
        self._executors = [None] * self.size
        # Workers start by spawning: forking a server process that has threads
        # (Daphne, database connections) is unsafe.
        self._context = multiprocessing.get_context("spawn")

    def _executor(self, slot):
        with self._lock:
            executor = self._executors[slot]
            if executor is None:
                executor = concurrent.futures.ProcessPoolExecutor(
                    max_workers=1,
                    mp_context=self._context,
                    initializer=worker.start,
                    initargs=self.cache_limits,
                )
                self._executors[slot] = executor
            return executor

    def _discard(self, slot, executor):
        """Stop ``executor``'s process (it is stuck or dead) and forget it."""
        with self._lock:
            if self._executors[slot] is executor:
                self._executors[slot] = None
        for process in list(getattr(executor, "_processes", {}).values()):
            process.kill()
        executor.shutdown(wait=False, cancel_futures=True)

    def slot_of(self, doc_id):
        """The engine process that owns ``doc_id``."""
        return zlib.crc32(doc_id.encode()) % self.size

    def call(self, doc_id, function, *args, timeout=None, routing=True):
        """Run ``worker.<function>(doc_id, *args)`` in the process that owns doc_id.

        ``function`` names a function of ``worker``, or of ``sync`` as
        ``"sync.<name>"``.

        With ``routing`` None the call goes to any process and the worker sees
        ``doc_id`` None (nothing is cached).
        """
        slot = self.slot_of(doc_id)
        executor = self._executor(slot)
        if routing is None:
            doc_id = None
        try:
            future = executor.submit(_function(function), doc_id, *args)
            return future.result(timeout=timeout or self.timeout)
        except concurrent.futures.TimeoutError as exc:
            self._discard(slot, executor)
            raise EngineTimeout(
                f"the engine took more than {timeout or self.timeout:g} seconds"
            ) from exc
        except BrokenProcessPool as exc:
            self._discard(slot, executor)
            raise EngineUnavailable("the engine process stopped") from exc

    def shutdown(self):
        """Stop every engine process."""
        with self._lock:
            executors, self._executors = self._executors, [None] * self.size
        for executor in executors:
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)


def _function(name):
    """The worker-side function called ``name`` ("apply", "sync.receive", ...)."""
    module, _, attribute = name.rpartition(".")
    return getattr(sync if module == "sync" else worker, attribute)
