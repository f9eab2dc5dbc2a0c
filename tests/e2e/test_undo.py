"""Undo and redo in Chromium against a live Daphne: the buttons, the shortcuts, and
an undo on one device that keeps what another device did meanwhile."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.pages import SYNC_TIMEOUT_MS

pytestmark = [pytest.mark.browser, pytest.mark.live]

UNDO = "ControlOrMeta+z"
REDO = "ControlOrMeta+Shift+z"


def buttons(app):
    page = app.page
    return (
        page.get_by_role("button", name="Undo", exact=True),
        page.get_by_role("button", name="Redo", exact=True),
    )


def test_the_buttons_undo_and_redo_each_kind_of_edit_in_turn(app):
    undo, redo = buttons(app)
    expect(undo).to_be_disabled()
    expect(redo).to_be_disabled()

    app.add("milk", "eggs", "bread")
    app.toggle("milk")
    app.edit("eggs", "free-range eggs")
    app.title.fill("Groceries")
    app.title.press("Enter")
    app.toggle_all.check()  # toggle-all: all done
    app.clear_completed.click()
    app.expect_items([])

    undo.click()  # clear completed
    app.expect_items(["milk", "free-range eggs", "bread"])
    expect(app.count).to_contain_text("0 items left")
    undo.click()  # toggle-all
    expect(app.count).to_contain_text("2 items left")
    undo.click()  # the rename
    expect(app.title).to_have_value("")
    undo.click()  # the text edit
    app.expect_items(["milk", "eggs", "bread"])
    undo.click()  # the toggle
    expect(app.count).to_contain_text("3 items left")
    undo.click()  # the third add
    app.expect_items(["milk", "eggs"])
    expect(redo).to_be_enabled()

    redo.click()
    redo.click()
    app.expect_items(["milk", "eggs", "bread"])
    expect(app.count).to_contain_text("2 items left")

    app.add("butter")  # a new edit: nothing left to redo
    expect(redo).to_be_disabled()
    for _ in range(5):  # butter, the redone toggle and add, eggs, milk
        undo.click()
    expect(undo).to_be_disabled()
    app.expect_items([])
    app.expect_saved()
    app.reload()
    app.expect_items([])  # the undos were stored like any edit


def test_shortcuts_undo_and_redo_but_leave_a_field_its_own_undo(app):
    page = app.page
    app.add("milk")
    expect(app.new_todo).to_be_focused()  # empty after Enter: Ctrl+Z takes the add back
    page.keyboard.press(UNDO)
    app.expect_items([])
    page.keyboard.press(REDO)
    app.expect_items(["milk"])

    page.keyboard.type("eggs")
    page.keyboard.press(UNDO)  # the field's own undo of its typing
    app.expect_items(["milk"])

    app.toggle("milk")  # focus on the checkbox: not a text field
    page.keyboard.press(UNDO)
    expect(app.item("milk")).not_to_have_class(re.compile("completed"))

    editor = app.start_edit("milk")
    editor.press("End")
    page.keyboard.type(" and honey")
    editor.press(UNDO)  # still editing: the edit box keeps it
    app.expect_items(["milk"])
    assert app.errors == []


def test_an_undo_keeps_what_another_device_did_meanwhile(new_app, shared_server):
    alice = new_app().start_new_list(shared_server.url)
    alice.add("bread")
    bob = new_app().open(alice.url)
    bob.expect_synced_items(["bread"])

    alice.add("milk")
    bob.expect_synced_items(["bread", "milk"])
    bob.edit("bread", "rye bread")
    alice.expect_synced_items(["rye bread", "milk"])

    buttons(alice)[0].click()
    alice.expect_items(["rye bread"])
    bob.expect_synced_items(["rye bread"])
    expect(buttons(bob)[0]).to_be_enabled()  # Bob's own edit is still his to undo
    assert alice.errors == [] and bob.errors == []


def test_undoing_a_text_edit_keeps_text_another_device_typed_in_it(
    new_app, shared_server
):
    alice = new_app().start_new_list(shared_server.url)
    alice.add("buy milk")
    alice.edit("buy milk", "buy oat milk")
    bob = new_app().open(alice.url)
    bob.expect_synced_items(["buy oat milk"])
    bob.edit("buy oat milk", "please buy oat milk today")
    alice.expect_synced_items(["please buy oat milk today"])

    alice.page.keyboard.press(UNDO)  # focus is on the edited item's label
    alice.expect_items(["please buy milk today"])
    bob.expect_synced_items(["please buy milk today"])
    expect(alice.page.locator(".undo-note")).to_have_text(
        "Undone", timeout=SYNC_TIMEOUT_MS
    )


def test_an_undo_made_offline_reaches_the_other_device_when_back_online(
    new_app, shared_server
):
    alice = new_app().start_new_list(shared_server.url)
    alice.add("milk", "eggs")
    bob = new_app().open(alice.url)
    bob.expect_synced_items(["milk", "eggs"])

    alice.page.context.set_offline(True)
    alice.expect_status("offline")
    buttons(alice)[0].click()
    alice.expect_items(["milk"])
    bob.expect_items(["milk", "eggs"])  # nothing has left Alice's device yet

    alice.page.context.set_offline(False)
    alice.expect_saved()
    bob.expect_synced_items(["milk"])
