"""Browser CPU per incoming push, on a list of 10 and of 5,000 items (issue 17, item 2).

Usage (from the repository root)::

    .venv/bin/python benchmarks/browser_push_cost.py [--sizes 10,5000]
        [--pushes 20] [--rounds 5]

One Daphne process (SQLite, collected static files) and one headless Chromium
(Debian's, as the browser tests use). For each size, a writer page makes a new
list of that many items and a listener page (another browser context) opens it.
Then the writer adds one item at a time, ``--pushes`` per round; each reaches
the listener as one push, and the next is made only once the listener holds it
(its heads, checked every 20 ms at a cost that does not grow with the list).
The listener's main-thread CPU is read from the DevTools protocol
(``Performance.getMetrics``: ``TaskDuration``, all the renderer's tasks, and
``ScriptDuration``, JavaScript alone) before and after each round; a round's
figure is its CPU divided by its pushes. Rounds alternate between the sizes, so
both see the same background load. Prints a Markdown section: medians per push
and the ratio of 5,000 items to 10.
"""

import argparse
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import live  # noqa: E402
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.e2e.pages import TodoApp  # noqa: E402

ADD_ITEMS = """(count) => {
    const { store, todos } = window.todos;
    store.change((doc) => {
        for (let i = 0; i < count; i += 1) {
            doc = todos.addItem(doc, `item ${i}`);
        }
        return doc;
    });
    return store.whenPersisted();
}"""
ADD_ONE = """(text) => {
    const { store, todos } = window.todos;
    store.change((doc) => todos.addItem(doc, text));
    return store.heads();
}"""
# The listener renders in the update that brings the heads, so holding them means
# shown; checking costs the same at any size (counting <li>s would not).
HOLDS = "(heads) => heads.every((head) => window.todos.store.heads().includes(head))"
HAS_ITEMS = "(n) => window.todos.todos.items(window.todos.store.doc).length >= n"
SHOWN = "(n) => document.querySelectorAll('.todo-list li').length >= n"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,5000")
    parser.add_argument("--pushes", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    return parser.parse_args()


class Pair:
    """A writer page and a listener page on one list of ``size`` items."""

    def __init__(self, browser, server, size):
        self.size = size
        self.count = size
        self.writer = TodoApp(browser.new_context().new_page())
        self.writer.start_new_list(server.url)
        self.writer.page.evaluate(ADD_ITEMS, size)
        self.writer.expect_saved()
        self.listener = TodoApp(browser.new_context().new_page())
        self.listener.open(self.writer.url)
        self.listener.page.wait_for_function(SHOWN, arg=size, timeout=120_000)
        self.listener.expect_saved()
        self.cdp = self.listener.page.context.new_cdp_session(self.listener.page)
        self.cdp.send("Performance.enable")

    def metrics(self):
        values = self.cdp.send("Performance.getMetrics")["metrics"]
        named = {metric["name"]: metric["value"] for metric in values}
        return named["TaskDuration"], named["ScriptDuration"]

    def round(self, pushes):
        """CPU per push on the listener (task ms, script ms) over ``pushes``."""
        task0, script0 = self.metrics()
        for _ in range(pushes):
            self.count += 1
            heads = self.writer.page.evaluate(ADD_ONE, f"pushed {self.count}")
            self.listener.page.wait_for_function(
                HOLDS, arg=heads, polling=20, timeout=60_000
            )
        task1, script1 = self.metrics()
        return (
            (task1 - task0) * 1000 / pushes,
            (script1 - script0) * 1000 / pushes,
        )


def main():
    args = parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as directory, sync_playwright() as playwright:
        directory = Path(directory)
        static = live.collect_static(directory / "staticfiles")
        env = live.server_env(sqlite_path=directory / "db.sqlite3", **static)
        live.migrate(env)
        server = live.LiveServer(env, log_path=directory / "daphne.log").start()
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            load_before = os.getloadavg()[0]
            pairs = {size: Pair(browser, server, size) for size in sizes}
            for pair in pairs.values():
                pair.round(3)  # warm-up
            results = {size: [] for size in sizes}
            for index in range(args.rounds):
                order = sizes if index % 2 == 0 else sizes[::-1]
                for size in order:
                    results[size].append(pairs[size].round(args.pushes))
            load_after = os.getloadavg()[0]
        finally:
            browser.close()
            server.stop()
    report(results, args, load_before, load_after)


def report(results, args, load_before, load_after):
    medians = {
        size: (
            statistics.median(task for task, _ in rounds),
            statistics.median(script for _, script in rounds),
        )
        for size, rounds in results.items()
    }
    print("## Browser CPU per incoming push (`benchmarks/browser_push_cost.py`)\n")
    print(
        f"{platform.node()}, {os.cpu_count()} cores, Chromium (headless, {CHROMIUM}); "
        f"load average {load_before:.2f} before, {load_after:.2f} after; "
        f"{args.rounds} rounds of {args.pushes} pushes per size, medians of the "
        "rounds' CPU per push on the listening page (DevTools "
        "`Performance.getMetrics`).\n"
    )
    print("| items | main thread per push (ms) | JavaScript per push (ms) |")
    print("| ---: | ---: | ---: |")
    for size, (task, script) in medians.items():
        print(f"| {size:,} | {task:.2f} | {script:.2f} |")
    sizes = sorted(medians)
    if len(sizes) >= 2:
        small, large = medians[sizes[0]], medians[sizes[-1]]
        print(
            f"\nRatio {sizes[-1]:,} / {sizes[0]:,} items: main thread "
            f"{large[0] / small[0]:.1f}×, JavaScript {large[1] / small[1]:.1f}×."
        )


if __name__ == "__main__":
    main()
