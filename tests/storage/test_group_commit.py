"""Group commit: concurrent items of one key run as batches, each answered alone."""

import threading
import time

from todos.storage import group_commit

WAIT_SECONDS = 10


def wait_until(condition):
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


class Batches:
    """A run_batch that records its batches and holds the first until released."""

    def __init__(self, outcome=lambda item: item * 10):
        self.batches = []
        self.threads = []
        self.release = threading.Event()
        self.outcome = outcome

    def __call__(self, key, items):
        self.batches.append(list(items))
        self.threads.append(threading.current_thread().name)
        if len(self.batches) == 1:
            assert self.release.wait(WAIT_SECONDS)
        return [self.outcome(item) for item in items]


def submit_in_threads(key, items, run_batch):
    """Submit each item from a thread of its own; return {item: outcome or error}."""
    answers = {}

    def submit(item):
        try:
            answers[item] = group_commit.submit(key, item, run_batch)
        except Exception as exc:
            answers[item] = exc

    threads = [
        threading.Thread(target=submit, args=(item,), name=f"item-{item}")
        for item in items
    ]
    threads[0].start()
    wait_until(lambda: run_batch.batches)  # the first item runs alone
    for thread in threads[1:]:
        thread.start()
    wait_until(lambda: group_commit.queued(key) == len(items) - 1)
    run_batch.release.set()
    for thread in threads:
        thread.join(WAIT_SECONDS)
    return answers


def test_an_item_alone_runs_at_once_in_its_own_thread():
    run_batch = Batches()
    run_batch.release.set()

    assert group_commit.submit("alone", 4, run_batch) == 40
    assert run_batch.batches == [[4]]
    assert run_batch.threads == [threading.current_thread().name]
    assert group_commit.queued("alone") == 0


def test_items_arriving_during_a_batch_run_as_one_batch_led_by_the_first():
    run_batch = Batches()

    answers = submit_in_threads("key", [1, 2, 3, 4], run_batch)

    assert answers == {1: 10, 2: 20, 3: 30, 4: 40}
    assert run_batch.batches == [[1], [2, 3, 4]]
    assert run_batch.threads == ["item-1", "item-2"]
    assert group_commit.queued("key") == 0


def test_an_exception_outcome_is_raised_only_for_its_own_item():
    refused = ValueError("item 3 is refused")
    run_batch = Batches(lambda item: refused if item == 3 else item)

    answers = submit_in_threads("refusing", [1, 2, 3, 4], run_batch)

    assert answers == {1: 1, 2: 2, 3: refused, 4: 4}


def test_a_failed_batch_fails_each_of_its_items_and_the_next_batch_runs():
    calls = []

    def run_batch(key, items):
        calls.append(items)
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        if len(calls) == 1:
            assert run_batch.release.wait(WAIT_SECONDS)
        return items

    run_batch.batches = calls
    run_batch.release = threading.Event()
    answers = submit_in_threads("failing", [1, 2, 3], run_batch)

    assert answers[1] == 1
    assert [str(answers[item]) for item in (2, 3)] == ["the database went away"] * 2
    assert group_commit.submit("failing", 5, lambda key, items: items) == 5


def test_a_batch_holds_at_most_max_batch_items(monkeypatch):
    monkeypatch.setattr(group_commit, "MAX_BATCH", 2)
    run_batch = Batches()

    answers = submit_in_threads("bounded", [1, 2, 3, 4, 5], run_batch)

    assert answers == {item: item * 10 for item in (1, 2, 3, 4, 5)}
    assert [len(batch) for batch in run_batch.batches] == [1, 2, 2]


def test_items_of_other_keys_do_not_wait():
    run_batch = Batches()
    first = threading.Thread(target=group_commit.submit, args=("a", 1, run_batch))
    first.start()
    wait_until(lambda: run_batch.batches)

    assert group_commit.submit("b", 2, lambda key, items: items) == 2
    run_batch.release.set()
    first.join(WAIT_SECONDS)
