"""The History panel (static/todos/history_panel.js) in Chromium on a live Daphne:
the change list in words, a past version, restoring a deleted item, other
devices' changes, keyboard use."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.live]


def open_history(app):
    app.page.click(".history-toggle")
    panel = app.page.locator(".history-panel")
    expect(panel).to_be_visible()
    return panel


def entries(panel):
    return panel.locator(".history-entry .history-what")


def test_the_panel_lists_the_changes_newest_first_in_words(app):
    app.add("milk", "eggs", "bread")
    app.toggle("eggs")
    app.title.fill("Groceries")
    app.title.press("Enter")
    app.item("bread").hover()
    app.item("bread").locator(".destroy").click()
    app.expect_items(["milk", "eggs"])

    panel = open_history(app)

    expect(entries(panel)).to_have_text(
        [
            "deleted “bread”",
            "renamed the list to “Groceries”",
            "completed “eggs”",
            "added “bread”",
            "added “eggs”",
            "added “milk”",
        ]
    )
    expect(panel.locator(".history-origin").first).to_have_text("this browser")
    expect(panel.locator(".history-time").first).to_have_text("just now")
    expect(app.page.locator(".history-toggle")).to_have_attribute(
        "aria-expanded", "true"
    )


def test_a_deleted_item_is_restored_from_the_version_as_a_new_change(
    app, new_app, shared_server
):
    app.add("milk", "eggs", "bread")
    app.toggle("eggs")
    app.item("eggs").hover()
    app.item("eggs").locator(".destroy").click()
    app.expect_items(["milk", "bread"])
    app.expect_saved()
    panel = open_history(app)

    panel.locator(".history-entry", has_text="deleted “eggs”").click()

    version = panel.locator(".history-version")
    expect(version).to_be_visible()
    expect(version.locator(".history-item-text")).to_have_text(
        ["milk", "eggs", "bread"]
    )
    expect(version.locator(".history-item.deleted-here")).to_have_text(
        re.compile(r"eggs\s+\(done, deleted by this change\)")
    )
    # Read-only: nothing to change but the one item that is gone now.
    expect(version.locator("input")).to_have_count(0)
    expect(version.locator(".history-restore")).to_have_count(1)

    version.get_by_role("button", name="Restore “eggs”").click()

    app.expect_items(["milk", "eggs", "bread"])
    expect(app.item("eggs")).to_have_class(re.compile("completed"))
    expect(panel.locator(".history-note")).to_have_text("Restored “eggs” to the list.")
    expect(version.locator(".history-restore")).to_have_count(0)
    panel.get_by_role("button", name="Back to all changes").click()
    expect(entries(panel).first).to_have_text("added “eggs”")
    # A new change like any other: the server has it, so another device gets it.
    app.expect_saved()
    other = new_app().open(app.url)
    other.expect_synced_items(["milk", "eggs", "bread"])


def test_history_and_restore_work_offline(app):
    app.add("milk", "eggs")
    app.expect_saved()
    app.page.context.set_offline(True)
    app.expect_status("offline")
    app.item("eggs").hover()
    app.item("eggs").locator(".destroy").click()
    panel = open_history(app)
    panel.locator(".history-entry", has_text="deleted “eggs”").click()
    panel.get_by_role("button", name="Restore “eggs”").click()
    app.expect_items(["milk", "eggs"])

    app.page.context.set_offline(False)
    app.expect_saved()


def test_changes_from_another_device_say_so_and_arrive_while_open(
    app, new_app, shared_server
):
    app.add("milk")
    app.expect_saved()
    other = new_app().open(app.url)
    other.expect_synced_items(["milk"])
    panel = open_history(app)

    other.add("tea")

    expect(entries(panel)).to_have_text(["added “tea”", "added “milk”"], timeout=20_000)
    expect(panel.locator(".history-origin")).to_have_text(["elsewhere", "this browser"])
    other_panel = open_history(other)
    expect(other_panel.locator(".history-origin")).to_have_text(
        ["this browser", "elsewhere"]
    )


def test_older_changes_load_a_page_at_a_time(app):
    app.page.evaluate(
        """() => {
            const { store, todos } = window.todos;
            for (let i = 0; i < 45; i += 1) {
                store.change((doc) => todos.addItem(doc, `item ${i}`));
            }
        }"""
    )
    panel = open_history(app)
    expect(entries(panel)).to_have_count(20)
    expect(entries(panel).first).to_have_text("added “item 44”")

    panel.get_by_role("button", name="Show older changes").click()
    expect(entries(panel)).to_have_count(40)
    panel.get_by_role("button", name="Show older changes").click()
    expect(entries(panel)).to_have_count(45)
    expect(entries(panel).last).to_have_text("added “item 0”")
    expect(panel.locator(".history-more")).to_be_hidden()


def test_escape_closes_the_panel_and_focus_returns_to_its_button(app):
    app.add("milk")
    panel = open_history(app)
    expect(panel.locator(".history-heading")).to_be_focused()
    panel.locator(".history-choose").first.click()
    expect(panel.locator(".history-version-heading")).to_be_focused()

    app.page.keyboard.press("Escape")

    expect(panel).to_be_hidden()
    expect(app.page.locator(".history-toggle")).to_be_focused()
    expect(app.page.locator(".history-toggle")).to_have_attribute(
        "aria-expanded", "false"
    )


def test_an_untouched_list_says_it_has_no_changes(app):
    panel = open_history(app)
    expect(panel.locator(".history-empty")).to_be_visible()
    expect(entries(panel)).to_have_count(0)
