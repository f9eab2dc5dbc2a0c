"""Tests for todos.automerge_format, the pure-Python Automerge binary format reader.

The reference is the real @automerge/automerge: a session fixture runs
tests/node/make_format_fixtures.mjs to write documents and changes, with what
Automerge says about them, and the parser must agree. Malformed input is built
inline, from two small chunks that Automerge 3.5.0 wrote (REAL_CHANGE, REAL_DOC)
and from chunks assembled here with the encoders.
"""

import hashlib
import json
import re
import shutil
import subprocess
import tracemalloc
import zlib
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from todos.automerge_format import (
    DEFAULT_LIMITS,
    MAGIC_BYTES,
    ChangeChunk,
    ChangeMeta,
    ChecksumError,
    DocumentChunk,
    FormatError,
    LimitError,
    Limits,
    TruncatedError,
    parse_chunks,
    read_sleb,
    read_uleb,
    write_sleb,
    write_uleb,
)
from todos.automerge_format.encodings import (
    decode_boolean,
    decode_int_rle,
    decode_string_rle,
    expand,
    expand_delta,
)

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_SCRIPT = ROOT / "tests" / "node" / "make_format_fixtures.mjs"
CASES = [
    "empty",
    "one_change",
    "thousand_changes",
    "concurrent",
    "text_edits",
    "deletions",
    "large_document",
    "message_and_time",
    "compressed_change",
]

# Written by Automerge 3.5.0: the one change of the "one_change" case (135 bytes,
# 12 ops) and the document chunk that save() gave for it (199 bytes).
REAL_CHANGE = bytes.fromhex(
    "856f4a830a99e3b7017d0010aaaa0001000000000000000000000000010180e2cfaa06000"
    "00a010402081104130b15163404420756075708700200010b0000017f0102020804000507"
    "0000017f0000027e000506017f056974656d7300017e04646f6e6504746578740008010102"
    "087c02000104080102007e01000816627579206d696c6b0c00"
)
REAL_CHANGE_HASH = "0a99e3b7908d27bfc943be24acbe441a3ff87227df7983ff4913419b9fb3b2a4"
REAL_DOC = bytes.fromhex(
    "856f4a83641c430f00bc010110aaaa0001000000000000000000000000010a99e3b7908d27"
    "bfc943be24acbe441a3ff87227df7983ff4913419b9fb3b2a406010203021302230640025602"
    "0c010402081104130b15162102230234044207560757088001027f007f017f0c7f80e2cfaa06"
    "7f007f0700010b0000017f01020208040005070000017f0000027e000506017f056974656d73"
    "00017e04646f6e65047465787400080c000c01010102087c02000104080102007e0100081662"
    "7579206d696c6b0c0000"
)
ACTOR = bytes.fromhex("aaaa0001000000000000000000000000")
HEADER_SIZE = 4 + 4 + 1  # magic, checksum, chunk type; the length follows


# --- building chunks -------------------------------------------------------------


def chunk(chunk_type: int, body: bytes) -> bytes:
    """A chunk of ``chunk_type`` holding ``body``, with a correct checksum."""
    payload = bytes([chunk_type]) + write_uleb(len(body)) + body
    return MAGIC_BYTES + hashlib.sha256(payload).digest()[:4] + payload


def deflate(data: bytes) -> bytes:
    """Raw DEFLATE, as Automerge uses for columns and compressed changes."""
    compressor = zlib.compressobj(wbits=-15)
    return compressor.compress(data) + compressor.flush()


def compressed_chunk(change_body: bytes) -> bytes:
    """A type 2 chunk: the checksum of the uncompressed change, DEFLATEd body."""
    checksum = hashlib.sha256(
        b"\x01" + write_uleb(len(change_body)) + change_body
    ).digest()[:4]
    packed = deflate(change_body)
    return MAGIC_BYTES + checksum + b"\x02" + write_uleb(len(packed)) + packed


def body_of(raw: bytes) -> bytes:
    """The data of a chunk (everything after its header)."""
    length, start = read_uleb(raw, HEADER_SIZE)
    return raw[start : start + length]


def prefixed(data: bytes) -> bytes:
    return write_uleb(len(data)) + data


def rle(values: list, *, signed: bool = False, strings: bool = False) -> bytes:
    """Run-length encode ``values`` (ints, or str if ``strings``; None is null)."""

    def encode(value):
        if strings:
            return prefixed(value.encode())
        return write_sleb(value) if signed else write_uleb(value)

    out = bytearray()
    literal: list = []

    def flush_literal():
        if literal:
            out.extend(write_sleb(-len(literal)))
            for value in literal:
                out.extend(encode(value))
            literal.clear()

    i = 0
    while i < len(values):
        j = i
        while j < len(values) and values[j] == values[i]:
            j += 1
        if values[i] is None:
            flush_literal()
            out.extend(b"\x00" + write_uleb(j - i))
        elif j - i > 1:
            flush_literal()
            out.extend(write_sleb(j - i) + encode(values[i]))
        else:
            literal.append(values[i])
        i = j
    flush_literal()
    return bytes(out)


def delta(values: list) -> bytes:
    """Delta-encode absolute integers (None is null)."""
    deltas, last = [], 0
    for value in values:
        if value is None:
            deltas.append(None)
        else:
            deltas.append(value - last)
            last = value
    return rle(deltas, signed=True)


def booleans(values: list) -> bytes:
    out, current, count = bytearray(), False, 0
    for value in values:
        if value == current:
            count += 1
        else:
            out.extend(write_uleb(count))
            current, count = value, 1
    if count:
        out.extend(write_uleb(count))
    return bytes(out)


def columns_block(columns: list) -> bytes:
    """Column metadata followed by column data, for ``[(spec, data), ...]``."""
    meta = write_uleb(len(columns))
    for spec, data in columns:
        meta += write_uleb(spec) + write_uleb(len(data))
    return meta + b"".join(data for _, data in columns)


# One op: set root["a"] = 1 (a uint of one byte).
SET_A_COLUMNS = [
    (0x15, rle(["a"], strings=True)),  # keyStr
    (0x34, booleans([False])),  # insert
    (0x42, rle([1])),  # action: set
    (0x56, rle([(1 << 4) | 3])),  # valLen: uint, 1 byte
    (0x57, b"\x01"),  # valRaw
    (0x70, rle([0])),  # predNum
]


def change_body(
    columns=SET_A_COLUMNS,
    *,
    deps=(),
    actor=ACTOR,
    seq=1,
    start_op=1,
    time=0,
    message=b"",
    other_actors=(),
    extra=b"",
) -> bytes:
    """The data of a change chunk, per the spec's field order."""
    return (
        write_uleb(len(deps))
        + b"".join(deps)
        + prefixed(actor)
        + write_uleb(seq)
        + write_uleb(start_op)
        + write_sleb(time)
        + prefixed(message)
        + write_uleb(len(other_actors))
        + b"".join(prefixed(a) for a in other_actors)
        + columns_block(list(columns))
        + extra
    )


def change(columns=SET_A_COLUMNS, **fields) -> bytes:
    return chunk(1, change_body(columns, **fields))


def replace_column(columns, spec, data):
    return [(s, data if s == spec else d) for s, d in columns]


def parse_one(data: bytes, limits: Limits = DEFAULT_LIMITS):
    chunks = parse_chunks(data, limits)
    assert len(chunks) == 1
    return chunks[0]


# --- fixtures from the real Automerge -------------------------------------------


@pytest.fixture(scope="session")
def fixtures(tmp_path_factory) -> Path:
    """Directory of fixtures written by tests/node/make_format_fixtures.mjs."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed; run `make setup` (Node 20 and npm ci)")
    out = tmp_path_factory.mktemp("automerge-format")
    result = subprocess.run(
        ["node", str(FIXTURE_SCRIPT), str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode:
        pytest.fail(f"{FIXTURE_SCRIPT.name} failed:\n{result.stdout}\n{result.stderr}")
    assert json.loads((out / "cases.json").read_text()) == CASES
    return out


def load_case(fixtures: Path, case: str) -> tuple[Path, dict]:
    directory = fixtures / case
    return directory, json.loads((directory / "expected.json").read_text())


def split_by_lengths(data: bytes, lengths: list[int]) -> list[bytes]:
    parts, pos = [], 0
    for length in lengths:
        parts.append(data[pos : pos + length])
        pos += length
    assert pos == len(data)
    return parts


def assert_change_matches(chunk: ChangeChunk, expected: dict) -> None:
    assert chunk.kind == "change"
    assert chunk.hash.hex() == expected["hash"]
    assert chunk.actor.hex() == expected["actor"]
    assert chunk.seq == expected["seq"]
    assert [d.hex() for d in chunk.deps] == expected["deps"]
    assert chunk.start_op == expected["startOp"]
    assert chunk.time == expected["time"]
    assert chunk.message == expected["message"]
    assert chunk.op_count == expected["opCount"]
    assert len(chunk.hash) == 32 and all(len(d) == 32 for d in chunk.deps)


@pytest.mark.parametrize("case", CASES)
def test_change_chunks_agree_with_automerge(fixtures, case):
    directory, expected = load_case(fixtures, case)
    data = (directory / "changes.bin").read_bytes()
    chunks = parse_chunks(data)
    assert len(chunks) == len(expected["changes"])
    raws = split_by_lengths(data, [c["length"] for c in expected["changes"]])
    for chunk, raw, want in zip(chunks, raws, expected["changes"], strict=True):
        assert_change_matches(chunk, want)
        assert chunk.raw == raw


@pytest.mark.parametrize("case", CASES)
def test_document_chunk_agrees_with_automerge(fixtures, case):
    directory, expected = load_case(fixtures, case)
    document = parse_one((directory / "save.bin").read_bytes())
    assert isinstance(document, DocumentChunk) and document.kind == "document"
    assert document.raw == (directory / "save.bin").read_bytes()
    assert sorted(h.hex() for h in document.heads) == sorted(expected["heads"])
    assert [a.hex() for a in document.actors] == expected["actors"]

    by_actor_seq = {(c["actor"], c["seq"]): c for c in expected["changes"]}
    assert len(document.changes) == len(expected["changes"])
    hashes = []
    for meta in document.changes:
        want = by_actor_seq[(meta.actor.hex(), meta.seq)]
        hashes.append(want["hash"])
        assert meta.time == want["time"]
        assert meta.message == want["message"]
        assert meta.max_op == want["startOp"] + want["opCount"] - 1
    assert sorted(hashes) == sorted(c["hash"] for c in expected["changes"])
    for meta, own_hash in zip(document.changes, hashes, strict=True):
        want = by_actor_seq[(meta.actor.hex(), meta.seq)]
        assert sorted(hashes[i] for i in meta.deps) == sorted(want["deps"])
        assert all(i < hashes.index(own_hash) for i in meta.deps)  # topological

    assert document.head_indices is not None
    heads = [hashes[i] for i in document.head_indices]
    assert heads == [h.hex() for h in document.heads]


@pytest.mark.parametrize("case", CASES)
def test_document_clock_is_max_seq_per_actor(fixtures, case):
    directory, expected = load_case(fixtures, case)
    document = parse_one((directory / "save.bin").read_bytes())
    clock: dict[str, int] = {}
    for c in expected["changes"]:
        clock[c["actor"]] = max(clock.get(c["actor"], 0), c["seq"])
    assert {a.hex(): s for a, s in document.clock.items()} == clock


@pytest.mark.parametrize("case", CASES)
def test_incremental_saves_agree_with_automerge(fixtures, case):
    directory, expected = load_case(fixtures, case)
    data = (directory / "incremental.bin").read_bytes()
    hashes = [c.hash.hex() for c in parse_chunks(data)]
    assert sorted(hashes) == sorted(c["hash"] for c in expected["changes"])
    by_hash = {c["hash"]: c for c in expected["changes"]}
    for blob in split_by_lengths(data, expected["incrementalLengths"]):
        for chunk in parse_chunks(blob):
            assert_change_matches(chunk, by_hash[chunk.hash.hex()])


@pytest.mark.parametrize("case", CASES)
def test_save_since_agrees_with_automerge(fixtures, case):
    directory, expected = load_case(fixtures, case)
    chunks = parse_chunks((directory / "since.bin").read_bytes())
    assert sorted(c.hash.hex() for c in chunks) == sorted(expected["sinceHashes"])


def test_concatenation_of_chunks_parses_in_order(fixtures):
    directory, expected = load_case(fixtures, "concurrent")
    parts = [
        (directory / "save.bin").read_bytes(),
        (directory / "since.bin").read_bytes(),
        (directory / "changes.bin").read_bytes(),
        (fixtures / "compressed_change" / "compressed.bin").read_bytes(),
    ]
    chunks = parse_chunks(b"".join(parts))
    kinds = [c.kind for c in chunks]
    n_since, n_all = len(expected["sinceHashes"]), len(expected["changes"])
    assert kinds == ["document"] + ["change"] * (n_since + n_all + 1)
    assert b"".join(c.raw for c in chunks) == b"".join(parts)


def test_compressed_change_chunk_agrees_with_automerge(fixtures):
    directory, expected = load_case(fixtures, "compressed_change")
    raw = (directory / "compressed.bin").read_bytes()
    assert raw[8] == 2
    chunk = parse_one(raw)
    want = expected["compressed"]
    assert_change_matches(chunk, want)
    assert chunk.raw == raw and len(raw) == want["length"]
    plain = parse_chunks((directory / "changes.bin").read_bytes())[1]
    assert chunk.hash == plain.hash
    assert len(raw) < len(plain.raw) / 2


def test_large_document_has_deflated_columns(fixtures):
    raw = (fixtures / "large_document" / "save.bin").read_bytes()
    specs = document_column_specs(raw)
    assert any(spec & 0x08 for spec in specs)
    document = parse_one(raw)
    assert len(document.changes) == 11


def document_column_specs(raw: bytes) -> list[int]:
    """The column specifications of a document chunk, read by hand."""
    body = body_of(raw)
    count, pos = read_uleb(body, 0)
    for _ in range(count):
        length, pos = read_uleb(body, pos)
        pos += length
    count, pos = read_uleb(body, pos)
    pos += 32 * count
    specs = []
    for _ in range(2):
        count, pos = read_uleb(body, pos)
        for _ in range(count):
            spec, pos = read_uleb(body, pos)
            _, pos = read_uleb(body, pos)
            specs.append(spec)
    return specs


# --- the embedded real chunks ----------------------------------------------------


def test_real_change_parses():
    chunk = parse_one(REAL_CHANGE)
    assert chunk.hash.hex() == REAL_CHANGE_HASH
    assert (chunk.actor, chunk.seq, chunk.start_op) == (ACTOR, 1, 1)
    assert (chunk.time, chunk.message, chunk.deps) == (1_700_000_000, None, ())
    assert chunk.op_count == 12 and chunk.other_actors == ()


def test_real_document_parses():
    document = parse_one(REAL_DOC)
    assert [h.hex() for h in document.heads] == [REAL_CHANGE_HASH]
    assert document.actors == (ACTOR,)
    assert document.changes == (
        ChangeMeta(
            actor=ACTOR, seq=1, max_op=12, time=1_700_000_000, message=None, deps=()
        ),
    )
    assert document.head_indices == (0,)
    assert document.clock == {ACTOR: 1}


def test_document_without_head_indices():
    body = body_of(REAL_DOC)
    assert body.endswith(b"\x00")  # one head, at index 0
    document = parse_one(chunk(0, body[:-1]))
    assert document.head_indices is None
    assert len(document.heads) == 1


def test_head_index_out_of_range():
    body = body_of(REAL_DOC)[:-1] + b"\x05"
    with pytest.raises(
        FormatError, match=r"head index 5 is out of range \(1 changes\)"
    ):
        parse_chunks(chunk(0, body))


def test_bytes_after_head_indices():
    data = chunk(0, body_of(REAL_DOC) + b"\x01\x02")
    with pytest.raises(FormatError, match=r"2 unexpected bytes after the document's 1"):
        parse_chunks(data)


def test_empty_input_gives_no_chunks():
    assert parse_chunks(b"") == []
    assert parse_chunks(bytearray()) == []


def test_accepts_bytearray_and_memoryview():
    assert parse_chunks(bytearray(REAL_CHANGE))[0].raw == REAL_CHANGE
    assert parse_chunks(memoryview(REAL_CHANGE))[0].hash.hex() == REAL_CHANGE_HASH


def test_chunks_are_frozen():
    chunk = parse_one(REAL_CHANGE)
    with pytest.raises(FrozenInstanceError):
        chunk.seq = 2  # type: ignore[misc]
    assert "raw=" not in repr(chunk)


def test_built_change_parses():
    chunk = parse_one(change(message="hello ✓".encode(), time=-3, seq=7))
    assert (chunk.message, chunk.time, chunk.seq, chunk.op_count) == (
        "hello ✓",
        -3,
        7,
        1,
    )


def test_change_with_extra_bytes_parses():
    assert parse_one(change(extra=b"future fields")).op_count == 1


def test_empty_change_parses():
    chunk = parse_one(change([]))
    assert chunk.op_count == 0


# --- malformed input: headers ----------------------------------------------------


def test_bad_magic():
    data = b"\x00\x01\x02\x03" + REAL_CHANGE[4:]
    with pytest.raises(
        FormatError, match=r"bad magic bytes 00 01 02 03 .* at offset 0$"
    ):
        parse_chunks(data)


def test_read_truncated_change_header():
    for end in range(1, HEADER_SIZE + 1):
        with pytest.raises(TruncatedError) as info:
            parse_chunks(REAL_CHANGE[:end])
        assert info.value.offset == 0
        assert "data ends inside a chunk header" in str(info.value)


def test_truncated_chunk_data():
    with pytest.raises(
        TruncatedError,
        match=r"chunk declares 125 bytes of data, but only 124 remain at offset 9$",
    ):
        parse_chunks(REAL_CHANGE[:-1])


def test_bad_checksum():
    data = bytearray(REAL_CHANGE)
    data[5] ^= 0xFF
    with pytest.raises(ChecksumError, match=r"chunk checksum .* at offset 4$"):
        parse_chunks(bytes(data))


def test_checksum_covers_the_data():
    data = bytearray(REAL_CHANGE)
    data[-3] ^= 0x01
    with pytest.raises(ChecksumError):
        parse_chunks(bytes(data))


def test_unknown_chunk_type():
    body = body_of(REAL_CHANGE)
    with pytest.raises(FormatError, match=r"^unknown chunk type 7 at offset 8$"):
        parse_chunks(chunk(7, body))
    with pytest.raises(FormatError, match=r"unknown chunk type 4 \(bundle, not supp"):
        parse_chunks(chunk(4, body))


def test_garbage_after_valid_chunk():
    with pytest.raises(FormatError) as info:
        parse_chunks(REAL_CHANGE + b"garbage!")
    assert info.value.offset == len(REAL_CHANGE)
    assert "bad magic bytes 67 61 72 62 (expected 85 6f 4a 83)" in str(info.value)


def test_partial_magic_after_valid_chunk():
    with pytest.raises(TruncatedError) as info:
        parse_chunks(REAL_CHANGE + MAGIC_BYTES[:2])
    assert info.value.offset == len(REAL_CHANGE)


def test_error_offsets_count_from_the_start_of_the_input():
    bad = change(replace_column(SET_A_COLUMNS, 0x42, rle([9])))
    with pytest.raises(FormatError) as alone:
        parse_chunks(bad)
    with pytest.raises(FormatError) as later:
        parse_chunks(REAL_CHANGE + bad)
    assert later.value.offset == alone.value.offset + len(REAL_CHANGE)


# --- malformed input: LEB128 ----------------------------------------------------


def test_uleb_overflow():
    with pytest.raises(FormatError, match="does not fit in 64 bits"):
        read_uleb(b"\xff" * 9 + b"\x02", 0)
    with pytest.raises(FormatError, match="longer than 10 bytes"):
        read_uleb(b"\x80" * 10 + b"\x01", 0)
    assert read_uleb(b"\xff" * 9 + b"\x01", 0) == (2**64 - 1, 10)
    header = MAGIC_BYTES + b"\0\0\0\0\x01" + b"\xff" * 9 + b"\x7f"
    with pytest.raises(FormatError, match=r"overflow\) at offset 9$"):
        parse_chunks(header)


def test_uleb_overlong():
    with pytest.raises(FormatError, match=r"overlong LEB128 .* at offset 2$"):
        read_uleb(b"\x00\x00\x80\x00", 2)
    assert read_uleb(b"\x00", 0) == (0, 1)


def test_sleb_overflow_and_overlong():
    with pytest.raises(FormatError, match="does not fit in 64 bits"):
        read_sleb(b"\xff" * 9 + b"\x01", 0)
    with pytest.raises(FormatError, match="overlong signed LEB128"):
        read_sleb(b"\xbf\x00", 0)
    with pytest.raises(FormatError, match="overlong signed LEB128"):
        read_sleb(b"\x81\xff\x7f", 0)
    assert read_sleb(b"\x80" * 9 + b"\x7f", 0) == (-(2**63), 10)
    assert read_sleb(b"\xff" * 9 + b"\x00", 0) == (2**63 - 1, 10)
    assert read_sleb(b"\xc0\x00", 0) == (64, 2)
    assert read_sleb(b"\x40", 0) == (-64, 1)


def test_truncated_leb128():
    with pytest.raises(TruncatedError, match=r"inside a LEB128 number at offset 1$"):
        read_uleb(b"\x00\x80\x80", 1)
    with pytest.raises(TruncatedError):
        read_sleb(b"", 0)


def test_encoders_reject_out_of_range_values():
    for bad in (-1, 2**64):
        with pytest.raises(ValueError):
            write_uleb(bad)
    for bad in (-(2**63) - 1, 2**63):
        with pytest.raises(ValueError):
            write_sleb(bad)


@given(st.integers(0, 2**64 - 1), st.binary(max_size=3))
def test_uleb_round_trip(value, tail):
    encoded = write_uleb(value)
    assert read_uleb(encoded + tail, 0) == (value, len(encoded))


@given(st.integers(-(2**63), 2**63 - 1), st.binary(max_size=3))
def test_sleb_round_trip(value, tail):
    encoded = write_sleb(value)
    assert read_sleb(encoded + tail, 0) == (value, len(encoded))


@given(st.binary(min_size=1, max_size=11))
def test_leb128_readers_raise_only_format_errors(data):
    for reader in (read_uleb, read_sleb):
        try:
            value, end = reader(data, 0)
        except FormatError:
            continue
        encode = write_uleb if reader is read_uleb else write_sleb
        assert encode(value) == data[:end]  # only canonical encodings are read


# --- malformed input: sizes and limits -------------------------------------------


def peak_allocation(function) -> int:
    tracemalloc.start()
    try:
        function()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_huge_length_does_not_allocate():
    header = MAGIC_BYTES + b"\0\0\0\0\x01" + write_uleb(2**62)

    def parse_header():
        with pytest.raises(TruncatedError, match=f"chunk declares {2**62} bytes"):
            parse_chunks(header + b"x" * 100)

    assert peak_allocation(parse_header) < 100_000
    fields = b"\x00" + prefixed(ACTOR) + b"\x01\x01\x00"  # to the message
    huge_fields = {
        "dependency hashes": write_uleb(2**40),
        "actor ID declares": b"\x00" + write_uleb(2**60) + b"ab",
        "message declares": fields + write_uleb(2**50),
        "other actors": fields + b"\x00" + write_uleb(2**50),
        "columns declared": fields + b"\x00\x00" + write_uleb(2**45),
    }
    for message, body in huge_fields.items():

        def parse_body(body=body, message=message):
            with pytest.raises(TruncatedError, match=message):
                parse_chunks(chunk(1, body))

        assert peak_allocation(parse_body) < 100_000


def test_huge_row_counts_hit_the_limit_not_memory():
    claims_2_60_ops = [(0x42, b"\x00" + write_uleb(2**60))]  # a run of nulls

    def parse_huge():
        with pytest.raises(LimitError, match="max_ops"):
            parse_chunks(change(claims_2_60_ops))

    assert peak_allocation(parse_huge) < 100_000
    many_preds = replace_column(SET_A_COLUMNS, 0x70, write_sleb(1) + write_uleb(2**59))
    with pytest.raises(LimitError, match="max_ops"):
        parse_chunks(change(many_preds))


def document_of_spread_op_ids(count: int, successors: bool = False) -> bytes:
    """A save of one change whose ``count`` ops have op IDs 1, 3, 5, ... (a few
    bytes of runs), or whose ops each have such a successor."""
    id_ctr = write_sleb(-1) + write_sleb(1) + write_sleb(count - 1) + write_sleb(2)
    ops = [
        (0x15, write_sleb(count) + prefixed(b"a")),  # keyStr
        (0x21, write_sleb(count) + write_uleb(0)),  # idActor
        (0x23, write_sleb(count) + write_sleb(1) if successors else id_ctr),
        (0x34, write_uleb(count)),  # insert: all false
        (0x42, write_sleb(count) + write_uleb(1)),  # action: set
        (0x56, write_sleb(count) + write_uleb(0)),  # valLen: null
        (0x80, write_sleb(count) + write_uleb(1 if successors else 0)),  # succNum
    ]
    if successors:  # successor of op i: op count + 2i - 1
        ops.append((0x81, write_sleb(count) + write_uleb(0)))  # succActor
        succ = write_sleb(-1) + write_sleb(count + 1)
        ops.append((0x83, succ + write_sleb(count - 1) + write_sleb(2)))  # succCtr
    changes = [
        (0x01, rle([0])),  # actor
        (0x03, delta([1])),  # seq
        (0x13, delta([3 * count])),  # maxOp
        (0x23, delta([0])),  # time
        (0x56, rle([0])),  # extraLen
    ]
    meta = b""
    for columns in (changes, ops):
        meta += write_uleb(len(columns))
        meta += b"".join(write_uleb(spec) + write_uleb(len(d)) for spec, d in columns)
    data = b"".join(d for _, d in changes + ops)
    return chunk(0, write_uleb(1) + prefixed(ACTOR) + write_uleb(0) + meta + data)


@pytest.mark.parametrize("successors", [False, True], ids=["op IDs", "successors"])
def test_op_ids_kept_one_by_one_count_against_max_runs(successors):
    # Op IDs two apart are kept one by one (about 90 bytes each) to check that
    # none repeats and that each change holds all its ops: a million of them
    # take a few bytes to send.
    limits = Limits(max_runs=1000)
    spec = "succCtr" if successors else "idCtr"

    with pytest.raises(LimitError, match=f"{spec} column: more than max_runs=1000"):
        parse_chunks(document_of_spread_op_ids(2000, successors), limits)
    # Within the limit, the check runs (and finds the change short of ops).
    with pytest.raises(FormatError, match="change 1 of actor .* lacks op"):
        parse_chunks(document_of_spread_op_ids(500, successors), limits)

    a_million = document_of_spread_op_ids(1_000_000, successors)
    assert len(a_million) < 200

    def parse_a_million():
        with pytest.raises(LimitError, match="max_runs"):
            parse_chunks(a_million)

    assert peak_allocation(parse_a_million) < 20 * 1024 * 1024


def test_deflate_bomb_is_stopped():
    limits = Limits(max_inflated_bytes=1 << 20)
    bomb_body = change_body(extra=bytes(20 << 20))  # 20 MiB of zeros, ~20 KB packed
    bomb = compressed_chunk(bomb_body)
    assert len(bomb) < 100_000

    def parse_bomb():
        with pytest.raises(LimitError, match="max_inflated_bytes=1048576") as info:
            parse_chunks(bomb, limits)
        assert info.value.offset == read_uleb(bomb, HEADER_SIZE)[1]

    assert peak_allocation(parse_bomb) < 8 << 20


def test_deflate_bomb_in_a_document_column_is_stopped():
    limits = Limits(max_inflated_bytes=1 << 20)
    body = (
        b"\x00\x00"  # no actors, no heads
        + b"\x00"  # no change columns
        + columns_block([(0x02 | 0x08, deflate(bytes(8 << 20)))])
    )
    with pytest.raises(LimitError, match=r"op column 0xa inflates past max_inflated"):
        parse_chunks(chunk(0, body), limits)


def test_inflated_bytes_are_counted_over_the_whole_input():
    small = compressed_chunk(change_body(extra=bytes(600)))
    limits = Limits(max_inflated_bytes=1000)
    parse_chunks(small, limits)
    with pytest.raises(LimitError):
        parse_chunks(small + small, limits)


def test_max_chunks_and_max_changes():
    with pytest.raises(LimitError, match=r"max_chunks=2 .* at offset 270$"):
        parse_chunks(REAL_CHANGE * 3, Limits(max_chunks=2))
    with pytest.raises(LimitError, match="max_changes=1"):
        parse_chunks(REAL_DOC + REAL_CHANGE, Limits(max_changes=1))


def test_bad_deflate_data():
    data = MAGIC_BYTES + b"\0\0\0\0\x02" + prefixed(b"\xff\xff\xff\xff")
    with pytest.raises(FormatError, match=r"bad DEFLATE data in compressed change"):
        parse_chunks(data)
    truncated = deflate(change_body())[:-2]
    data = MAGIC_BYTES + b"\0\0\0\0\x02" + prefixed(truncated)
    with pytest.raises(FormatError, match="DEFLATE"):
        parse_chunks(data)


def test_compressed_change_checksum_is_of_the_uncompressed_change():
    good = compressed_chunk(change_body())
    assert parse_one(good).hash == parse_one(change()).hash
    bad = good[:4] + bytes(4) + good[8:]
    with pytest.raises(ChecksumError):
        parse_chunks(bad)


def test_error_inside_a_compressed_change_names_the_inflated_data():
    bad = compressed_chunk(change_body(replace_column(SET_A_COLUMNS, 0x42, rle([9]))))
    with pytest.raises(FormatError) as info:
        parse_chunks(bad)
    assert "unknown action 9" in str(info.value)
    assert "of the inflated change" in str(info.value)
    assert info.value.offset == 10  # where the DEFLATE stream starts


# --- malformed input: columns ----------------------------------------------------


def column_offset(data: bytes, column_data: bytes) -> int:
    offset = data.find(column_data)
    assert offset > 0 and data.find(column_data, offset + 1) == -1
    return offset


def test_column_rows_disagree():
    insert = booleans([False, False, True])
    data = change(replace_column(SET_A_COLUMNS, 0x34, insert))
    with pytest.raises(FormatError) as info:
        parse_chunks(data)
    assert str(info.value) == (
        "insert column (boolean): has 3 rows but the change has 1 at offset "
        f"{column_offset(data, insert)}"
    )


def test_group_members_must_match_group_counts():
    columns = replace_column(SET_A_COLUMNS, 0x70, rle([2]))
    columns += [(0x71, rle([0])), (0x73, delta([1, 2]))]
    with pytest.raises(
        FormatError, match=r"predActor column \(actor\): has 1 rows but its group"
    ):
        parse_chunks(change(columns, start_op=3))
    columns[-2] = (0x71, rle([0, 0]))
    assert parse_one(change(columns, start_op=3)).op_count == 1


def test_value_column_inconsistent_with_metadata():
    too_short = replace_column(SET_A_COLUMNS, 0x56, rle([(5 << 4) | 6]))
    with pytest.raises(
        TruncatedError,
        match=r"valRaw column \(value\): value metadata describes 5 more bytes",
    ):
        parse_chunks(change(too_short))
    too_long = replace_column(SET_A_COLUMNS, 0x57, b"\x01\x02")
    with pytest.raises(FormatError, match="1 bytes beyond the values its metadata"):
        parse_chunks(change(too_long))


def test_values_must_decode_as_their_type():
    cases = [
        ((2 << 4) | 3, b"\x01\x02", "uint value does not fill its declared length"),
        ((1 << 4) | 5, b"\x01", "gives a float a length of 1"),
        ((1 << 4) | 6, b"\xff", "string value is not valid UTF-8"),
        ((2 << 4) | 6, "é".encode()[::-1], "not valid UTF-8"),
        ((1 << 4) | 0, b"\x00", "gives a null value a length of 1"),
        ((0 << 4) | 4, b"", "gives a int value a length of 0"),
    ]
    for meta, raw, message in cases:
        columns = replace_column(SET_A_COLUMNS, 0x56, rle([meta]))
        columns = replace_column(columns, 0x57, raw)
        with pytest.raises(FormatError, match=message):
            parse_chunks(change([c for c in columns if c[1]]))


def test_strings_split_between_rows_are_rejected():
    def two_strings(raw):
        return [
            (0x15, rle(["a", "b"], strings=True)),
            (0x34, booleans([False, False])),
            (0x42, rle([1, 1])),
            (0x56, rle([(3 << 4) | 6, (3 << 4) | 6])),
            (0x57, raw),
            (0x70, rle([0, 0])),
        ]

    assert parse_one(change(two_strings("aé".encode() * 2))).op_count == 2
    # "aaéaa" is UTF-8, but its rows "aa\xc3" and "\xa9aa" are not.
    with pytest.raises(FormatError, match="starts inside a character"):
        parse_chunks(change(two_strings("aaéaa".encode())))


def test_value_column_without_metadata():
    columns = [c for c in SET_A_COLUMNS if c[0] != 0x56]
    with pytest.raises(FormatError, match="value column without its metadata column"):
        parse_chunks(change(columns))


def test_actor_index_out_of_range():
    columns = [(0x01, rle([1])), (0x02, rle([1]))] + SET_A_COLUMNS
    with pytest.raises(
        FormatError, match=r"objActor column \(actor\): actor index 1 is out of range"
    ):
        parse_chunks(change(columns))
    assert parse_one(change(columns, other_actors=[b"\x01" * 16])).op_count == 1


def test_ops_need_insert_value_and_pred_columns():
    for spec, name in ((0x34, "insert"), (0x56, "valLen"), (0x70, "predNum")):
        columns = [c for c in SET_A_COLUMNS if c[0] not in (spec, spec + 1)]
        with pytest.raises(FormatError, match=f"{name} column: an op has no {name}"):
            parse_chunks(change(columns))


def key_columns(actor, counter, string):
    """SET_A_COLUMNS with the key columns replaced (None leaves one out).

    The op works on object 3@ACTOR, a list made by an earlier change (the
    changes start at op 10), so an element ID is a key it can have.
    """
    columns = [c for c in SET_A_COLUMNS if c[0] != 0x15]
    columns += [(0x01, rle([0])), (0x02, rle([3]))]
    for spec, data in ((0x11, actor), (0x13, counter), (0x15, string)):
        if data is not None:
            columns.append((spec, data))
    return sorted(columns)


def test_op_keys():
    string, head, elem = rle(["a"], strings=True), delta([0]), delta([7])
    assert parse_one(change(key_columns(None, head, None), start_op=10)).op_count == 1
    elem_key = change(key_columns(rle([0]), elem, None), start_op=10)
    assert parse_one(elem_key).op_count == 1
    cases = [
        (key_columns(rle([0]), elem, string), "both a key string and an element"),
        (key_columns(None, elem, None), "element ID has a counter but no actor"),
        (key_columns(rle([0]), delta([-2]), None), "element ID has a negative"),
        (key_columns(rle([0]), None, None), "keyCtr column: an op has no key"),
        (key_columns(None, None, None), "an op has no key"),
    ]
    for columns, message in cases:
        with pytest.raises(FormatError, match=message):
            parse_chunks(change(columns, start_op=10))


def test_op_objects():
    def with_object(actor, counter):
        return sorted(SET_A_COLUMNS + [(0x01, rle(actor)), (0x02, rle(counter))])

    for actor, counter in (([None], [None]), ([None], [0]), ([0], [3])):
        made = change(with_object(actor, counter), start_op=10)
        assert parse_one(made).op_count == 1
    with pytest.raises(FormatError, match="object has a counter but no actor"):
        parse_chunks(change(with_object([None], [3])))
    with pytest.raises(FormatError, match="object has an actor but no counter"):
        parse_chunks(change(with_object([0], [None])))


def with_preds(actors, counters):
    columns = replace_column(SET_A_COLUMNS, 0x70, rle([len(actors)]))
    return columns + [(0x71, rle(actors)), (0x73, delta(counters))]


def test_pred_lists_hold_complete_op_ids():
    assert parse_one(change(with_preds([0, 0], [1, 2]), start_op=3)).op_count == 1
    with pytest.raises(FormatError, match="predActor column: an op ID in the list"):
        parse_chunks(change(with_preds([0, None], [1, 2])))
    with pytest.raises(FormatError, match="predCtr column: .* negative counter"):
        parse_chunks(change(with_preds([0, 0], [1, -2])))
    no_counters = replace_column(with_preds([0], [1]), 0x73, b"")
    with pytest.raises(FormatError, match="an op ID in the list has no counter"):
        parse_chunks(change(no_counters))
    only_actors = [c for c in with_preds([0], [1]) if c[0] != 0x73]
    with pytest.raises(FormatError, match="group holds columns 0x71; it must hold"):
        parse_chunks(change(only_actors))
    extra = sorted(with_preds([0], [1]) + [(0x75, rle(["x"], strings=True))])
    with pytest.raises(FormatError, match="group holds columns 0x71, 0x73, 0x75"):
        parse_chunks(change(extra))


def test_unknown_action():
    data = change(replace_column(SET_A_COLUMNS, 0x42, rle([9])))
    with pytest.raises(FormatError, match=r"^action column: unknown action 9 at"):
        parse_chunks(data)


def test_increment_needs_an_integer_value():
    columns = replace_column(SET_A_COLUMNS, 0x42, rle([5]))
    assert parse_one(change(columns)).op_count == 1
    columns = replace_column(columns, 0x56, rle([(1 << 4) | 6]))
    columns = replace_column(columns, 0x57, b"x")
    with pytest.raises(FormatError, match="increment op's value is not an integer"):
        parse_chunks(change(columns))


def test_null_action():
    columns = replace_column(SET_A_COLUMNS, 0x42, b"\x00\x01")
    with pytest.raises(FormatError, match="an op has no action"):
        parse_chunks(change(columns))


def test_columns_out_of_order():
    columns = [SET_A_COLUMNS[1], SET_A_COLUMNS[0]] + SET_A_COLUMNS[2:]
    with pytest.raises(FormatError, match=r"column 0x15 is out of order or repeated"):
        parse_chunks(change(columns))
    repeated = SET_A_COLUMNS[:1] + SET_A_COLUMNS
    with pytest.raises(FormatError, match="out of order or repeated"):
        parse_chunks(change(repeated))


def test_deflated_column_in_change_is_rejected():
    columns = [(0x15 | 0x08, deflate(rle(["a"], strings=True)))] + SET_A_COLUMNS[1:]
    with pytest.raises(FormatError, match="change chunks do not allow"):
        parse_chunks(change(columns))


def test_column_data_runs_past_the_chunk():
    body = change_body()
    metadata_end = body.index(rle(["a"], strings=True))
    cut = body[:metadata_end] + rle(["a"], strings=True)  # the rest is missing
    with pytest.raises(TruncatedError, match="op columns declare"):
        parse_chunks(chunk(1, cut))


def test_bad_utf8_in_string_column():
    bad = b"\x7f" + prefixed(b"\xc3")
    with pytest.raises(FormatError, match=r"keyStr column \(string\): string is not"):
        parse_chunks(change(replace_column(SET_A_COLUMNS, 0x15, bad)))


def test_literal_run_longer_than_column():
    bad = write_sleb(-50) + b"\x01"
    with pytest.raises(TruncatedError, match="literal run of 50 values, but only 1"):
        parse_chunks(change(replace_column(SET_A_COLUMNS, 0x42, bad)))


def test_delta_column_overflow():
    columns = SET_A_COLUMNS + [(0x73, rle([2**62, 2**62], signed=True))]
    columns = replace_column(columns, 0x70, rle([2])) + [(0x71, rle([0, 0]))]
    columns.sort()
    with pytest.raises(FormatError, match="leave the 64-bit range"):
        parse_chunks(change(columns))


def test_start_op_zero():
    with pytest.raises(FormatError, match="startOp is 0"):
        parse_chunks(change(start_op=0))


def test_message_must_be_utf8():
    with pytest.raises(FormatError, match="message is not valid UTF-8"):
        parse_chunks(change(message=b"\xff"))


def document_body(
    change_columns, op_columns=(), *, actors=(ACTOR,), heads=(bytes(32),), indices=(0,)
) -> bytes:
    """The data of a document chunk, per the spec's field order."""
    change_meta = write_uleb(len(change_columns)) + b"".join(
        write_uleb(s) + write_uleb(len(d)) for s, d in change_columns
    )
    op_meta = write_uleb(len(op_columns)) + b"".join(
        write_uleb(s) + write_uleb(len(d)) for s, d in op_columns
    )
    return (
        write_uleb(len(actors))
        + b"".join(prefixed(a) for a in actors)
        + write_uleb(len(heads))
        + b"".join(heads)
        + change_meta
        + op_meta
        + b"".join(d for _, d in change_columns)
        + b"".join(d for _, d in op_columns)
        + b"".join(write_uleb(i) for i in indices)
    )


TWO_CHANGES = [
    (0x01, rle([0, 0])),  # actor
    (0x03, delta([1, 2])),  # seq
    (0x13, delta([1, 1])),  # maxOp
    (0x23, delta([5, 6])),  # time
    (0x35, rle([None, "second"], strings=True)),  # message
    (0x40, rle([0, 1])),  # depsNum
    (0x43, delta([0])),  # depsIndex
    (0x56, rle([0, 0])),  # extraLen
]


def test_built_document_parses():
    document = parse_one(chunk(0, document_body(TWO_CHANGES, indices=(1,))))
    assert document.changes == (
        ChangeMeta(ACTOR, 1, 1, 5, None, ()),
        ChangeMeta(ACTOR, 2, 1, 6, "second", (0,)),
    )
    assert document.clock == {ACTOR: 2}


def test_document_change_columns_need_seq():
    columns = [c for c in TWO_CHANGES if c[0] != 0x03]
    with pytest.raises(FormatError, match="seq column: a change has no seq"):
        parse_chunks(chunk(0, document_body(columns)))


def test_document_dependency_index_out_of_range():
    columns = replace_column(TWO_CHANGES, 0x43, delta([2]))
    with pytest.raises(FormatError, match="dependency index is null or out of range"):
        parse_chunks(chunk(0, document_body(columns)))


def test_document_actor_index_out_of_range():
    columns = replace_column(TWO_CHANGES, 0x01, rle([0, 1]))
    with pytest.raises(FormatError, match=r"actor column \(actor\): actor index 1"):
        parse_chunks(chunk(0, document_body(columns)))


# One op in a document: set root["a"] = 1, with op ID 1@ACTOR.
DOC_SET_A_COLUMNS = sorted(
    [c for c in SET_A_COLUMNS if c[0] != 0x70]
    + [(0x21, rle([0])), (0x23, delta([1])), (0x80, rle([0]))]
)


def test_built_document_with_an_op_parses():
    document = parse_one(chunk(0, document_body(TWO_CHANGES, DOC_SET_A_COLUMNS)))
    assert len(document.changes) == 2


def test_document_ops_need_ids():
    no_counter = [c for c in DOC_SET_A_COLUMNS if c[0] != 0x23]
    with pytest.raises(FormatError, match="idCtr column: an op has no idCtr"):
        parse_chunks(chunk(0, document_body(TWO_CHANGES, no_counter)))


# --- every prefix, every bit -----------------------------------------------------


def real_chunks() -> dict[str, bytes]:
    return {
        "change": REAL_CHANGE,
        "document": REAL_DOC,
        "compressed change": compressed_chunk(body_of(REAL_CHANGE)),
    }


@pytest.mark.parametrize("name", ["change", "document", "compressed change"])
def test_truncated_everywhere(name):
    data = real_chunks()[name]
    parse_one(data)
    for end in range(1, len(data)):
        with pytest.raises(FormatError):
            parse_chunks(data[:end])


def test_truncated_everywhere_in_a_fixture_document(fixtures):
    data = (fixtures / "deletions" / "save.bin").read_bytes()
    for end in range(1, len(data)):
        with pytest.raises(FormatError):
            parse_chunks(data[:end])


@pytest.mark.parametrize("name", ["change", "document", "compressed change"])
def test_bit_flips(name):
    data = real_chunks()[name]
    original = parse_one(data)
    for index in range(len(data)):
        for bit in range(8):
            flipped = bytearray(data)
            flipped[index] ^= 1 << bit
            try:
                parsed = parse_one(bytes(flipped))
            except FormatError:
                continue
            # Only a flip the checksum does not cover could parse. In a plain chunk
            # that is nothing (magic and checksum are checked too); a compressed
            # chunk's checksum covers the inflated change, so a flip of an unused
            # padding bit at the end of the DEFLATE stream is harmless.
            assert name == "compressed change", (index, bit)
            assert index == len(data) - 1 and parsed.hash == original.hash


# --- property tests: nothing but FormatError ------------------------------------


def only_format_errors(data: bytes) -> None:
    try:
        parse_chunks(data, Limits(max_inflated_bytes=1 << 20, max_ops=100_000))
    except FormatError:
        pass


@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_format_errors(data):
    only_format_errors(data)
    only_format_errors(MAGIC_BYTES + data)


@given(st.sampled_from([0, 1, 2]), st.binary(max_size=300))
def test_arbitrary_chunk_data_raises_only_format_errors(chunk_type, body):
    only_format_errors(chunk(chunk_type, body))
    only_format_errors(compressed_chunk(body))


MUTATION_BASES = [
    ("change", body_of(REAL_CHANGE)),
    ("document", body_of(REAL_DOC)),
    ("built change", change_body(message=b"m", deps=[bytes(32)], time=-1)),
]


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.sampled_from(range(len(MUTATION_BASES))),
    st.lists(
        st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=4
    ),
    st.booleans(),
)
def test_mutated_chunks_with_valid_checksums_raise_only_format_errors(
    base, edits, compress
):
    name, body = MUTATION_BASES[base]
    mutated = bytearray(body)
    for position, value in edits:
        mutated[position % len(mutated)] = value
    if name == "document":
        only_format_errors(chunk(0, bytes(mutated)))
    elif compress:
        only_format_errors(compressed_chunk(bytes(mutated)))
    else:
        only_format_errors(chunk(1, bytes(mutated)))


# --- property tests: column decoders ---------------------------------------------

optional_ints = st.lists(st.one_of(st.none(), st.integers(0, 2**64 - 1)), max_size=40)


@given(optional_ints)
def test_int_rle_round_trip(values):
    decoded = decode_int_rle(rle(values))
    assert expand(decoded.runs) == values
    assert decoded.rows == len(values)
    assert decoded.nulls == values.count(None)
    assert decoded.top == max((v for v in values if v is not None), default=-1)


@given(st.lists(st.one_of(st.none(), st.integers(-(2**40), 2**40)), max_size=40))
def test_delta_rle_round_trip(values):
    assert expand_delta(decode_int_rle(delta(values), delta=True).runs) == values


@given(st.lists(st.one_of(st.none(), st.text(max_size=5)), max_size=30))
def test_string_rle_round_trip(values):
    assert expand(decode_string_rle(rle(values, strings=True)).runs) == values


@given(st.lists(st.booleans(), max_size=50))
def test_boolean_round_trip(values):
    assert expand(decode_boolean(booleans(values)).runs) == values


def test_error_messages_name_offsets():
    for data in (b"\x00", REAL_CHANGE[:20], REAL_CHANGE + b"\x01"):
        with pytest.raises(FormatError) as info:
            parse_chunks(data)
        assert re.search(r"at offset \d+", str(info.value))
        assert isinstance(info.value.offset, int)


def test_runs_kept_in_memory_are_limited():
    from todos.automerge_format.encodings import (
        decode_boolean,
        decode_int_rle,
        decode_string_rle,
    )

    literal = write_sleb(-1000) + b"\x01" * 1000
    with pytest.raises(LimitError, match="max_runs=999"):
        decode_int_rle(literal, max_runs=999)
    assert decode_int_rle(literal, max_runs=1000).rows == 1000
    assert decode_int_rle(literal, keep=False, max_runs=1).rows == 1000
    with pytest.raises(LimitError, match="max_runs=10"):
        decode_string_rle(write_sleb(-20) + b"\x00" * 20, max_runs=10)
    with pytest.raises(LimitError, match="max_runs=10"):
        decode_boolean(b"\x01" * 20, max_runs=10)


# --- rules Automerge's load depends on (automerge_format/semantics.py) -------------


def test_document_op_columns_must_be_canonical_runs():
    one_value_run = replace_column(DOC_SET_A_COLUMNS, 0x42, b"\x01\x01")
    with pytest.raises(FormatError, match="action column: repeat run of fewer than 2"):
        parse_chunks(chunk(0, document_body(TWO_CHANGES, one_value_run)))


def test_document_changes_need_extra_len():
    columns = [c for c in TWO_CHANGES if c[0] != 0x56]
    with pytest.raises(FormatError, match="extraLen column: a change has no extraLen"):
        parse_chunks(chunk(0, document_body(columns)))


def test_make_ops_carry_no_value():
    make_map = replace_column(DOC_SET_A_COLUMNS, 0x42, rle([0]))
    with pytest.raises(FormatError, match="a makeMap op carries a value"):
        parse_chunks(chunk(0, document_body(TWO_CHANGES, make_map)))
    with pytest.raises(FormatError, match="a makeMap op carries a value"):
        parse_chunks(change(replace_column(SET_A_COLUMNS, 0x42, rle([0]))))


def test_document_op_ids_lie_within_their_actors_changes():
    beyond = replace_column(DOC_SET_A_COLUMNS, 0x23, delta([9]))
    with pytest.raises(FormatError, match="lies outside that actor's changes"):
        parse_chunks(chunk(0, document_body(TWO_CHANGES, beyond)))


def test_a_change_inserts_nothing_into_the_root_map():
    insert = replace_column(key_columns(None, delta([0]), None), 0x34, booleans([True]))
    root = [c for c in insert if c[0] not in (0x01, 0x02)]
    with pytest.raises(FormatError, match="root map"):
        parse_chunks(change(root, start_op=10))


OTHER = bytes.fromhex("bbbb0001000000000000000000000000")


def ops_change(*ops):
    """A change of ACTOR (ops from 10@ACTOR on, other actor 1 OTHER) of ``ops``.

    Each op is ``(obj, key, insert, action)``: ``obj`` None (the root) or an op
    ID ``(actor, counter)``; ``key`` a string, ``"_head"`` or an element ID. A
    make op (action 0, 2 or 4) carries no value, a set (1) the uint 1.
    """
    objs = [obj or (None, None) for obj, _, _, _ in ops]
    elems, strings = [], []
    for _, key, _, _ in ops:
        is_string = isinstance(key, str) and key != "_head"
        elems.append(
            (None, 0) if key == "_head" else (None, None) if is_string else key
        )
        strings.append(key if is_string else None)
    sets = [action == 1 for _, _, _, action in ops]
    columns = [
        (0x01, rle([actor for actor, _ in objs])),
        (0x02, rle([counter for _, counter in objs])),
        (0x11, rle([actor for actor, _ in elems])),
        (0x13, delta([counter for _, counter in elems])),
        (0x15, rle(strings, strings=True)),
        (0x34, booleans([insert for _, _, insert, _ in ops])),
        (0x42, rle([action for _, _, _, action in ops])),
        (0x56, rle([(1 << 4) | 3 if is_set else 0 for is_set in sets])),
        (0x57, b"\x01" * sum(sets)),
        (0x70, rle([0] * len(ops))),
    ]
    return change(columns, start_op=10, other_actors=[OTHER])


def test_elements_in_a_text_the_change_makes_are_its_own_inserts():
    # 10: make a text; 11: insert after _head; 12: insert after ``elem``.
    def typed(elem):
        return ops_change(
            (None, "t", False, 4),
            ((0, 10), "_head", True, 1),
            ((0, 10), elem, True, 1),
        )

    assert parse_one(typed((0, 11))).op_count == 3
    not_its_own = "an op on an object made by the same change names an element"
    for elem, column in (((1, 11), "keyActor"), ((0, 5), "keyCtr")):
        with pytest.raises(FormatError, match=f"{column} column: {not_its_own}"):
            parse_chunks(typed(elem))
    with pytest.raises(FormatError, match="does not insert into the op's object"):
        parse_chunks(typed((0, 10)))  # the makeText op: no element


def test_an_element_of_the_change_is_an_insert_into_the_same_object():
    # Lists 3@ACTOR and 4@ACTOR come from earlier changes. 10: insert into 3;
    # 11: set root["a"]; 12: insert into ``obj`` after element ``elem``.
    def inserted(obj, elem):
        return ops_change(
            ((0, 3), "_head", True, 1),
            (None, "a", False, 1),
            (obj, elem, True, 1),
        )

    assert parse_one(inserted((0, 3), (0, 10))).op_count == 3
    assert parse_one(inserted((0, 4), (1, 7))).op_count == 3  # needs the document
    for obj, elem in (((0, 4), (0, 10)), ((0, 3), (0, 11))):
        with pytest.raises(FormatError, match="does not insert into the op's object"):
            parse_chunks(inserted(obj, elem))
