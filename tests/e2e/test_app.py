"""Beyond TodoMVC: loading state, title, share, the lists menu, sync status, access."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.pages import TodoApp

pytestmark = [pytest.mark.browser, pytest.mark.live]

# The server serves collected files: the wasm under a content-hashed name.
WASM_URL = re.compile(r"/static/vendor/automerge/automerge\.[0-9a-f]{12}\.wasm$")
SLIM_PATH = "/static/vendor/automerge/mjs/entrypoints/slim.js"


def test_automerge_is_served_from_static_files_with_its_content_types(
    new_context, shared_server
):
    request = new_context().request
    page = request.get(shared_server.url + "/lists/content-types-test-list-0123/")
    wasm_path = re.search(r'data-wasm-url="([^"]+)"', page.text()).group(1)
    assert WASM_URL.search(wasm_path)
    wasm = request.get(shared_server.url + wasm_path)
    assert wasm.status == 200
    assert wasm.headers["content-type"] == "application/wasm"
    slim = request.get(shared_server.url + SLIM_PATH)
    assert slim.status == 200
    assert "javascript" in slim.headers["content-type"]


def test_a_loading_state_shows_until_the_wasm_is_ready(new_context, shared_server):
    page = new_context().new_page()
    held = []
    page.route(WASM_URL, lambda route: held.append(route))
    with page.expect_request(WASM_URL):
        page.goto(shared_server.url + "/")
    expect(page.locator(".loading")).to_be_visible()
    expect(page.locator(".todoapp")).to_have_attribute("aria-busy", "true")
    expect(page.locator(".new-todo")).to_be_disabled()
    for route in held:
        route.continue_()
    page.unroute(WASM_URL)
    TodoApp(page).wait_ready()
    expect(page.locator(".loading")).to_be_hidden()
    expect(page.locator(".new-todo")).to_be_enabled()
    expect(page.locator(".todoapp")).not_to_have_attribute("aria-busy", "true")


def test_the_title_is_editable_and_kept(app):
    app.title.fill("Groceries")
    app.title.press("Enter")
    expect(app.page).to_have_title(re.compile("^Groceries"))
    app.reload()
    expect(app.title).to_have_value("Groceries")


def test_escape_in_the_title_reverts_it(app):
    app.title.fill("Kept")
    app.title.press("Enter")
    app.title.fill("Discarded")
    app.title.press("Escape")
    expect(app.title).to_have_value("Kept")


def test_share_copies_the_list_url(app):
    app.page.click("button.share")
    expect(app.page.locator(".share-note")).to_contain_text("copied")
    copied = app.page.evaluate("navigator.clipboard.readText()")
    assert copied == app.url.split("#")[0]


def test_the_lists_menu_shows_lists_opened_here_and_starts_new_ones(app):
    app.title.fill("First list")
    app.title.press("Enter")
    first_url = app.url.split("#")[0]
    app.page.click(".lists-menu summary")
    app.page.click("button.new-list")
    app.wait_ready()
    assert app.url.split("#")[0] != first_url
    app.add("on the second list")
    app.page.click(".lists-menu summary")
    links = app.page.locator(".list-links a")
    expect(links).to_have_count(2)
    expect(app.page.locator(".list-links a[aria-current=page]")).to_have_count(1)
    app.page.get_by_role("link", name="First list").click()
    app.wait_ready()
    assert app.url.split("#")[0] == first_url
    expect(app.items).to_have_count(0)


def test_the_lists_menu_closes_with_escape_and_returns_focus(app):
    summary = app.page.locator(".lists-menu summary")
    summary.focus()
    app.page.keyboard.press("Enter")
    expect(app.page.locator("button.new-list")).to_be_visible()
    app.page.keyboard.press("Tab")
    app.page.keyboard.press("Escape")
    expect(app.page.locator("button.new-list")).to_be_hidden()
    expect(summary).to_be_focused()


def test_the_sync_status_says_saved_after_a_change(app):
    app.add("saved soon")
    app.expect_saved()
    expect(app.status).to_contain_text("Saved")


def test_how_this_works_links_back_to_the_list_it_was_opened_from(app):
    app.add("still here")
    list_url = app.url.split("#")[0]
    link = app.page.get_by_role("link", name="How this works")
    expect(link).to_have_attribute("href", f"/how-it-works/?from={app.doc_id}")
    link.click()
    expect(app.page).to_have_title(re.compile("^How this works"))
    app.page.get_by_role("link", name="Back to your list").first.click()
    app.wait_ready()
    assert app.url == list_url
    app.expect_items(["still here"])


def test_every_control_has_an_accessible_name(app):
    app.add("named")
    unnamed = app.page.evaluate(
        """() => [...document.querySelectorAll('input, button, a, summary, select')]
            .filter((el) => !el.hidden && el.type !== 'hidden')
            .filter((el) => !(el.getAttribute('aria-label')
                || (el.labels && el.labels.length)
                || el.textContent.trim()))
            .map((el) => el.outerHTML)"""
    )
    assert unnamed == []
    for role, name in [
        ("textbox", "New todo"),
        ("textbox", "List title"),
        ("checkbox", "Mark all as complete"),
        ("checkbox", "Completed: named"),
        ("button", "Share"),
    ]:
        expect(app.page.get_by_role(role, name=name)).to_have_count(1)
    # Shown on hover or focus only, so outside the accessibility tree until then.
    delete = app.page.get_by_role("button", name="Delete: named", include_hidden=True)
    expect(delete).to_have_count(1)


def test_keyboard_only_use_works_with_visible_focus(app):
    page = app.page
    expect(app.new_todo).to_be_focused()
    page.keyboard.type("by keyboard")
    page.keyboard.press("Enter")
    page.keyboard.type("second")
    page.keyboard.press("Enter")
    app.expect_items(["by keyboard", "second"])

    # Tab to the first item's checkbox, and toggle it with Space.
    toggle = app.item("by keyboard").locator("input.toggle")
    for _ in range(5):
        page.keyboard.press("Tab")
        if toggle.evaluate("el => el === document.activeElement"):
            break
    expect(toggle).to_be_focused()
    assert toggle.evaluate("el => el.matches(':focus-visible')")
    assert toggle.evaluate("el => getComputedStyle(el).outlineStyle") != "none"
    page.keyboard.press("Space")
    expect(app.item("by keyboard")).to_have_class("completed")

    # Its label is next: Enter edits, Escape leaves, Enter again edits and saves.
    page.keyboard.press("Tab")
    label = app.item("by keyboard").locator("label")
    expect(label).to_be_focused()
    page.keyboard.press("Enter")
    editor = page.locator("li.editing input.edit")
    expect(editor).to_be_focused()
    page.keyboard.press("Escape")
    expect(label).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("End")
    page.keyboard.type(" edited")
    page.keyboard.press("Enter")
    app.expect_items(["by keyboard edited", "second"])

    # The delete button appears for keyboard focus and works with Enter.
    page.keyboard.press("Tab")
    destroy = app.item("by keyboard edited").locator("button.destroy")
    expect(destroy).to_be_focused()
    expect(destroy).to_be_visible()
    page.keyboard.press("Enter")
    app.expect_items(["second"])
