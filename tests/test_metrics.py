"""Prometheus metrics at /metrics: off by default, restricted, and counting."""

import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests import automerge_node
from tests.helpers.websocket import RawWebSocket

pytestmark = pytest.mark.django_db(transaction=True)
OCTETS = "application/octet-stream"


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    return automerge_node.make_scenario(tmp_path_factory.mktemp("scenario"))


@pytest.fixture
def metrics_on(settings):
    settings.TODOS_METRICS = True
    settings.TODOS_METRICS_ALLOWED_NETWORKS = "127.0.0.1/32,::1/128"
    settings.TODOS_METRICS_TOKEN = ""
    settings.TODOS_TRUSTED_PROXIES = ""
    return settings


def samples(text):
    """{(name, frozenset(labels)): value} of a Prometheus text exposition."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(text, name, **labels):
    return samples(text).get((name, frozenset(labels.items())), 0.0)


def test_off_by_default_there_is_no_metrics_page(client, settings):
    settings.TODOS_METRICS = False

    assert client.get("/metrics").status_code == 404


def test_a_local_scraper_gets_the_text_format(client, metrics_on):
    response = client.get("/metrics", HTTP_HOST="10.1.2.3:8000")  # any Host

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert "todos_http_responses_total" in text and "todos_documents " in text


def test_a_stranger_is_refused_with_a_reason(client, metrics_on):
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.5")

    assert response.status_code == 403
    assert "TODOS_METRICS_ALLOWED_NETWORKS" in response.json()["error"]


def test_a_stranger_with_the_token_is_served(client, metrics_on):
    metrics_on.TODOS_METRICS_TOKEN = "s3cret-token"

    wrong = client.get(
        "/metrics", REMOTE_ADDR="203.0.113.5", HTTP_AUTHORIZATION="Bearer nope"
    )
    right = client.get(
        "/metrics", REMOTE_ADDR="203.0.113.5", HTTP_AUTHORIZATION="Bearer s3cret-token"
    )

    assert (wrong.status_code, right.status_code) == (403, 200)


def test_a_forged_forwarded_for_does_not_make_a_stranger_local(client, metrics_on):
    response = client.get(
        "/metrics", REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR="127.0.0.1"
    )

    assert response.status_code == 403


def test_behind_a_trusted_proxy_the_client_behind_it_counts(client, metrics_on):
    metrics_on.TODOS_TRUSTED_PROXIES = "127.0.0.1"

    outside = client.get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.5")
    local = client.get("/metrics", HTTP_X_FORWARDED_FOR="127.0.0.1")

    assert (outside.status_code, local.status_code) == (403, 200)


def test_writes_bytes_and_documents_are_counted(client, metrics_on, case):
    before = client.get("/metrics").content.decode()
    stored = client.put("/docs/counted", data=case["base"], content_type=OCTETS)
    again = client.put("/docs/counted", data=case["base"], content_type=OCTETS)
    refused = client.put("/docs/counted", data=b"not automerge", content_type=OCTETS)
    after = client.get("/metrics").content.decode()

    assert [stored.status_code, again.status_code] == [200, 200]
    assert refused.status_code >= 400

    def grew(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("todos_writes_total", via="http", outcome="stored", status="200") == 1
    assert (
        grew("todos_writes_total", via="http", outcome="unchanged", status="200") == 1
    )
    refused_status = str(refused.status_code)
    assert (
        grew("todos_writes_total", via="http", outcome="refused", status=refused_status)
        == 1
    )
    assert grew("todos_stored_bytes_total") == len(case["base"])
    assert grew("todos_write_duration_seconds_count", via="http") == 3
    assert value(after, "todos_documents") == 1
    assert value(after, "todos_document_bytes") > 0
    assert grew("todos_http_responses_total", status="200") >= 3


@pytest.mark.live
def test_sockets_pushes_and_refusals_on_a_live_server(live_server_factory, case):
    server = live_server_factory(TODOS_METRICS="1", TODOS_WRITE_RATE_LIMIT="2/m")

    def scrape():
        with urllib.request.urlopen(f"{server.url}/metrics", timeout=30) as response:
            return response.read().decode()

    listener = RawWebSocket(server.port, "/ws/docs/pushed", origin=server.url)
    writer = RawWebSocket(server.port, "/ws/docs/pushed", origin=server.url)
    with_two = scrape()
    writer.send(case["base"])
    assert writer.receive_json()["type"] == "ack"
    opcode, pushed = listener.receive()
    assert opcode == 0x2 and pushed  # the write's changes, pushed
    writer.send(case["base"])  # unchanged
    writer.send(case["base"])  # the third write in a minute: over 2/m
    answers = [writer.receive_json() for _ in range(2)]
    assert answers[0]["type"] == "ack" and answers[1]["status"] == 429
    listener.close()
    writer.close()
    time.sleep(0.5)
    after = scrape()

    assert value(with_two, "todos_open_sockets") == 2
    assert value(after, "todos_open_sockets") == 0
    assert value(after, "todos_pushes_total") == 1
    assert value(after, "todos_push_delay_seconds_count") == 1
    assert value(after, "todos_limit_refusals_total", via="websocket") == 1
    assert (
        value(
            after, "todos_writes_total", via="websocket", outcome="stored", status="200"
        )
        == 1
    )


@pytest.mark.live
def test_processes_sharing_a_multiprocess_directory_answer_for_each_other(
    live_server_factory, case, tmp_path
):
    shared = tmp_path / "prometheus"
    shared.mkdir()
    sqlite = tmp_path / "shared.sqlite3"
    options = {"TODOS_METRICS": "1", "PROMETHEUS_MULTIPROC_DIR": str(shared)}
    first = live_server_factory(sqlite_path=sqlite, **options)
    second = live_server_factory(sqlite_path=sqlite, **options)
    request = urllib.request.Request(
        f"{first.url}/docs/shared",
        data=case["base"],
        method="PUT",
        headers={"Content-Type": OCTETS},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200

    with urllib.request.urlopen(f"{second.url}/metrics", timeout=30) as response:
        text = response.read().decode()

    assert (
        value(text, "todos_writes_total", via="http", outcome="stored", status="200")
        == 1
    )
    assert value(text, "todos_documents") == 1
