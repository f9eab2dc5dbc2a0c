"""Group commit: concurrent writes to one document, run as one batch by one thread.

``submit(key, item, run_batch)`` returns ``item``'s outcome. A write that finds
no batch of its document running leads: its thread calls ``run_batch(key,
[item])``. Writes that arrive meanwhile queue behind it; when the leader is done
it hands the queue (up to ``MAX_BATCH`` of them) to the first of them, whose
thread runs them as one batch while the others wait for their outcomes. So a
thread runs at most one batch, the one it is first in, and under load one
transaction and one lock serve many writes; alone, a write runs at once.

``run_batch(key, items)`` returns one outcome per item: a value, or an
exception, which ``submit`` raises in that item's thread. If ``run_batch``
raises, every item of the batch gets that exception. The queue is per process;
writes in other processes are serialised by the database lock as before.
"""

import threading

__all__ = ["submit", "queued", "MAX_BATCH"]

MAX_BATCH = 32  # bounds the work done under one lock

_PENDING = object()
_lock = threading.Lock()
_queued = {}  # key -> waiters behind the batch running now


class _Waiter:
    """One submitted item: its outcome, and the batch it leads (if it leads one)."""

    __slots__ = ("item", "outcome", "batch", "woken")

    def __init__(self, item):
        self.item = item
        self.outcome = _PENDING
        self.batch = None
        self.woken = threading.Event()

    def result(self):
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome


def submit(key, item, run_batch):
    """Run ``item`` in a batch of ``key``'s concurrent items; return its outcome."""
    waiter = _Waiter(item)
    with _lock:
        queue = _queued.get(key)
        if queue is None:
            _queued[key] = []
            waiter.batch = [waiter]
        else:
            queue.append(waiter)
    if waiter.batch is None:
        # Woken either with an outcome (another thread ran it) or to lead.
        waiter.woken.wait()
    if waiter.outcome is _PENDING:
        _lead(key, waiter.batch, run_batch)
    return waiter.result()


def queued(key):
    """How many items of ``key`` wait behind the batch running now."""
    with _lock:
        return len(_queued.get(key, ()))


def _lead(key, batch, run_batch):
    try:
        try:
            outcomes = run_batch(key, [waiter.item for waiter in batch])
        except BaseException as exc:
            outcomes = [exc] * len(batch)
        for waiter, outcome in zip(batch, outcomes, strict=True):
            waiter.outcome = outcome
        for waiter in batch[1:]:
            waiter.woken.set()
    finally:
        _hand_over(key)


def _hand_over(key):
    """Wake the first queued waiter of ``key`` to run the queue, or end the run."""
    with _lock:
        queue = _queued[key]
        if not queue:
            del _queued[key]
            return
        batch, _queued[key] = queue[:MAX_BATCH], queue[MAX_BATCH:]
        batch[0].batch = batch
    batch[0].woken.set()
