"""The admin for stored documents: staff inspect, download and delete, never edit.

A document's bytes change only through the storage service (uploads, sockets,
``import_doc``), so the admin has no add or change permission: the detail page is
Django's read-only view, with the decoded list, the document as JSON, the history
and a download of the ``.automerge`` file. Titles and counts come from a summary
stored on each document and refreshed when a page shows it (see todos/display/cache.py).
"""

import json

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import F, Q
from django.http import Http404, HttpResponse
from django.template.defaultfilters import filesizeformat
from django.urls import path, reverse
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.http import content_disposition_header

from . import display, storage
from .models import Chunk, Document

SUMMARY_HELP = (
    "Title and item counts are decoded from the stored bytes when a page shows the "
    "document (the list shows 25 per page) and kept until the document changes; "
    "a search first decodes every document changed since, so it finds every list "
    "by its current title. To refresh others, select them and run "
    "\u201cRefresh title and counts\u201d, or run manage.py refresh_summaries."
)


class SummaryFilter(admin.SimpleListFilter):
    """Whether the stored title and counts match the stored bytes."""

    title = "summary"
    parameter_name = "summary"

    def lookups(self, request, model_admin):
        return [
            ("fresh", "Up to date"),
            ("stale", "Not decoded since the last write"),
            ("undecodable", "Cannot be decoded"),
        ]

    def queryset(self, request, queryset):
        current = Q(summary_etag=F("etag"))
        if self.value() == "fresh":
            return queryset.filter(current, item_count__isnull=False)
        if self.value() == "stale":
            return queryset.exclude(current)
        if self.value() == "undecodable":
            return queryset.filter(current, item_count__isnull=True)
        return queryset


class ProgressFilter(admin.SimpleListFilter):
    """How much of the list is done, as of the last decode."""

    title = "progress"
    parameter_name = "progress"

    def lookups(self, request, model_admin):
        return [
            ("empty", "No items"),
            ("open", "Has open items"),
            ("done", "All items done"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "empty":
            return queryset.filter(item_count=0)
        if self.value() == "open":
            return queryset.filter(item_count__gt=F("done_count"))
        if self.value() == "done":
            return queryset.filter(item_count__gt=0, done_count=F("item_count"))
        return queryset


class ChunksFilter(admin.SimpleListFilter):
    """Whether the document is stored compacted, as one chunk."""

    title = "stored chunks"
    parameter_name = "chunks"

    def lookups(self, request, model_admin):
        return [
            ("1", "One (compacted)"),
            ("several", "Several"),
            ("many", "More than 10"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "1":
            return queryset.filter(chunk_count__lte=1)
        if self.value() == "several":
            return queryset.filter(chunk_count__gt=1)
        if self.value() == "many":
            return queryset.filter(chunk_count__gt=10)
        return queryset


class SizeFilter(admin.SimpleListFilter):
    """The stored size, in bands."""

    title = "stored size"
    parameter_name = "size"
    BANDS = {
        "small": ("Under 10 KB", 0, 10 * 1024),
        "medium": ("10 KB to 1 MB", 10 * 1024, 1024 * 1024),
        "large": ("Over 1 MB", 1024 * 1024, None),
    }

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _, _) in self.BANDS.items()]

    def queryset(self, request, queryset):
        if self.value() not in self.BANDS:
            return queryset
        _, low, high = self.BANDS[self.value()]
        queryset = queryset.filter(size__gte=low)
        return queryset if high is None else queryset.filter(size__lt=high)


class ChunkInline(admin.TabularInline):
    """The stored chunks, without their bytes."""

    model = Chunk
    fields = ("position", "kind", "size", "change_count")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).defer("data")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    """Stored documents: list, search, inspect, download, delete; bytes read-only."""

    list_display = (
        "doc_id",
        "list_title",
        "items",
        "done",
        "stored_size",
        "chunks",
        "changes",
        "actors",
        "last_change_at",
        "updated_at",
    )
    list_per_page = 25
    search_fields = ("doc_id", "title")
    search_help_text = "Search by document id or title."
    list_filter = (
        SummaryFilter,
        ProgressFilter,
        ChunksFilter,
        SizeFilter,
        "updated_at",
        "created_at",
    )
    date_hierarchy = "updated_at"
    actions = ["refresh_summaries"]
    fieldsets = (
        (
            "Document",
            {
                "fields": (
                    "doc_id",
                    "title",
                    "item_count",
                    "done_count",
                    "last_change_at",
                    "created_at",
                    "updated_at",
                ),
                "description": SUMMARY_HELP,
            },
        ),
        (
            "Storage",
            {
                "fields": (
                    "stored_size",
                    "chunk_count",
                    "changes",
                    "change_records",
                    "actor_clock",
                    "etag",
                    "summary_etag",
                )
            },
        ),
        ("Sharing", {"fields": ("view_link",)}),
    )
    readonly_fields = (
        "stored_size",
        "changes",
        "change_records",
        "actor_clock",
        "view_link",
    )
    inlines = [ChunkInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_urls(self):
        download = path(
            "<path:object_id>/download/",
            self.admin_site.admin_view(self.download_view),
            name="todos_document_download",
        )
        return [download, *super().get_urls()]

    def get_search_results(self, request, queryset, search_term):
        """Search by id or title, after catching up every stale title (writes never
        decode, so a list not shown since its last write has an older one)."""
        if search_term.strip():
            display.refresh_stale_summaries()
        return super().get_search_results(request, queryset, search_term)

    def changelist_view(self, request, extra_context=None):
        extra_context = {"summary_help": SUMMARY_HELP, **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        context = {**self.decoded_context(unquote(object_id)), **(extra_context or {})}
        return super().change_view(request, object_id, form_url, context)

    def decoded_context(self, doc_id):
        """The detail page's list, JSON, history and download link for ``doc_id``."""
        try:
            found = display.read_snapshot(doc_id)
        except storage.StorageError:
            found = None
        if found is None:
            return {}
        stored, snapshot = found
        chunks = Chunk.objects.filter(document_id=doc_id).values_list(
            "position", "data"
        )
        return {
            "snapshot": snapshot,
            "document_json": json.dumps(
                snapshot.document, indent=2, ensure_ascii=False
            ),
            "history": display.history(chunks, doc_id),
            "download_url": reverse("admin:todos_document_download", args=[doc_id]),
            "stored_etag": stored.etag,
        }

    def download_view(self, request, object_id):
        """The stored bytes as ``<doc_id>.automerge``, exactly what GET returns."""
        document = self.get_object(request, unquote(object_id))
        if document is None:
            raise Http404(f"No document {object_id!r} is stored.")
        if not self.has_view_permission(request, document):
            raise PermissionDenied
        stored = storage.read_document(document.doc_id)
        if stored is None:
            raise Http404(f"No document {object_id!r} is stored.")
        response = HttpResponse(stored.data, content_type="application/octet-stream")
        response["Content-Disposition"] = content_disposition_header(
            True, f"{document.doc_id}.automerge"
        )
        response["ETag"] = f'"{stored.etag}"'
        return response

    @admin.action(description="Refresh title and counts (decodes each document)")
    def refresh_summaries(self, request, queryset):
        """Decode the selected documents and store their titles and counts."""
        refreshed = failed = 0
        for doc_id in queryset.values_list("doc_id", flat=True):
            found = display.read_snapshot(doc_id)
            if found is None:
                continue
            refreshed += 1
            failed += bool(found[1].error)
        level = messages.WARNING if failed else messages.SUCCESS
        text = f"Decoded {refreshed} document(s)"
        if failed:
            text += f"; {failed} could not be decoded (open them to see why)"
        self.message_user(request, text + ".", level)

    def summarised(self, document):
        """Refresh the summary of a listed document if it is stale; return it."""
        if document.etag and document.summary_etag != document.etag:
            found = display.read_snapshot(document.doc_id)
            if found is not None:
                stored, snapshot = found
                document.title = (snapshot.title or "")[: display.TITLE_MAX_LENGTH]
                document.item_count = snapshot.item_count
                document.done_count = snapshot.done_count
                document.last_change_at = snapshot.last_change_at
                document.summary_etag = document.etag = stored.etag
        return document

    @admin.display(description="title", ordering="title")
    def list_title(self, document):
        document = self.summarised(document)
        if document.summary_etag == document.etag and document.item_count is None:
            return format_html("<strong>{}</strong>", "cannot be decoded")
        return document.title or "\u2014"

    @admin.display(description="view-only link")
    def view_link(self, document):
        """Whether the list's view-only link is on (with its page), off, or unmade."""
        if document.view_token:
            path = reverse("todos:view", kwargs={"token": document.view_token})
            return format_html('on: <a href="{}">{}</a>', path, path)
        if document.view_link_off_since:
            since = date_format(document.view_link_off_since, "DATETIME_FORMAT")
            return f"turned off on {since}"
        return "never made"

    @admin.display(description="stored size", ordering="size")
    def stored_size(self, document):
        return filesizeformat(document.size)

    @admin.display(description="items", ordering="item_count")
    def items(self, document):
        return document.item_count

    @admin.display(description="done", ordering="done_count")
    def done(self, document):
        return document.done_count

    @admin.display(description="chunks", ordering="chunk_count")
    def chunks(self, document):
        return document.chunk_count

    @admin.display(description="changes")
    def changes(self, document):
        return display.change_total(document.clock)

    @admin.display(description="change records in chunks")
    def change_records(self, document):
        """Stored change records: more than ``changes`` when chunks overlap."""
        if document.change_count == display.change_total(document.clock):
            return document.change_count
        return f"{document.change_count} (some changes are held by more than one chunk)"

    @admin.display(description="actors")
    def actors(self, document):
        return len(document.clock)

    @admin.display(description="actors (actor: highest seq)")
    def actor_clock(self, document):
        return format_html(
            "<pre>{}</pre>", json.dumps(document.clock, indent=2, sort_keys=True)
        )
