"""Devices and tabs in Chromium converging through a live server, and without one.

Each browser context is a device with its own IndexedDB; pages of one context
are tabs of one browser. The server is a real Daphne process, stopped and
restarted on the same port and database.
"""

import pytest
from playwright.sync_api import expect

from tests.e2e.pages import SYNC_TIMEOUT_MS, TodoApp

pytestmark = [pytest.mark.browser, pytest.mark.live]


def converged_items(*apps, count):
    """Wait until every app shows the same ``count`` items; return their texts."""
    for app in apps:
        expect(app.labels).to_have_count(count, timeout=SYNC_TIMEOUT_MS)
    texts = apps[0].labels.all_inner_texts()
    for app in apps[1:]:
        app.expect_synced_items(texts)
    return texts


def test_two_devices_converge_through_the_server(new_app, server):
    alice = new_app().start_new_list(server.url)
    alice.add("from alice")
    alice.expect_saved()

    bob = new_app().open(alice.url)
    bob.expect_synced_items(["from alice"])
    bob.add("from bob")
    bob.toggle("from alice")
    bob.title.fill("Shared list")
    bob.title.press("Enter")

    alice.expect_synced_items(["from alice", "from bob"])
    expect(alice.item("from alice")).to_have_class("completed", timeout=SYNC_TIMEOUT_MS)
    expect(alice.title).to_have_value("Shared list", timeout=SYNC_TIMEOUT_MS)

    alice.edit("from bob", "from bob, edited by alice")
    bob.expect_synced_items(["from alice", "from bob, edited by alice"])
    alice.expect_saved()
    bob.expect_saved()


def test_edits_made_while_the_server_is_stopped_converge_when_it_returns(
    new_app, server
):
    alice = new_app().start_new_list(server.url)
    alice.add("shared item")
    alice.expect_saved()
    bob = new_app().open(alice.url)
    bob.expect_synced_items(["shared item"])
    bob.expect_saved()

    server.stop()
    alice.expect_status("offline")
    bob.expect_status("offline")
    # Both people edit the same item's text at once, and add an item each.
    alice.edit("shared item", "alice: shared item")
    alice.add("alice offline")
    bob.edit("shared item", "shared item (bob)")
    bob.add("bob offline")
    expect(alice.status).to_have_attribute("data-unsynced", "true")
    expect(alice.status).to_contain_text("Offline")

    server.start()
    texts = converged_items(alice, bob, count=3)
    assert sorted(texts) == ["alice offline", "alice: shared item (bob)", "bob offline"]
    alice.expect_saved()
    bob.expect_saved()

    # A third device that was never offline sees the merged list from the server.
    carol = new_app().open(alice.url)
    carol.expect_synced_items(texts)


def test_a_device_editing_while_the_server_is_stopped_keeps_its_state_across_a_reload(
    new_app, server
):
    alice = new_app().start_new_list(server.url)
    alice.add("before")
    alice.expect_saved()
    alice.expect_offline_ready()
    bob = new_app().open(alice.url)
    bob.expect_synced_items(["before"])

    server.stop()
    alice.expect_status("offline")
    alice.add("while stopped")
    alice.toggle("before")
    bob.add("bob while stopped")

    alice.reload()
    alice.expect_items(["before", "while stopped"])
    expect(alice.item("before")).to_have_class("completed")
    expect(alice.status).to_have_attribute(
        "data-state", "offline", timeout=SYNC_TIMEOUT_MS
    )
    expect(alice.status).to_have_attribute("data-unsynced", "true")
    alice.add("after the reload")

    server.start()
    texts = converged_items(alice, bob, count=4)
    assert sorted(texts) == [
        "after the reload",
        "before",
        "bob while stopped",
        "while stopped",
    ]
    expect(bob.item("before")).to_have_class("completed")
    alice.expect_saved()
    bob.expect_saved()


def test_a_device_keeps_its_list_in_indexeddb_when_sync_is_blocked(
    new_context, shared_server
):
    context = new_context()
    # The pages load, but the storage API and the socket never answer.
    context.route("**/docs/**", lambda route: route.abort())
    context.route_web_socket("**/ws/**", lambda socket: socket.close())
    app = TodoApp(context.new_page()).start_new_list(shared_server.url)
    app.add("kept here", "and here")
    app.toggle("and here")
    app.expect_status("offline")
    expect(app.status).to_have_attribute("data-unsynced", "true")
    app.reload()
    app.expect_items(["kept here", "and here"])
    expect(app.item("and here")).to_have_class("completed")
    expect(app.status).to_have_attribute("data-unsynced", "true")


def test_tabs_of_one_browser_converge_while_the_server_is_stopped(new_context, server):
    context = new_context()
    one = TodoApp(context.new_page()).start_new_list(server.url)
    one.add("first")
    one.expect_saved()
    two = TodoApp(context.new_page()).open(one.url)
    two.expect_items(["first"])

    server.stop()
    one.expect_status("offline")
    one.add("from tab one")
    two.expect_items(["first", "from tab one"])
    two.toggle("first")
    two.edit("from tab one", "from tab one, edited in two")
    expect(one.item("first")).to_have_class("completed")
    one.expect_items(["first", "from tab one, edited in two"])

    server.start()
    one.expect_saved()
    two.expect_saved()


def test_without_websockets_the_app_syncs_over_http(new_context, new_app, server):
    alice = new_app().start_new_list(server.url)
    alice.add("over the socket")
    alice.expect_saved()

    context = new_context()
    # A proxy that refuses WebSockets: every socket is closed at once.
    context.route_web_socket("**/ws/**", lambda socket: socket.close())
    bob = TodoApp(context.new_page()).open(alice.url)
    bob.expect_synced_items(["over the socket"])
    bob.add("over http")
    bob.expect_saved()
    alice.expect_synced_items(["over the socket", "over http"])
    alice.add("pushed to alice, polled by bob")
    bob.expect_synced_items(
        ["over the socket", "over http", "pushed to alice, polled by bob"]
    )


SPY_FULL_RENDERS = """() => {
    const { view } = window.todos;
    window.fullRenders = 0;
    const showItems = view.showItems.bind(view);
    view.showItems = (items) => {
        window.fullRenders += 1;
        return showItems(items);
    };
    for (const $li of document.querySelectorAll('.todo-list li')) {
        $li.dataset.kept = 'yes';
    }
}"""
CHANGE_ELSEWHERE = """() => {
    const { store, todos } = window.todos;
    const [a, b, , d] = todos.items(store.doc);
    store.change((doc) => todos.insertItem(doc, 1, { text: 'inserted' }));
    store.change((doc) => todos.removeItem(doc, b.id));
    store.change((doc) => todos.setDone(doc, d.id, true));
    store.change((doc) => todos.editText(doc, a.id, 'a, edited'));
    store.change((doc) => todos.addItem(doc, 'appended'));
}"""


def test_a_push_shows_its_changes_touching_only_the_changed_items(new_app, server):
    alice = new_app().start_new_list(server.url)
    alice.add("a", "b", "c", "d", "e")
    alice.expect_saved()
    bob = new_app().open(alice.url)
    bob.expect_synced_items(["a", "b", "c", "d", "e"])
    bob.page.evaluate(SPY_FULL_RENDERS)

    alice.page.evaluate(CHANGE_ELSEWHERE)
    bob.expect_synced_items(["a, edited", "inserted", "c", "d", "e", "appended"])
    expect(bob.item("d")).to_have_class("completed", timeout=SYNC_TIMEOUT_MS)
    expect(bob.page.locator(".todo-count")).to_have_text("5 items left")
    # Items still there keep their <li> (updated in place); no whole-list render ran.
    kept = bob.page.locator(".todo-list li[data-kept]")
    expect(kept).to_have_count(4)
    assert kept.all_inner_texts() == ["a, edited", "c", "d", "e"]
    assert bob.page.evaluate("window.fullRenders") == 0

    # While an item is edited, or with a filter, the whole list is rendered.
    bob.start_edit("c")
    alice.add("while bob edits")
    bob.expect_synced_items(
        ["a, edited", "inserted", "c", "d", "e", "appended", "while bob edits"]
    )
    assert bob.page.evaluate("window.fullRenders") > 0
