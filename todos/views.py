"""HTTP views: the app's pages and the storage API.

The storage API (``/docs/<doc_id>``) is the contract of DESIGN.md: GET/HEAD return
the stored Automerge bytes, PUT/POST merge an upload into them. It is exempt from
CSRF checks because it uses no ambient credentials: no cookie, session or login is
consulted, so a forged cross-site request can do nothing its author could not do
directly, and to address a document at all one must know its unguessable id, which
is the capability that protects writes (README, "Security").
"""

import re
import time

from django.contrib.staticfiles import finders
from django.core.exceptions import RequestDataTooBig
from django.http import (
    FileResponse,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.cache import get_conditional_response, patch_cache_control
from django.views.decorators.csrf import csrf_exempt

from . import display, icons, ratelimit, repo_ids, storage, writelog
from .models import DOC_ID_PATTERN

SERVICE_WORKER = "todos/sw.js"
# Bodies Django would parse as a form: never Automerge bytes, refused with 415.
FORM_CONTENT_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
# Documents larger than this are streamed from the database slice by slice.
STREAM_ABOVE_BYTES = storage.SLICE_BYTES
THEME_COLOR = "#{:02x}{:02x}{:02x}".format(*icons.BACKGROUND)


def home(request):
    """The site root: a small page whose script (home.js) opens the list used last.

    Only the browser knows which lists it has, so the choice is made there; a
    browser with none gets a new list.
    """
    return render(request, "todos/home.html")


def new_list(request):
    """Start a new list: send the browser to a fresh, unguessable document id.

    The app makes new ids in the browser ("New list" works offline); this is the
    link for pages and scripts. Nothing is stored until something is typed. The
    id is also an automerge-repo document id (``repo_ids``).
    """
    return redirect("todos:list", doc_id=repo_ids.new_document_id())


def list_page(request, doc_id):
    """The todo app for one list."""
    return render(request, "todos/list.html", {"doc_id": doc_id})


def manifest(request):
    """The web app manifest: what an installed app is called, looks like and opens.

    It opens ``/``, which goes to the list used last, offline too. The icons
    (``todos/icons.py``) are maskable: the mark stays in the middle, the colour
    fills the square. Served by a view so that the icons' URLs are the
    content-hashed ones of the static files.
    """
    manifest = {
        "name": "Todos",
        "short_name": "Todos",
        "description": "Todo lists that work offline and sync between devices.",
        "start_url": reverse("todos:home"),
        "scope": reverse("todos:home"),
        "display": "standalone",
        "background_color": "#f5f5f5",
        "theme_color": THEME_COLOR,
        "icons": [
            {
                "src": static(f"todos/icons/{icons.file_name(size)}"),
                "sizes": f"{size}x{size}",
                "type": "image/png",
                "purpose": "any maskable",
            }
            for size in icons.SIZES
        ],
    }
    response = JsonResponse(manifest, content_type="application/manifest+json")
    response["Cache-Control"] = "no-cache"
    return response


def service_worker(request):
    """The offline shell's service worker, served from the root so it covers /lists/.

    A service worker controls only pages under its own path, so it cannot live
    under /static/; ``no-cache`` makes browsers check for a new version each visit.
    """
    path = finders.find(SERVICE_WORKER)
    response = FileResponse(open(path, "rb"), content_type="text/javascript")
    response["Cache-Control"] = "no-cache"
    return response


def error_response(status, message, retry_after=None):
    """A JSON error a person can act on: {"error": message}, with Retry-After."""
    response = JsonResponse({"error": message}, status=status)
    if retry_after is None and status == storage.Unavailable.status:
        retry_after = storage.Unavailable.retry_after
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def storage_error_response(exc):
    """The JSON error for a StorageError, with its Retry-After if it has one."""
    return error_response(exc.status, exc.message, getattr(exc, "retry_after", None))


@csrf_exempt
def document(request, doc_id):
    """GET/HEAD the stored document; PUT/POST Automerge bytes to merge into it."""
    if request.method in ("GET", "HEAD"):
        return read(request, doc_id)
    if request.method in ("PUT", "POST"):
        return write(request, doc_id)
    response = error_response(
        405, f"Method {request.method} is not allowed here: use GET, PUT or POST."
    )
    response["Allow"] = "GET, HEAD, PUT, POST"
    return response


def read(request, doc_id):
    """Return the document's bytes, with an ETag; 304 if the client has them.

    The ETag, length and bytes are those of one stored version (a ReadPlan). A
    document over ``STREAM_ABOVE_BYTES`` is streamed slice by slice
    (todos/storage/stream.py), each slice read only once the previous one has
    gone out, so a slow reader holds one slice, not the whole document. If a
    write replaces the version's chunks mid-stream, the response is broken off
    (the client sees a failed read, never mixed versions) and is read again.
    """
    if request.GET.get("format") == "json":
        return document_json(request, doc_id)
    response = stored_response(request, doc_id)
    if response is None:
        return error_response(404, f"No document {doc_id!r} is stored yet.")
    return response


def stored_response(request, doc_id):
    """The stored document's bytes with its ETag (304 if the client has them), or
    None if nothing is stored: for /docs/<id> and the view-only link alike."""
    try:
        storage.check_doc_id(doc_id)
        plan = storage.read_plan(doc_id)
        if plan is None:
            return None
        etag = f'"{plan.etag}"'
        not_modified = get_conditional_response(request, etag=etag)
        if not_modified is not None:
            return not_modified
        size = plan.size
        if request.method == "HEAD":
            # No body (Daphne sends whatever the view returns), but the length
            # a GET would have.
            response = HttpResponse(b"")
        elif plan.size > STREAM_ABOVE_BYTES:
            response = StreamingHttpResponse(storage.aslices(plan))
        else:
            # Small: one query for bytes and ETag, which may be a newer version
            # than the plan's, so both come from it.
            stored = storage.read_document(doc_id)
            if stored is None:
                return None
            response = HttpResponse(stored.data)
            size, etag = len(stored.data), f'"{stored.etag}"'
    except storage.StorageError as exc:
        return storage_error_response(exc)
    response["Content-Type"] = "application/octet-stream"
    response["Content-Length"] = str(size)
    response["ETag"] = etag
    patch_cache_control(response, no_cache=True)
    return response


def write(request, doc_id):
    """Merge the request body into the document; answer with what is now stored.

    Every write, refused or not, is logged as one line (todos/writelog.py).
    """
    started = time.perf_counter()
    client = ratelimit.address_of_request(request)
    response, size, result = merge_upload(request, doc_id, client)
    changed = result is not None and result.changed
    writelog.log_write(
        doc_id, size, response.status_code, changed, started, "http", client
    )
    return response


def merge_upload(request, doc_id, client):
    """Answer a write: (response, upload size in bytes, WriteResult or None).

    The size is the body's once it is read, else the declared Content-Length.
    """
    declared = int(request.META.get("CONTENT_LENGTH") or 0)
    if request.content_type.lower() in FORM_CONTENT_TYPES:
        return (
            error_response(
                415,
                f"The body is a form ({request.content_type}), not Automerge bytes: "
                "send the bytes as the body itself, with Content-Type: "
                "application/octet-stream.",
            ),
            declared,
            None,
        )
    if (refused := ratelimit.refuse_write(request, client)) is not None:
        return refused, declared, None
    try:
        body = request.body
    except RequestDataTooBig:
        return (
            error_response(
                413,
                f"The upload is larger than {storage.max_document_bytes()} bytes, the "
                "most this server accepts per document (TODOS_MAX_DOCUMENT_BYTES).",
            ),
            declared,
            None,
        )
    try:
        result = storage.write_document(doc_id, body, client=client)
    except storage.StorageError as exc:
        return storage_error_response(exc), len(body), None
    response = JsonResponse(result.as_json())
    response["ETag"] = f'"{result.etag}"'
    return response, len(body), result


@csrf_exempt  # reads nothing; exempt so that every method gets the JSON 404
def not_a_document(request):
    """Any path under /docs/ that does not name a document: a JSON 404."""
    return error_response(
        404,
        "Not a document address: use /docs/<id>, where the id is 1 to 64 "
        "characters of A-Z a-z 0-9 _ -.",
    )


@csrf_exempt  # read-only; exempt only so other methods get the JSON 405 below
def document_json(request, doc_id):
    """The document decoded, read-only, for scripts: title, items and etag as JSON."""
    if request.method not in ("GET", "HEAD"):
        response = error_response(
            405,
            f"Method {request.method} is not allowed here: the JSON view is "
            f"read-only; PUT or POST Automerge bytes to /docs/{doc_id}.",
        )
        response["Allow"] = "GET, HEAD"
        return response
    try:
        stored = storage.read_document(doc_id)
    except storage.StorageError as exc:
        return error_response(exc.status, exc.message)
    if stored is None:
        return error_response(404, f"No document {doc_id!r} is stored yet.")
    # Answer a conditional request before decoding anything.
    etag = f'"{stored.etag}.json"'
    not_modified = get_conditional_response(request, etag=etag)
    if not_modified is not None:
        return not_modified
    if request.method == "HEAD":
        # No body, and no decoding: the ETag says all a HEAD can ask.
        response = HttpResponse(b"", content_type="application/json")
        response["ETag"] = etag
        patch_cache_control(response, no_cache=True)
        return response
    snapshot = display.snapshot_of(doc_id, stored)
    display.refresh_summary(doc_id, stored.etag, snapshot)
    if snapshot.error:
        return JsonResponse(
            {"error": snapshot.error, "doc_id": doc_id, "etag": stored.etag},
            status=422,
        )
    body = {"doc_id": doc_id, **snapshot.as_json(), "etag": stored.etag}
    response = JsonResponse(body, json_dumps_params={"ensure_ascii": False})
    response["ETag"] = etag
    patch_cache_control(response, no_cache=True)
    return response


def how_it_works(request):
    """A short page on how lists are kept: locally, synced, merged, shared by id.

    ``?from=<doc_id>`` (set by the list page's link) makes its "back" link return
    to that list; without it the link goes to the site root, which opens the
    list this browser used last.
    """
    from_id = request.GET.get("from", "")
    if re.fullmatch(DOC_ID_PATTERN, from_id):
        back = reverse("todos:list", kwargs={"doc_id": from_id}), "Back to your list"
    else:
        back = reverse("todos:home"), "Open your lists"
    context = {"back_url": back[0], "back_label": back[1]}
    return render(request, "todos/how_it_works.html", context)
