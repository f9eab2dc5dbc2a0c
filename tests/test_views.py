"""The storage API over HTTP: statuses, headers, and nothing lost on refusal."""

import pytest

from tests import automerge_node
from todos import storage

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/docs/groceries"
OCTETS = "application/octet-stream"


@pytest.fixture(scope="session")
def case(tmp_path_factory):
    return automerge_node.make_scenario(tmp_path_factory.mktemp("scenario"))


def put(client, body, url=URL, method="put"):
    return getattr(client, method)(url, data=body, content_type=OCTETS)


def stored_bytes(client):
    return client.get(URL).content


def test_get_of_a_document_never_stored_is_404(client):
    response = client.get(URL)

    assert response.status_code == 404
    assert "groceries" in response.json()["error"]


def test_put_then_get_round_trips(client, case):
    response = put(client, case["base"])

    assert response.status_code == 200
    assert response.json()["changed"] is True
    got = client.get(URL)
    assert got.status_code == 200
    assert got["Content-Type"] == OCTETS
    assert got.content == case["base"]


def test_post_means_the_same_as_put(client, case):
    put(client, case["base"], method="post")
    put(client, case["b1"], method="post")

    assert stored_bytes(client) == case["base"] + case["b1"]


@pytest.mark.parametrize("method", ["get", "put", "post", "head"])
def test_trailing_slash_works(client, case, method):
    put(client, case["base"])

    if method in ("get", "head"):
        response = getattr(client, method)(URL + "/")
    else:
        response = put(client, case["a1"], url=URL + "/", method=method)

    assert response.status_code == 200


def test_head_sends_headers_without_body(client, case):
    put(client, case["base"])

    response = client.head(URL)

    assert response.status_code == 200
    assert response["ETag"]
    assert response.content == b""


def test_etag_and_if_none_match(client, case):
    put(client, case["base"])
    etag = client.get(URL)["ETag"]

    assert client.get(URL, headers={"if-none-match": etag}).status_code == 304

    put(client, case["a1"])
    response = client.get(URL, headers={"if-none-match": etag})
    assert response.status_code == 200
    assert response["ETag"] != etag


def test_write_answers_with_heads_and_counts(client, case):
    put(client, case["full_a"])

    body = put(client, case["b1"]).json()

    assert body["heads"] == case["heads"]["merged"]
    assert body["chunks"] == 2
    assert body["size"] == len(case["full_a"]) + len(case["b1"])


def test_writes_need_no_csrf_token(case):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)

    assert put(strict, case["base"]).status_code == 200


@pytest.mark.parametrize(
    "name, body, status, words",
    [
        ("empty", b"", 400, "empty"),
        ("garbage", b"<html>not automerge</html>", 400, "not valid Automerge"),
        ("truncated", None, 400, "not valid Automerge"),
        ("bad checksum", None, 400, "checksum"),
        ("orphan change", None, 409, "Automerge.save(doc)"),
    ],
)
def test_bad_uploads_get_json_errors_and_change_nothing(
    client, case, name, body, status, words
):
    put(client, case["base"])
    before = stored_bytes(client)
    if name == "truncated":
        body = case["a1"][:-5]
    elif name == "bad checksum":
        body = bytearray(case["a1"])
        body[4] ^= 0xFF  # the checksum field follows the 4-byte magic
        body = bytes(body)
    elif name == "orphan change":
        body = case["c_orphan"]

    response = put(client, body)

    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert words in response.json()["error"]
    assert stored_bytes(client) == before


def test_body_over_the_limit_is_413(client, case, settings):
    put(client, case["base"])
    before = stored_bytes(client)
    settings.TODOS_MAX_DOCUMENT_BYTES = 100
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100

    response = put(client, case["full_merged"])

    assert response.status_code == 413
    assert "TODOS_MAX_DOCUMENT_BYTES" in response.json()["error"]
    settings.TODOS_MAX_DOCUMENT_BYTES = 10**6
    assert stored_bytes(client) == before


@pytest.mark.parametrize(
    "path",
    [
        "/docs/" + "a" * 65,
        "/docs/..%2F..%2Fetc%2Fpasswd",
        "/docs/../../etc/passwd",
        "/docs/a.b",
        "/docs/%00",
        "/docs/",
    ],
)
def test_invalid_document_ids_never_reach_storage(client, case, path):
    response = put(client, case["base"], url=path)

    assert response.status_code in (400, 404)
    assert not storage.read_document("a" * 64)


def test_other_methods_are_405_with_allow(client):
    response = client.delete(URL)

    assert response.status_code == 405
    assert "GET" in response["Allow"]
    assert "error" in response.json()


def test_stored_document_loads_in_automerge_after_many_writes(client, case):
    for name in ("base", "a1", "b1", "a2", "full_a", "c_orphan", "full_c"):
        put(client, case[name])

    loaded = automerge_node.inspect(stored_bytes(client))

    texts = sorted(item["text"] for item in loaded["doc"]["items"])
    assert texts == ["eggs", "milk", "never uploaded", "orphan"]


def test_root_serves_the_page_that_picks_the_list_in_the_browser(client):
    response = client.get("/")

    assert response.status_code == 200
    page = response.content.decode()
    assert 'src="/static/todos/home.js"' in page
    assert 'data-root="/"' in page
    assert "<script>" not in page  # no inline script: the choice is home.js's


def test_new_list_redirects_to_a_fresh_unguessable_id(client):
    first = client.get("/new/")
    second = client.get("/new/")

    assert first.status_code == 302
    assert first["Location"].startswith("/lists/")
    assert first["Location"] != second["Location"]
    doc_id = first["Location"].split("/")[2]
    assert len(doc_id) >= 22  # at least 128 bits of URL-safe base64


def test_list_page_renders(client):
    response = client.get("/lists/abc_DEF-123/")

    assert response.status_code == 200
    assert b"abc_DEF-123" in response.content


@pytest.mark.parametrize(
    "query, href, text",
    [
        ("?from=abc_DEF-123", "/lists/abc_DEF-123/", "Back to your list"),
        ("", "/", "Open your lists"),
        ("?from=../admin/", "/", "Open your lists"),
        ("?from=" + "x" * 65, "/", "Open your lists"),
    ],
)
def test_how_it_works_links_back_to_the_list_it_opened_from(client, query, href, text):
    response = client.get("/how-it-works/" + query)

    assert response.status_code == 200
    page = response.content.decode()
    assert f'<a class="back" href="{href}">← {text}</a>' in page
    assert "admin" not in page


def test_service_worker_is_served_from_the_root(client):
    response = client.get("/sw.js")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Cache-Control"] == "no-cache"
    assert b"addEventListener" in b"".join(response.streaming_content)


def test_database_outage_is_a_json_503_with_retry_after(client, case, monkeypatch):
    from django.db import OperationalError

    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(storage.service, "lock_document", refuse)
    monkeypatch.setattr(storage.service.Chunk.objects, "filter", refuse)

    for response in (put(client, case["base"]), client.get(URL)):
        assert response.status_code == 503
        assert response["Retry-After"] == "5"
        assert "database is unavailable" in response.json()["error"]
