"""Engine processes: where Automerge runs, away from the server's event loop.

The engine holds the GIL while it works and can panic, so it never runs in a
server process. Each of ``workers`` processes owns the documents whose ids hash
to it, so a document's warm copy lives in one place and consecutive writes to
it find it there. A call that takes longer than ``timeout`` seconds, or whose
process dies, costs that process: it is killed and replaced, and the caller
gets ``EngineUnavailable``.

Each process has a pipe of its own (``multiprocessing.Pipe``), and a call is a
send and a receive on it by the calling thread, one call at a time per
process. (``concurrent.futures.ProcessPoolExecutor`` put a call queue, a
result queue and a management thread between the caller and the process: about
1 ms of the server's CPU per call, as much as the engine's own work on a small
write.)

Public API: ``Pool``, ``EngineUnavailable``, ``EngineTimeout``.
"""

import multiprocessing
import threading
import time
import zlib

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
        # One lock per process: its pipe carries one call at a time.
        self._turns = [threading.Lock() for _ in range(self.size)]
        self._engines = [None] * self.size
        # Workers start by spawning: forking a server process that has threads
        # (Daphne, database connections) is unsafe.
        self._context = multiprocessing.get_context("spawn")

    def slot_of(self, doc_id):
        """The engine process that owns ``doc_id``."""
        return zlib.crc32(doc_id.encode()) % self.size

    def pids(self):
        """The process ids of the engine processes running now."""
        with self._lock:
            return [e.process.pid for e in self._engines if e is not None]

    def call(self, doc_id, function, *args, timeout=None, routing=True):
        """Run ``worker.<function>(doc_id, *args)`` in the process that owns doc_id.

        ``function`` names a function of ``worker``, or of ``sync`` as
        ``"sync.<name>"``. The time limit counts from the call, waiting for
        the process included.

        With ``routing`` None the call goes to any process and the worker sees
        ``doc_id`` None (nothing is cached).
        """
        limit = timeout or self.timeout
        deadline = time.monotonic() + limit
        slot = self.slot_of(doc_id)
        if routing is None:
            doc_id = None
        turn = self._turns[slot]
        if not turn.acquire(timeout=limit):
            # The call ahead is stuck; its caller stops the process.
            raise EngineTimeout(f"the engine took more than {limit:g} seconds")
        try:
            engine = self._engine(slot)
            try:
                engine.send((function, doc_id, args))
                if not engine.poll(max(0.0, deadline - time.monotonic())):
                    self._discard(slot, engine)
                    raise EngineTimeout(f"the engine took more than {limit:g} seconds")
                failed, result = engine.receive()
            except (EOFError, OSError) as exc:
                self._discard(slot, engine)
                raise EngineUnavailable("the engine process stopped") from exc
        finally:
            turn.release()
        if failed:
            raise result
        return result

    def _engine(self, slot):
        """The process of ``slot``, started if there is none (its turn is held)."""
        with self._lock:
            engine = self._engines[slot]
        if engine is None:
            engine = _Engine(self._context, self.cache_limits)
            with self._lock:
                self._engines[slot] = engine
        return engine

    def _discard(self, slot, engine):
        """Stop ``engine``'s process (it is stuck or dead) and forget it."""
        with self._lock:
            if self._engines[slot] is engine:
                self._engines[slot] = None
        engine.kill()

    def shutdown(self, wait=5.0):
        """Stop every engine process, after its call if that ends within ``wait``."""
        with self._lock:
            engines, self._engines = self._engines, [None] * self.size
        for turn, engine in zip(self._turns, engines, strict=True):
            if engine is None:
                continue
            # Holding the turn, no caller is writing to the pipe meanwhile.
            if turn.acquire(timeout=wait):
                try:
                    engine.stop(wait)
                finally:
                    turn.release()
            else:
                engine.kill()


class _Engine:
    """One engine process and the server's end of its pipe."""

    def __init__(self, context, cache_limits):
        self.connection, child = context.Pipe()
        self.process = context.Process(
            target=_serve,
            args=(child, cache_limits),
            name="automerge-engine",
            daemon=True,
        )
        self.process.start()
        child.close()

    def send(self, message):
        self.connection.send(message)

    def poll(self, seconds):
        return self.connection.poll(seconds)

    def receive(self):
        return self.connection.recv()

    def kill(self):
        """Stop the process at once."""
        self.process.kill()
        self.process.join(5)
        self.connection.close()

    def stop(self, wait=5.0):
        """Ask the process to end (it finishes its call first); kill it if it won't."""
        try:
            self.connection.send(None)
        except OSError:
            pass
        self.process.join(wait)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        self.connection.close()


def _serve(connection, cache_limits):
    """An engine process's loop: answer each call on ``connection`` until None."""
    worker.start(*cache_limits)
    while True:
        try:
            message = connection.recv()
        except EOFError:
            return  # the server closed its end
        if message is None:
            return
        function, doc_id, args = message
        try:
            reply = (False, _function(function)(doc_id, *args))
        except BaseException as exc:  # as ProcessPoolExecutor did: the caller's
            reply = (True, exc)
        try:
            connection.send(reply)
        except Exception as exc:  # an outcome that does not pickle
            connection.send((True, EngineUnavailable(f"unsendable outcome: {exc!r}")))


def _function(name):
    """The worker-side function called ``name`` ("apply", "sync.receive", ...)."""
    module, _, attribute = name.rpartition(".")
    return getattr(sync if module == "sync" else worker, attribute)
