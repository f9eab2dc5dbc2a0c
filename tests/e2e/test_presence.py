"""Presence in Chromium: two contexts are two people on one list. Each sees how
many others are here and which item another is editing, on one Daphne process
and across two sharing PostgreSQL and Redis; a closed tab leaves within 5 s."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.pages import SYNC_TIMEOUT_MS, TodoApp

pytestmark = [pytest.mark.browser, pytest.mark.live]

CLOSED_TAB_GONE_MS = 5_000
VIEW_URL = re.compile(r"/view/[A-Za-z0-9_-]{24}/$")


def presence(app):
    return app.page.locator("p.presence")


def open_list(new_context, url):
    return TodoApp(new_context().new_page()).open(url)


def test_the_count_goes_up_and_down_as_a_second_person_comes_and_closes(
    new_app, new_context, shared_server
):
    alice = new_app().start_new_list(shared_server.url)
    alice.add("milk")
    alice.expect_saved()
    expect(presence(alice)).to_have_text("")

    bob = open_list(new_context, alice.url)

    expect(presence(alice)).to_have_text("1 other here", timeout=SYNC_TIMEOUT_MS)
    expect(presence(bob)).to_have_text("1 other here", timeout=SYNC_TIMEOUT_MS)
    carol = open_list(new_context, alice.url)
    expect(presence(alice)).to_have_text("2 others here", timeout=SYNC_TIMEOUT_MS)
    carol.page.close()
    bob.page.close()
    expect(presence(alice)).to_have_text("", timeout=CLOSED_TAB_GONE_MS)
    assert alice.errors == []


LIST_TOP = "Math.round(document.querySelector('.todoapp').getBoundingClientRect().top)"


@pytest.mark.parametrize("width", [375, 900])
def test_someone_coming_and_going_does_not_move_the_list(
    browser, new_context, shared_server, width
):
    # "1 other here" once took a row of its own in the bar, moving the whole list
    # down when someone came and up when they left.
    context = browser.new_context(viewport={"width": width, "height": 800})
    alice = TodoApp(context.new_page()).start_new_list(shared_server.url)
    alice.add("milk")
    alice.expect_saved()
    top = alice.page.evaluate(LIST_TOP)

    bob = open_list(new_context, alice.url)
    expect(presence(alice)).to_have_text("1 other here", timeout=SYNC_TIMEOUT_MS)
    assert alice.page.evaluate(LIST_TOP) == top
    line = presence(alice).bounding_box()
    assert 0 <= line["x"] and line["x"] + line["width"] <= width  # on screen

    bob.page.close()
    expect(presence(alice)).to_have_text("", timeout=CLOSED_TAB_GONE_MS)
    assert alice.page.evaluate(LIST_TOP) == top
    context.close()


def test_the_item_someone_else_edits_is_marked_for_everyone_else(
    new_app, new_context, shared_server
):
    alice = new_app().start_new_list(shared_server.url)
    alice.add("milk", "eggs")
    alice.expect_saved()
    bob = open_list(new_context, alice.url)
    bob.expect_synced_items(["milk", "eggs"])
    expect(presence(alice)).to_have_text("1 other here", timeout=SYNC_TIMEOUT_MS)

    editor = bob.start_edit("eggs")

    eggs = alice.item("eggs")
    expect(eggs).to_have_class(re.compile("edited-elsewhere"), timeout=5_000)
    expect(eggs.locator(".elsewhere-note")).to_have_text("Someone else is editing this")
    expect(alice.item("milk")).not_to_have_class(re.compile("edited-elsewhere"))
    expect(bob.page.locator(".edited-elsewhere")).to_have_count(0)
    editor.press("Escape")
    expect(eggs).not_to_have_class(re.compile("edited-elsewhere"), timeout=5_000)
    expect(eggs.locator(".elsewhere-note")).to_have_count(0)
    assert alice.errors == [] and bob.errors == []


def test_a_viewer_is_counted(new_app, new_context, shared_server):
    alice = new_app().start_new_list(shared_server.url)
    alice.add("milk")
    alice.expect_saved()
    alice.page.click("button.share")
    view_link = alice.page.locator(".share-panel .view-link")
    expect(view_link).to_have_value(VIEW_URL, timeout=SYNC_TIMEOUT_MS)

    viewer = open_list(new_context, view_link.input_value())

    expect(presence(alice)).to_have_text("1 other here", timeout=SYNC_TIMEOUT_MS)
    expect(presence(viewer)).to_have_text("1 other here", timeout=SYNC_TIMEOUT_MS)
    viewer.page.close()
    expect(presence(alice)).to_have_text("", timeout=CLOSED_TAB_GONE_MS)


def test_presence_crosses_two_daphne_processes_with_redis(
    new_app,
    new_context,
    live_server_factory,
    postgres_database,
    redis_url,
    collected_static,
):
    first, second = (
        live_server_factory(
            database_url=postgres_database, redis_url=redis_url, **collected_static
        )
        for _ in range(2)
    )
    alice = new_app().start_new_list(first.url)
    alice.add("milk")
    alice.expect_saved()

    bob = open_list(new_context, alice.url.replace(first.url, second.url))
    bob.expect_synced_items(["milk"])

    expect(presence(alice)).to_have_text("1 other here", timeout=SYNC_TIMEOUT_MS)
    expect(presence(bob)).to_have_text("1 other here", timeout=SYNC_TIMEOUT_MS)
    bob.start_edit("milk")
    expect(alice.item("milk")).to_have_class(
        re.compile("edited-elsewhere"), timeout=5_000
    )
    bob.page.close()
    expect(presence(alice)).to_have_text("", timeout=CLOSED_TAB_GONE_MS)
