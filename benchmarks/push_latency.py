"""Push latency: from one client's edit to its arrival at 1, 10 and 100 sockets.

Usage (from the repository root)::

    .venv/bin/python benchmarks/push_latency.py [--listeners 1,10,100]
        [--repetitions 100] [--warmup 5] [--gap 250]
        [--systems one,two,automerge-repo] [--json results.json]

Starts the servers, then for each listener count runs every system's client once,
rotating their order, and prints a Markdown report (machine, load, table):

- ``one``: one Daphne process, SQLite, Channels' in-memory layer (the defaults);
  ``benchmarks/push_latency.mjs`` with the writer and every listener on it.
- ``two``: two Daphne processes sharing a fresh PostgreSQL database (each with a
  pool of 4 connections, ``TODOS_DB_POOL_SIZE``, as deployed) and Redis
  (channels_redis); the writer on the first, listeners alternately on the second
  and the first, so a single listener is on the other process than the writer.
- ``relay``: ``benchmarks/relay_server.mjs``, a Node server that only relays each
  upload to the other sockets (no checks, no merge, no storage), with the same
  client as ``one``: a floor that no server gets below with these clients on this
  machine.
- ``relay-daphne``: the same relay as an ASGI app under one Daphne process
  (``benchmarks/relay_asgi.py``): the floor of a Daphne server.
- ``automerge-repo``: ``@automerge/automerge-repo-sync-server`` on Node (it stores
  to files); ``benchmarks/automerge_repo_push_latency.mjs``, with automerge-repo
  clients doing the same.

Servers come from ``tests/live.py`` (PostgreSQL and Redis at TEST_DATABASE_URL and
TEST_REDIS_URL, as for the tests), with DEBUG off as deployed
(``live.deployed_settings``). The automerge-repo npm packages are the project's
pinned devDependencies (``make setup`` installs them). Every client
runs in one Node process on the same machine as the servers, so the figures
include the clients' own work (applying each change), for both systems alike.
"""

import argparse
import json
import os
import platform
import secrets
import subprocess
import sys
import tempfile
from collections import defaultdict
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import live, services  # noqa: E402

OURS = ROOT / "benchmarks" / "push_latency.mjs"
BASELINE = ROOT / "benchmarks" / "automerge_repo_push_latency.mjs"
RELAY = ROOT / "benchmarks" / "relay_server.mjs"
SYSTEMS = {
    "one": "Daphne ×1, in-memory layer (SQLite)",
    "two": "Daphne ×2, Redis layer (PostgreSQL)",
    "relay": "relay only (Node)",
    "relay-daphne": "relay only (Daphne)",
    "automerge-repo": "automerge-repo-sync-server",
}
SYNC_SERVER = "@automerge/automerge-repo-sync-server"


def npm_version(name):
    """The installed version of an npm package, or "?"."""
    package = ROOT / "node_modules" / name / "package.json"
    try:
        return json.loads(package.read_text())["version"]
    except (OSError, ValueError, KeyError):
        return "?"


def load_average():
    """The 1-minute load average, as `uptime` shows it."""
    return os.getloadavg()[0]


class NodeServer:
    """A Node server script on a free port (``PORT``), logging to ``directory``."""

    def __init__(self, directory, name, script, **env):
        self.port = live.free_port()
        self.url = f"ws://127.0.0.1:{self.port}"
        if not script.exists():
            raise SystemExit(f"{script} is missing: make setup")
        env = {**os.environ, "PORT": str(self.port), **env}
        self.log = open(directory / f"{name}.log", "ab")
        self.process = subprocess.Popen(
            ["node", str(script)],
            cwd=directory,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        live.wait_for_port(self.port, process=self.process)

    def stop(self):
        self.process.terminate()
        self.process.wait(10)
        self.log.close()


class SyncServer(NodeServer):
    """``@automerge/automerge-repo-sync-server``, storing to ``directory/data``."""

    def __init__(self, directory):
        script = ROOT / "node_modules" / SYNC_SERVER / "src" / "index.js"
        data = str(directory / "data")
        super().__init__(directory, "sync-server", script, DATA_DIR=data)


class RelayDaphne(live.LiveServer):
    """Daphne serving ``benchmarks/relay_asgi.py`` instead of our site."""

    def command(self):
        return [*super().command()[:-1], "benchmarks.relay_asgi:application"]


class Servers:
    """Every server the chosen systems need, started once and stopped together."""

    def __init__(self, systems, directory, **settings):
        """Start ``systems``' servers; ``settings`` are more environment variables
        for our Daphne processes."""
        self.directory = directory
        self.started = []
        self.database = None
        self.urls = {}
        self.pids = {}  # system -> its server processes, for their CPU time
        if "one" in systems:
            env = live.server_env(
                sqlite_path=directory / "one.sqlite3",
                **live.deployed_settings(),
                **settings,
            )
            live.migrate(env)
            self.urls["one"] = [self._daphne(env, "one", "one")]
        if "two" in systems:
            for name in ("postgres", "redis"):
                reason = services.unavailable_reason(name)
                if reason:
                    raise SystemExit(f"cannot run 'two': {reason}")
            self.database = live.PostgresDatabase(services.service_url("postgres"))
            env = live.server_env(
                database_url=self.database.url,
                redis_url=services.service_url("redis"),
                # As deployed (docs/deployment.md): without a pool every write
                # opens a PostgreSQL connection, 6-8 ms of each push.
                TODOS_DB_POOL_SIZE=4,
                **live.deployed_settings(),
                **settings,
            )
            live.migrate(env)
            self.urls["two"] = [self._daphne(env, f"two-{i}", "two") for i in range(2)]
        if "relay" in systems:
            self._node("relay", NodeServer(directory, "relay", RELAY))
        if "relay-daphne" in systems:
            url = self._daphne(dict(os.environ), "relay", "relay-daphne", RelayDaphne)
            self.urls["relay-daphne"] = [url]
        if "automerge-repo" in systems:
            self._node("automerge-repo", SyncServer(directory))

    def _node(self, system, server):
        self.started.append(server)
        self.urls[system] = [server.url]
        self.pids[system] = [server.process.pid]

    def _daphne(self, env, name, system, server_class=live.LiveServer):
        server = server_class(env, log_path=self.directory / f"daphne-{name}.log")
        self.started.append(server.start())
        self.pids.setdefault(system, []).append(server.process.pid)
        return server.ws_url

    def stop(self):
        for server in self.started:
            server.stop()
        if self.database:
            self.database.drop()


def client_command(system, urls, listeners, options):
    """The Node command that measures ``system`` with ``listeners`` sockets."""
    common = [
        "--listeners",
        listeners,
        "--repetitions",
        options.repetitions,
        "--warmup",
        options.warmup,
        "--gap",
        options.gap,
    ]
    if system == "automerge-repo":
        return ["node", str(BASELINE), "--url", urls[0], *common]
    # Listener i goes to urls[i % n]: with two servers, listener 0 is on the
    # second, so even a single listener gets its pushes across processes.
    listener_urls = urls[1:] + urls[:1]
    doc = f"push-{system}-{listeners}-{secrets.token_hex(4)}"
    return [
        "node",
        str(OURS),
        "--writer-url",
        urls[0],
        "--listener-urls",
        ",".join(listener_urls),
        "--doc",
        doc,
        *common,
    ]


def cpu_seconds(pids):
    """CPU time used so far by ``pids`` and every process below them."""
    ticks, children = {}, defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # it ended meanwhile
            # After the name: state, ppid, ..., utime and stime (13th and 14th).
            ticks[int(entry.name)] = int(fields[11]) + int(fields[12])
            children[int(fields[1])].append(int(entry.name))
    total, todo = 0, list(pids)
    while todo:
        pid = todo.pop()
        total += ticks.get(pid, 0)
        todo += children[pid]
    return total / os.sysconf("SC_CLK_TCK")


def measure(system, urls, listeners, options, pids):
    """Run one client; return its JSON report with the load and the servers' CPU
    time per measured edit around it."""
    before = load_average()
    command = [str(part) for part in client_command(system, urls, listeners, options)]
    client = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    # The client writes "measuring" and "measured" around its measured edits.
    errors, cpu = [], []
    for line in client.stderr:
        if line.strip() in (b"measuring", b"measured"):
            cpu.append(cpu_seconds(pids))
        else:
            errors.append(line)
    stdout, stderr = client.communicate(timeout=1800)
    if client.returncode != 0 or len(cpu) != 2:
        message = b"".join(errors).decode() + stderr.decode()
        raise SystemExit(
            f"{system} L={listeners} failed (exit {client.returncode}):\n{message}"
        )
    report = json.loads(stdout)
    report["load"] = [before, load_average()]
    report["serverCpuMs"] = (cpu[1] - cpu[0]) * 1000 / options.repetitions
    return report


def machine():
    """A short description of this machine and the software measured."""
    model = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory = "?"
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            memory = f"{int(line.split()[1]) // 1024 // 1024} GiB"
    node = subprocess.run(["node", "--version"], capture_output=True, text=True)
    python = ", ".join(
        f"{name} {metadata.version(name)}"
        for name in ("Django", "channels", "daphne", "channels-redis")
    )
    npm = ", ".join(
        f"{name} {npm_version(name)}"
        for name in (
            SYNC_SERVER,
            "@automerge/automerge-repo",
            "@automerge/automerge-repo-network-websocket",
        )
    )
    return (
        f"{os.cpu_count()} vCPU ({model}), {memory} RAM, {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()} ({python}); "
        f"Node {node.stdout.strip()}; {npm}"
    )


def fmt(value):
    return "-" if value is None else f"{value:.1f}"


def ratio(ours, theirs):
    if not ours or not theirs:
        return "-"
    return f"{ours / theirs:.2f}"


def markdown(results, options, systems):
    """The report: one table row per listener count, a column group per system."""
    lines = [
        f"- machine: {machine()}",
        f"- method: {options.repetitions} measured edits (+{options.warmup} warm-up) "
        f"per cell, {options.gap} ms apart; latency from the writer's change to the "
        "item being in each listener's document; p99 is nearest-rank",
        "",
    ]
    header = ["L"]
    for system in systems:
        header += [f"{SYSTEMS[system]}: median / p99"]
    if "automerge-repo" in systems:
        header += [f"{s} ÷ automerge-repo, median / p99" for s in systems[:-1]]
    header += ["load (1 min)"]
    lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for listeners, by_system in results.items():
        row = [str(listeners)]
        for system in systems:
            r = by_system[system]
            row.append(
                f"{fmt(r['perSocket']['median'])} / {fmt(r['perSocket']['p99'])} ms "
                f"({fmt(r['lastSocket']['median'])} / {fmt(r['lastSocket']['p99'])})"
            )
        if "automerge-repo" in systems:
            base = by_system["automerge-repo"]["perSocket"]
            for system in systems[:-1]:
                ours = by_system[system]["perSocket"]
                row.append(
                    f"{ratio(ours['median'], base['median'])} / "
                    f"{ratio(ours['p99'], base['p99'])}"
                )
        loads = [load for r in by_system.values() for load in r["load"]]
        row.append(f"{min(loads):.1f}–{max(loads):.1f}")
        lines.append("| " + " | ".join(row) + " |")
    lost = {
        f"{system} L={listeners}": r["lost"]
        for listeners, by_system in results.items()
        for system, r in by_system.items()
        if r["lost"]
    }
    lines += [
        "",
        "Cells: per-socket median / p99 over every listener and edit; in brackets, "
        "median / p99 of the time until the last listener had the edit.",
        "Writer's upload-to-acknowledgement (ours), median / p99: "
        + "; ".join(
            f"{system} L={listeners}: {fmt(r['writerAck']['median'])} / "
            f"{fmt(r['writerAck']['p99'])} ms"
            for listeners, by_system in results.items()
            for system, r in by_system.items()
            if "writerAck" in r
        )
        + ".",
        f"Lost arrivals: {lost or 'none'}.",
        "CPU time per edit, clients (one Node process) + servers (every process): "
        + "; ".join(
            f"{system} L={listeners}: {r['clientCpuMs']:.1f} + "
            f"{r['serverCpuMs']:.1f} ms"
            for listeners, by_system in results.items()
            for system, r in by_system.items()
        )
        + ".",
    ]
    if "two" in systems:
        split = []
        for listeners, by_system in results.items():
            by_url = by_system["two"]["byUrl"]
            for index, url in enumerate(by_system["two"]["urls"]):
                if url in by_url:
                    where = "same process" if index == 0 else "other process"
                    median, p99 = by_url[url]["median"], by_url[url]["p99"]
                    split.append(
                        f"L={listeners} {where}: {fmt(median)} / {fmt(p99)} ms"
                    )
        lines.append("Two processes, by listener's process: " + "; ".join(split) + ".")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listeners", default="1,10,100")
    parser.add_argument("--repetitions", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--gap", type=int, default=250)
    parser.add_argument("--systems", default="one,two,automerge-repo")
    parser.add_argument("--json", type=Path, help="also write the raw reports here")
    options = parser.parse_args()
    systems = [s for s in SYSTEMS if s in options.systems.split(",")]
    listener_counts = [int(n) for n in options.listeners.split(",")]

    results = {}
    with tempfile.TemporaryDirectory(prefix="push-latency-") as directory:
        servers = Servers(systems, Path(directory))
        try:
            for turn, listeners in enumerate(listener_counts):
                order = systems[turn % len(systems) :] + systems[: turn % len(systems)]
                results[listeners] = {}
                for system in order:
                    report = measure(
                        system,
                        servers.urls[system],
                        listeners,
                        options,
                        servers.pids[system],
                    )
                    report["urls"] = servers.urls[system]
                    results[listeners][system] = report
                    print(
                        f"L={listeners} {system}: {report['perSocket']} "
                        f"load {report['load']}",
                        file=sys.stderr,
                    )
        finally:
            servers.stop()
    if options.json:
        options.json.write_text(json.dumps(results, indent=1))
    print(markdown(results, options, systems))


if __name__ == "__main__":
    main()
