"""The per-client write rate limit (TODOS_WRITE_RATE_LIMIT): off unless set."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

from tests import automerge_node
from todo_site.asgi import application
from todos import ratelimit, storage
from todos.ratelimit import Rate

DOC = "groceries"
URL = f"/docs/{DOC}"
OCTETS = "application/octet-stream"
ORIGIN = (b"origin", b"http://127.0.0.1:8000")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def case(tmp_path_factory):
    return automerge_node.make_scenario(tmp_path_factory.mktemp("scenario"))


@pytest.fixture(autouse=True)
def empty_buckets():
    cache.clear()
    yield
    cache.clear()


def put(client, body, address="10.0.0.1"):
    return client.put(URL, data=body, content_type=OCTETS, REMOTE_ADDR=address)


@pytest.mark.parametrize(
    "text, rate",
    [
        ("300/s", Rate(300, 1)),
        ("1000/m", Rate(1000, 60)),
        ("50/hour", Rate(50, 3600)),
        (" 7 / day ", Rate(7, 86400)),
        ("5/MIN", Rate(5, 60)),
    ],
)
def test_parse_rate_reads_count_per_period(text, rate):
    assert ratelimit.parse_rate(text) == rate


@pytest.mark.parametrize("text", ["", "   ", None])
def test_empty_rate_means_no_limit(text):
    assert ratelimit.parse_rate(text) is None


@pytest.mark.parametrize("text", ["300", "0/s", "-1/s", "10/fortnight", "x/s", "1.5/s"])
def test_bad_rate_is_a_configuration_error_naming_the_value(text):
    with pytest.raises(ImproperlyConfigured, match="TODOS_WRITE_RATE_LIMIT"):
        ratelimit.parse_rate(text)


def test_limit_is_off_by_default():
    env = {k: v for k, v in os.environ.items() if k != "TODOS_WRITE_RATE_LIMIT"}
    code = "from todo_site.settings import TODOS_WRITE_RATE_LIMIT as r; print(repr(r))"

    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )

    assert done.stdout.strip() == "''", done.stderr
    assert ratelimit.parse_rate("") is None


def test_bucket_allows_a_burst_of_count_then_one_per_interval():
    rate = Rate(3, 60)  # a token every 20 s

    assert [ratelimit.take("a", rate, now=1000.0) for _ in range(3)] == [0, 0, 0]
    assert ratelimit.take("a", rate, now=1000.0) == pytest.approx(20.0)
    assert ratelimit.take("a", rate, now=1010.0) == pytest.approx(10.0)
    assert ratelimit.take("a", rate, now=1020.0) == 0
    assert ratelimit.take("a", rate, now=1020.0) == pytest.approx(20.0)


def test_bucket_refills_to_at_most_count():
    rate = Rate(2, 1)
    ratelimit.take("a", rate, now=0.0)
    ratelimit.take("a", rate, now=0.0)

    later = [ratelimit.take("a", rate, now=100.0) for _ in range(3)]

    assert later[:2] == [0, 0]
    assert later[2] > 0


def test_clients_have_separate_buckets():
    rate = Rate(1, 60)

    assert ratelimit.take("10.0.0.1", rate, now=0.0) == 0
    assert ratelimit.take("10.0.0.1", rate, now=0.0) > 0
    assert ratelimit.take("10.0.0.2", rate, now=0.0) == 0


@pytest.mark.django_db
def test_http_writes_are_not_limited_when_unset(client, case, settings):
    settings.TODOS_WRITE_RATE_LIMIT = ""
    put(client, case["base"])

    statuses = {put(client, case["base"]).status_code for _ in range(100)}

    assert statuses == {200}


@pytest.mark.django_db
def test_http_write_over_the_limit_gets_429_with_retry_after(client, case, settings):
    settings.TODOS_WRITE_RATE_LIMIT = "2/m"
    assert put(client, case["base"]).status_code == 200
    assert put(client, case["a1"]).status_code == 200

    refused = put(client, case["a2"])

    assert refused.status_code == 429
    assert refused["Content-Type"] == "application/json"
    assert 1 <= int(refused["Retry-After"]) <= 30
    assert "2/m" in refused.json()["error"]
    assert "TODOS_WRITE_RATE_LIMIT" in refused.json()["error"]
    assert storage.read_document(DOC).data == case["base"] + case["a1"]


@pytest.mark.django_db
def test_http_limit_is_per_address_and_reads_are_free(client, case, settings):
    settings.TODOS_WRITE_RATE_LIMIT = "1/h"
    assert put(client, case["base"], address="10.0.0.1").status_code == 200
    assert put(client, case["a1"], address="10.0.0.1").status_code == 429

    assert put(client, case["a1"], address="10.0.0.2").status_code == 200
    assert all(client.get(URL).status_code == 200 for _ in range(5))


@pytest.mark.django_db
def test_refused_write_counts_against_the_limit_too(client, case, settings):
    settings.TODOS_WRITE_RATE_LIMIT = "2/h"
    assert put(client, b"garbage").status_code == 400
    assert put(client, b"").status_code == 400

    assert put(client, case["base"]).status_code == 429


def with_client_address(address):
    """The ASGI application, seeing every connection as coming from ``address``."""

    async def app(scope, receive, send):
        return await application({**scope, "client": [address, 50000]}, receive, send)

    return app


async def connect(address="10.0.0.1"):
    socket = WebsocketCommunicator(
        with_client_address(address), f"/ws/docs/{DOC}", headers=[ORIGIN]
    )
    connected, _ = await socket.connect()
    assert connected
    return socket


@pytest.mark.django_db(transaction=True)
async def test_frame_over_the_limit_gets_a_429_error_frame(case, settings):
    settings.TODOS_WRITE_RATE_LIMIT = "2/m"
    socket = await connect()
    await socket.send_to(bytes_data=case["base"])
    assert (await socket.receive_json_from())["type"] == "ack"
    await socket.send_to(bytes_data=case["a1"])
    assert (await socket.receive_json_from())["type"] == "ack"

    await socket.send_to(bytes_data=case["a2"])
    error = await socket.receive_json_from()

    assert error["type"] == "error"
    assert error["status"] == 429
    assert error["retry_after"] >= 1
    assert "2/m" in error["error"]
    stored = await database_sync_to_async(storage.read_document)(DOC)
    assert stored.data == case["base"] + case["a1"]
    # The socket stays open; text frames are not writes and are not counted.
    await socket.send_to(text_data="hello")
    assert "binary frame" in (await socket.receive_json_from())["error"]
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_socket_limit_is_per_address(case, settings):
    settings.TODOS_WRITE_RATE_LIMIT = "1/h"
    first, second = await connect("10.0.0.1"), await connect("10.0.0.2")
    await first.send_to(bytes_data=case["base"])
    assert (await first.receive_json_from())["type"] == "ack"
    await first.send_to(bytes_data=case["a1"])
    assert (await first.receive_json_from())["status"] == 429

    await second.receive_from()  # the push of base
    assert json.loads(await second.receive_from())["type"] == "update"
    await second.send_to(bytes_data=case["a1"])
    ack = json.loads(await second.receive_from())

    assert ack["type"] == "ack" and ack["changed"] is True
    await first.disconnect()
    await second.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_frames_are_not_limited_when_unset(case, settings):
    settings.TODOS_WRITE_RATE_LIMIT = ""
    socket = await connect()

    for _ in range(50):
        await socket.send_to(bytes_data=case["base"])
        assert (await socket.receive_json_from())["type"] == "ack"
    await socket.disconnect()
