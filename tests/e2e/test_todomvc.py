"""The TodoMVC application specification (tastejs/todomvc app-spec.md), in Chromium."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.live]


def test_root_starts_a_new_list_with_a_random_url_safe_id(new_app, shared_server):
    first = new_app().start_new_list(shared_server.url)
    second = new_app().start_new_list(shared_server.url)
    assert len(first.doc_id) >= 22  # 22 base64 characters hold 132 bits
    assert first.doc_id != second.doc_id


def test_no_todos_hides_main_and_footer(app):
    expect(app.main).to_be_hidden()
    expect(app.footer).to_be_hidden()
    app.add("one")
    expect(app.main).to_be_visible()
    expect(app.footer).to_be_visible()
    app.item("one").hover()
    app.item("one").locator("button.destroy").click()
    expect(app.main).to_be_hidden()
    expect(app.footer).to_be_hidden()


def test_new_todo_is_trimmed_appended_and_the_input_cleared(app):
    app.add("  first  ", "second")
    app.expect_items(["first", "second"])
    expect(app.new_todo).to_have_value("")


def test_empty_input_adds_nothing(app):
    app.add("", "   ")
    expect(app.items).to_have_count(0)
    expect(app.new_todo).to_have_value("")


def test_counter_is_pluralised_with_the_number_in_strong(app):
    app.add("a")
    expect(app.count).to_have_text("1 item left")
    expect(app.count.locator("strong")).to_have_text("1")
    app.add("b")
    expect(app.count).to_have_text("2 items left")
    app.toggle("a")
    app.toggle("b")
    expect(app.count).to_have_text("0 items left")


def test_toggling_an_item_marks_its_li_completed(app):
    app.add("a")
    app.toggle("a")
    expect(app.item("a")).to_have_class("completed")
    expect(app.item("a").locator("input.toggle")).to_be_checked()
    app.toggle("a")
    expect(app.item("a")).not_to_have_class("completed")


def test_mark_all_sets_every_item_and_follows_their_state(app):
    app.add("a", "b")
    expect(app.toggle_all).not_to_be_checked()
    app.page.locator("label[for=toggle-all]").click(force=True)
    expect(app.page.locator(".todo-list li.completed")).to_have_count(2)
    expect(app.toggle_all).to_be_checked()
    app.toggle("a")
    expect(app.toggle_all).not_to_be_checked()
    app.toggle("a")
    expect(app.toggle_all).to_be_checked()
    app.toggle_all.uncheck(force=True)
    expect(app.page.locator(".todo-list li.completed")).to_have_count(0)


def test_clear_completed_removes_done_items_and_hides_itself(app):
    app.add("a", "b", "c")
    expect(app.clear_completed).to_be_hidden()
    app.toggle("a")
    app.toggle("c")
    expect(app.clear_completed).to_be_visible()
    app.clear_completed.click()
    app.expect_items(["b"])
    expect(app.clear_completed).to_be_hidden()
    expect(app.toggle_all).not_to_be_checked()


def test_double_click_edits_and_enter_saves_trimmed(app):
    app.add("draft")
    editor = app.start_edit("draft")
    expect(app.item("draft")).to_have_class("editing")
    expect(editor).to_be_focused()
    expect(editor).to_have_value("draft")
    editor.fill("  final  ")
    editor.press("Enter")
    app.expect_items(["final"])
    expect(app.page.locator(".todo-list li.editing")).to_have_count(0)


def test_blur_saves_an_edit(app):
    app.add("draft")
    app.start_edit("draft").fill("blurred")
    app.new_todo.click()
    app.expect_items(["blurred"])
    expect(app.page.locator("li.editing")).to_have_count(0)


def test_escape_cancels_an_edit(app):
    app.add("keep me")
    editor = app.start_edit("keep me")
    editor.fill("discard this")
    editor.press("Escape")
    app.expect_items(["keep me"])
    expect(app.page.locator("li.editing")).to_have_count(0)


def test_an_empty_edit_deletes_the_item(app):
    app.add("a", "b")
    editor = app.start_edit("a")
    editor.fill("   ")
    editor.press("Enter")
    app.expect_items(["b"])


def test_destroy_button_shows_on_hover_and_removes_the_item(app):
    app.add("a", "b")
    destroy = app.item("a").locator("button.destroy")
    expect(destroy).to_be_hidden()
    app.item("a").hover()
    expect(destroy).to_be_visible()
    destroy.click()
    app.expect_items(["b"])


def test_filters_route_and_select_their_link(app):
    app.add("active one", "done one")
    app.toggle("done one")
    app.page.click(".filters a[href='#/active']")
    expect(app.page).to_have_url(app.page.url.split("#")[0] + "#/active")
    app.expect_items(["active one"])
    expect(app.page.locator(".filters a.selected")).to_have_text("Active")
    app.page.click(".filters a[href='#/completed']")
    app.expect_items(["done one"])
    expect(app.page.locator(".filters a.selected")).to_have_text("Completed")
    app.page.click(".filters a[href='#/']")
    app.expect_items(["active one", "done one"])
    expect(app.page.locator(".filters a.selected")).to_have_text("All")


def test_an_item_leaves_a_filter_when_its_state_changes(app):
    app.add("a", "b")
    app.page.click(".filters a[href='#/active']")
    app.toggle("a")
    app.expect_items(["b"])


def test_the_filter_and_the_items_survive_a_reload(app):
    app.add("a", "b")
    app.toggle("b")
    app.page.click(".filters a[href='#/completed']")
    app.expect_items(["b"])
    app.reload()
    app.expect_items(["b"])
    expect(app.page.locator(".filters a.selected")).to_have_text("Completed")
    expect(app.count).to_have_text("1 item left")


def test_user_text_is_shown_as_text_never_as_markup(app):
    text = '<img src=x onerror="document.body.dataset.hacked=1"> & <b>bold</b>'
    app.add(text)
    app.expect_items([text])
    expect(app.page.locator(".todo-list img, .todo-list b")).to_have_count(0)
    assert app.page.evaluate("document.body.dataset.hacked") is None
