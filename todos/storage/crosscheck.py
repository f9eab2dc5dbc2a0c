"""A second opinion on each upload: the independent ``automerge`` package loads it.

Our own parser and ``_Merge`` check every upload; before the document is locked,
the part of an upload that the independent reader (``todos.reference``) can load
on its own is loaded by it too, and the upload is refused (BadUpload) if it fails.
"""

from .. import reference
from .errors import BadUpload
from .merge import _Merge


def self_contained_part(chunks):
    """The bytes of an upload that the independent reader can load on their own.

    A document chunk is complete by itself, and so are changes that depend only on
    each other. A change that extends stored history is checked by our own parser
    (framing, checksum, columns) and by the history rules of ``_Merge``.

    Data the independent reader is too old to read is left out: it would refuse
    valid uploads (see ``newer_than_reference``). Our own parser and the rules of
    ``_Merge`` still check it.
    """
    documents = [c for c in chunks if c.kind == "document"]
    changes = [c for c in chunks if c.kind == "change"]
    hashes = {c.hash for c in changes}
    if not (changes and all(d in hashes for c in changes for d in c.deps)):
        changes = []
    readable = [
        c
        for c in [*documents, *_Merge._topological(changes)]
        if not newer_than_reference(c)
    ]
    if len(readable) < len(documents) + len(changes):
        # A change chunk left out may be a dependency of another: check only the
        # documents, each complete by itself.
        readable = [c for c in documents if not newer_than_reference(c)]
    return b"".join(c.raw for c in readable)


def newer_than_reference(chunk):
    """Whether ``chunk`` uses what the ``automerge`` package (0.1.2) cannot read.

    That package predates marks (rich-text formatting, Automerge 2.1; it reports
    an unknown action 7) and refuses a document holding an empty change (one with
    no ops, ``Automerge.emptyChange``) as "changes out of order". Both are valid.
    """
    if chunk.has_marks:
        return True
    if chunk.kind == "change":
        return chunk.op_count == 0
    return chunk.has_empty_change


def check_with_reference(data):
    """Load ``data`` with the independent ``automerge`` package; BadUpload if not."""
    if not data:
        return
    error = reference.load_error(data)
    if error:
        raise BadUpload(
            f"Automerge could not load the upload ({error}). Send the unmodified "
            "output of Automerge.save() or Automerge.saveIncremental()."
        )
