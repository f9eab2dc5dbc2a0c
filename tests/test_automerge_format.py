"""Tests for todos.automerge_format, the pure-Python pre-check of Automerge bytes.

The reference is the real @automerge/automerge: a session fixture runs
tests/node/make_format_fixtures.mjs to write documents and changes, with what
Automerge says about them (hashes, headers, op counts), and the pre-check must
agree. Malformed input is built inline, from two small chunks that Automerge
3.5.0 wrote (REAL_CHANGE, REAL_DOC) and from chunks assembled here with the
encoders. What the pre-check leaves to the engine (the columns' contents, what
the ops mean) is tested against real Automerge in tests/storage.
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
from todos.automerge_format.columns import count_rows

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
    assert document.change_count == len(expected["changes"])
    assert document.op_count == expected["numOps"]


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
    assert (document.change_count, document.op_count) == (11, 93891)


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
    assert (document.change_count, document.op_count) == (1, 12)


def test_document_head_indices_are_left_to_the_engine():
    body = body_of(REAL_DOC)
    assert body.endswith(b"\x00")  # one head, at index 0
    for tail in (b"", b"\x05", b"\x00\x01\x02"):  # none, out of range, extra bytes
        document = parse_one(chunk(0, body[:-1] + tail))
        assert len(document.heads) == 1 and document.op_count == 12


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


LITERAL_PAST_THE_END = write_sleb(-50) + b"\x01"  # 50 values declared, 1 byte


def test_error_offsets_count_from_the_start_of_the_input():
    bad = change(replace_column(SET_A_COLUMNS, 0x42, LITERAL_PAST_THE_END))
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
    columns = replace_column(SET_A_COLUMNS, 0x42, LITERAL_PAST_THE_END)
    bad = compressed_chunk(change_body(columns))
    with pytest.raises(FormatError) as info:
        parse_chunks(bad)
    assert "action column: literal run of 50 values" in str(info.value)
    assert "of the inflated change" in str(info.value)
    assert info.value.offset == 10  # where the DEFLATE stream starts


# --- malformed input: columns ----------------------------------------------------


def test_columns_out_of_order():
    columns = [SET_A_COLUMNS[1], SET_A_COLUMNS[0]] + SET_A_COLUMNS[2:]
    with pytest.raises(FormatError, match=r"column 0x15 is out of order or repeated"):
        parse_chunks(change(columns))
    repeated = SET_A_COLUMNS[:1] + SET_A_COLUMNS
    with pytest.raises(FormatError, match="out of order or repeated"):
        parse_chunks(change(repeated))


def test_deflated_action_column_in_change_is_rejected():
    columns = replace_column(SET_A_COLUMNS, 0x42, deflate(rle([1])))
    columns = [(spec | 0x08 if spec == 0x42 else spec, d) for spec, d in columns]
    with pytest.raises(FormatError, match="change chunks do not allow"):
        parse_chunks(change(columns))


def test_column_data_runs_past_the_chunk():
    body = change_body()
    metadata_end = body.index(rle(["a"], strings=True))
    cut = body[:metadata_end] + rle(["a"], strings=True)  # the rest is missing
    with pytest.raises(TruncatedError, match="op columns declare"):
        parse_chunks(chunk(1, cut))


def test_literal_run_longer_than_column():
    data = change(replace_column(SET_A_COLUMNS, 0x42, LITERAL_PAST_THE_END))
    with pytest.raises(TruncatedError) as info:
        parse_chunks(data)
    assert str(info.value) == (
        "action column: literal run of 50 values, but only 1 bytes remain in the "
        f"column at offset {data.index(LITERAL_PAST_THE_END)}"
    )


def test_bad_leb128_in_the_action_column():
    with pytest.raises(FormatError, match="action column: data ends inside a LEB128"):
        parse_chunks(change(replace_column(SET_A_COLUMNS, 0x42, b"\x02\x80")))


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
    assert (document.change_count, document.op_count) == (2, 0)
    assert document.actors == (ACTOR,) and document.heads == (bytes(32),)


# One op in a document: set root["a"] = 1, with op ID 1@ACTOR.
DOC_SET_A_COLUMNS = sorted(
    [c for c in SET_A_COLUMNS if c[0] != 0x70]
    + [(0x21, rle([0])), (0x23, delta([1])), (0x80, rle([0]))]
)


def test_built_document_with_an_op_parses():
    document = parse_one(chunk(0, document_body(TWO_CHANGES, DOC_SET_A_COLUMNS)))
    assert (document.change_count, document.op_count) == (2, 1)


def deflated(columns, spec):
    """``columns`` with column ``spec`` DEFLATE-compressed, as a save may have it."""
    return [(s | 0x08, deflate(d)) if s == spec else (s, d) for s, d in columns]


def test_document_counts_rows_of_deflated_columns():
    changes = deflated(TWO_CHANGES, 0x01)
    ops = deflated(DOC_SET_A_COLUMNS, 0x42)
    document = parse_one(chunk(0, document_body(changes, ops)))
    assert (document.change_count, document.op_count) == (2, 1)
    bad = deflated(replace_column(DOC_SET_A_COLUMNS, 0x42, LITERAL_PAST_THE_END), 0x42)
    with pytest.raises(TruncatedError) as info:
        parse_chunks(chunk(0, document_body(TWO_CHANGES, bad)))
    assert "op column 0x42: literal run of 50 values" in str(info.value)
    assert "at offset 0 of its inflated data" in str(info.value)


def test_document_changes_count_against_max_changes():
    data = chunk(0, document_body(TWO_CHANGES))
    with pytest.raises(LimitError, match="more than max_changes=1 changes"):
        parse_chunks(data, Limits(max_changes=1))


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


# --- counting rows without keeping them ------------------------------------------

optional_ints = st.lists(st.one_of(st.none(), st.integers(0, 2**64 - 1)), max_size=40)


@given(optional_ints)
def test_count_rows_counts_every_value_and_null(values):
    assert count_rows(rle(values), 1 << 62) == len(values)


def test_count_rows_skips_literal_values_of_any_length():
    one_byte = write_sleb(-3) + bytes([1, 2, 3])
    longer = write_sleb(-3) + write_uleb(1) + write_uleb(300) + write_uleb(2**63)
    assert count_rows(one_byte + longer, 100) == 6
    with pytest.raises(FormatError, match="overlong LEB128"):
        count_rows(write_sleb(-2) + b"\x01\x80\x00", 100)


def test_count_rows_stops_past_the_limit():
    # A literal run claiming more rows than the limit is not scanned at all.
    assert count_rows(write_sleb(-1000) + b"\x80" * 999, 10) == 1000
    many_runs = (write_sleb(2) + b"\x01") * 1000
    assert 10 < count_rows(many_runs, 10) < 2000


def test_count_rows_refuses_an_empty_run_of_nulls():
    with pytest.raises(FormatError, match="empty run of nulls"):
        count_rows(rle([1, 1]) + b"\x00\x00", 100)


def test_op_count_is_the_rows_of_the_action_column():
    actions = write_sleb(5) + b"\x01" + write_sleb(-2) + b"\x00\x02" + b"\x00\x03"
    columns = replace_column(SET_A_COLUMNS, 0x42, actions)
    assert parse_one(change(columns)).op_count == 10
    no_action = [c for c in SET_A_COLUMNS if c[0] != 0x42]
    assert parse_one(change(no_action)).op_count == 0
    limits = Limits(max_ops=9)
    with pytest.raises(LimitError, match=r"^more than max_ops=9 operations at offset"):
        parse_chunks(change(columns), limits)


def test_ops_are_counted_over_the_whole_input():
    limits = Limits(max_ops=24)
    parse_chunks(REAL_CHANGE + REAL_DOC, limits)
    with pytest.raises(LimitError, match="max_ops=24"):
        parse_chunks(REAL_CHANGE + REAL_DOC + REAL_CHANGE, limits)


def test_a_change_without_op_columns_may_not_carry_bytes():
    # Automerge writes none, and Automerge 3.5 cannot load one the engine takes.
    assert parse_one(change([])).op_count == 0
    with pytest.raises(FormatError, match="3 bytes follow a change that has no op"):
        parse_chunks(change([], extra=b"abc"))


def test_error_messages_name_offsets():
    for data in (b"\x00", REAL_CHANGE[:20], REAL_CHANGE + b"\x01"):
        with pytest.raises(FormatError) as info:
            parse_chunks(data)
        assert re.search(r"at offset \d+", str(info.value))
        assert isinstance(info.value.offset, int)
