"""HTTP views of the capabilities (todos/capabilities.py): view-only links.

- ``/view/<token>/``: the read-only app page of the list ``token`` opens.
- ``/shared/<token>``: its stored bytes (GET/HEAD); any write is refused with
  403 before the body is read, and an unknown or turned-off token is a 404.
- ``/docs/<doc_id>/view-link``: the editor's side. GET names the current
  view-only link (404 if none, saying whether it was turned off), POST makes
  a new one (the old one stops working), DELETE turns it off.
- ``/docs/<doc_id>/rotate``: POST moves the list to a new edit id and answers
  with it; the old id answers 410 from then on.

Changing a link is a write by an editor: it needs the edit id and counts
against the same per-address write rate as uploads.
"""

from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from . import capabilities, ratelimit, storage
from .views import error_response, storage_error_response, stored_response

NO_VIEW_LINK = (
    "This view-only link does not open any list: it was turned off by the "
    "list's owner, or never existed. Ask them for a new link."
)
VIEW_ONLY = (
    "This is a view-only link: it shows the list but cannot change it. Nothing "
    "was stored; ask the list's owner for its edit link to make changes."
)


def view_page(request, token):
    """The todo app for one list, read-only, opened by its view-only token.

    The page carries only the token: the edit id never reaches the viewer. A
    token that opens no list gets the same page with status 404, which says so.
    """
    try:
        doc_id = capabilities.resolve_view_token(token)
    except storage.StorageError as exc:
        return storage_error_response(exc)
    context = {"view_token": token, "view_error": "" if doc_id else NO_VIEW_LINK}
    return render(request, "todos/list.html", context, status=200 if doc_id else 404)


@csrf_exempt  # no ambient credentials, like /docs/ (see views.py)
def shared_document(request, token):
    """GET/HEAD the list's bytes by view-only token; any write is a 403."""
    try:
        doc_id = capabilities.resolve_view_token(token)
    except storage.StorageError as exc:
        return storage_error_response(exc)
    if doc_id is None:
        return error_response(404, NO_VIEW_LINK)
    if request.method not in ("GET", "HEAD"):
        response = error_response(403, VIEW_ONLY)
        response["Allow"] = "GET, HEAD"
        return response
    response = stored_response(request, doc_id)
    if response is None:
        return HttpResponse(status=204)  # a list shared before its first write
    return response


def view_link_json(request, token):
    """The JSON naming view-only ``token``: its token and its page's URL."""
    path = reverse("todos:view", kwargs={"token": token})
    return {"token": token, "url": request.build_absolute_uri(path)}


@csrf_exempt  # no ambient credentials, like /docs/ (see views.py)
def view_link(request, doc_id):
    """The list's view-only link: GET it, POST a new one, DELETE it."""
    if request.method not in ("GET", "HEAD", "POST", "DELETE"):
        response = error_response(
            405,
            f"Method {request.method} is not allowed here: GET the view-only "
            "link, POST to make a new one, DELETE to turn it off.",
        )
        response["Allow"] = "GET, HEAD, POST, DELETE"
        return response
    if request.method in ("POST", "DELETE"):
        if (refused := ratelimit.refuse_write(request)) is not None:
            return refused
    try:
        if request.method == "POST":
            token = capabilities.create_view_link(doc_id)
            return JsonResponse(view_link_json(request, token), status=201)
        if request.method == "DELETE":
            revoked = capabilities.revoke_view_link(doc_id)
            return JsonResponse({"revoked": revoked})
        token, turned_off = capabilities.view_link_of(doc_id)
    except storage.StorageError as exc:
        return storage_error_response(exc)
    if token is None:
        said = "was turned off" if turned_off else "has not been made yet"
        return JsonResponse(
            {
                "error": f"This list's view-only link {said}: POST here to make one.",
                "turned_off": turned_off,
            },
            status=404,
        )
    return JsonResponse(view_link_json(request, token))


@csrf_exempt  # no ambient credentials, like /docs/ (see views.py)
def rotate(request, doc_id):
    """POST: move the list to a new edit id; answer with the new id and link."""
    if request.method != "POST":
        response = error_response(
            405,
            f"Method {request.method} is not allowed here: POST to give the list "
            "a new edit link.",
        )
        response["Allow"] = "POST"
        return response
    if (refused := ratelimit.refuse_write(request)) is not None:
        return refused
    try:
        new_id = capabilities.rotate_edit_id(doc_id)
    except storage.StorageError as exc:
        return storage_error_response(exc)
    path = reverse("todos:list", kwargs={"doc_id": new_id})
    return JsonResponse({"doc_id": new_id, "url": request.build_absolute_uri(path)})
