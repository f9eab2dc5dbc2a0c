"""Where one push's time goes: stage timestamps inside a live Daphne (issue 17).

Usage (from the repository root)::

    .venv/bin/python benchmarks/push_stages.py [--repetitions 100] [--gap 250]

Starts one Daphne process (SQLite, in-memory channel layer, as ``push_latency.py``'s
``one``) whose consumer and storage service are wrapped to note a timestamp
(``time.perf_counter``, one clock for the whole process) at each stage of a write
and its push, runs ``benchmarks/push_latency.mjs`` with one listener against it,
and prints the median time from the frame reaching the consumer to each stage:

- ``receive``: the writer's binary frame reaches ``DocumentConsumer.receive``;
- ``service``: ``storage.write_document`` starts in its database thread;
- ``locked``: the document's row is locked (``lock_document`` returned);
- ``engine``: the engine's ``apply`` returned (validate and merge, in its process);
- ``committed``: ``notify_update`` starts (``transaction.on_commit``);
- ``group_sent``: the channel layer's ``group_send`` returned to that thread;
- ``handler``: the process's push hub starts sending the push (``PushHub.push``);
- ``pushed``: the listener's binary frame has been handed to Daphne;
- ``update_sent``: the ``update`` text frame after it;
- ``acked``: the writer's acknowledgement has been handed to Daphne.

With ``--serve TRACE_PATH [daphne arguments]`` it is that server: it wraps the
code, runs Daphne's command line, and appends one JSON line per write to
TRACE_PATH. Wrapping costs a few microseconds per stage.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STAGES = [
    "receive",
    "service",
    "locked",
    "engine",
    "committed",
    "group_sent",
    "handler",
    "pushed",
    "update_sent",
    "acked",
]


class Trace:
    """Appends ``{"stage": ..., "t": ...}`` lines; the clock is the machine's.

    ``time.monotonic`` is CLOCK_MONOTONIC, one clock for every process on the
    machine, so the notes of two Daphne processes can be merged.
    """

    def __init__(self, path):
        self.out = Path(path).open("a", buffering=1)

    def note(self, stage):
        self.out.write(json.dumps({"stage": stage, "t": time.monotonic()}) + "\n")


def wrap_sync(owner, name, trace, stage, before=False):
    """Replace ``owner.name`` by a function noting ``stage`` before or after it."""
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        if before:
            trace.note(stage)
        result = original(*args, **kwargs)
        if not before:
            trace.note(stage)
        return result

    setattr(owner, name, wrapper)


def instrument(trace):
    """Wrap the consumer and the storage service to note each stage."""
    import django

    django.setup()
    from todos import consumers, engine, push_hub
    from todos.storage import service

    wrap_sync(service, "write_document", trace, "service", before=True)
    wrap_sync(service, "lock_document", trace, "locked")
    wrap_sync(engine, "apply", trace, "engine")
    wrap_sync(service, "notify_update", trace, "committed", before=True)
    # storage re-exports write_document; the consumer calls it through storage.
    consumers.storage.write_document = service.write_document

    from asgiref import sync

    original_async_to_sync = sync.async_to_sync

    def traced_async_to_sync(function, *args, **kwargs):
        call = original_async_to_sync(function, *args, **kwargs)
        if getattr(function, "__name__", "") != "group_send":
            return call

        def wrapper(*a, **k):
            result = call(*a, **k)
            trace.note("group_sent")
            return result

        return wrapper

    service.async_to_sync = traced_async_to_sync
    consumer = consumers.DocumentConsumer
    receive, send = consumer.receive, consumer.send
    push = push_hub.PushHub.push

    async def traced_receive(self, text_data=None, bytes_data=None):
        if bytes_data is not None:
            trace.note("receive")
        return await receive(self, text_data=text_data, bytes_data=bytes_data)

    async def traced_push(self, event):
        trace.note("handler")
        return await push(self, event)

    async def traced_send(self, text_data=None, bytes_data=None, close=False):
        await send(self, text_data=text_data, bytes_data=bytes_data, close=close)
        if bytes_data is not None:
            trace.note("pushed")
        elif text_data and text_data.startswith('{"type": "update"'):
            trace.note("update_sent")
        elif text_data and text_data.startswith('{"type": "ack"'):
            trace.note("acked")

    consumer.receive = traced_receive
    push_hub.PushHub.push = traced_push
    consumer.send = traced_send


def serve():
    """Run Daphne with the stages noted: ``--serve TRACE_PATH [daphne args]``."""
    path = sys.argv[2]
    sys.argv = [sys.argv[0], *sys.argv[3:]]
    instrument(Trace(path))
    from daphne.cli import CommandLineInterface

    CommandLineInterface.entrypoint()


def writes_of(paths):
    """Merge the processes' notes by time; one dict of ms since receive per write."""
    events = []
    for path in paths:
        events += [json.loads(line) for line in path.read_text().splitlines()]
    events.sort(key=lambda event: event["t"])
    writes = []
    for event in events:
        if event["stage"] == "receive":
            writes.append({"receive": event["t"]})
        elif writes and event["stage"] not in writes[-1]:
            writes[-1][event["stage"]] = event["t"]
    return [
        {stage: (t - write["receive"]) * 1000 for stage, t in write.items()}
        for write in writes
    ]


def summary(records):
    """Median (and p90) of each stage's time since ``receive``, in ms."""
    lines = [
        "| stage | median ms since receive | p90 | writes |",
        "|---|---:|---:|---:|",
    ]
    for stage in STAGES:
        values = sorted(r[stage] for r in records if stage in r)
        if not values:
            continue
        p90 = values[min(len(values) - 1, int(0.9 * len(values)))]
        median = statistics.median(values)
        lines.append(f"| {stage} | {median:.2f} | {p90:.2f} | {len(values)} |")
    return "\n".join(lines)


def start_servers(directory, two):
    """One Daphne (SQLite) or two (PostgreSQL, Redis), each noting to its file."""
    from tests import live, services

    database = None
    if two:
        database = live.PostgresDatabase(services.service_url("postgres"))
        env = live.server_env(
            database_url=database.url,
            redis_url=services.service_url("redis"),
            **live.deployed_settings(),
        )
    else:
        env = live.server_env(
            sqlite_path=directory / "db.sqlite3", **live.deployed_settings()
        )
    live.migrate(env)
    servers = []
    for index in range(2 if two else 1):
        trace = directory / f"trace-{index}.jsonl"
        trace.touch()
        server = live.LiveServer(env, log_path=directory / f"daphne-{index}.log")
        command = server.command()
        server.command = lambda command=command, trace=trace: [
            sys.executable,
            __file__,
            "--serve",
            str(trace),
            *command[1:],
        ]
        servers.append(server.start())
    return servers, database


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve()
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repetitions", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--gap", type=int, default=250)
    parser.add_argument(
        "--two", action="store_true", help="two Daphne processes, PostgreSQL, Redis"
    )
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="push-stages-") as directory:
        directory = Path(directory)
        servers, database = start_servers(directory, options.two)
        try:
            done = subprocess.run(
                [
                    "node",
                    str(ROOT / "benchmarks" / "push_latency.mjs"),
                    "--writer-url",
                    servers[0].ws_url,
                    "--listener-urls",
                    servers[-1].ws_url,
                    "--doc",
                    f"stages-{os.getpid()}",
                    "--listeners",
                    "1",
                    "--repetitions",
                    str(options.repetitions),
                    "--warmup",
                    str(options.warmup),
                    "--gap",
                    str(options.gap),
                ],
                cwd=ROOT,
                capture_output=True,
                check=True,
                timeout=1800,
            )
        finally:
            for server in servers:
                server.stop()
            if database:
                database.drop()
        client = json.loads(done.stdout)
        records = writes_of(sorted(directory.glob("trace-*.jsonl")))
    records = records[1 + options.warmup :]  # the seed and the warm-up writes
    print(f"load average {os.getloadavg()[0]:.1f}")
    print(
        f"client: edit to listener median {client['perSocket']['median']} ms, "
        f"to writer's ack {client['writerAck']['median']} ms"
    )
    print(summary(records))


if __name__ == "__main__":
    main()
