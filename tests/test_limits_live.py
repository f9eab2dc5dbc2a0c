"""The per-client limits against live Daphne processes.

Two processes sharing Redis as their cache (``CACHE_URL``) admit exactly one
limit between them, however four concurrent clients spread their writes; the
quotas on new lists and on bytes answer 429 over HTTP and the WebSocket; the
address is taken from ``X-Forwarded-For`` only from a trusted proxy; and every
write leaves one JSON log line on the server's stderr, without the list's text.
Each test counts for addresses of its own (``X-Forwarded-For`` from 127.0.0.1,
the trusted proxy here), so counters left in Redis by another run never meet it.
"""

import http.client
import json
import random
import socket
import threading
import time

import pytest

from tests import automerge_node
from tests.helpers.websocket import RawWebSocket

pytestmark = pytest.mark.live

OCTETS = {"Content-Type": "application/octet-stream"}
PROXY = "127.0.0.1"  # the tests' own address, trusted as the proxy


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    return automerge_node.make_scenario(tmp_path_factory.mktemp("scenario"))


def new_address():
    """A documentation address (2001:db8::/32) that no other test or run uses."""
    return f"2001:db8:{random.randrange(65536):x}:{random.randrange(65536):x}::1"


def put(server, doc_id, body, client=None, connection=None):
    """PUT ``body`` to ``/docs/<doc_id>``; return (status, headers, JSON body)."""
    conn = connection or http.client.HTTPConnection("127.0.0.1", server.port, 30)
    headers = dict(OCTETS)
    if client:
        headers["X-Forwarded-For"] = client
    conn.request("PUT", f"/docs/{doc_id}", body=body, headers=headers)
    response = conn.getresponse()
    answer = response.status, dict(response.getheaders()), json.loads(response.read())
    if connection is None:
        conn.close()
    return answer


def put_too_large(server, doc_id, declared, client):
    """Declare a body of ``declared`` bytes, send a little of it; return the status."""
    head = (
        f"PUT /docs/{doc_id} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Content-Type: application/octet-stream\r\nContent-Length: {declared}\r\n"
        f"X-Forwarded-For: {client}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head.encode() + b"\0" * 1024)
        answer = b""
        while b"\r\n" not in answer:
            answer += sock.recv(4096)
    return int(answer.split()[1])


def open_socket(server, doc_id, client):
    socket_ = RawWebSocket(
        server.port,
        f"/ws/docs/{doc_id}",
        origin=server.url,
        headers={"X-Forwarded-For": client},
    )
    assert socket_.status == 101
    return socket_


def send_frame(server, doc_id, body, client):
    """Send ``body`` over a new socket on ``doc_id``; return the JSON answer."""
    socket_ = open_socket(server, doc_id, client)
    socket_.send(body)
    answer = socket_.receive_json()
    socket_.close()
    return answer


@pytest.fixture
def shared_pair(postgres_database, redis_url, live_server_factory):
    """Two Daphne processes on one PostgreSQL database, Redis as cache and layer."""
    return [
        live_server_factory(
            database_url=postgres_database,
            redis_url=redis_url,
            CACHE_URL=redis_url,
            TODOS_TRUSTED_PROXIES=PROXY,
            TODOS_WRITE_RATE_LIMIT="20/m",
        )
        for _ in range(2)
    ]


def test_two_processes_sharing_redis_admit_exactly_the_limit(shared_pair, case):
    limit, clients, writes_each = 20, 4, 15
    attacker = new_address()
    assert put(shared_pair[0], "shared", case["base"], new_address())[0] == 200
    statuses = []
    start = threading.Barrier(clients)

    def hammer(index):
        # Each client keeps one connection to each process and alternates.
        connections = [
            http.client.HTTPConnection("127.0.0.1", server.port, 30)
            for server in shared_pair
        ]
        start.wait()
        for n in range(writes_each):
            server = (index + n) % 2
            status, _, _ = put(
                shared_pair[server],
                "shared",
                case["base"],
                attacker,
                connections[server],
            )
            statuses.append(status)

    began = time.monotonic()
    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began

    assert len(statuses) == clients * writes_each
    assert set(statuses) == {200, 429}
    # One token comes back every 60/20 = 3 s: a run that took longer than that
    # may have earned more.
    refills = int(elapsed // 3)
    admitted = statuses.count(200)
    print(f"admitted {admitted} of {len(statuses)} in {elapsed:.2f} s")
    assert limit <= admitted <= limit + refills, (statuses, elapsed)
    if refills == 0:
        assert admitted == limit


def test_without_a_trusted_proxy_x_forwarded_for_is_ignored(live_server_factory, case):
    server = live_server_factory(TODOS_WRITE_RATE_LIMIT="1/h")
    assert put(server, "one", case["base"], new_address())[0] == 200

    status, headers, body = put(server, "one", case["base"], new_address())

    assert status == 429 and "TODOS_WRITE_RATE_LIMIT" in body["error"]
    assert int(headers["Retry-After"]) > 3000


def test_creating_lists_over_the_rate_is_refused(live_server_factory, case):
    server = live_server_factory(
        TODOS_TRUSTED_PROXIES=PROXY, TODOS_CREATE_RATE_LIMIT="2/h"
    )
    client = new_address()
    assert put(server, "one", case["base"], client)[0] == 200
    assert put(server, "two", case["base"], client)[0] == 200

    status, headers, body = put(server, "three", case["base"], client)
    frame = send_frame(server, "four", case["base"], client)

    assert status == 429 and "TODOS_CREATE_RATE_LIMIT" in body["error"]
    assert 1700 <= int(headers["Retry-After"]) <= 1800
    assert frame["type"] == "error" and frame["status"] == 429
    assert frame["retry_after"] >= 1700
    conn = http.client.HTTPConnection("127.0.0.1", server.port, 30)
    for doc_id in ("three", "four"):
        conn.request("GET", f"/docs/{doc_id}")
        assert conn.getresponse().status == 404
        conn.close()
    assert put(server, "one", case["a1"], client)[0] == 200  # edits are not creations
    assert put(server, "three", case["base"], new_address())[0] == 200


def test_storing_more_bytes_than_the_daily_quota_is_refused(live_server_factory, case):
    quota = 2 * len(case["base"])
    server = live_server_factory(
        TODOS_TRUSTED_PROXIES=PROXY, TODOS_MAX_CLIENT_BYTES=quota
    )
    client = new_address()
    assert put(server, "one", case["base"], client)[0] == 200
    assert put(server, "one", case["base"], client)[2]["changed"] is False
    assert put(server, "two", case["base"], client)[0] == 200

    status, headers, body = put(server, "one", case["a1"], client)
    frame = send_frame(server, "two", case["a1"], client)

    assert status == 429 and "TODOS_MAX_CLIENT_BYTES" in body["error"]
    assert 1 <= int(headers["Retry-After"]) <= 86400
    assert frame["status"] == 429 and "TODOS_MAX_CLIENT_BYTES" in frame["error"]
    assert put(server, "one", case["a1"], new_address())[0] == 200


def test_every_write_logs_one_json_line_without_content(live_server_factory, case):
    server = live_server_factory(
        TODOS_TRUSTED_PROXIES=PROXY,
        TODOS_LOG_FORMAT="json",
        TODOS_MAX_DOCUMENT_BYTES=65536,
    )
    client = new_address()
    put(server, "logged", case["base"], client)
    put(server, "logged", case["base"], client)
    put(server, "logged", b"not automerge", client)
    socket_ = open_socket(server, "logged", client)
    socket_.send(case["a1"])
    socket_.receive_json()
    socket_.close()
    assert put_too_large(server, "logged", 100_000, client) == 413
    time.sleep(0.5)

    log = server.log_path.read_text()
    lines = [json.loads(line) for line in log.splitlines() if '"todos.writes"' in line]

    assert [(line["outcome"], line["status"], line["via"]) for line in lines] == [
        ("stored", 200, "http"),
        ("unchanged", 200, "http"),
        ("refused", 400, "http"),
        ("stored", 200, "websocket"),
        ("refused", 413, "http"),  # refused by Daphne, before Django
    ]
    assert {(line["doc_id"], line["client"]) for line in lines} == {("logged", client)}
    assert [line["bytes"] for line in lines] == [
        len(case["base"]),
        len(case["base"]),
        13,
        len(case["a1"]),
        100_000,
    ]
    assert all(line["duration_ms"] >= 0 for line in lines)
    assert "milk" not in log and "Groceries" not in log
