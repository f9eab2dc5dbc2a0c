"""Sharing with less than full power, in Chromium against a live Daphne.

Two contexts are two people: an editor, who holds the edit link, and a viewer,
who holds only the view-only link. The viewer sees every edit as it happens and
has nothing to edit with; the share control offers both links and explains
them; turning a view-only link off ends it; replacing the edit link moves every
open editor to the new one, an edit held back from the server included.
"""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.pages import LIST_URL, SYNC_TIMEOUT_MS, TodoApp
from tests.helpers.sync_peer import could_store

pytestmark = [pytest.mark.browser, pytest.mark.live]

VIEW_URL = re.compile(r"/view/([A-Za-z0-9_-]{24})/$")
EDIT_CONTROLS = (
    ".new-todo, .toggle-all, .clear-completed, .destroy, input.toggle, "
    "button.share, input.list-title, .edit"
)


def open_share(app):
    """Open the share panel; return the view-only link it shows."""
    app.page.click("button.share")
    view_link = app.page.locator(".share-panel .view-link")
    expect(view_link).to_have_value(VIEW_URL, timeout=SYNC_TIMEOUT_MS)
    return view_link.input_value()


def wait_until(page, condition, timeout_ms=SYNC_TIMEOUT_MS, step_ms=50):
    """Let the page run until ``condition()`` is true (Playwright's events flow)."""
    for _ in range(timeout_ms // step_ms):
        if condition():
            return
        page.wait_for_timeout(step_ms)
    raise AssertionError(f"not true within {timeout_ms} ms: {condition}")


def open_viewer(new_context, url):
    viewer = TodoApp(new_context().new_page())
    viewer.open(url)
    return viewer


def test_the_viewer_sees_edits_live_and_has_no_edit_controls(
    new_app, new_context, shared_server
):
    editor = new_app().start_new_list(shared_server.url)
    editor.add("milk")
    editor.expect_saved()
    view_url = open_share(editor)

    viewer = open_viewer(new_context, view_url)

    viewer.expect_synced_items(["milk"])
    expect(viewer.page.locator(EDIT_CONTROLS)).to_have_count(0)
    expect(viewer.page.locator(".view-only-badge")).to_have_text("View only")
    expect(viewer.status).to_contain_text("Up to date", timeout=SYNC_TIMEOUT_MS)
    viewer.item("milk").locator("label").dblclick()
    expect(viewer.page.locator(".todo-list li.editing")).to_have_count(0)

    editor.add("eggs")
    editor.toggle("milk")
    editor.title.fill("Groceries")
    editor.title.press("Enter")

    viewer.expect_synced_items(["milk", "eggs"])
    expect(viewer.item("milk")).to_have_class("completed", timeout=SYNC_TIMEOUT_MS)
    expect(viewer.title).to_have_text("Groceries", timeout=SYNC_TIMEOUT_MS)
    # The edit id reaches the viewer nowhere: not in the page, not in what
    # this browser keeps (the copy is under the token, the menu is empty).
    assert editor.doc_id not in viewer.page.content()
    kept = viewer.page.evaluate(
        "() => [window.todos.store.docId, JSON.stringify(localStorage)]"
    )
    token = VIEW_URL.search(view_url).group(1)
    assert kept[0] == f"view:{token}"
    assert editor.doc_id not in kept[1]
    assert editor.errors == [] and viewer.errors == []


def test_the_share_control_offers_both_links_and_turns_the_view_link_off(
    new_app, new_context, shared_server
):
    editor = new_app().start_new_list(shared_server.url)
    editor.add("milk")
    view_url = open_share(editor)
    panel = editor.page.locator(".share-panel")

    expect(panel.locator(".edit-link")).to_have_value(editor.url.split("#")[0])
    expect(panel).to_contain_text("can see and change the list")
    expect(panel).to_contain_text("cannot change it")
    panel.locator(".copy-view-link").click()
    assert editor.page.evaluate("navigator.clipboard.readText()") == view_url
    viewer = open_viewer(new_context, view_url)
    viewer.expect_synced_items(["milk"])

    panel.locator(".turn-off-view-link").click()

    expect(panel.locator(".share-panel-note")).to_contain_text("is off")
    expect(panel.locator(".view-link")).to_have_value("")
    # The disabled Turn off button hands the focus on, not back to the page.
    expect(panel.locator(".new-view-link")).to_be_focused()
    viewer.expect_status("ended")
    expect(viewer.status).to_contain_text("turned off")
    viewer.expect_items(["milk"])  # what it had stays on the page
    assert viewer.page.goto(view_url).status == 404
    expect(viewer.page.locator(".loading")).to_contain_text("turned off")

    # Closed and opened again, the panel does not bring the link back...
    editor.page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    editor.page.click("button.share")
    expect(panel.locator(".view-link")).to_have_value("")
    # ...until the editor makes a new one, which works where the old one does not.
    panel.locator(".new-view-link").click()
    expect(panel.locator(".view-link")).to_have_value(VIEW_URL)
    new_url = panel.locator(".view-link").input_value()
    assert new_url != view_url
    open_viewer(new_context, new_url).expect_synced_items(["milk"])


def test_replacing_the_edit_link_moves_an_open_editor_with_an_unsynced_edit(
    new_app, new_context, shared_server
):
    alice = new_app().start_new_list(shared_server.url)
    alice.add("milk")
    alice.expect_saved()
    old_id = alice.doc_id
    bob = TodoApp(new_context().new_page())
    held = []
    holding = [True]

    def hold_uploads(socket):
        """Bob's uploads on the old id never reach the server; all else passes
        (his sync messages too, as long as they carry no changes)."""
        server = socket.connect_to_server()
        socket.on_message(
            lambda message: (
                held.append(message)
                if holding[0] and could_store(message)
                else server.send(message)
            )
        )

    bob.page.route_web_socket(re.compile(r"/ws/docs/"), hold_uploads)
    bob.open(alice.url)
    bob.expect_synced_items(["milk"])
    bob.add("bread")
    wait_until(bob.page, lambda: held)  # bob's upload of "bread", held back
    expect(bob.status).to_have_attribute("data-unsynced", "true")
    holding[0] = False  # the page that follows the move uploads normally

    alice.page.once("dialog", lambda dialog: dialog.accept())
    alice.page.click("button.share")
    alice.page.locator(".rotate-edit-link").click()

    alice.page.wait_for_url(LIST_URL)
    expect(alice.page).not_to_have_url(re.compile(old_id), timeout=SYNC_TIMEOUT_MS)
    alice.wait_ready()
    new_id = alice.doc_id
    bob.page.wait_for_url(re.compile(f"/lists/{new_id}/"), timeout=SYNC_TIMEOUT_MS)
    bob.wait_ready()
    alice.expect_synced_items(["milk", "bread"])
    bob.expect_synced_items(["milk", "bread"])
    bob.expect_saved()
    gone = alice.page.request.get(f"{shared_server.url}/docs/{old_id}")
    assert gone.status == 410
    assert new_id not in gone.text()
    assert alice.errors == [] and bob.errors == []


def test_a_view_only_list_opens_offline_from_its_own_copy(
    new_app, new_context, shared_server
):
    editor = new_app().start_new_list(shared_server.url)
    editor.add("needed offline")
    editor.expect_saved()
    view_url = open_share(editor)
    context = new_context()
    viewer = TodoApp(context.new_page()).open(view_url)
    viewer.expect_synced_items(["needed offline"])
    viewer.expect_offline_ready()
    # The edit page's shell, stored by another list in this browser, must not
    # stand in for the view-only page: open an edit list here first.
    TodoApp(context.new_page()).start_new_list(shared_server.url).expect_offline_ready()

    context.set_offline(True)
    try:
        viewer.open(view_url)
        viewer.expect_items(["needed offline"])
        expect(viewer.page.locator(EDIT_CONTROLS)).to_have_count(0)
        expect(viewer.status).to_have_attribute("data-state", "offline")
    finally:
        context.set_offline(False)
    viewer.expect_status("saved")
    assert viewer.errors == []
