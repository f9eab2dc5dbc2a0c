"""First visit to a list page in Chromium: bytes, time to a usable input, repeat visit.

Run it as ``.venv/bin/python benchmarks/cold_load.py [--old DIR]``. It serves this
checkout (and, with ``--old``, another one, e.g. ``git worktree add /tmp/old
main``) the ways an operator does:

- make-run: the tree's own ``make run`` (its set-up steps skipped: both trees use
  installed packages), on a temporary SQLite file;
- production: the README's recipe, ``DJANGO_DEBUG=0``, ``migrate``,
  ``collectstatic``, Daphne (plain HTTP: no TLS redirect, HSTS or secure cookies).

Then it opens a new list page in a fresh Chromium context (empty cache) and
records what crossed the network (compressed bodies and headers, from the page
and its service worker; tests/helpers/coldload.py), the time from navigation
start to a usable new-todo input (the document loaded and the input enabled,
taken in the page), and then, in the same context, a second visit's wasm bytes.
Each visit waits for the offline shell to be stored, so all its downloads count.
Loads alternate between the trees (old, new, old, new, ...), so both see the same
background load. It prints a Markdown section for docs/benchmarks.md.
"""

import argparse
import datetime
import os
import platform
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import live  # noqa: E402
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.helpers import coldload  # noqa: E402

MODES = ("make-run", "production")
PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "DJANGO_SECURE_SSL_REDIRECT": "0",
    "DJANGO_HSTS_SECONDS": "0",
    "DJANGO_SECURE_COOKIES": "0",
}
# Targets from issue 15.
MAX_COLD_BYTES = 1_500_000
MAX_USABLE_MS = 1000


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, help="another checkout to compare with")
    parser.add_argument("--loads", type=int, default=10, help="cold loads per tree")
    parser.add_argument("--modes", default=",".join(MODES), help="make-run,production")
    return parser.parse_args()


class Server:
    """A tree's server, run as an operator would; stopped with its process group."""

    def __init__(self, tree, mode, workdir):
        self.tree, self.mode, self.workdir = tree, mode, workdir
        self.port = live.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "TODOS_SQLITE_PATH": str(workdir / "db.sqlite3"),
            "PYTHONUNBUFFERED": "1",
        }
        self.process = None

    def __enter__(self):
        log = open(self.workdir / "server.log", "ab")
        if self.mode == "make-run":
            # -o: take the installed venv and node_modules as they are.
            command = [
                "make",
                "-o",
                ".venv/.installed",
                "-o",
                "node_modules/.installed",
            ]
            command += ["run", f"PORT={self.port}"]
        else:
            self.env.update(PRODUCTION)
            for step in ("migrate", "collectstatic"):
                self.manage(step, "--noinput", log=log)
            command = [".venv/bin/daphne", "-b", "127.0.0.1", "-p", str(self.port)]
            command += ["--websocket-max-message-size", "33554432"]
            command += ["--websocket-max-frame-size", "33554432"]
            command += ["todo_site.asgi:application"]
        self.process = subprocess.Popen(
            command,
            cwd=self.tree,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        live.wait_for_port(self.port, timeout=600, process=self.process)
        return self

    def manage(self, *args, log):
        subprocess.run(
            [".venv/bin/python", "manage.py", *args],
            cwd=self.tree,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=True,
        )

    def __exit__(self, *exc):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(30)


def commit(tree):
    """The tree's commit, and whether it has uncommitted changes."""
    git = ["git", "-C", str(tree)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True)
    status = [*git, "status", "--porcelain", "--untracked-files=no"]
    dirty = subprocess.run(status, capture_output=True).stdout.strip()
    label = head.stdout.decode().strip()
    return label + (" (with uncommitted changes)" if dirty else "")


def measure(trees, mode, loads, browser):
    """{tree name: [(cold, repeat), ...]}, loads alternating between the trees."""
    results = {name: [] for name in trees}
    with tempfile.TemporaryDirectory(prefix="cold-load-") as tmp:
        servers = {}
        try:
            for name, tree in trees.items():
                workdir = Path(tmp) / name
                workdir.mkdir()
                print(f"starting {name} ({mode}) ...", file=sys.stderr)
                servers[name] = Server(tree, mode, workdir).__enter__()
            for index in range(loads):
                for name, server in servers.items():
                    url = f"{server.url}/lists/{secrets.token_urlsafe(18)}/"
                    cold, repeat = coldload.cold_and_repeat(browser, url)
                    results[name].append((cold, repeat))
                    print(
                        f"  {name} {index + 1}: {cold.bytes:,} B, "
                        f"{cold.usable_ms:.0f} ms; repeat wasm {repeat.wasm_bytes} B",
                        file=sys.stderr,
                    )
        finally:
            for server in servers.values():
                server.__exit__()
    return results


def summary(runs):
    """Medians of one tree's loads."""
    median = statistics.median
    return {
        "cold bytes": median(cold.bytes for cold, _ in runs),
        "cold wasm bytes": median(cold.wasm_bytes for cold, _ in runs),
        "usable ms": median(cold.usable_ms for cold, _ in runs),
        "usable ms min-max": (
            min(cold.usable_ms for cold, _ in runs),
            max(cold.usable_ms for cold, _ in runs),
        ),
        "repeat bytes": median(repeat.bytes for _, repeat in runs),
        "repeat wasm bytes": max(repeat.wasm_bytes for _, repeat in runs),
        "repeat usable ms": median(repeat.usable_ms for _, repeat in runs),
    }


def report(results, trees, loads):
    """The Markdown section: one table per mode, old beside new, and the targets."""
    lines = [
        "## First visit (issue 15)",
        "",
        f"Measured {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC on "
        f"{platform.machine()} with {os.cpu_count()} cores, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end; "
        + "; ".join(f"{name}: {commit(tree)}" for name, tree in trees.items())
        + ".",
        "",
        "How: `.venv/bin/python benchmarks/cold_load.py --old <checkout of the old "
        "code>` (see its docstring). Chromium (Debian's), a fresh context per cold "
        f"load, {loads} cold loads per tree and mode, alternating between the trees. "
        "Bytes are what crossed the network (compressed bodies and headers); "
        "*usable* is the time from navigation start to an enabled new-todo input "
        "with the document loaded. Figures are medians (time: min–max beside).",
        "",
    ]
    names = list(trees)
    for mode, by_tree in results.items():
        sums = {name: summary(by_tree[name]) for name in names}
        lines += [
            f"### {mode}",
            "",
            "| | " + " | ".join(names) + " |",
            "|---|" + "--:|" * len(names),
        ]
        rows = [
            ("cold load: bytes transferred", lambda s: f"{s['cold bytes']:,.0f}"),
            ("cold load: of which wasm", lambda s: f"{s['cold wasm bytes']:,.0f}"),
            (
                "cold load: usable after (ms)",
                lambda s: (
                    f"{s['usable ms']:.0f} "
                    f"({s['usable ms min-max'][0]:.0f}–{s['usable ms min-max'][1]:.0f})"
                ),
            ),
            ("repeat visit: bytes transferred", lambda s: f"{s['repeat bytes']:,.0f}"),
            ("repeat visit: wasm bytes (max)", lambda s: f"{s['repeat wasm bytes']}"),
            (
                "repeat visit: usable after (ms)",
                lambda s: f"{s['repeat usable ms']:.0f}",
            ),
        ]
        for label, cell in rows:
            lines.append(
                f"| {label} | " + " | ".join(cell(sums[n]) for n in names) + " |"
            )
        new = sums[names[-1]]
        lines += [
            "",
            target("cold bytes", new["cold bytes"], MAX_COLD_BYTES, "{:,.0f} B"),
            target("usable median", new["usable ms"], MAX_USABLE_MS, "{:.0f} ms"),
            target("repeat-visit wasm", new["repeat wasm bytes"], 0, "{} B"),
            "",
        ]
    return "\n".join(lines)


def target(what, value, limit, form):
    verdict = "met" if value <= limit else "MISSED"
    return f"- {verdict}: {what} {form.format(value)} (target ≤ {form.format(limit)})"


def main():
    args = parse_args()
    trees = {"new": ROOT}
    if args.old:
        trees = {"old": args.old.resolve(), **trees}
    from playwright.sync_api import sync_playwright

    results = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            for mode in args.modes.split(","):
                results[mode] = measure(trees, mode, args.loads, browser)
        finally:
            browser.close()
    print(report(results, trees, args.loads))


if __name__ == "__main__":
    main()
