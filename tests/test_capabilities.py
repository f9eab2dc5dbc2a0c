"""Capabilities (todos/capabilities.py, todos/sharing.py) through Django's client.

The view-only link reads and never writes; turning it off makes it a 404;
rotating the edit id moves the list, bytes and link included, and leaves the
old id answering 410 without naming the new one. Tokens and ids are drawn
independently: none is a function of another. The same refusals over live
Daphne and its WebSocket are in test_capabilities_live.py.
"""

import pytest

from tests import automerge_node
from todos import capabilities, repo_ids
from todos.models import Document, RetiredDocId

pytestmark = pytest.mark.django_db(transaction=True)

DOC = "capabilities-list"
OCTETS = "application/octet-stream"


@pytest.fixture(scope="session")
def case(tmp_path_factory):
    return automerge_node.make_scenario(tmp_path_factory.mktemp("scenario"))


@pytest.fixture
def stored(client, case):
    """DOC holding the scenario's ``full_a``; returns its bytes as GET serves them."""
    response = client.put(f"/docs/{DOC}", data=case["full_a"], content_type=OCTETS)
    assert response.status_code == 200, response.content
    return client.get(f"/docs/{DOC}").content


def make_view_link(client, doc_id=DOC):
    response = client.post(f"/docs/{doc_id}/view-link")
    assert response.status_code == 201, response.content
    return response.json()


def test_a_view_link_serves_the_lists_bytes_and_names_no_edit_id(client, stored):
    link = make_view_link(client)

    response = client.get(f"/shared/{link['token']}")
    page = client.get(f"/view/{link['token']}/")

    assert response.status_code == 200
    assert response.content == stored
    assert response["ETag"] == client.get(f"/docs/{DOC}")["ETag"]
    assert link["url"] == f"http://testserver/view/{link['token']}/"
    assert DOC not in link["url"]
    assert page.status_code == 200
    assert DOC.encode() not in page.content
    assert f'data-view-token="{link["token"]}"'.encode() in page.content


def test_the_editor_reads_the_current_view_link(client, stored):
    never = client.get(f"/docs/{DOC}/view-link")
    link = make_view_link(client)

    response = client.get(f"/docs/{DOC}/view-link")

    assert never.status_code == 404
    assert never.json()["turned_off"] is False
    assert response.status_code == 200
    assert response.json() == link


def test_a_view_link_can_be_made_before_the_first_write(client):
    link = make_view_link(client, "not-yet-written")

    assert client.get(f"/shared/{link['token']}").status_code == 204
    assert client.get("/docs/not-yet-written").status_code == 404


@pytest.mark.parametrize("method", ["put", "post", "patch", "delete"])
def test_writes_by_view_link_are_403_and_store_nothing(client, case, stored, method):
    token = make_view_link(client)["token"]

    response = getattr(client, method)(
        f"/shared/{token}", data=case["b1"], content_type=OCTETS
    )

    assert response.status_code == 403
    assert "view-only" in response.json()["error"]
    assert response["Allow"] == "GET, HEAD"
    assert client.get(f"/docs/{DOC}").content == stored


@pytest.mark.parametrize(
    "method, path",
    [
        ("put", "/docs/{token}"),
        ("post", "/docs/{token}"),
        ("post", "/docs/{token}/view-link"),
        ("delete", "/docs/{token}/view-link"),
        ("post", "/docs/{token}/rotate"),
    ],
)
def test_a_view_token_used_as_an_edit_id_is_403(client, case, stored, method, path):
    token = make_view_link(client)["token"]

    response = getattr(client, method)(
        path.format(token=token), data=case["b1"], content_type=OCTETS
    )

    assert response.status_code == 403, response.content
    assert "view-only" in response.json()["error"]
    assert client.get(f"/docs/{DOC}").content == stored
    assert not Document.objects.filter(doc_id=token).exists()
    assert client.get(f"/docs/{DOC}/view-link").json()["token"] == token


def test_a_turned_off_view_link_is_404_everywhere(client, stored):
    token = make_view_link(client)["token"]

    response = client.delete(f"/docs/{DOC}/view-link")

    assert response.json() == {"revoked": True}
    for path in (f"/shared/{token}", f"/view/{token}/"):
        assert client.get(path).status_code == 404, path
    error = client.get(f"/shared/{token}").json()["error"]
    assert "turned off" in error
    off = client.get(f"/docs/{DOC}/view-link")
    assert off.status_code == 404
    assert off.json()["turned_off"] is True
    assert client.get(f"/docs/{DOC}").content == stored
    assert client.delete(f"/docs/{DOC}/view-link").json() == {"revoked": False}


def test_a_new_view_link_replaces_the_old_one(client, stored):
    old = make_view_link(client)["token"]

    new = make_view_link(client)["token"]

    assert new != old
    assert client.get(f"/shared/{old}").status_code == 404
    assert client.get(f"/shared/{new}").content == stored


def test_rotation_moves_the_list_and_the_old_id_is_gone(client, case, stored):
    token = make_view_link(client)["token"]

    response = client.post(f"/docs/{DOC}/rotate")

    new_id = response.json()["doc_id"]
    assert response.status_code == 200
    assert response.json()["url"] == f"http://testserver/lists/{new_id}/"
    assert client.get(f"/docs/{new_id}").content == stored
    assert client.get(f"/shared/{token}").content == stored
    for gone in (
        client.get(f"/docs/{DOC}"),
        client.put(f"/docs/{DOC}", data=case["b1"], content_type=OCTETS),
        client.post(f"/docs/{DOC}", data=case["b1"], content_type=OCTETS),
    ):
        assert gone.status_code == 410, gone.request
        assert new_id not in gone.content.decode()
        assert "replaced" in gone.json()["error"]
    for path in ("view-link", "rotate"):
        assert client.post(f"/docs/{DOC}/{path}").status_code == 410
    assert client.get(f"/docs/{DOC}.json").status_code == 410
    assert RetiredDocId.objects.filter(doc_id=DOC).exists()


def test_after_rotation_the_new_id_takes_writes_and_nothing_is_lost(client, case):
    client.put(f"/docs/{DOC}", data=case["base"], content_type=OCTETS)
    client.put(f"/docs/{DOC}", data=case["a1"], content_type=OCTETS)
    new_id = client.post(f"/docs/{DOC}/rotate").json()["doc_id"]

    written = client.put(f"/docs/{new_id}", data=case["b1"], content_type=OCTETS)

    assert written.status_code == 200
    doc = automerge_node.inspect(client.get(f"/docs/{new_id}").content)["doc"]
    assert sorted(item["text"] for item in doc["items"]) == ["eggs", "milk"]


def test_the_same_id_gets_unrelated_tokens_and_new_ids(client):
    """Nothing derives a token or a new id from the edit id: each draw is fresh."""
    tokens, new_ids = set(), set()
    for _ in range(3):
        tokens.add(make_view_link(client, "same-id")["token"])
        new_ids.add(client.post("/docs/same-id/rotate").json()["doc_id"])
        # Forget the list and its retirement, as a fresh server would.
        Document.objects.all().delete()
        RetiredDocId.objects.all().delete()

    assert len(tokens) == 3 and len(new_ids) == 3
    for value in tokens:
        assert len(value) == 24  # 144 random bits
    for value in new_ids:
        assert repo_ids.is_repo_document_id(value)  # 128 random bits
    for value in tokens | new_ids:
        assert "same-id" not in value
    assert not tokens & new_ids


def test_tokens_and_ids_share_no_value_even_when_the_draw_collides(client, monkeypatch):
    """A fresh draw equal to an existing id, token or retired id is drawn again."""
    make_view_link(client, "taken")
    RetiredDocId.objects.create(doc_id="retired")
    token = Document.objects.get(doc_id="taken").view_token
    draws = iter(["taken", token, "retired", "fresh-value"])
    monkeypatch.setattr(capabilities.secrets, "token_urlsafe", lambda n: next(draws))

    assert capabilities.new_token() == "fresh-value"


def test_link_endpoints_answer_other_methods_with_405(client):
    assert client.put(f"/docs/{DOC}/view-link").status_code == 405
    rotate = client.get(f"/docs/{DOC}/rotate")
    assert rotate.status_code == 405
    assert rotate["Allow"] == "POST"
