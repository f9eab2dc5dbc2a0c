"""Quotas per client address: new documents (TODOS_CREATE_RATE_LIMIT) and stored
bytes per day (TODOS_MAX_CLIENT_BYTES), over HTTP and the WebSocket, in-process.
The same against live Daphne processes: tests/test_limits_live.py."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.cache import cache

from tests import automerge_node
from todo_site.asgi import application
from todos import storage

OCTETS = "application/octet-stream"
ORIGIN = (b"origin", b"http://127.0.0.1:8000")
ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    return automerge_node.make_scenario(tmp_path_factory.mktemp("scenario"))


@pytest.fixture(autouse=True)
def empty_counters():
    """The local-memory cache starts and ends empty (these tests never use Redis)."""
    cache.clear()
    yield
    cache.clear()


def put(client, doc_id, body, address="10.0.0.1"):
    return client.put(
        f"/docs/{doc_id}", data=body, content_type=OCTETS, REMOTE_ADDR=address
    )


def test_quotas_are_off_by_default():
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("TODOS_CREATE_RATE_LIMIT", "TODOS_MAX_CLIENT_BYTES")
    }
    code = (
        "from todo_site import settings as s; "
        "print(repr((s.TODOS_CREATE_RATE_LIMIT, s.TODOS_MAX_CLIENT_BYTES)))"
    )

    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )

    assert done.stdout.strip() == "('', 0)", done.stderr


@pytest.mark.django_db
def test_creating_over_the_rate_gets_429_and_stores_nothing(client, case, settings):
    settings.TODOS_CREATE_RATE_LIMIT = "2/h"
    assert put(client, "one", case["base"]).status_code == 200
    assert put(client, "two", case["base"]).status_code == 200

    refused = put(client, "three", case["base"])

    assert refused.status_code == 429
    assert refused["Content-Type"] == "application/json"
    assert 1700 <= int(refused["Retry-After"]) <= 1800  # a creation every 30 min
    assert "TODOS_CREATE_RATE_LIMIT" in refused.json()["error"]
    assert "2/h" in refused.json()["error"]
    assert storage.read_document("three") is None
    assert client.get("/docs/three").status_code == 404


@pytest.mark.django_db
def test_writes_to_existing_lists_are_not_creations(client, case, settings):
    settings.TODOS_CREATE_RATE_LIMIT = "1/h"
    assert put(client, "one", case["base"]).status_code == 200

    statuses = [put(client, "one", case[name]).status_code for name in ("a1", "a2")]

    assert statuses == [200, 200]
    assert put(client, "two", case["base"]).status_code == 429
    assert put(client, "two", case["base"], address="10.0.0.2").status_code == 200


@pytest.mark.django_db
def test_bytes_quota_counts_stored_uploads_only(client, case, settings):
    base = case["base"]
    settings.TODOS_MAX_CLIENT_BYTES = 2 * len(base)
    assert put(client, "one", b"not automerge").status_code == 400  # not counted
    assert put(client, "one", base).status_code == 200  # stored: len(base)
    assert put(client, "one", base).json()["changed"] is False  # not counted
    assert put(client, "two", base).status_code == 200  # stored: 2 * len(base)

    refused = put(client, "one", case["a1"])

    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 86400
    message = refused.json()["error"]
    assert "TODOS_MAX_CLIENT_BYTES" in message and "midnight UTC" in message
    assert f"{2 * len(base)} bytes today" in message
    assert storage.read_document("one").data == base
    assert put(client, "one", case["a1"], address="10.0.0.2").status_code == 200


@pytest.mark.django_db
def test_an_upload_larger_than_the_whole_quota_is_refused(client, case, settings):
    settings.TODOS_MAX_CLIENT_BYTES = len(case["base"]) - 1

    refused = put(client, "one", case["base"])

    assert refused.status_code == 429
    assert "would be refused on any day" in refused.json()["error"]
    assert storage.read_document("one") is None


def with_client_address(address):
    async def app(scope, receive, send):
        return await application({**scope, "client": [address, 50000]}, receive, send)

    return app


async def connect(doc_id, address="10.0.0.1"):
    socket = WebsocketCommunicator(
        with_client_address(address), f"/ws/docs/{doc_id}", headers=[ORIGIN]
    )
    connected, _ = await socket.connect()
    assert connected
    return socket


@pytest.mark.django_db(transaction=True)
async def test_a_socket_creating_over_the_rate_gets_a_429_frame(case, settings):
    settings.TODOS_CREATE_RATE_LIMIT = "1/d"
    first = await connect("one")
    await first.send_to(bytes_data=case["base"])
    assert (await first.receive_json_from())["type"] == "ack"
    second = await connect("two")

    await second.send_to(bytes_data=case["base"])
    error = await second.receive_json_from()

    assert error["type"] == "error" and error["status"] == 429
    assert error["retry_after"] > 3600
    assert "TODOS_CREATE_RATE_LIMIT" in error["error"]
    assert await database_sync_to_async(storage.read_document)("two") is None
    # The socket stays usable; the existing list still takes edits.
    await first.send_to(bytes_data=case["a1"])
    assert (await first.receive_json_from())["changed"] is True
    await first.disconnect()
    await second.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_socket_over_the_bytes_quota_gets_a_429_frame(case, settings):
    settings.TODOS_MAX_CLIENT_BYTES = len(case["base"])
    socket = await connect("one")
    await socket.send_to(bytes_data=case["base"])
    assert (await socket.receive_json_from())["type"] == "ack"

    await socket.send_to(bytes_data=case["a1"])
    error = await socket.receive_json_from()

    assert error["status"] == 429 and error["retry_after"] >= 1
    assert "TODOS_MAX_CLIENT_BYTES" in error["error"]
    stored = await database_sync_to_async(storage.read_document)("one")
    assert stored.data == case["base"]
    await socket.disconnect()
