"""A returning tab catches up by the sync protocol: only what it lacks crosses the wire.

Chromium holds a 5,000-item list in IndexedDB; meanwhile another device adds one
item. When the first device opens the list again, the bytes it receives on its
socket until it is up to date are counted (they are deterministic) and must be
at most 4 KB; the first visit of the other device, which holds nothing, is
measured beside them.
"""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.live]

ITEMS = 5_000
RETURNING_MAX_BYTES = 4 * 1024
ADD_ITEMS = """(count) => {
    const { store, todos } = window.todos;
    store.change((doc) => {
        for (let i = 0; i < count; i += 1) {
            doc = todos.addItem(doc, `item ${i}`);
        }
        return doc;
    });
    return store.whenPersisted();
}"""
ITEM_COUNT = "() => window.todos.todos.items(window.todos.store.doc).length"


def socket_bytes(page):
    """A list whose sum is the bytes ``page`` receives in WebSocket frames."""
    received = []

    def on_websocket(socket):
        socket.on(
            "framereceived",
            lambda payload: received.append(
                len(payload if isinstance(payload, bytes) else payload.encode())
            ),
        )

    page.on("websocket", on_websocket)
    return received


def open_list(new_app, context, url):
    """Open ``url`` in ``context``; return (the app, its received-bytes list)."""
    app = new_app(context)
    received = socket_bytes(app.page)
    app.open(url)
    return app, received


def test_a_returning_tab_receives_at_most_4_kb_of_a_5000_item_list(
    new_app, new_context, shared_server, record_property
):
    holder_context = new_context()
    holder = new_app(holder_context).start_new_list(shared_server.url)
    url = holder.url
    holder.page.evaluate(ADD_ITEMS, ITEMS)
    holder.expect_saved()
    holder.page.close()

    other, first_visit = open_list(new_app, new_context(), url)
    other.page.wait_for_function(f"() => ({ITEM_COUNT})() === {ITEMS}")
    other.expect_saved()
    other.add("made meanwhile")
    other.expect_saved()
    other.page.close()

    returning, received = open_list(new_app, holder_context, url)
    expect(returning.item("made meanwhile")).to_be_visible(timeout=20_000)
    returning.expect_saved()
    returning.page.wait_for_timeout(500)  # anything still on its way counts too

    record_property("first_visit_bytes", sum(first_visit))
    record_property("returning_bytes", sum(received))
    print(f"first visit {sum(first_visit)} B, returning {sum(received)} B")
    assert returning.page.evaluate(ITEM_COUNT) == ITEMS + 1
    assert sum(received) <= RETURNING_MAX_BYTES, received
    assert sum(first_visit) > 10 * RETURNING_MAX_BYTES, first_visit
    assert returning.errors == [] and other.errors == []
