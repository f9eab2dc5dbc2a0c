"""Coming back: '/' opens the list used last; untouched lists stay out; the menu."""

import sqlite3
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from tests.e2e.pages import LIST_URL, TodoApp
from tests.helpers.sync_peer import could_store

pytestmark = [pytest.mark.browser, pytest.mark.live]


def stored_status(server, doc_id):
    """The status of ``GET /docs/<doc_id>``: 200 once stored, 404 before."""
    try:
        with urllib.request.urlopen(f"{server.url}/docs/{doc_id}") as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def stored_documents(sqlite_path):
    """How many documents the server's database holds."""
    with sqlite3.connect(sqlite_path) as connection:
        return connection.execute("SELECT count(*) FROM todos_document").fetchone()[0]


def uploads_of(page):
    """A list that collects what ``page`` sends that could store a document:
    POST/PUT requests to /docs/ and binary WebSocket frames (``could_store``)."""
    sent = []

    def on_request(request):
        if request.method in ("POST", "PUT") and "/docs/" in request.url:
            sent.append(f"{request.method} {request.url}")

    def on_websocket(socket):
        socket.on(
            "framesent",
            lambda payload: could_store(payload) and sent.append("binary frame"),
        )

    page.on("request", on_request)
    page.on("websocket", on_websocket)
    return sent


# The records this browser's IndexedDB holds: [chunks, metadata records].
STORED_HERE = """() => new Promise((resolve, reject) => {
    const request = indexedDB.open('todos');
    request.onerror = () => reject(request.error);
    request.onsuccess = () => {
        const tx = request.result.transaction(['chunks', 'meta'], 'readonly');
        const chunks = tx.objectStore('chunks').count();
        const meta = tx.objectStore('meta').count();
        tx.oncomplete = () => {
            request.result.close();
            resolve([chunks.result, meta.result]);
        };
    };
})"""


def assert_quiet(*apps):
    """No uncaught error and no console warning or error on these pages."""
    for app in apps:
        assert app.errors == [], app.errors
        assert app.console == [], app.console


def open_menu(app):
    app.page.click(".lists-menu summary")
    expect(app.page.locator("button.new-list")).to_be_visible()
    return app.page.locator(".list-links .list-entry")


def test_root_returns_to_the_list_used_last(new_app, shared_server):
    app = new_app().open_home(shared_server.url)
    first = app.doc_id
    app.add("on the first list")

    app.open_home(shared_server.url)
    assert app.doc_id == first
    app.expect_items(["on the first list"])

    # "New list" is explicit; a new list left empty is not where '/' goes back to.
    open_menu(app)
    app.page.click("button.new-list")
    app.wait_ready()
    second = app.doc_id
    assert second != first
    app.open_home(shared_server.url)
    assert app.doc_id == first

    # Once used, the new list is the one '/' opens; switching back changes it again.
    app.open(f"{shared_server.url}/lists/{second}/")
    app.add("on the second list")
    app.open_home(shared_server.url)
    assert app.doc_id == second
    open_menu(app)
    app.page.get_by_role("link", name="on the first list").click()
    app.wait_ready()
    app.open_home(shared_server.url)
    assert app.doc_id == first

    # Another browser has no lists: '/' starts a new one there.
    other = new_app().open_home(shared_server.url)
    assert other.doc_id not in (first, second)
    assert_quiet(app, other)


def test_root_opens_the_list_used_last_among_open_tabs(new_context, shared_server):
    context = new_context()

    def home():
        app = TodoApp(context.new_page()).open_home(shared_server.url)
        assert_quiet(app)
        app.page.close()
        return app.doc_id

    first = TodoApp(context.new_page()).open_home(shared_server.url)
    first.add("in the first tab")
    second = TodoApp(context.new_page()).open(f"{shared_server.url}/new/")
    second.add("in the second tab")
    assert home() == second.doc_id

    # An edit in the tab opened earlier makes its list the one used last.
    first.add("back in the first tab")
    assert home() == first.doc_id

    # So does bringing a tab to the front: the window's focus event, which
    # headless Chromium does not fire by itself (Playwright keeps every page
    # focused), is dispatched as a browser would.
    second.page.evaluate("window.dispatchEvent(new FocusEvent('focus'))")
    assert home() == second.doc_id
    assert_quiet(first, second)


def test_root_visited_ten_times_leaves_no_list_until_something_is_typed(
    new_context, server, tmp_path
):
    page = new_context().new_page()
    uploads = uploads_of(page)
    app = TodoApp(page)
    visited = set()
    for _ in range(10):
        app.open_home(server.url)
        visited.add(app.doc_id)
    assert len(visited) == 1, visited
    (doc_id,) = visited
    app.expect_saved()  # connected, and nothing to send
    expect(open_menu(app)).to_have_count(0)
    expect(page.locator(".lists-empty")).to_be_visible()
    app.page.wait_for_timeout(500)  # past the upload debounce
    assert uploads == []
    assert stored_documents(tmp_path / "live.sqlite3") == 0
    assert page.evaluate(STORED_HERE) == [0, 0]  # nor in this browser
    assert stored_status(server, doc_id) == 404

    app.new_todo.fill("typed at last")
    app.new_todo.press("Enter")
    app.expect_saved()
    assert uploads != []
    assert stored_documents(tmp_path / "live.sqlite3") == 1
    chunks, _ = page.evaluate(STORED_HERE)
    assert chunks >= 1
    assert stored_status(server, doc_id) == 200
    expect(page.locator(".list-links .list-entry")).to_have_count(1)
    assert_quiet(app)


def test_a_list_that_only_arrived_from_elsewhere_joins_the_menu(new_app, shared_server):
    alice = new_app().open_home(shared_server.url)
    alice.add("from alice")
    alice.expect_saved()
    bob = new_app().open(alice.url)
    bob.expect_synced_items(["from alice"])
    entries = open_menu(bob)
    expect(entries).to_have_count(1)
    expect(entries.locator(".list-first-item")).to_have_text("from alice")
    assert_quiet(alice, bob)


def test_the_menu_shows_titles_first_items_change_times_and_the_current_list(
    new_app, shared_server
):
    app = new_app().open_home(shared_server.url)
    groceries = app.doc_id
    app.title.fill("Groceries")
    app.title.press("Enter")
    app.add("milk")
    app.page.click(".lists-menu summary")
    app.page.click("button.new-list")
    app.wait_ready()
    untitled = app.doc_id
    app.add("call the plumber", "book tickets")

    entries = open_menu(app)
    expect(entries).to_have_count(2)
    current = entries.nth(0)
    expect(current).to_have_attribute("data-id", untitled)
    expect(current.locator("a")).to_have_attribute("aria-current", "page")
    expect(current.locator(".list-name")).to_have_text("Untitled list")
    expect(current.locator(".list-first-item")).to_have_text("call the plumber")
    expect(current.locator(".list-changed")).to_have_text("changed just now")
    changed = datetime.fromisoformat(
        current.locator("time").get_attribute("datetime").replace("Z", "+00:00")
    )
    assert abs((datetime.now(UTC) - changed).total_seconds()) < 60

    other = entries.nth(1)
    expect(other).to_have_attribute("data-id", groceries)
    expect(other.locator("a")).not_to_have_attribute("aria-current", "page")
    expect(other.locator(".list-name")).to_have_text("Groceries")
    expect(other.locator(".list-first-item")).to_have_count(0)
    expect(app.page.locator(".list-links [aria-current]")).to_have_count(1)

    # The entry follows the list: a title given here shows at once.
    app.page.keyboard.press("Escape")
    app.title.fill("Chores")
    app.title.press("Enter")
    expect(open_menu(app).nth(0).locator(".list-name")).to_have_text("Chores")
    assert_quiet(app)


def test_a_list_removed_from_the_menu_stays_on_the_server(new_app, shared_server):
    app = new_app().open_home(shared_server.url)
    old = app.doc_id
    app.title.fill("Old list")
    app.title.press("Enter")
    app.add("kept on the server")
    app.expect_saved()
    app.page.click(".lists-menu summary")
    app.page.click("button.new-list")
    app.wait_ready()
    app.add("the list in use")

    entries = open_menu(app)
    expect(entries).to_have_count(2)
    remove = app.page.get_by_role(
        "button", name="Remove “Old list” from this browser’s lists"
    )
    remove.focus()
    app.page.keyboard.press("Enter")
    expect(entries).to_have_count(1)
    expect(entries.locator(".list-first-item")).to_have_text("the list in use")
    expect(app.page.locator("button.new-list")).to_be_visible()  # the menu stays open
    focused = app.page.evaluate("document.activeElement.className")
    assert focused in ("list-remove", "new-list")

    app.reload()
    expect(open_menu(app)).to_have_count(1)
    assert stored_status(shared_server, old) == 200

    # The link still opens it, from the server; opened again, it is back in the menu.
    other = new_app().open(f"{shared_server.url}/lists/{old}/")
    other.expect_synced_items(["kept on the server"])
    app.open(f"{shared_server.url}/lists/{old}/")
    app.expect_items(["kept on the server"])
    expect(open_menu(app)).to_have_count(2)
    assert_quiet(app, other)


def test_offline_the_root_still_opens_the_list_used_last(new_context, shared_server):
    context = new_context()
    app = TodoApp(context.new_page()).open_home(shared_server.url)
    used = app.doc_id
    app.add("needed offline")
    app.expect_saved()
    app.expect_offline_ready()
    context.set_offline(True)
    try:
        app.open_home(shared_server.url)
        assert app.doc_id == used
        app.expect_items(["needed offline"])
        expect(app.status).to_have_attribute("data-state", "offline")
    finally:
        context.set_offline(False)
    app.expect_saved()
    assert_quiet(app)


def test_offline_how_this_works_opens_and_leads_back_to_the_list(
    new_context, shared_server
):
    context = new_context()
    app = TodoApp(context.new_page()).open_home(shared_server.url)
    used = app.doc_id
    app.add("read about it offline")
    app.expect_saved()
    app.expect_offline_ready()
    context.set_offline(True)
    try:
        app.page.get_by_role("link", name="How this works").click()
        expect(app.page.locator(".how-it-works h1")).to_have_text("How this works")
        # The stored copy has no '?from=': its link goes to '/', the list used last.
        app.page.get_by_role("link", name="Open your lists").first.click()
        app.page.wait_for_url(LIST_URL)
        app.wait_ready()
        assert app.doc_id == used
        app.expect_items(["read about it offline"])
    finally:
        context.set_offline(False)
    app.expect_saved()
    assert_quiet(app)


def test_with_local_storage_blocked_the_app_still_opens_and_works(
    new_context, shared_server
):
    context = new_context()
    # As with the browser's "block site data" setting: reading localStorage throws.
    context.add_init_script(
        """Object.defineProperty(window, 'localStorage', {
            get() { throw new DOMException('Access is denied.', 'SecurityError'); },
        });"""
    )
    app = TodoApp(context.new_page()).open_home(shared_server.url)
    app.add("kept without localStorage")
    app.expect_saved()
    expect(open_menu(app)).to_have_count(0)  # nothing remembered: an empty menu
    assert_quiet(app)
