"""Documents and the chunks they are stored as.

A document is an ordered set of Automerge chunks (see DESIGN.md): reading it is the
concatenation of its chunks in ``position`` order, which is always a topological
order (every change comes after the changes it depends on).
"""

from django.core.validators import RegexValidator
from django.db import models

DOC_ID_PATTERN = r"[A-Za-z0-9_-]{1,64}"

validate_doc_id = RegexValidator(
    rf"^{DOC_ID_PATTERN}\Z",
    "A document id is 1 to 64 characters of A-Z, a-z, 0-9, '_' and '-'.",
)


class Document(models.Model):
    """One todo list: an Automerge document, stored as chunks."""

    doc_id = models.CharField(
        primary_key=True, max_length=64, validators=[validate_doc_id]
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    size = models.PositiveBigIntegerField(
        default=0, help_text="Bytes served by GET: the sum of the chunks' sizes."
    )
    chunk_count = models.PositiveIntegerField(default=0)
    change_count = models.PositiveIntegerField(default=0)
    clock = models.JSONField(
        default=dict, help_text="Actor (hex) -> highest sequence number stored."
    )
    heads = models.JSONField(
        default=list, help_text="Hashes (hex) of the changes nothing stored depends on."
    )
    etag = models.CharField(max_length=64, blank=True)
    next_position = models.PositiveIntegerField(
        default=0, help_text="The position the next appended chunk takes."
    )
    # A summary of the decoded document, for the admin's list and search. Writes
    # never decode (they stay proportional to the upload), so it is refreshed
    # when the admin, the JSON view or inspect_doc decodes the document
    # (todos/display.py), and lags behind the bytes until then.
    title = models.CharField(
        max_length=200,
        blank=True,
        help_text="The list's title, as of the last decode (see summary etag).",
    )
    item_count = models.PositiveIntegerField(
        null=True, blank=True, help_text="Items, as of the last decode."
    )
    done_count = models.PositiveIntegerField(
        null=True, blank=True, help_text="Items marked done, as of the last decode."
    )
    last_change_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Time of the latest change, by its author's clock.",
    )
    summary_etag = models.CharField(
        max_length=64,
        blank=True,
        help_text="The etag the summary was decoded from; it is stale when this "
        "differs from etag.",
    )
    # The list's view-only capability (todos/capabilities.py): random, unrelated
    # to doc_id, at most one at a time; None while the list has none.
    view_token = models.CharField(
        max_length=64,
        null=True,
        blank=True,
        unique=True,
        help_text="The view-only link's token; empty when the link is turned off.",
    )
    view_link_off_since = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the view-only link was turned off (empty: it is on, or "
        "was never made).",
    )

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self):
        return self.doc_id


class RetiredDocId(models.Model):
    """An edit id that was rotated away: it answers 410 and is never reused.

    Nothing links it to the list's new id, so the old link reveals nothing.
    """

    doc_id = models.CharField(primary_key=True, max_length=64)
    retired_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.doc_id


class Chunk(models.Model):
    """One Automerge chunk of a document: a whole-document save, or the changes
    one write added (one or more change chunks, concatenated)."""

    DOCUMENT = "document"
    CHANGE = "change"
    KIND_CHOICES = [(DOCUMENT, "document"), (CHANGE, "change")]

    document = models.ForeignKey(
        Document, on_delete=models.CASCADE, related_name="chunks"
    )
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=8, choices=KIND_CHOICES)
    data = models.BinaryField()
    size = models.PositiveIntegerField()
    digest = models.CharField(max_length=64, help_text="SHA-256 of the chunk's bytes.")
    change_count = models.PositiveIntegerField(
        help_text="Changes the chunk holds (a save holds every change up to it)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(
                fields=["document", "position"], name="unique_chunk_position"
            )
        ]

    def __str__(self):
        return f"{self.document_id} #{self.position} ({self.kind}, {self.size} B)"
