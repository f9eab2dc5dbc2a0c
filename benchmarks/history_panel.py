"""Opening the History panel on a list of 5,000 changes in Chromium (issue 16 item 8).

Run it as ``.venv/bin/python benchmarks/history_panel.py [--runs N] [--changes N]``.

It starts Daphne on a temporary SQLite file (collected static files, as in
production), opens a new list in Debian's Chromium and makes ``--changes`` edits
in the page, each its own Automerge change (adds, completions, text edits and
deletions in turn), waits until the server holds them, then alternates two ways
of showing the newest page (20 entries) of the history, each on a freshly
reloaded page (the list loaded from IndexedDB, the sync settled):

- lazy: a click on the History button, to the frame after the panel is drawn
  (static/todos/history_panel.js: walk back from the heads, one page);
- naive: ``Automerge.getHistory`` on the whole document, then the same words
  for the newest 20 changes by comparing consecutive states (what a panel that
  loads the whole history first would do before it could draw anything).

It prints a Markdown section for docs/benchmarks.md: medians, min-max, the
ratio, and the 300 ms target.
"""

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import live  # noqa: E402
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.e2e.pages import TodoApp  # noqa: E402

MAX_OPEN_MS = 300  # issue 16 item 8
PAGE_SIZE = 20  # history.js HISTORY_PAGE_SIZE

# Each edit is its own change; all of them are one store.change, so one upload.
MAKE_CHANGES = """(count) => {
    const { store, todos } = window.todos;
    store.change((start) => {
        let doc = start;
        for (let i = 0; i < count; i += 1) {
            const items = todos.items(doc);
            const step = i % 4;
            if (step === 0 || items.length < 3) {
                doc = todos.addItem(doc, `item ${i}`);
            } else if (step === 1) {
                doc = todos.setDone(doc, items[0].id, true);
            } else if (step === 2) {
                doc = todos.editText(doc, items[items.length - 1].id, `edited ${i}`);
            } else {
                doc = todos.removeItem(doc, items[0].id);
            }
        }
        return doc;
    });
    return store.A.getChangesMetaSince(store.doc, []).length;
}"""

# Click to the frame after the panel is drawn.
OPEN_LAZY = """async () => {
    const start = performance.now();
    document.querySelector('.history-toggle').click();
    await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
    const ms = performance.now() - start;
    return { ms, entries: document.querySelectorAll('.history-entry').length };
}"""

# The whole history first, then the same words for the newest page.
OPEN_NAIVE = """async (pageSize) => {
    const { store, todos } = window.todos;
    const A = store.A;
    const start = performance.now();
    const states = A.getHistory(store.doc);
    const words = [];
    for (let i = states.length - 1; i > 0 && words.length < pageSize; i -= 1) {
        const was = todos.items(states[i - 1].snapshot);
        const before = new Map(was.map((it) => [it.id, it]));
        const after = todos.items(states[i].snapshot);
        const added = after.filter((it) => !before.has(it.id)).length;
        const done = after.filter((it) => it.done && !before.get(it.id)?.done);
        const gone = was.length - after.length + added;
        words.push(`${added} added, ${done.length} done, ${gone} gone`);
    }
    await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
    return { ms: performance.now() - start, entries: words.length };
}"""


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs of each approach")
    parser.add_argument("--changes", type=int, default=5000, help="changes in the list")
    return parser.parse_args()


def commit():
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True
    )
    return head.stdout.decode().strip()


def build_list(app, changes):
    """Make the list's changes in the page; return the change count once saved."""
    count = app.page.evaluate(MAKE_CHANGES, changes)
    app.expect_saved()
    return count


def measure(app, runs):
    """{approach: [ms, ...]}, alternating on freshly reloaded pages."""
    results = {"lazy": [], "naive": []}
    for index in range(runs):
        for name in results:
            app.reload()
            app.expect_saved()
            if name == "lazy":
                outcome = app.page.evaluate(OPEN_LAZY)
            else:
                outcome = app.page.evaluate(OPEN_NAIVE, PAGE_SIZE)
            assert outcome["entries"] == PAGE_SIZE, outcome
            results[name].append(outcome["ms"])
            print(f"  {name} {index + 1}: {outcome['ms']:.0f} ms", file=sys.stderr)
    return results


def report(results, changes, runs):
    median = statistics.median
    lazy, naive = median(results["lazy"]), median(results["naive"])
    verdict = "met" if lazy <= MAX_OPEN_MS else "MISSED"
    lines = [
        "## Opening the History panel (issue 16 item 8)",
        "",
        f"Measured {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC on "
        f"{platform.machine()} with {os.cpu_count()} cores, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end; commit "
        f"{commit()}.",
        "",
        "How: `.venv/bin/python benchmarks/history_panel.py` (see its docstring). "
        f"A list with {changes:,} changes (the genesis change included) in Debian's "
        f"Chromium, {runs} runs of each approach alternating, each on a freshly "
        "reloaded page; time to the frame after the newest "
        f"{PAGE_SIZE} changes are ready. Medians, min–max beside.",
        "",
        "| | lazy (the panel) | naive (`getHistory` first) |",
        "|---|--:|--:|",
        f"| open, newest {PAGE_SIZE} changes (ms) | {lazy:.0f} "
        f"({min(results['lazy']):.0f}–{max(results['lazy']):.0f}) | {naive:.0f} "
        f"({min(results['naive']):.0f}–{max(results['naive']):.0f}) |",
        "",
        f"- naive / lazy: {naive / lazy:.1f}×",
        f"- {verdict}: panel open median {lazy:.0f} ms (target < {MAX_OPEN_MS} ms)",
        "",
    ]
    return "\n".join(lines)


def main():
    args = parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="history-bench-") as tmp:
        tmp = Path(tmp)
        env = live.server_env(
            sqlite_path=tmp / "db.sqlite3", **live.collect_static(tmp / "static")
        )
        live.migrate(env)
        server = live.LiveServer(env, log_path=tmp / "daphne.log").start()
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
                )
                try:
                    context = browser.new_context(
                        viewport={"width": 900, "height": 800}
                    )
                    app = TodoApp(context.new_page()).start_new_list(server.url)
                    count = build_list(app, args.changes)
                    print(f"list with {count} changes", file=sys.stderr)
                    results = measure(app, args.runs)
                finally:
                    browser.close()
        finally:
            server.stop()
    print(report(results, count, args.runs))


if __name__ == "__main__":
    main()
