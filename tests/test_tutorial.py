"""docs/tutorial.md runs as written; the tutorial's own client works against us.

``test_every_tutorial_command_prints_what_the_tutorial_shows`` reads the tutorial's
fenced blocks: every ``sh`` block is one command, and a ``text`` block right after
it is what the command prints. Each line of that block must appear in the output,
in order; ``...`` inside a line matches anything, and a line that is only ``...``
stands for any number of lines. The commands run in the tutorial's order, from the
repository root, with these substitutions:

- The tutorial's ports become free ones: 8000 (our server), 5000 (the tutorial's
  overwriting server), 5001 (its merging one), in commands and expected output.
- A block whose comment says ``starts a server`` is started in the background, and
  the test waits for its port (the port in the command, or 8000 for ``make run``)
  before going on; servers are stopped at the end.
- ``make run`` runs for real, with ``PORT`` and a fresh ``TODOS_SQLITE_PATH`` from
  the environment, but with ``-o .venv/.installed -o node_modules/.installed``: the
  test runs inside the installed virtualenv, so the Makefile's install steps (pip
  and npm, which need the network) are skipped; its migrate and Daphne steps run.
- A block whose comment says ``in another terminal`` runs in the background; the
  test goes on once the first line of its expected output has appeared, and checks
  the rest when it exits, after the remaining commands have run.
"""

import json
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.urls import reverse

from tests import live
from tests.conftest import run_node

ROOT = Path(__file__).resolve().parent.parent
TUTORIAL = ROOT / "docs" / "tutorial.md"
TUTORIAL_CLIENT = ROOT / "docs" / "tutorial" / "tutorial_client.mjs"
RACE = ROOT / "docs" / "tutorial" / "race.mjs"
README = ROOT / "README.md"

TUTORIAL_PORTS = ("8000", "5000", "5001")
DAPHNE_PORT = "8000"
MAKE_RUN = "make run"
MAKE_RUN_INSTALLED = "make -o .venv/.installed -o node_modules/.installed run"
STARTS_A_SERVER = "starts a server"
IN_ANOTHER_TERMINAL = "in another terminal"
COMMAND_TIMEOUT = 120  # seconds; a safety net against hangs, never an assertion
OUTPUT_TIMEOUT = 60

FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)


@dataclass
class Block:
    """One command of the tutorial and the lines it is said to print."""

    command: str
    expected: list[str]

    @property
    def starts_server(self):
        return STARTS_A_SERVER in self.command

    @property
    def in_background(self):
        return IN_ANOTHER_TERMINAL in self.command


def tutorial_blocks(text):
    """The tutorial's commands: each ``sh`` block with the ``text`` block after it."""
    blocks = []
    fences = list(FENCE.finditer(text))
    for index, fence in enumerate(fences):
        if fence.group(1) != "sh":
            continue
        expected = []
        following = fences[index + 1] if index + 1 < len(fences) else None
        if (
            following is not None
            and following.group(1) == "text"
            and not text[fence.end() : following.start()].strip()
        ):
            expected = [line for line in following.group(2).splitlines() if line]
        blocks.append(Block(fence.group(2).strip(), expected))
    return blocks


def output_matches(expected, output):
    """True if the ``expected`` lines appear in ``output``, in order (see above)."""
    lines = [line.strip() for line in output.splitlines()]
    position = 0
    for wanted in expected:
        if wanted.strip() == "...":
            continue
        pattern = ".*".join(re.escape(part) for part in wanted.strip().split("..."))
        while position < len(lines) and not re.fullmatch(pattern, lines[position]):
            position += 1
        if position == len(lines):
            return False
        position += 1
    return True


def read_text(path):
    return path.read_text(errors="replace") if path.exists() else ""


class TutorialRun:
    """Runs the tutorial's blocks with its ports mapped to free ones."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.ports = {}
        while len(set(self.ports.values())) < len(TUTORIAL_PORTS):
            self.ports = {port: str(live.free_port()) for port in TUTORIAL_PORTS}
        self.env = live.server_env(
            sqlite_path=tmp_path / "tutorial.sqlite3",
            HOST="127.0.0.1",
            PORT=self.ports[DAPHNE_PORT],
        )
        self.background = []  # (process, block, log path)

    def substitute(self, text):
        """The text with the tutorial's ports replaced by this run's."""
        return re.sub(
            rf"\b({'|'.join(TUTORIAL_PORTS)})\b",
            lambda match: self.ports[match.group(1)],
            text,
        )

    def command_of(self, block):
        command = self.substitute(block.command)
        if command.startswith(MAKE_RUN):
            command = MAKE_RUN_INSTALLED + command[len(MAKE_RUN) :]
        return command

    def expected_of(self, block):
        return [self.substitute(line) for line in block.expected]

    def run(self, index, block):
        """Run one block; fail with the command and its output if it misbehaves."""
        if block.starts_server or block.in_background:
            return self.start_background(index, block)
        done = subprocess.run(
            ["bash", "-c", self.command_of(block)],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
        )
        report = self.report(block, done.stdout + done.stderr)
        assert done.returncode == 0, f"exit status {done.returncode}\n{report}"
        assert output_matches(self.expected_of(block), done.stdout), report

    def start_background(self, index, block):
        log_path = self.tmp_path / f"block-{index}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                ["bash", "-c", self.command_of(block)],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, stopped as one
            )
        self.background.append((process, block, log_path))
        if block.starts_server:
            ports = [p for p in TUTORIAL_PORTS if re.search(rf"\b{p}\b", block.command)]
            live.wait_for_port(
                int(self.ports[ports[0] if ports else DAPHNE_PORT]),
                timeout=OUTPUT_TIMEOUT,
                process=process,
            )
            self.wait_for_output(process, block, log_path, self.expected_of(block))
        else:
            self.wait_for_output(process, block, log_path, self.expected_of(block)[:1])

    def wait_for_output(self, process, block, log_path, expected):
        """Wait until the process has printed ``expected``; fail if it exits first."""
        deadline = time.monotonic() + OUTPUT_TIMEOUT
        while not output_matches(expected, read_text(log_path)):
            exited = process.poll() is not None
            if exited or time.monotonic() > deadline:
                output = read_text(log_path)
                if output_matches(expected, output):
                    return
                state = "exited" if exited else "still runs"
                pytest.fail(f"the command {state}\n{self.report(block, output)}")
            time.sleep(0.1)

    def finish(self):
        """Check what background commands printed; stop servers."""
        for process, block, log_path in self.background:
            if block.in_background:
                try:
                    process.wait(OUTPUT_TIMEOUT)
                except subprocess.TimeoutExpired:
                    pass
                output = read_text(log_path)
                report = self.report(block, output)
                assert process.returncode == 0, f"status {process.returncode}\n{report}"
                assert output_matches(self.expected_of(block), output), report

    def stop(self):
        for process, _, _ in self.background:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()

    def report(self, block, output):
        expected = "\n".join(self.expected_of(block))
        return (
            f"command: {self.command_of(block)}\n"
            f"expected (in order):\n{expected}\n"
            f"output:\n{output[-4000:]}"
        )


@pytest.mark.live
def test_every_tutorial_command_prints_what_the_tutorial_shows(tmp_path):
    blocks = tutorial_blocks(TUTORIAL.read_text())
    tutorial = TutorialRun(tmp_path)
    try:
        for index, block in enumerate(blocks):
            tutorial.run(index, block)
        tutorial.finish()
    finally:
        tutorial.stop()


def race_outcomes(blocks):
    """{(server port, fetch first?): last expected line} of the race commands."""
    outcomes = {}
    for block in blocks:
        if "race.mjs" in block.command:
            port = re.search(r"127\.0\.0\.1:(\d+)", block.command).group(1)
            key = (port, "--fetch-first" in block.command)
            outcomes[key] = block.expected[-1]
    return outcomes


def test_tutorial_shows_edits_lost_by_the_overwriting_server_and_none_by_ours():
    # The live test checks the outputs; this pins that the tutorial shows them.
    outcomes = race_outcomes(tutorial_blocks(TUTORIAL.read_text()))

    assert outcomes == {
        ("5000", False): "lost 7 of 8 edits",  # the tutorial's overwriting server
        ("5000", True): "lost 7 of 8 edits",  # ... with clients merging first
        ("8000", False): "lost 0 of 8 edits",  # ours
        ("5001", False): "lost 0 of 8 edits",  # the tutorial's suggested merge
        ("8000", True): "lost 0 of 8 edits",
    }


def test_every_command_block_in_the_tutorial_says_what_it_prints():
    blocks = tutorial_blocks(TUTORIAL.read_text())

    assert len(blocks) >= 15
    assert [b.command for b in blocks if not b.expected] == []


def test_files_and_functions_named_in_the_tutorial_tables_exist():
    rows = tables_naming_code(TUTORIAL.read_text())
    assert len(rows) >= 20

    for path, name in rows:
        source = (ROOT / path).read_text()
        for part in name.split("."):
            assert defines(source, part), f"{path} does not define {part!r} ({name})"


def tables_naming_code(text):
    """(file, name) for every table row of the form | ... | `file` | `name`, ... |."""
    rows = []
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not re.fullmatch(r"`[\w./-]+\.\w+`", cells[1]):
            continue
        rows.extend(
            (cells[1].strip("`"), name) for name in re.findall(r"`([^`]+)`", cells[2])
        )
    return rows


def defines(source, name):
    """True if the Python or JavaScript ``source`` defines ``name``."""
    name = re.escape(name)
    patterns = [
        rf"^\s*(async\s+)?def {name}\b",
        rf"^\s*class {name}\b",
        rf"^\s*(export\s+)?(async\s+)?function\s+{name}\b",
        rf"^\s*(export\s+)?class {name}\b",
        rf"^\s*(static\s+)?(async\s+)?{name}\s*\([^)]*\)\s*{{",
        rf"^\s*{name}\s*=",
        rf"^\s*(export\s+)?(const|let) {name}\b",
    ]
    return any(re.search(pattern, source, re.M) for pattern in patterns)


def test_relative_links_in_the_tutorial_resolve():
    links = re.findall(r"\]\(([^)#]+)\)", TUTORIAL.read_text())
    local = [link for link in links if "://" not in link]

    assert local
    for link in local:
        assert (TUTORIAL.parent / link).exists(), link


def test_readme_links_the_tutorial():
    links = re.findall(r"\]\(([^)#]+)\)", README.read_text())

    assert "docs/tutorial.md" in links
    assert (README.parent / "docs/tutorial.md").exists()


def test_tutorial_client_is_the_tutorials_code_with_only_the_base_url_changed():
    source = TUTORIAL_CLIENT.read_text()

    for line in [
        "fetch(`${baseUrl}/${docId}`, {",
        'method: "post",',
        '"Content-Type": "application/octet-stream",',
        "let binary = Automerge.save(newDoc);",
        "saveToRemote(docId, binary);",
        "const response = await fetch(`${baseUrl}/${docId}`);",
        "let newDoc = Automerge.merge(doc, Automerge.load(view));",
    ]:
        assert line in source


@pytest.mark.live
def test_tutorial_client_against_daphne_two_concurrent_uploads_both_kept(daphne_server):
    # Device 1 makes the list and uploads it; device 2 loads it; each adds its own
    # item and both POST Automerge.save() at once; device 3 loads with GET.
    result = run_node(
        RACE, f"{daphne_server.url}/docs", "--devices", 2, "--json", timeout=60
    )
    report = json.loads(result.stdout)

    assert report["maxUploadsInFlight"] == 2
    assert report["statuses"] == [200, 200]
    assert report["lost"] == []
    assert sorted(report["items"]) == [
        "Edit from device 1",
        "Edit from device 2",
        "The list, started by device 1",
    ]


def test_how_it_works_page_explains_the_app_and_names_the_tutorial(client):
    response = client.get(reverse("todos:how_it_works"))

    assert response.status_code == 200
    page = response.content.decode()
    for words in ["live in your browser", "sync", "merge", "The link is the key"]:
        assert words in page
    assert "docs/tutorial.md" in page


def test_list_page_links_how_it_works(client):
    response = client.get(reverse("todos:list", kwargs={"doc_id": "groceries"}))

    assert response.status_code == 200
    assert f'href="{reverse("todos:how_it_works")}"' in response.content.decode()
