"""Python side of tests/node/automerge_cli.mjs: ask the real Automerge about bytes."""

import base64
import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLI = ROOT / "tests" / "node" / "automerge_cli.mjs"


def inspect(data):
    """Load ``data`` with Automerge.load in Node; return {"doc", "heads"}."""
    done = subprocess.run(
        ["node", str(CLI), "inspect"], cwd=ROOT, input=data, capture_output=True
    )
    if done.returncode != 0:
        raise AssertionError(f"Automerge.load failed: {done.stderr.decode()[-2000:]}")
    return json.loads(done.stdout)


def make_scenario(directory):
    """Write the two-device scenario's byte strings; return {name: bytes, ...}."""
    subprocess.run(["node", str(CLI), "scenario", str(directory)], cwd=ROOT, check=True)
    index = json.loads((Path(directory) / "index.json").read_text())
    cases = {name: (Path(directory) / name).read_bytes() for name in index["files"]}
    cases["heads"] = index["heads"]
    return cases


def run_script(source):
    """Run the ES module ``source`` in Node; it prints ``{name: base64}`` as JSON.

    Returns ``{name: bytes}``.
    """
    done = subprocess.run(
        ["node", "--input-type=module", "-e", source],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=120,
    )
    return {k: base64.b64decode(v) for k, v in json.loads(done.stdout).items()}
