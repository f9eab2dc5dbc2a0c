"""The admin: list, search, filters, the read-only detail page, download, delete."""

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.urls import reverse

from tests.display.documents import corrupted, made_documents, store, store_raw
from todos import capabilities
from todos.models import Chunk, Document

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:todos_document_changelist"


@pytest.fixture(scope="module")
def documents():
    return made_documents()


def change_url(doc_id):
    return reverse("admin:todos_document_change", args=[doc_id])


def download_url(doc_id):
    return reverse("admin:todos_document_download", args=[doc_id])


def test_admin_is_for_staff_only(client, documents):
    store("groceries", documents["simple"])

    for url in (
        reverse(CHANGELIST),
        change_url("groceries"),
        download_url("groceries"),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]


def test_staff_without_view_permission_cannot_download(client, documents):
    store("groceries", documents["simple"])
    User.objects.create_user("clerk", password="pw", is_staff=True)
    client.login(username="clerk", password="pw")

    assert client.get(download_url("groceries")).status_code == 403
    assert client.get(change_url("groceries")).status_code == 403


def test_changelist_shows_summary_and_storage_columns(admin_client, documents):
    store("groceries", documents["simple"])

    response = admin_client.get(reverse(CHANGELIST))

    assert response.status_code == 200
    html = response.content.decode()
    for text in ("groceries", "Groceries", "295\xa0bytes", "column-chunks"):
        assert text in html
    row = response.context["cl"].result_list[0]
    assert (row.item_count, row.done_count) == (3, 1)
    assert "Title and item counts are decoded" in html


def test_changelist_decodes_only_stale_rows_and_stores_their_summary(
    admin_client, documents
):
    store("groceries", documents["simple"])
    store("trip", documents["concurrent"])

    admin_client.get(reverse(CHANGELIST))

    rows = Document.objects.order_by("doc_id")
    assert [(r.doc_id, r.title, r.item_count) for r in rows] == [
        ("groceries", "Groceries", 3),
        ("trip", "Shared", 3),
    ]
    assert all(r.summary_etag == r.etag for r in rows)


def test_changelist_search_finds_by_id_and_by_title(admin_client, documents):
    store("groceries", documents["simple"])
    store("party", documents["unicode"])
    admin_client.get(reverse(CHANGELIST))  # decodes the summaries

    by_title = admin_client.get(reverse(CHANGELIST), {"q": "café"})
    by_id = admin_client.get(reverse(CHANGELIST), {"q": "groc"})

    assert [d.doc_id for d in by_title.context["cl"].result_list] == ["party"]
    assert [d.doc_id for d in by_id.context["cl"].result_list] == ["groceries"]


def test_search_finds_a_title_no_page_has_shown_yet(admin_client, documents):
    store("party", documents["unicode"])
    for number in range(30):  # a page and more of newer lists, shown first
        store(f"newer-{number:02}", documents["simple"])

    found = admin_client.get(reverse(CHANGELIST), {"q": "café"})

    assert [d.doc_id for d in found.context["cl"].result_list] == ["party"]


def test_refresh_summaries_command_catches_up_every_stale_title(documents):
    store("party", documents["unicode"])
    store("groceries", documents["simple"])
    Document.objects.update(title="", summary_etag="")  # as before summaries
    out = io.StringIO()

    call_command("refresh_summaries", stdout=out)

    assert "2 document(s)" in out.getvalue()
    assert Document.objects.get(doc_id="party").title
    assert all(d.summary_etag == d.etag for d in Document.objects.all())


@pytest.mark.parametrize(
    "query, expected",
    [
        ({"progress": "open"}, ["groceries", "party"]),
        ({"summary": "undecodable"}, ["broken"]),
        ({"summary": "fresh"}, ["groceries", "party"]),
        ({"chunks": "1"}, ["broken", "groceries", "party"]),
        ({"size": "small"}, ["broken", "groceries", "party"]),
        ({"size": "large"}, []),
    ],
)
def test_changelist_filters(admin_client, documents, query, expected):
    store("groceries", documents["simple"])
    store("party", documents["unicode"])
    store_raw("broken", corrupted(documents["simple"]))
    admin_client.get(reverse(CHANGELIST))

    response = admin_client.get(reverse(CHANGELIST), query)

    assert sorted(d.doc_id for d in response.context["cl"].result_list) == expected


def test_changelist_shows_a_document_that_cannot_be_decoded(admin_client, documents):
    store_raw("broken", corrupted(documents["simple"]))

    response = admin_client.get(reverse(CHANGELIST))

    assert response.status_code == 200
    assert "cannot be decoded" in response.content.decode()


def test_detail_page_shows_items_json_history_and_download(admin_client, documents):
    store("groceries", documents["simple"])

    response = admin_client.get(change_url("groceries"))

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="todos-items"' in html
    for text in ("milk", "bread", "eggs"):
        assert f'<td class="todos-text">{text}</td>' in html
    assert html.count('alt="done"') == 1 and html.count('alt="open"') == 2
    assert "&quot;title&quot;: &quot;Groceries&quot;" in html
    assert 'id="todos-history"' in html
    assert download_url("groceries") in html
    history = response.context["history"]
    assert history.total == 1
    assert history.chunks[0].changes[0].actor == "aa" * 16


def test_detail_page_of_concurrent_edits_lists_both_actors(admin_client, documents):
    store("trip", documents["concurrent"])

    response = admin_client.get(change_url("trip"))

    html = response.content.decode()
    for text in ("Please plan trip", "pack bags", "book hotel", "A adds", "B adds"):
        assert text in html
    (chunk,) = response.context["history"].chunks
    assert {c.actor[:2] for c in chunk.changes} == {"aa", "bb"}


def test_detail_page_escapes_and_keeps_non_ascii_text(admin_client, documents):
    store("party", documents["unicode"])

    html = admin_client.get(change_url("party")).content.decode()

    assert "Żółć – café ☕" in html
    assert "🚀 party 🎉👩\u200d👩\u200d👧 done" in html
    assert "日本語のテキスト" in html


def test_detail_page_of_corrupted_bytes_says_why_instead_of_failing(
    admin_client, documents
):
    store_raw("broken", corrupted(documents["simple"]))

    response = admin_client.get(change_url("broken"))

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="todos-decode-error"' in html
    assert "Automerge could not load" in html
    assert "cannot be parsed" in html  # in the history, for the chunk


def test_detail_page_of_a_document_automerge_refuses_says_why(admin_client, documents):
    store_raw("orphan", documents["orphan_change"], kind=Chunk.CHANGE)

    response = admin_client.get(change_url("orphan"))

    assert response.status_code == 200
    assert "Automerge could not load" in response.content.decode()
    assert response.context["history"].chunks[0].kind == "change"


def test_download_returns_exactly_what_get_returns(admin_client, client, documents):
    store("trip", documents["concurrent.save0"], documents["concurrent.save1"])

    response = admin_client.get(download_url("trip"))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == 'attachment; filename="trip.automerge"'
    assert response.content == client.get("/docs/trip").content


def test_download_of_a_missing_document_is_404(admin_client):
    assert admin_client.get(download_url("nothing-here")).status_code == 404


def test_admin_cannot_add_documents(admin_client):
    response = admin_client.get(reverse("admin:todos_document_add"))

    assert response.status_code == 403


def test_detail_page_is_read_only_and_a_post_changes_nothing(admin_client, documents):
    store("groceries", documents["simple"])
    before = Document.objects.get(pk="groceries")

    page = admin_client.get(change_url("groceries"))
    posted = admin_client.post(
        change_url("groceries"), {"doc_id": "groceries", "etag": "x", "size": 1}
    )

    assert 'name="_save"' not in page.content.decode()
    assert posted.status_code == 403
    after = Document.objects.get(pk="groceries")
    assert (after.etag, after.size) == (before.etag, before.size)


def test_chunk_inline_shows_metadata_but_not_the_bytes(admin_client, documents):
    store("groceries", documents["simple"])

    response = admin_client.get(change_url("groceries"))

    html = response.content.decode()
    assert "field-change_count" in html and "field-kind" in html
    assert "field-data" not in html and "field-digest" not in html


def test_delete_asks_for_confirmation_then_removes_everything(admin_client, documents):
    store("groceries", documents["simple"])
    delete_url = reverse("admin:todos_document_delete", args=["groceries"])

    confirm = admin_client.get(delete_url)
    done = admin_client.post(delete_url, {"post": "yes"})

    assert confirm.status_code == 200 and "Are you sure" in confirm.content.decode()
    assert done.status_code == 302
    assert not Document.objects.exists()
    assert not Chunk.objects.exists()


def test_refresh_action_decodes_the_selected_documents(admin_client, documents):
    store("groceries", documents["simple"])
    store_raw("broken", corrupted(documents["simple"]))

    response = admin_client.post(
        reverse(CHANGELIST),
        {"action": "refresh_summaries", "_selected_action": ["groceries", "broken"]},
        follow=True,
    )

    messages = [str(m) for m in response.context["messages"]]
    assert messages == [
        "Decoded 2 document(s); 1 could not be decoded (open them to see why)."
    ]
    assert Document.objects.get(pk="groceries").title == "Groceries"


def test_detail_page_shows_the_view_link_state(admin_client, documents):
    store("shared", documents["simple"])
    never = admin_client.get(change_url("shared")).content.decode()
    token = capabilities.create_view_link("shared")
    on = admin_client.get(change_url("shared")).content.decode()
    capabilities.revoke_view_link("shared")
    off = admin_client.get(change_url("shared")).content.decode()

    assert "never made" in never
    assert f'on: <a href="/view/{token}/">' in on
    assert "turned off on" in off and token not in off
