"""The read-only JSON view: /docs/<doc_id>.json and /docs/<doc_id>?format=json."""

import pytest

from tests.display.documents import corrupted, made_documents, store, store_raw
from todos.models import Document

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def documents():
    return made_documents()


@pytest.fixture(params=["/docs/{}.json", "/docs/{}?format=json"])
def url(request):
    """Both addresses of the JSON view, as a format string taking the doc id."""
    return request.param


def test_json_view_returns_the_decoded_list(client, documents, url):
    result = store("groceries", documents["simple"])

    response = client.get(url.format("groceries"))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["doc_id"] == "groceries"
    assert body["title"] == "Groceries"
    assert body["items"] == documents.manifest["simple"]["items"]
    assert (body["item_count"], body["done_count"]) == (3, 1)
    assert body["etag"] == result.etag


def test_json_view_shows_both_sides_of_concurrent_edits(client, documents, url):
    store("trip", documents["concurrent.save0"], documents["concurrent"])

    body = client.get(url.format("trip")).json()

    assert body["items"] == documents.manifest["concurrent"]["items"]
    assert body["note"] is None


def test_json_view_sends_non_ascii_text_unescaped(client, documents, url):
    store("unicode", documents["unicode"])

    response = client.get(url.format("unicode"))

    assert "Żółć – café ☕".encode() in response.content
    assert "🚀 party 🎉".encode() in response.content
    assert response.json()["items"] == documents.manifest["unicode"]["items"]


def test_json_view_of_a_list_without_title_gives_null(client, documents, url):
    store("untitled", documents["untitled"])

    assert client.get(url.format("untitled")).json()["title"] is None


def test_json_view_of_a_missing_document_is_a_json_404(client, url):
    response = client.get(url.format("nothing-here"))

    assert response.status_code == 404
    assert "nothing-here" in response.json()["error"]


def test_json_view_of_an_undecodable_document_is_422_saying_why(client, documents, url):
    store_raw("broken", corrupted(documents["simple"]))

    response = client.get(url.format("broken"))

    assert response.status_code == 422
    assert "Automerge could not load" in response.json()["error"]


def test_json_view_of_a_change_automerge_refuses_is_422_saying_why(
    client, documents, url
):
    store_raw("orphan", documents["orphan_change"], kind="change")

    response = client.get(url.format("orphan"))

    assert response.status_code == 422
    assert "Automerge could not load" in response.json()["error"]


def test_json_view_answers_304_to_its_own_etag(client, documents):
    store("groceries", documents["simple"])
    first = client.get("/docs/groceries.json")

    again = client.get("/docs/groceries.json", HTTP_IF_NONE_MATCH=first["ETag"])

    assert again.status_code == 304


def test_json_view_etag_differs_from_the_bytes_etag(client, documents):
    store("groceries", documents["simple"])

    as_json = client.get("/docs/groceries.json")
    as_bytes = client.get("/docs/groceries")

    assert as_json["ETag"] != as_bytes["ETag"]


def test_json_view_refreshes_the_stored_summary(client, documents):
    store("groceries", documents["simple"])

    client.get("/docs/groceries.json")

    row = Document.objects.get(pk="groceries")
    assert (row.title, row.item_count, row.summary_etag) == ("Groceries", 3, row.etag)


@pytest.mark.parametrize("method", ["put", "post", "delete"])
def test_json_view_is_read_only(client, documents, method):
    store("groceries", documents["simple"])
    before = client.get("/docs/groceries").content

    response = getattr(client, method)(
        "/docs/groceries.json", data=documents["unicode"], content_type="x/y"
    )

    assert response.status_code == 405
    assert "read-only" in response.json()["error"]
    assert client.get("/docs/groceries").content == before


def test_get_without_format_still_returns_the_bytes(client, documents):
    store("groceries", documents["simple"])

    response = client.get("/docs/groceries")

    assert response["Content-Type"] == "application/octet-stream"
    assert response.content == documents["simple"]


def test_json_view_decodes_when_the_shared_cache_is_down(
    client, documents, settings, caplog
):
    store("groceries", documents["simple"])
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        }
    }

    response = client.get("/docs/groceries.json")

    assert response.status_code == 200
    assert response.json()["title"] == "Groceries"
    assert "Snapshot cache unavailable" in caplog.text
