"""URLs of the todo app: pages, the storage API at /docs/<doc_id>, and the links."""

from django.urls import re_path

from . import sharing, views
from .models import DOC_ID_PATTERN

app_name = "todos"

urlpatterns = [
    re_path(r"^$", views.home, name="home"),
    re_path(r"^new/$", views.new_list, name="new_list"),
    re_path(rf"^lists/(?P<doc_id>{DOC_ID_PATTERN})/$", views.list_page, name="list"),
    re_path(rf"^view/(?P<token>{DOC_ID_PATTERN})/$", sharing.view_page, name="view"),
    re_path(r"^how-it-works/$", views.how_it_works, name="how_it_works"),
    re_path(r"^sw\.js$", views.service_worker, name="service_worker"),
    re_path(r"^manifest\.webmanifest$", views.manifest, name="manifest"),
    re_path(
        rf"^docs/(?P<doc_id>{DOC_ID_PATTERN})\.json$", views.document_json, name="json"
    ),
    re_path(rf"^docs/(?P<doc_id>{DOC_ID_PATTERN})/?$", views.document, name="document"),
    # Capabilities (todos/sharing.py): the view-only link's bytes, and the
    # editor's controls of the links.
    re_path(
        rf"^shared/(?P<token>{DOC_ID_PATTERN})$", sharing.shared_document, name="shared"
    ),
    re_path(
        rf"^docs/(?P<doc_id>{DOC_ID_PATTERN})/view-link$",
        sharing.view_link,
        name="view_link",
    ),
    re_path(
        rf"^docs/(?P<doc_id>{DOC_ID_PATTERN})/rotate$", sharing.rotate, name="rotate"
    ),
    # Anything else under /docs/ is not a document id: a JSON 404 like every
    # other storage error, not Django's HTML page.
    re_path(r"^docs(?:/.*)?$", views.not_a_document, name="not_a_document"),
]
