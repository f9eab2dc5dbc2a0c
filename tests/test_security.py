"""Security: deploy checks, path traversal, staff-only admin, origins, size limits.

The path-traversal and origin tests run twice where it matters: in-process (the
Django test client, Channels' communicator) and against a live Daphne, with raw
requests whose paths no client library normalises.
"""

import http.client
import json
import os
import re
import secrets
import socket
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests import automerge_node, live
from tests.helpers.websocket import RawWebSocket
from todo_site.middleware import ADMIN_POLICY, APP_POLICY
from todos import repo_ids, storage

ROOT = Path(__file__).resolve().parent.parent
OCTETS = "application/octet-stream"

# Bytes that would show a file outside the served directories leaked.
SECRETS_MARKERS = (b"SECRET_KEY", b"django-insecure", b"root:x:0:0", b"DATABASES")


@pytest.fixture(scope="session")
def case(tmp_path_factory):
    return automerge_node.make_scenario(tmp_path_factory.mktemp("scenario"))


# --- manage.py check --deploy ------------------------------------------------------


def production_env(tmp_path, **extra):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="todo_site.settings",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="todos.example.org",
        TODOS_SQLITE_PATH=str(tmp_path / "deploy.sqlite3"),
    )
    env.update(extra)
    return env


def check_deploy(env):
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_debug_off(tmp_path):
    done = check_deploy(production_env(tmp_path))

    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout
    assert "WARNING" not in done.stdout + done.stderr


def test_check_deploy_reports_https_switches_turned_off(tmp_path):
    env = production_env(
        tmp_path, DJANGO_SECURE_SSL_REDIRECT="0", DJANGO_HSTS_SECONDS="0"
    )

    done = check_deploy(env)

    assert done.returncode != 0
    assert "security.W004" in done.stderr + done.stdout
    assert "security.W008" in done.stderr + done.stdout


def test_debug_off_without_a_secret_key_refuses_to_start(tmp_path):
    env = production_env(tmp_path)
    del env["DJANGO_SECRET_KEY"]

    done = check_deploy(env)

    assert done.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in done.stderr


# --- document ids are capabilities -------------------------------------------------


def test_new_lists_get_unguessable_ids(client):
    # "/new/" makes them on the server: 128 random bits as automerge-repo names
    # documents (bs58check), so repo clients can open them; the app makes them
    # in the browser (lists.js newListId, 144 bits: tests/js/lists.test.js).
    locations = {client.get("/new/")["Location"] for _ in range(20)}

    assert len(locations) == 20
    for location in locations:
        doc_id = location.removeprefix("/lists/").removesuffix("/")
        assert repo_ids.is_repo_document_id(doc_id)  # 16 random bytes + checksum
        assert set(doc_id) <= set(repo_ids.ALPHABET)


# --- path traversal ------------------------------------------------------------------

TRAVERSALS = [
    "/docs/../../etc/passwd",
    "/docs/..%2F..%2Fetc%2Fpasswd",
    "/docs/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/docs/..",
    "/docs/%2e%2e",
    "/docs/....//....//etc/passwd",
    "/docs/..%5c..%5cetc%5cpasswd",
    "/docs/a%00b",
    "/docs/%252e%252e%252fetc%252fpasswd",
    "/docs/..%2Ftodo_site%2Fsettings.py.json",
    "/lists/../../etc/passwd/",
    "/lists/..%2F..%2Ftodo_site%2Fsettings.py/",
    "/lists/%2e%2e/",
    "/static/../todo_site/settings.py",
    "/static/..%2Ftodo_site%2Fsettings.py",
    "/static/%2e%2e/%2e%2e/etc/passwd",
    "/static/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/static/todos/../../todo_site/settings.py",
    "/static/todos/..%2F..%2Ftodo_site%2Fsettings.py",
    "/static/vendor/automerge/../../../../todo_site/settings.py",
    "/static/vendor/automerge/..%2F..%2F..%2F..%2Ftodo_site%2Fsettings.py",
    "/static/..%5C..%5Ctodo_site%5Csettings.py",
    "/static//etc/passwd",
    "/static/%2Fetc%2Fpasswd",
    "/static/todos/%2e%2e%2f%2e%2e%2fmanage.py",
    "/static/..;/todo_site/settings.py",
]


def assert_nothing_leaked(status, body, path):
    assert status in (301, 302, 400, 403, 404, 405), (path, status, body[:200])
    for marker in SECRETS_MARKERS:
        assert marker not in body, (path, marker)


@pytest.mark.django_db
@pytest.mark.parametrize("path", TRAVERSALS)
def test_traversal_is_refused_in_process(client, path):
    for response in (client.get(path), client.put(path, b"x", content_type=OCTETS)):
        body = b"".join(response) if response.streaming else response.content
        assert_nothing_leaked(response.status_code, body, path)


@pytest.mark.parametrize(
    "doc_id", ["../x", "..", "a/b", "a\\b", "a\x00b", "/etc/passwd", "x" * 65, ""]
)
def test_storage_refuses_ids_that_are_not_plain_names(doc_id):
    with pytest.raises(storage.InvalidDocId):
        storage.write_document(doc_id, b"\x85oJ\x83")
    with pytest.raises(storage.InvalidDocId):
        storage.read_document(doc_id)


def raw_request(port, method, path, body=b"", headers=None):
    """Send ``path`` exactly as given (no normalisation); return (status, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        if body or method in ("PUT", "POST"):
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.fixture
def daphne(live_server_factory):
    """One live Daphne with DEBUG on (static files found dynamically by finders)."""
    return live_server_factory(TODOS_MAX_DOCUMENT_BYTES=65536)


@pytest.mark.live
def test_traversal_is_refused_by_live_daphne(daphne):
    status, body = raw_request(daphne.port, "GET", "/static/todos/app.js")
    assert status == 200 and body  # the static files are served at all

    for path in TRAVERSALS:
        for method in ("GET", "PUT"):
            status, body = raw_request(daphne.port, method, path, b"x")
            assert_nothing_leaked(status, body, path)
    for path in ("/ws/docs/../../etc/passwd", "/ws/docs/..%2F..%2Fetc", "/ws/../x"):
        socket_ = RawWebSocket(daphne.port, path, origin=daphne.url)
        assert socket_.status == 403, path
        socket_.close()


@pytest.mark.live
def test_a_websocket_to_an_unknown_path_is_refused_without_a_server_error(daphne):
    for path in ("/ws/nothing-here", "/ws/docs/", "/ws/docs/a/b", "/elsewhere"):
        socket_ = RawWebSocket(daphne.port, path, origin=daphne.url)
        assert socket_.status == 403, path
        socket_.close()
    own = RawWebSocket(daphne.port, "/ws/docs/known", origin=daphne.url)
    assert own.status == 101
    own.close()
    daphne.stop()
    assert "Exception inside application" not in daphne.log_path.read_text()


# --- clear refusals: invalid ids, form bodies, unknown hosts -------------------------

NOT_DOCUMENTS = ["/docs/bad%20id", "/docs/" + "x" * 65, "/docs/", "/docs", "/docs/a/b"]
FORMS = ["multipart/form-data; boundary=xyz", "application/x-www-form-urlencoded"]


def assert_json_error(status, content_type, body, expected):
    assert status == expected, (status, body[:200])
    assert content_type == "application/json", content_type
    assert json.loads(body)["error"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", NOT_DOCUMENTS)
def test_an_invalid_document_id_is_a_json_404(client, path):
    for method in ("get", "head", "put", "post", "delete"):
        if method in ("get", "head"):
            response = getattr(client, method)(path)
        else:
            response = getattr(client, method)(path, b"x", content_type=OCTETS)
        assert response.status_code == 404, (method, path)
        assert response["Content-Type"] == "application/json"
        if method != "head":
            assert "1 to 64 characters" in response.json()["error"]


@pytest.mark.django_db
@pytest.mark.parametrize("content_type", FORMS)
@pytest.mark.parametrize("method", ["put", "post"])
def test_a_form_body_is_refused_with_415(client, case, method, content_type):
    response = getattr(client, method)(
        "/docs/formed", case["base"], content_type=content_type
    )

    assert_json_error(
        response.status_code, response["Content-Type"], response.content, 415
    )
    assert "application/octet-stream" in response.json()["error"]
    assert client.get("/docs/formed").status_code == 404  # nothing stored


@pytest.mark.django_db
def test_a_real_multipart_post_is_refused_with_415(client):
    response = client.post("/docs/formed", {"file": "x", "field": "y"})

    assert response.status_code == 415


@pytest.mark.django_db
def test_an_unknown_host_is_a_400_in_process(client, caplog):
    response = client.get("/docs/x", headers={"host": "evil.example"})

    assert_json_error(
        response.status_code, response["Content-Type"], response.content, 400
    )
    records = [r for r in caplog.records if "evil.example" in r.getMessage()]
    assert len(records) == 1 and records[0].exc_info is None


def raw_answer(port, method, path, body=b"", headers=None):
    """Like ``raw_request``, also returning the Content-Type."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        headers = {"Host": f"127.0.0.1:{port}", **(headers or {})}
        for name, value in headers.items():
            connection.putheader(name, value)
        if body or method in ("PUT", "POST"):
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        connection.close()


@pytest.mark.live
def test_clear_refusals_from_a_live_daphne(daphne, case):
    for path in NOT_DOCUMENTS:
        for method in ("GET", "PUT", "POST"):
            answer = raw_answer(daphne.port, method, path, b"x")
            assert_json_error(*answer, 404)
    for content_type in FORMS:
        for method in ("PUT", "POST"):
            answer = raw_answer(
                daphne.port,
                method,
                "/docs/formed",
                case["base"],
                {"Content-Type": content_type},
            )
            assert_json_error(*answer, 415)
    assert raw_answer(daphne.port, "GET", "/docs/formed")[0] == 404

    for host in ("evil.example", "127.0.0.1.evil.example:8000", "bad host"):
        answer = raw_answer(daphne.port, "GET", "/docs/x", headers={"Host": host})
        assert_json_error(*answer, 400)
    daphne.stop()
    log = daphne.log_path.read_text()
    assert "Traceback" not in log
    assert len([line for line in log.splitlines() if "evil.example" in line]) == 2
    assert len([line for line in log.splitlines() if "'bad host'" in line]) == 1


# --- Content-Security-Policy (tests/e2e/test_csp.py runs the app under it) ---------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/lists/abc/", "/how-it-works/", "/sw.js", "/docs/nothing", "/docs/"]
)
def test_pages_and_answers_send_the_app_policy(client, path):
    policy = client.get(path)["Content-Security-Policy"]

    assert policy == APP_POLICY
    assert "script-src 'self' 'wasm-unsafe-eval';" in policy
    assert "unsafe-inline" not in policy


@pytest.mark.django_db
def test_the_admin_sends_its_own_policy(client):
    policy = client.get("/admin/login/")["Content-Security-Policy"]

    assert policy == ADMIN_POLICY
    assert "script-src 'self';" in policy


def test_templates_hold_no_inline_script_style_or_handler():
    for template in (ROOT / "templates" / "todos").glob("*.html"):
        html = template.read_text()
        assert re.search(r"<script(?![^>]*\bsrc=)", html) is None, template
        assert "<style" not in html and "style=" not in html, template
        assert re.search(r"\son[a-z]+=", html) is None, template


# --- the admin ---------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_redirects_anonymous_and_non_staff_users_to_login(client):
    urls = [reverse("admin:index"), reverse("admin:todos_document_changelist")]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))

    user = get_user_model().objects.create_user("someone", password="x" * 20)
    client.force_login(user)
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.django_db
def test_admin_opens_for_staff(client):
    user = get_user_model().objects.create_user(
        "operator", password="x" * 20, is_staff=True, is_superuser=True
    )
    client.force_login(user)

    assert client.get(reverse("admin:todos_document_changelist")).status_code == 200


# --- WebSockets against a live Daphne: origins and frame sizes ---------------------


@pytest.mark.live
def test_foreign_origin_websocket_is_rejected_by_live_daphne(daphne, case):
    path = "/ws/docs/groceries"
    for origin in ("https://evil.example", "http://127.0.0.1.evil.example", "null"):
        foreign = RawWebSocket(daphne.port, path, origin=origin)
        assert foreign.status == 403, origin
        foreign.close()
    missing = RawWebSocket(daphne.port, path, origin=None)
    assert missing.status == 403
    missing.close()

    own = RawWebSocket(daphne.port, path, origin=daphne.url)
    assert own.status == 101
    own.send(case["base"])
    opcode, payload = own.receive()
    assert opcode == 0x1 and b'"ack"' in payload
    own.close()


def handshake_status(port, origin, host=None, path="/ws/docs/groceries"):
    socket_ = RawWebSocket(port, path, origin=origin, host=host)
    socket_.close()
    return socket_.status


@pytest.mark.live
def test_a_websocket_origin_must_match_scheme_host_and_port(live_server_factory):
    server = live_server_factory(
        TODOS_ALLOWED_ORIGINS="https://todos.example.org,http://127.0.0.1:8000"
    )
    port = server.port
    other_port = port + 1 if port != 65535 else port - 1
    accepted = [
        f"http://127.0.0.1:{port}",  # the socket's own address: same origin
        "https://todos.example.org",  # listed
        "https://todos.example.org:443",
        "http://127.0.0.1:8000",  # listed
    ]
    refused = [
        f"http://127.0.0.1:{other_port}",  # another port of an allowed host
        f"https://127.0.0.1:{port}",  # another scheme
        f"http://localhost:{port}",  # an allowed host, but not this address
        "http://todos.example.org",
        "https://todos.example.org:8443",
        "https://evil.example",
        f"http://127.0.0.1:{port}/path",
        "null",
    ]
    for origin in accepted:
        assert handshake_status(port, origin) == 101, origin
    for origin in refused:
        assert handshake_status(port, origin) == 403, origin
    assert handshake_status(port, None) == 403
    assert handshake_status(port, "") in (400, 403)
    # A name rebound to this address: same origin as its Host, but a Host this
    # server does not serve.
    rebound = f"evil.example:{port}"
    assert handshake_status(port, f"http://{rebound}", host=rebound) == 403
    # A host it does serve, reached under that name.
    own = f"localhost:{port}"
    assert handshake_status(port, f"http://{own}", host=own) == 101
    server.stop()
    assert "Traceback" not in server.log_path.read_text()


def test_a_bad_allowed_origin_is_a_configuration_error(settings):
    from django.core.exceptions import ImproperlyConfigured

    from todo_site.origins import OriginValidator

    for bad in ("todos.example.org", "ftp://x", "https://x/path", "https://x:port"):
        settings.TODOS_ALLOWED_ORIGINS = [bad]
        with pytest.raises(ImproperlyConfigured):
            OriginValidator(None)


def test_production_defaults_to_the_allowed_hosts_over_https(tmp_path):
    env = production_env(tmp_path, DJANGO_ALLOWED_HOSTS="todos.example.org,.x.org")
    done = subprocess.run(
        [sys.executable, "-c", PRINT_ORIGINS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == ["https://todos.example.org"]


PRINT_ORIGINS = """
import django; django.setup()
from django.conf import settings
print(*settings.TODOS_ALLOWED_ORIGINS)
"""


@pytest.mark.live
def test_oversized_uploads_are_refused_by_live_daphne(daphne):
    limit = 65536  # TODOS_MAX_DOCUMENT_BYTES of the daphne fixture
    status, body = raw_request(daphne.port, "PUT", "/docs/big", b"\0" * (limit + 1))
    assert status == 413
    assert b"TODOS_MAX_DOCUMENT_BYTES" in body

    socket_ = RawWebSocket(daphne.port, "/ws/docs/big", origin=daphne.url)
    assert socket_.status == 101
    socket_.send(b"\0" * (limit + 1))
    opcode, payload = socket_.receive()
    assert opcode == 0x1 and b'"status": 413' in payload
    # Daphne itself closes a socket whose message passes its
    # --websocket-max-message-size, before the application buffers it.
    # The close frame (1009, message too big) may be lost to the connection reset.
    try:
        socket_.send(b"\0" * (live.WS_MAX_BYTES + 1))
        opcode, payload = socket_.receive()
    except OSError:
        pass
    else:
        assert opcode == 0x8 and struct.unpack("!H", payload[:2])[0] == 1009
    socket_.close()
    assert raw_request(daphne.port, "GET", "/docs/big")[0] == 404


MAKE_LARGE_DOC = """
import * as Automerge from '@automerge/automerge'
import { randomBytes } from 'node:crypto'
// 1.1 MB of random bytes in one value: the save cannot be deflated below 1 MiB.
// (Not text: the independent reader checks a save at several µs per character.)
const attachment = new Uint8Array(randomBytes(1100 * 1024))
const doc = Automerge.from({ title: "Large", items: [], attachment })
process.stdout.write(Automerge.save(doc))
"""


@pytest.mark.live
def test_a_document_over_one_mebibyte_opens_and_syncs_over_the_websocket(
    live_server_factory,
):
    server = live_server_factory()
    made = subprocess.run(
        ["node", "--input-type=module", "-e", MAKE_LARGE_DOC],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    document = made.stdout
    assert len(document) > 1024 * 1024
    assert raw_request(server.port, "PUT", "/docs/large", document)[0] == 200
    stored = raw_request(server.port, "GET", "/docs/large")[1]
    assert len(stored) > 1024 * 1024  # the engine's save of it

    socket_ = RawWebSocket(server.port, "/ws/docs/large", origin=server.url)

    assert socket_.status == 101
    assert socket_.receive() == (0x2, stored)
    socket_.close()
    # A browser uploads it in one frame, over Daphne's 1 MiB default frame limit.
    uploader = RawWebSocket(server.port, "/ws/docs/uploaded", origin=server.url)
    uploader.send(document)
    opcode, payload = uploader.receive()
    uploader.close()
    assert opcode == 0x1 and json.loads(payload)["type"] == "ack"
    assert json.loads(payload)["changed"] is True
    assert raw_request(server.port, "GET", "/docs/uploaded")[1] == stored


@pytest.mark.live
@pytest.mark.parametrize("path", ["/docs/headed", "/docs/headed.json"])
def test_a_head_request_gets_headers_and_no_body(daphne, case, path):
    assert raw_request(daphne.port, "PUT", "/docs/headed", case["base"])[0] == 200
    with socket.create_connection(("127.0.0.1", daphne.port), timeout=30) as sock:
        request = f"HEAD {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close"
        sock.sendall(request.encode() + b"\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"etag:" in head.lower()
    assert body == b""
