"""One log line per write (todos/writelog.py), over HTTP and the WebSocket."""

import json
import logging

import pytest
from channels.testing import WebsocketCommunicator
from django.core.cache import cache

from tests import automerge_node
from todo_site.asgi import application
from todos import writelog

OCTETS = "application/octet-stream"
ORIGIN = (b"origin", b"http://127.0.0.1:8000")
DOC = "list-1"
CONTENT = ("milk", "Groceries")  # the scenario's item text and list title


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    return automerge_node.make_scenario(tmp_path_factory.mktemp("scenario"))


@pytest.fixture(autouse=True)
def empty_counters():
    """The local-memory cache (the rate limit's buckets) starts and ends empty."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def writes(caplog):
    caplog.set_level(logging.INFO, logger="todos.writes")
    return lambda: [r for r in caplog.records if r.name == "todos.writes"]


def put(client, body, content_type=OCTETS):
    return client.put(f"/docs/{DOC}", data=body, content_type=content_type)


def fields(record):
    return {
        key: getattr(record, key)
        for key in ("doc_id", "bytes", "outcome", "status", "via")
    }


@pytest.mark.django_db
def test_each_http_write_logs_one_line_with_its_outcome(client, case, writes, settings):
    settings.TODOS_WRITE_RATE_LIMIT = "3/h"  # forms are refused before it counts
    put(client, case["base"])
    put(client, case["base"])
    put(client, b"not automerge")
    put(client, b"a=1", content_type="application/x-www-form-urlencoded")
    put(client, case["a1"])

    records = writes()

    assert [fields(r) for r in records] == [
        {
            "doc_id": DOC,
            "bytes": len(case["base"]),
            "outcome": "stored",
            "status": 200,
            "via": "http",
        },
        {
            "doc_id": DOC,
            "bytes": len(case["base"]),
            "outcome": "unchanged",
            "status": 200,
            "via": "http",
        },
        {
            "doc_id": DOC,
            "bytes": 13,
            "outcome": "refused",
            "status": 400,
            "via": "http",
        },
        {"doc_id": DOC, "bytes": 3, "outcome": "refused", "status": 415, "via": "http"},
        {
            "doc_id": DOC,
            "bytes": len(case["a1"]),
            "outcome": "refused",
            "status": 429,
            "via": "http",
        },
    ]
    assert all(r.duration_ms >= 0 and r.client == "127.0.0.1" for r in records)
    assert all(r.levelno == logging.INFO for r in records)
    assert f"doc_id={DOC} bytes={len(case['base'])} outcome=stored status=200" in (
        records[0].getMessage()
    )


@pytest.mark.django_db
def test_write_lines_hold_no_document_content(client, case, writes):
    put(client, case["base"])
    put(client, case["a1"])

    text = "\n".join(
        r.getMessage() + json.dumps(r.__dict__, default=str) for r in writes()
    )

    assert len(writes()) == 2
    assert not any(word in text for word in CONTENT)


def test_a_server_failure_is_logged_as_a_warning(writes):
    writelog.log_write(DOC, 10, 503, False, 0.0, "http", "10.0.0.1")

    [record] = writes()
    assert record.levelno == logging.WARNING and record.outcome == "refused"


@pytest.mark.django_db(transaction=True)
async def test_each_frame_logs_one_line(case, writes, settings):
    settings.TODOS_WRITE_RATE_LIMIT = "3/h"
    socket = WebsocketCommunicator(application, f"/ws/docs/{DOC}", headers=[ORIGIN])
    assert (await socket.connect())[0]
    for frame in (case["base"], case["base"], b"junk", case["a1"]):
        await socket.send_to(bytes_data=frame)
        await socket.receive_json_from()
    await socket.disconnect()

    assert [(r.outcome, r.status, r.via, r.bytes) for r in writes()] == [
        ("stored", 200, "websocket", len(case["base"])),
        ("unchanged", 200, "websocket", len(case["base"])),
        ("refused", 400, "websocket", 4),
        ("refused", 429, "websocket", len(case["a1"])),
    ]


def test_json_format_writes_one_object_per_line_with_the_fields():
    from pythonjsonlogger.json import JsonFormatter

    from todo_site.settings import LOGGING

    options = dict(LOGGING["formatters"]["json"])
    options.pop("()")
    formatter = JsonFormatter(**options)
    record = logging.LogRecord(
        "todos.writes", logging.INFO, __file__, 1, "write", (), None
    )
    record.__dict__.update(doc_id=DOC, bytes=5, outcome="stored", status=200)

    line = json.loads(formatter.format(record))

    assert (
        line["doc_id"] == DOC
        and line["outcome"] == "stored"
        and line["level"] == "INFO"
    )


def test_a_body_refused_before_django_is_logged_only_for_a_write(writes, settings):
    settings.TODOS_TRUSTED_PROXIES = "127.0.0.1"
    writelog.log_refused_body("PUT", f"/docs/{DOC}/", 10**9, "127.0.0.1", "1.2.3.4")
    writelog.log_refused_body("GET", f"/docs/{DOC}", 10**9, "127.0.0.1", None)
    writelog.log_refused_body("POST", "/admin/login/", 10**9, "127.0.0.1", None)
    writelog.log_refused_body("PUT", "/docs/../etc", 10**9, "127.0.0.1", None)

    [record] = writes()
    assert fields(record) == {
        "doc_id": DOC,
        "bytes": 10**9,
        "outcome": "refused",
        "status": 413,
        "via": "http",
    }
    assert record.client == "1.2.3.4"
