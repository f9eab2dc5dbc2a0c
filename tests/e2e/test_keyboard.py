"""Every action works with the keyboard alone: each control is reached with Tab (or
Shift+Tab) and worked with Enter, Space or typing; no mouse, no direct focus()."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.pages import TodoApp

pytestmark = [pytest.mark.browser, pytest.mark.live]

MAX_TABS = 60


def tab_to(page, locator, backwards=False):
    """Press Tab (Shift+Tab) until ``locator`` has the focus."""
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(MAX_TABS):
        if locator.evaluate("element => element === document.activeElement"):
            return
        page.keyboard.press(key)
    raise AssertionError(f"{locator} is not reachable with {key}")


@pytest.fixture
def app(new_context, shared_server):
    page = new_context().new_page()
    app = TodoApp(page).start_new_list(shared_server.url)
    page.keyboard.press("Tab")  # into the page, from the address bar
    return app


def add_by_keyboard(app, *texts):
    tab_to(app.page, app.new_todo)
    for text in texts:
        app.page.keyboard.type(text)
        app.page.keyboard.press("Enter")


def test_add_toggle_edit_and_delete(app):
    page = app.page
    add_by_keyboard(app, "milk", "eggs")
    app.expect_items(["milk", "eggs"])

    tab_to(page, app.item("milk").locator("input.toggle"))
    page.keyboard.press("Space")
    expect(app.item("milk")).to_have_class(re.compile("completed"))

    tab_to(page, app.item("eggs").locator("label"))
    page.keyboard.press("Enter")
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("free-range eggs")
    page.keyboard.press("Enter")
    app.expect_items(["milk", "free-range eggs"])

    tab_to(page, app.item("free-range eggs").locator("button.destroy"))
    page.keyboard.press("Enter")
    app.expect_items(["milk"])


def test_toggle_all_filters_and_clear_completed(app):
    page = app.page
    add_by_keyboard(app, "milk", "eggs")
    app.expect_items(["milk", "eggs"])

    tab_to(page, app.toggle_all, backwards=True)
    page.keyboard.press("Space")
    expect(app.count).to_contain_text("0 items left")

    tab_to(page, page.get_by_role("link", name="Active"))
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile("#/active$"))
    app.expect_items([])
    tab_to(page, page.get_by_role("link", name="All"), backwards=True)
    page.keyboard.press("Enter")
    app.expect_items(["milk", "eggs"])

    tab_to(page, app.clear_completed)
    page.keyboard.press("Enter")
    app.expect_items([])


def test_title_and_share(app):
    page = app.page
    tab_to(page, app.title)
    page.keyboard.type("Groceries")
    page.keyboard.press("Enter")
    expect(page).to_have_title(re.compile("Groceries"))

    tab_to(page, page.locator("button.share"), backwards=True)
    page.keyboard.press("Enter")
    expect(page.locator(".share-note")).to_contain_text("copied")


def test_the_share_panel_opens_and_closes_as_a_disclosure(app):
    page = app.page
    share, panel = page.locator("button.share"), page.locator(".share-panel")
    tab_to(page, share, backwards=True)
    page.keyboard.press("Enter")
    expect(panel).to_be_visible()
    expect(share).to_have_attribute("aria-expanded", "true")

    # Escape closes it, with the focus still on (or back on) the Share button...
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(share).to_be_focused()
    expect(share).to_have_attribute("aria-expanded", "false")

    # ...and so does the Share button, pressed again; from inside the panel too.
    page.keyboard.press("Enter")
    expect(panel).to_be_visible()
    page.keyboard.press("Enter")
    expect(panel).to_be_hidden()
    page.keyboard.press("Enter")
    tab_to(page, panel.locator(".copy-edit-link"))
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(share).to_be_focused()
    # A click on the panel's text leaves the focus nowhere: Escape still closes it.
    page.keyboard.press("Enter")
    panel.locator("h2").first.click()
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(share).to_be_focused()


def test_switch_list(app, shared_server):
    page = app.page
    add_by_keyboard(app, "in the first list")
    app.expect_saved()
    first = app.doc_id
    page.goto(f"{shared_server.url}/new/")
    app.wait_ready()
    add_by_keyboard(app, "in the second list")
    app.expect_saved()

    menu = page.locator(".lists-menu summary")
    tab_to(page, menu, backwards=True)
    page.keyboard.press("Enter")
    tab_to(page, page.locator(f".list-links a[href*='{first}']"))
    page.keyboard.press("Enter")

    page.wait_for_url(re.compile(first))
    app.wait_ready()
    app.expect_items(["in the first list"])


def test_history_restore_and_close(app):
    page = app.page
    add_by_keyboard(app, "milk", "eggs")
    tab_to(page, app.item("eggs").locator("button.destroy"))
    page.keyboard.press("Enter")
    app.expect_items(["milk"])

    tab_to(page, page.locator(".history-toggle"), backwards=True)
    page.keyboard.press("Enter")
    panel = page.locator(".history-panel")
    expect(panel.locator(".history-heading")).to_be_focused()
    tab_to(page, panel.locator(".history-choose").first)
    page.keyboard.press("Enter")
    expect(panel.locator(".history-version-heading")).to_be_focused()
    expect(panel.locator(".history-version-heading")).to_contain_text("deleted “eggs”")
    tab_to(page, panel.get_by_role("button", name="Restore “eggs”"))
    page.keyboard.press("Enter")
    app.expect_items(["milk", "eggs"])

    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(page.locator(".history-toggle")).to_be_focused()


def test_undo_and_redo_buttons(app):
    page = app.page
    add_by_keyboard(app, "milk", "eggs")
    app.expect_items(["milk", "eggs"])

    undo = page.get_by_role("button", name="Undo", exact=True)
    tab_to(page, undo, backwards=True)
    page.keyboard.press("Enter")
    app.expect_items(["milk"])
    page.keyboard.press("Enter")
    app.expect_items([])
    # Nothing left to undo: the disabled button hands the focus to Redo.
    expect(page.get_by_role("button", name="Redo", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    app.expect_items(["milk"])
