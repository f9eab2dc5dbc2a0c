"""Fuzzing the write path: malformed uploads are refused and change nothing.

Each strategy below takes real Automerge bytes (made by ``@automerge/automerge`` in
Node) that the server would accept, and breaks them one way: truncations, bit
flips, byte edits, wrong magic bytes, bad checksums, huge LEB128 lengths, DEFLATE
bombs, valid chunks with missing dependencies, garbage after a valid chunk, empty
and oversized bodies. Every example goes through ``storage.write_document`` (most of
them) or through the HTTP view or the WebSocket consumer, and must be refused with
a 4xx status (an error frame on the socket), within a fixed memory bound measured
with tracemalloc, leaving the stored document byte-for-byte as it was.

A last strategy mutates the inside of chunks and then repairs their checksums, so
the mutations pass the format pre-check and reach the engine (real Automerge).
Some of those are valid Automerge data (a changed letter in a string is a
different, valid change), so the property there is weaker: refused as above, or
accepted and the stored document still loads, in the engine here and in the
real Automerge in Node afterwards.

No timing is asserted; limits are behaviour (a DEFLATE bomb is a LimitError).
Counts: see ``QUOTAS`` (at least 10,000 examples in all).
"""

import base64
import json
import os
import subprocess
import tracemalloc
import zlib
from collections import Counter
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction
from django.test import Client
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from tests import automerge_node
from tests.helpers.chunks import (
    ACTION,
    OBJ_CTR,
    chunk,
    compressed,
    minimal_change,
    split,
    with_column,
    with_deps,
    with_seq,
)
from todo_site.asgi import application
from todos import storage
from todos.automerge_format import (
    MAGIC_BYTES,
    FormatError,
    LimitError,
    parse_chunks,
    read_uleb,
    write_sleb,
    write_uleb,
)
from todos.automerge_format.columns import DEFLATE_BIT, read_column_metadata
from todos.automerge_format.fields import read_actors, read_hashes

ROOT = Path(__file__).resolve().parent.parent
DOC = "fuzzed"
URL = f"/docs/{DOC}"
OCTETS = "application/octet-stream"
ORIGIN = (b"origin", b"http://127.0.0.1:8000")

pytestmark = pytest.mark.django_db

# A small document limit keeps the inflate limit at its floor (64 MiB), so a bomb
# example costs less; the 1 GB bomb test uses the default limits.
FUZZ_DOCUMENT_BYTES = 256 * 1024
# What one refused upload may allocate beyond its own size and the inflate limit.
MEMORY_SLACK = 4 * 1024 * 1024

# Examples per strategy (through storage unless named otherwise).
QUOTAS = {
    "truncated": 1000,
    "bit_flips": 1300,
    "byte_edits": 1300,
    "wrong_magic": 600,
    "bad_checksum": 600,
    "huge_leb128": 800,
    "deflate_bomb": 500,
    "missing_dependencies": 400,
    "garbage_after_valid": 800,
    "empty_or_oversized": 200,
    "repaired_mutations": 2000,
    "http": 600,
    "websocket": 300,
}
# The examples are the same on every run, so a red CI names a regression, not a
# new example; TODOS_FUZZ_RANDOM=1 draws new ones for a bug hunt (what the
# repaired mutations found, and what they may still find: docs/reliability.md).
FUZZ = dict(
    deadline=None,
    database=None,
    derandomize=os.environ.get("TODOS_FUZZ_RANDOM") != "1",
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)

SCALE = float(os.environ.get("TODOS_FUZZ_SCALE", "1"))  # < 1 for a quick local run
QUOTAS = {name: max(1, int(count * SCALE)) for name, count in QUOTAS.items()}

executed = Counter()  # examples actually run, by strategy


# --- building and taking apart chunks ----------------------------------------------


def spans(data):
    """``[(start, end), ...]`` of each chunk in valid ``data``."""
    out, pos = [], 0
    for parsed in parse_chunks(data):
        out.append((pos, pos + len(parsed.raw)))
        pos += len(parsed.raw)
    return out


def length_field(raw):
    """``(start, end)`` of the LEB128 length in one chunk's header."""
    _, end = read_uleb(raw, 9)
    return 9, end


def deflate_zeros(size, step=1 << 20):
    """A raw DEFLATE stream of ``size`` zero bytes, made without holding them.

    After a full flush the compressor starts afresh, so the compressed form of
    each further ``step`` zeros is the same bytes, and is repeated.
    """
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    repeats, rest = divmod(size, step)
    parts = []
    if repeats:
        segment = deflate.compress(bytes(step)) + deflate.flush(zlib.Z_FULL_FLUSH)
        parts.append(segment * repeats)
    parts.append(deflate.compress(bytes(rest)) + deflate.flush())
    return b"".join(parts)


def bomb_chunk(inflated_size, checksum=b"\0\0\0\0"):
    """A compressed change chunk that inflates to ``inflated_size`` zero bytes."""
    data = deflate_zeros(inflated_size)
    return MAGIC_BYTES + checksum + bytes([2]) + write_uleb(len(data)) + data


def document_column_bomb(raw, inflated_size):
    """Document chunk ``raw`` with its first change column replaced by a bomb."""
    _, body = split(raw)
    _, pos = read_actors(body, 0, "actors")
    _, pos = read_hashes(body, pos, "head")
    meta_at = pos
    change_meta, pos = read_column_metadata(body, pos)
    bomb = deflate_zeros(inflated_size)
    (spec, length), rest = change_meta[0], change_meta[1:]
    meta = write_uleb(len(change_meta)) + write_uleb(spec | DEFLATE_BIT)
    meta += write_uleb(len(bomb))
    for other_spec, other_length in rest:
        meta += write_uleb(other_spec) + write_uleb(other_length)
    op_meta, data_at = read_column_metadata(body, pos)
    op_meta_bytes = body[pos:data_at]
    data = body[data_at:]
    new_body = body[:meta_at] + meta + op_meta_bytes + bomb + data[length:]
    return chunk(0, new_body)


# --- the valid uploads every strategy starts from ----------------------------------


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """The scenario's byte strings, and the uploads built from them."""
    made = automerge_node.make_scenario(tmp_path_factory.mktemp("fuzz"))
    stored = made["base"] + made["a1"]
    valid = {
        "a2": made["a2"],
        "b1": made["b1"],
        "full_a": made["full_a"],
        "full_merged": made["full_merged"],
        "a2+b1": made["a2"] + made["b1"],
        "base+a1+a2": made["base"] + made["a1"] + made["a2"],
        "compressed_a2": compressed(made["a2"]),
        "full_merged+b1": made["full_merged"] + made["b1"],
    }
    changes = {"a2": made["a2"], "b1": made["b1"], "c_orphan": made["c_orphan"]}
    return {"stored": stored, "valid": valid, "changes": changes, "made": made}


@pytest.fixture
def fuzz_settings(settings):
    settings.TODOS_MAX_DOCUMENT_BYTES = FUZZ_DOCUMENT_BYTES
    return settings


@pytest.fixture
def stored(case):
    """The document as stored before the fuzzing: base + a1."""
    result = storage.write_document(DOC, case["stored"])
    assert result.changed and result.chunk_count == 1  # the engine's save
    return storage.read_document(DOC).data


@pytest.fixture
def traced():
    """tracemalloc running for the test (started here unless already running)."""
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    yield
    if started:
        tracemalloc.stop()


def memory_bound(body):
    """Upload + twice the inflate limit (zlib joins its output blocks at the end)."""
    return len(body) + 2 * storage.upload_limits().max_inflated_bytes + MEMORY_SLACK


def assert_refused(body, before, status=None):
    """Write ``body``: a 4xx refusal, bounded memory, the document unchanged.

    The write runs in a savepoint that is rolled back afterwards, so one wrongly
    accepted example fails alone instead of changing the document for the rest.
    """
    with transaction.atomic():
        tracemalloc.reset_peak()
        baseline = tracemalloc.get_traced_memory()[0]
        with pytest.raises(storage.StorageError) as refused:
            storage.write_document(DOC, body)
        peak = tracemalloc.get_traced_memory()[1] - baseline
        assert storage.read_document(DOC).data == before
        transaction.set_rollback(True)
    error = refused.value
    assert 400 <= error.status < 500, error
    if status is not None:
        assert error.status == status, error.message
    assert error.message
    assert peak <= memory_bound(body), (peak, len(body))
    if currently_in_test_context():  # hypothesis statistics, when under hypothesis
        event(f"{error.status} {type(error).__name__}")
    return error


def same_changes(body, original):
    """True if ``body`` still parses to exactly the chunks of ``original``.

    A flipped bit in the padding after a DEFLATE stream's last block changes the
    bytes but not what they inflate to: the same change, which is no fault.
    """
    try:
        mutated = parse_chunks(body)
    except FormatError:
        return False
    return [_identity(c) for c in mutated] == [
        _identity(c) for c in parse_chunks(original)
    ]


def _identity(parsed):
    return parsed.hash if parsed.kind == "change" else parsed.raw


# --- strategies: each draws one malformed upload ------------------------------------


def seeds(case):
    return st.sampled_from(sorted(case["valid"].items())).map(lambda item: item[1])


@st.composite
def truncated(draw, case):
    data = draw(seeds(case))
    whole_chunks = {end for _, end in spans(data)}
    cut = draw(st.integers(0, len(data) - 1).filter(lambda n: n not in whole_chunks))
    return data[:cut]


@st.composite
def bit_flips(draw, case):
    original = draw(seeds(case))
    data = bytearray(original)
    bits = draw(st.sets(st.integers(0, len(data) * 8 - 1), min_size=1, max_size=16))
    for bit in bits:
        data[bit // 8] ^= 1 << (bit % 8)
    assume(not same_changes(bytes(data), original))
    return bytes(data)


@st.composite
def byte_edits(draw, case):
    data = original = draw(seeds(case))
    bounds = {0, len(data)} | {end for _, end in spans(data)}
    kind = draw(st.sampled_from(["replace", "insert", "delete"]))
    at = draw(st.integers(0, len(data) - 1))
    if kind == "replace":
        size = draw(st.integers(1, 16))
        old = data[at : at + size]
        new = draw(
            st.binary(min_size=len(old), max_size=len(old)).filter(lambda b: b != old)
        )
        edited = data[:at] + new + data[at + size :]
        assume(not same_changes(edited, original))
        return edited
    if kind == "insert":
        return data[:at] + draw(st.binary(min_size=1, max_size=64)) + data[at:]
    end = draw(st.integers(at + 1, min(len(data), at + 64)))
    if at in bounds and end in bounds:  # whole chunks: what is left is valid
        end -= 1  # chunks are longer than one byte, so end - 1 is no boundary
    return data[:at] + data[end:]


@st.composite
def wrong_magic(draw, case):
    data = draw(seeds(case))
    start, _ = draw(st.sampled_from(spans(data)))
    magic = draw(st.binary(min_size=4, max_size=4).filter(lambda b: b != MAGIC_BYTES))
    return data[:start] + magic + data[start + 4 :]


@st.composite
def bad_checksum(draw, case):
    data = draw(seeds(case))
    start, _ = draw(st.sampled_from(spans(data)))
    old = data[start + 4 : start + 8]
    new = draw(st.binary(min_size=4, max_size=4).filter(lambda b: b != old))
    return data[: start + 4] + new + data[start + 8 :]


def huge_leb128():
    """A LEB128 number far too big, or too long to be one (11-20 bytes)."""
    big = st.integers(1 << 21, (1 << 64) - 1).map(write_uleb)
    endless = st.integers(11, 20).map(lambda n: b"\xff" * (n - 1) + b"\x7f")
    unterminated = st.integers(1, 12).map(lambda n: b"\x80" * n)
    return st.one_of(big, endless, unterminated)


@st.composite
def huge_lengths(draw, case):
    """A chunk's length field replaced by a huge LEB128 number."""
    data = draw(seeds(case))
    start, end = draw(st.sampled_from(spans(data)))
    field_start, field_end = length_field(data[start:end])
    leb = draw(huge_leb128())
    tail = draw(st.sampled_from(["keep", "drop"]))
    rest = data[start + field_end :] if tail == "keep" else b""
    return data[: start + field_start] + leb + rest


@st.composite
def deflate_bombs(draw, case):
    limit = storage.upload_limits().max_inflated_bytes  # under fuzz_settings
    size = draw(st.integers(limit + 1, 3 * limit))
    kind = draw(st.sampled_from(["change", "document_column", "after_valid"]))
    if kind == "change":
        return bomb_chunk(size, draw(st.binary(min_size=4, max_size=4)))
    if kind == "document_column":
        return document_column_bomb(case["made"]["full_merged"], size)
    return draw(seeds(case)) + bomb_chunk(size)


@st.composite
def missing_dependencies(draw, case):
    """Well-formed change chunks (good checksums) whose dependencies are unknown."""
    name = draw(st.sampled_from(["a2", "b1", "c_orphan"]))
    raw = case["changes"][name]
    if name == "c_orphan" and draw(st.booleans()):
        return raw
    deps = draw(st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=4))
    return with_deps(raw, deps)


@st.composite
def garbage_after_valid(draw, case):
    data = draw(seeds(case))
    garbage = draw(
        st.one_of(
            st.binary(min_size=1, max_size=256),
            st.just(MAGIC_BYTES),
            st.binary(min_size=1, max_size=8).map(lambda b: MAGIC_BYTES + b),
            st.sampled_from([b"\n", b"\0", b" ", b"\r\n"]),
        )
    )
    return data + garbage


def empty_or_oversized():
    empty = st.sampled_from([b"", b"", b"\0", b"\n"])
    oversized = st.integers(FUZZ_DOCUMENT_BYTES + 1, 2 * FUZZ_DOCUMENT_BYTES).map(
        lambda n: b"\x85" * n
    )
    return st.one_of(empty, oversized)


def malformed(case):
    """Any of the malformed uploads above."""
    return st.one_of(
        truncated(case),
        bit_flips(case),
        byte_edits(case),
        wrong_magic(case),
        bad_checksum(case),
        huge_lengths(case),
        deflate_bombs(case),
        missing_dependencies(case),
        garbage_after_valid(case),
        empty_or_oversized(),
    )


# --- through the storage service ---------------------------------------------------

STORAGE_STRATEGIES = {
    "truncated": truncated,
    "bit_flips": bit_flips,
    "byte_edits": byte_edits,
    "wrong_magic": wrong_magic,
    "bad_checksum": bad_checksum,
    "huge_leb128": huge_lengths,
    "deflate_bomb": deflate_bombs,
    "garbage_after_valid": garbage_after_valid,
}


def test_the_seeds_are_accepted(case, stored, fuzz_settings):
    """Unbroken, every seed is a valid write; so breaking it is what is refused."""
    for name, body in case["valid"].items():
        with transaction.atomic():
            result = storage.write_document(DOC, body)
            assert result.changed, name
            transaction.set_rollback(True)
    assert storage.read_document(DOC).data == stored


@pytest.mark.parametrize("name", sorted(STORAGE_STRATEGIES))
def test_malformed_upload_is_refused_and_changes_nothing(
    name, case, stored, traced, fuzz_settings
):
    strategy = STORAGE_STRATEGIES[name](case)

    @settings(max_examples=QUOTAS[name], **FUZZ)
    @given(strategy)
    def run(body):
        executed[name] += 1
        error = assert_refused(body, stored)
        assert error.status in (400, 413), error.message

    run()
    assert executed[name] >= QUOTAS[name]


def test_changes_with_missing_dependencies_get_409(case, stored, traced, fuzz_settings):
    @settings(max_examples=QUOTAS["missing_dependencies"], **FUZZ)
    @given(missing_dependencies(case))
    def run(body):
        executed["missing_dependencies"] += 1
        error = assert_refused(body, stored, status=409)
        assert "Automerge.save(doc)" in error.message

    run()
    assert executed["missing_dependencies"] >= QUOTAS["missing_dependencies"]


def test_empty_and_oversized_bodies_are_refused(stored, traced, fuzz_settings):
    @settings(max_examples=QUOTAS["empty_or_oversized"], **FUZZ)
    @given(empty_or_oversized())
    def run(body):
        executed["empty_or_oversized"] += 1
        error = assert_refused(body, stored)
        assert error.status == (413 if len(body) > FUZZ_DOCUMENT_BYTES else 400)

    run()
    # Only a few distinct empty bodies exist, so Hypothesis may stop sooner.
    assert executed["empty_or_oversized"] >= QUOTAS["empty_or_oversized"] // 2


@st.composite
def repaired_mutations(draw, case):
    """A chunk's body mutated, then its checksum recomputed so the parser goes on."""
    data = draw(seeds(case))
    start, end = draw(st.sampled_from(spans(data)))
    raw = data[start:end]
    if raw[8] == 2:
        raw = case["changes"]["a2"]
    chunk_type, body = split(raw)
    body = bytearray(body)
    kind = draw(st.sampled_from(["flip", "replace", "huge_leb128", "insert"]))
    at = draw(st.integers(0, len(body) - 1))
    if kind == "flip":
        body[at] ^= 1 << draw(st.integers(0, 7))
    elif kind == "replace":
        body[at] = draw(st.integers(0, 255).filter(lambda b: b != body[at]))
    elif kind == "huge_leb128":
        body[at : at + draw(st.integers(1, 3))] = draw(huge_leb128())
    else:
        body[at:at] = draw(st.binary(min_size=1, max_size=8))
    return data[:start] + chunk(chunk_type, bytes(body)) + data[end:]


def test_repaired_mutations_are_refused_or_leave_a_loadable_document(
    case, stored, traced, fuzz_settings
):
    accepted, unloadable, crashes = [], [], []

    @settings(max_examples=QUOTAS["repaired_mutations"], **FUZZ)
    @given(repaired_mutations(case))
    def run(body):
        executed["repaired_mutations"] += 1
        tracemalloc.reset_peak()
        baseline = tracemalloc.get_traced_memory()[0]
        with transaction.atomic():
            try:
                storage.write_document(DOC, body)
            except storage.StorageError as error:
                assert 400 <= error.status < 500
                assert storage.read_document(DOC).data == stored
                event(f"refused {error.status}")
            except Exception as error:  # would be a 500 over HTTP
                assert storage.read_document(DOC).data == stored
                crashes.append((repr(error)[:200], body))
                event(f"crash {type(error).__name__}")
            else:
                after = storage.read_document(DOC).data
                if after != stored:
                    accepted.append(after)  # Automerge itself checks them below
                event("accepted")
            finally:
                transaction.set_rollback(True)
        peak = tracemalloc.get_traced_memory()[1] - baseline
        assert peak <= memory_bound(body), (peak, len(body))

    run()
    assert storage.read_document(DOC).data == stored
    assert executed["repaired_mutations"] >= QUOTAS["repaired_mutations"]
    failures = load_failures_in_automerge(accepted)
    assert not (failures or unloadable or crashes), (
        f"of {len(set(accepted))} accepted mutated uploads, {len(failures)} left a "
        f"document Automerge.load rejects and {len(unloadable)} one the engine "
        f"rejects; {len(crashes)} uploads raised a server error; e.g. "
        f"{(failures or unloadable or crashes)[0]!r}"
    )


NODE_LOAD_ALL = """
import * as Automerge from '@automerge/automerge'
import fs from 'node:fs'
const docs = JSON.parse(fs.readFileSync(0, 'utf8'))
const failures = []
docs.forEach((b64, i) => {
  try { Automerge.load(new Uint8Array(Buffer.from(b64, 'base64'))) }
  catch (error) { failures.push([i, String(error).slice(0, 300)]) }
})
process.stdout.write(JSON.stringify(failures))
"""


def load_failures_in_automerge(documents):
    """``[(error, base64 document), ...]`` for those the real Automerge can't load."""
    unique = list(dict.fromkeys(documents))
    if not unique:
        return []
    done = subprocess.run(
        ["node", "--input-type=module", "-e", NODE_LOAD_ALL],
        cwd=ROOT,
        input=json.dumps([base64.b64encode(d).decode() for d in unique]).encode(),
        capture_output=True,
        timeout=300,
        check=True,
    )
    return [
        (error, base64.b64encode(unique[i]).decode())
        for i, error in json.loads(done.stdout)
    ]


def test_a_change_on_a_missing_object_is_refused(case, stored):
    b1 = case["made"]["b1"]
    rows = parse_chunks(b1)[0].op_count
    # Every op of b1 now names object 99@b... as its object, which nobody made.
    broken = with_column(b1, OBJ_CTR, write_sleb(rows) + write_uleb(99))

    with pytest.raises(storage.Unloadable) as refused:
        storage.write_document(DOC, broken)

    assert refused.value.status == 422
    assert storage.read_document(DOC).data == stored


def test_a_huge_sequence_number_is_refused_not_a_server_error(case, stored):
    # Found by the repaired mutations: the clock's sum overflowed the database
    # integer on save (a 500) until storage refused gaps in an actor's numbering.
    huge = with_seq(case["made"]["a2"], 2**63 + 5)
    assert parse_chunks(huge)[0].seq == 2**63 + 5
    client = Client(raise_request_exception=False)

    response = client.put(URL, data=huge, content_type=OCTETS)

    assert 400 <= response.status_code < 500
    assert storage.read_document(DOC).data == stored


def test_a_long_literal_run_costs_memory_in_proportion_to_the_upload(
    stored, traced, fuzz_settings
):
    count = 200_000
    body = minimal_change({ACTION: write_sleb(-count) + b"\x01" * count})
    assert len(body) < FUZZ_DOCUMENT_BYTES

    assert_refused(body, stored)


# --- limits: bombs and counts, with the server's real limits -----------------------


def test_deflate_zeros_inflates_to_exactly_its_size():
    for size in (0, 1, 1 << 20, 5 * (1 << 20) + 3):
        assert zlib.decompress(deflate_zeros(size), -15) == bytes(size)


def test_a_one_gigabyte_deflate_bomb_is_refused_at_the_inflate_limit(stored, traced):
    bomb = bomb_chunk(1 << 30)
    limit = storage.upload_limits().max_inflated_bytes
    assert len(bomb) < 2 * 1024 * 1024  # about a thousandth of what it inflates to

    with pytest.raises(LimitError, match="max_inflated_bytes"):
        parse_chunks(bomb, storage.upload_limits())
    tracemalloc.reset_peak()
    baseline = tracemalloc.get_traced_memory()[0]
    error = assert_refused_any_size(bomb, stored)
    peak = tracemalloc.get_traced_memory()[1] - baseline

    assert error.status == 400 and "max_inflated_bytes" in error.message
    assert peak <= memory_bound(bomb)  # about 2 x 256 MiB, not 1 GiB
    assert limit == 256 * 1024 * 1024  # 16 x the 16 MiB document limit


def assert_refused_any_size(body, before):
    with pytest.raises(storage.BadUpload) as refused:
        storage.write_document(DOC, body)
    assert storage.read_document(DOC).data == before
    return refused.value


def test_a_document_column_bomb_is_refused_at_the_inflate_limit(case, stored):
    limit = storage.upload_limits().max_inflated_bytes
    bomb = document_column_bomb(case["made"]["full_merged"], 2 * limit)

    error = assert_refused_any_size(bomb, stored)

    assert "max_inflated_bytes" in error.message


def test_more_chunks_than_the_limit_are_refused(case, stored):
    max_chunks = storage.upload_limits().max_chunks
    one = case["made"]["b1"]

    error = assert_refused_any_size(one * (max_chunks + 1), stored)

    assert f"max_chunks={max_chunks}" in error.message


def test_more_changes_than_the_limit_are_refused(case, stored, monkeypatch):
    limits = storage.upload_limits()
    small = type(limits)(
        max_chunks=limits.max_chunks,
        max_changes=3,
        max_inflated_bytes=limits.max_inflated_bytes,
    )
    monkeypatch.setattr(storage.limits, "upload_limits", lambda *_: small)
    made = case["made"]

    error = assert_refused_any_size(made["full_merged"] + made["b1"], stored)

    assert "max_changes=3" in error.message


# --- through the adapters: HTTP and WebSocket --------------------------------------


def test_http_answers_malformed_uploads_with_a_json_4xx(
    client, case, stored, fuzz_settings
):
    @settings(max_examples=QUOTAS["http"], **FUZZ)
    @given(malformed(case))
    def run(body):
        executed["http"] += 1
        method = client.put if len(body) % 2 else client.post
        response = method(URL, data=body, content_type=OCTETS)
        assert 400 <= response.status_code < 500, response.content[:300]
        assert response["Content-Type"] == "application/json"
        assert response.json()["error"]
        assert client.get(URL).content == stored

    run()
    assert executed["http"] >= QUOTAS["http"]


read = database_sync_to_async(storage.read_document)


@pytest.mark.django_db(transaction=True)
async def test_websocket_answers_malformed_frames_with_an_error_frame(
    case, fuzz_settings
):
    await database_sync_to_async(storage.write_document)(DOC, case["stored"])
    stored = (await read(DOC)).data
    socket = WebsocketCommunicator(application, f"/ws/docs/{DOC}", headers=[ORIGIN])
    assert (await socket.connect())[0]
    assert await socket.receive_from() == stored
    frames = []

    @settings(max_examples=QUOTAS["websocket"], **FUZZ)
    @given(malformed(case).filter(bool))  # an empty frame is no frame
    def collect(body):
        frames.append(body)

    collect()
    for body in frames:
        executed["websocket"] += 1
        await socket.send_to(bytes_data=body)
        answer = await socket.receive_json_from(timeout=30)
        assert answer["type"] == "error", answer
        assert 400 <= answer["status"] < 500 and answer["error"]
        assert (await read(DOC)).data == stored
    # The socket is still open and working, and the document is as it was.
    await socket.send_to(bytes_data=case["valid"]["a2"])
    assert (await socket.receive_json_from())["type"] == "ack"
    after = (await read(DOC)).data
    assert after == stored + case["valid"]["a2"]
    await socket.disconnect()
    assert executed["websocket"] >= QUOTAS["websocket"]


def test_the_quotas_add_up_to_at_least_ten_thousand_examples():
    assert SCALE < 1 or sum(QUOTAS.values()) >= 10_000


if os.environ.get("TODOS_FUZZ_REPORT"):  # pragma: no cover - for docs/reliability.md

    def test_report_counts():
        print(json.dumps(executed, sort_keys=True))
