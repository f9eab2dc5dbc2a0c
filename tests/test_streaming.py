"""Large documents are streamed: a slow reader costs the server one slice, not the
document (issue 14, item 2), and a streamed GET is one version or a failed read.

Against a live Daphne: the stored chunks are written straight through the ORM
in the server's database (``store_chunks``) because GET never decodes what it
serves, and a genuine 16 MiB list takes Node minutes to build.
"""

import asyncio
import random
import socket
import statistics
import subprocess
import time

import pytest

from tests import live
from tests.test_attacks import memory_bytes

MIB = 1024 * 1024
SLOW_READERS = 100
READ_BYTES_PER_SECOND = 1024
WATCH_SECONDS = 20
MAX_RSS_GROWTH = 200 * MIB
MAX_NORMAL_GET_SECONDS = 0.1

STORE = """
import random
import sys

import django

django.setup()
from django.db import transaction
from todos.models import Chunk, Document
from todos.storage import summary
doc_id, seed, sizes = sys.argv[1], int(sys.argv[2]), map(int, sys.argv[3:])
rng = random.Random(seed)
with transaction.atomic():
    document, _ = Document.objects.select_for_update().get_or_create(doc_id=doc_id)
    datas = [rng.randbytes(size) for size in sizes]
    # What a save does: every stored chunk replaced by the first...
    summary.replace_chunks(document, datas[0])
    for data in datas[1:]:
        # ...and what an incremental write does: one chunk appended.
        row = summary.chunk_row(document, Chunk.CHANGE, data, document.next_position, 1)
        row.save()
        document.size += row.size
        document.chunk_count += 1
        document.etag = summary.etag_of([row.digest], document.etag)
        summary.record(document, None)
"""


def store_chunks(server, doc_id, sizes, seed=1):
    """Replace ``doc_id``'s chunks with random ones of ``sizes``; return their bytes.

    Runs in a process of its own with the server's settings, through the
    storage's own chunk functions, as a write or a compaction would.
    """
    subprocess.run(
        [str(live.BIN / "python"), "-c", STORE, doc_id, str(seed)]
        + [str(size) for size in sizes],
        cwd=live.ROOT,
        env=server.env,
        check=True,
    )
    rng = random.Random(seed)
    return b"".join(rng.randbytes(size) for size in sizes)


def request(server, method, path, headers=(), timeout=30):
    """One HTTP/1.1 request with Connection: close; (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(request_bytes(server, method, path, headers))
        data = b""
        while part := sock.recv(1 << 20):
            data += part
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    fields = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in fields.items()}, body


def request_bytes(server, method, path, headers=()):
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}"]
    lines += [f"{name}: {value}" for name, value in headers]
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request, live_server_factory):
    """A live Daphne on SQLite (blob I/O) or PostgreSQL (SUBSTR) slices."""
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_database")
        return live_server_factory(database_url=url)
    return live_server_factory()


@pytest.mark.live
def test_a_large_document_streams_the_version_it_started(server):
    stored = store_chunks(server, "big", [3 * MIB, 200_000, 5])

    status, headers, body = request(server, "GET", "/docs/big")
    head_status, head_headers, head_body = request(server, "HEAD", "/docs/big")
    again = request(server, "GET", "/docs/big", [("If-None-Match", headers["etag"])])

    assert status == 200 and body == stored
    assert headers["content-length"] == str(len(stored))
    assert headers["content-type"] == "application/octet-stream"
    assert head_status == 200 and head_body == b""
    assert head_headers["content-length"] == str(len(stored))
    assert head_headers["etag"] == headers["etag"]
    assert again[0] == 304 and again[2] == b""


@pytest.mark.live
def test_chunks_replaced_mid_stream_break_the_read_off(server):
    """A compaction while a slow reader is mid-stream: the reader never gets a
    whole body of mixed versions; its read fails and a new read gets the new one."""
    old = store_chunks(server, "moving", [4 * MIB, 4 * MIB], seed=1)
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(request_bytes(server, "GET", "/docs/moving"))
        received = sock.recv(4096)
        new = store_chunks(server, "moving", [3 * MIB], seed=2)
        sock.settimeout(30)
        while part := recv_or_reset(sock):
            received += part

    head, _, body = received.partition(b"\r\n\r\n")
    assert f"Content-Length: {len(old)}".encode() in head
    assert len(body) < len(old), "the read must be broken off, not completed"
    assert old.startswith(body)
    status, _, now = request(server, "GET", "/docs/moving")
    assert status == 200 and now == new
    log = server.log_path.read_text()
    assert "Aborted a response" in log


def recv_or_reset(sock):
    try:
        return sock.recv(1 << 16)
    except ConnectionResetError:
        return b""


async def slow_reader(port, path, stop, received):
    """GET ``path`` and read it at READ_BYTES_PER_SECOND until ``stop`` is set."""
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    head = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    await loop.sock_sendall(sock, head)
    try:
        while not stop.is_set():
            part = await loop.sock_recv(sock, READ_BYTES_PER_SECOND)
            if not part:
                break
            received.append(len(part))
            await asyncio.sleep(1)
    finally:
        sock.close()


def measure_slow_readers(server, doc_path, normal_path, readers, seconds):
    """Open ``readers`` slow GETs of ``doc_path``; meanwhile time GETs of
    ``normal_path`` and watch the server's RSS. Return the figures."""
    pid = server.process.pid
    before = memory_bytes(pid, "VmRSS")
    stats = {"rss_before": before, "rss_peak": before, "normal_get_seconds": []}

    async def run():
        stop = asyncio.Event()
        received = []
        tasks = [
            asyncio.create_task(slow_reader(server.port, doc_path, stop, received))
            for _ in range(readers)
        ]
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            await asyncio.sleep(0.5)
            stats["rss_peak"] = max(stats["rss_peak"], memory_bytes(pid, "VmRSS"))
            took = time.monotonic()
            status, _, _ = await asyncio.to_thread(request, server, "GET", normal_path)
            stats["normal_get_seconds"].append(time.monotonic() - took)
            assert status == 200
        stop.set()
        await asyncio.gather(*tasks)
        stats["bytes_read"] = sum(received)

    asyncio.run(run())
    stats["rss_growth"] = stats["rss_peak"] - before
    gets = stats["normal_get_seconds"]
    stats["normal_get_median"] = statistics.median(gets)
    stats["normal_get_max"] = max(gets)
    return stats


@pytest.mark.live
def test_slow_readers_of_a_16_mib_document_cost_little(live_server_factory):
    server = live_server_factory()
    store_chunks(server, "big", [16 * MIB])
    store_chunks(server, "small", [2000])
    for _ in range(3):  # load what loads lazily before measuring
        assert request(server, "GET", "/docs/small")[0] == 200
        assert request(server, "HEAD", "/docs/big")[0] == 200
    time.sleep(0.5)

    stats = measure_slow_readers(
        server, "/docs/big", "/docs/small", SLOW_READERS, WATCH_SECONDS
    )
    print(stats)

    assert stats["bytes_read"] > SLOW_READERS * 1024  # they did read
    assert stats["rss_growth"] < MAX_RSS_GROWTH, stats
    assert stats["normal_get_median"] < MAX_NORMAL_GET_SECONDS, stats
