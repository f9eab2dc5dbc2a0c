"""Test documents made by the real Automerge, and ways to store them.

Documents are made by the real Automerge in Node (tests/node/make_docs.mjs); the
``documents`` fixture (tests/display/conftest.py) and the ``store`` helper are
shared with the admin, JSON view and command tests, which import them from here.
"""

import functools
import hashlib
import json
import tempfile
from pathlib import Path

from tests.conftest import run_node
from todos import storage
from todos.models import Chunk, Document

MAKE_DOCS = Path(__file__).resolve().parents[1] / "node" / "make_docs.mjs"


class Documents(dict):
    """File name -> bytes, of what make_docs.mjs wrote; ``manifest`` describes them."""

    manifest: dict


@functools.cache
def made_documents():
    """The test documents, made once per test run by the real Automerge in Node."""
    with tempfile.TemporaryDirectory(prefix="todos-docs-") as out:
        run_node(MAKE_DOCS, out)
        made = Documents(
            (path.name.removesuffix(".automerge"), path.read_bytes())
            for path in Path(out).glob("*.automerge")
        )
        made.manifest = json.loads((Path(out) / "manifest.json").read_text())
    return made


def store(doc_id, *uploads):
    """Write each upload through the storage service; return the last WriteResult."""
    result = None
    for upload in uploads:
        result = storage.write_document(doc_id, upload)
    return result


def store_raw(doc_id, data, kind=Chunk.DOCUMENT):
    """Store bytes as one chunk, bypassing the service (as disk corruption would)."""
    document = Document.objects.create(
        doc_id=doc_id,
        size=len(data),
        chunk_count=1,
        change_count=1,
        clock={"aa" * 16: 1},
        etag=storage.etag_of([hashlib.sha256(data).hexdigest()]),
    )
    Chunk.objects.create(
        document=document,
        position=0,
        kind=kind,
        data=data,
        size=len(data),
        digest=hashlib.sha256(data).hexdigest(),
        change_count=1,
    )
    return document


def corrupted(data):
    """``data`` with one byte of its body flipped, so its checksum no longer holds."""
    broken = bytearray(data)
    broken[-3] ^= 0xFF
    return bytes(broken)
