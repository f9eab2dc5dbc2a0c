"""Accessibility, checked by axe-core (npm, pinned) in Chromium, in each state of a
list page: no violation of impact serious or critical."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import CHROMIUM  # noqa: F401 (the browser fixture's)
from tests.e2e.pages import SYNC_TIMEOUT_MS, TodoApp
from tests.live import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.live]

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
RUN_AXE = """async () => {
    const results = await axe.run(document, {resultTypes: ['violations']});
    return results.violations.map((v) => ({
        id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.map((n) => n.target.join(' ')),
    }));
}"""


@pytest.fixture
def app(browser, shared_server):
    # axe is injected as a script of the page's own; the app's CSP would refuse it.
    context = browser.new_context(
        viewport={"width": 900, "height": 800}, bypass_csp=True
    )
    app = TodoApp(context.new_page()).start_new_list(shared_server.url)
    yield app
    context.close()


def serious(page):
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    return [
        violation
        for violation in page.evaluate(RUN_AXE)
        if violation["impact"] in ("serious", "critical")
    ]


def test_an_empty_list(app):
    assert serious(app.page) == []


def test_a_list_with_items_some_done(app):
    app.add("milk", "eggs", "bread")
    app.toggle("eggs")

    assert serious(app.page) == []


def test_an_item_being_edited(app):
    app.add("milk")
    app.start_edit("milk")

    assert serious(app.page) == []


def test_undo_and_redo_both_available(app):
    app.add("milk", "eggs")
    app.page.get_by_role("button", name="Undo", exact=True).click()

    assert serious(app.page) == []


def test_the_lists_menu_open(app):
    app.add("milk")
    app.page.click(".lists-menu summary")

    assert serious(app.page) == []


def test_offline(app):
    app.add("milk")
    app.expect_saved()
    app.page.context.set_offline(True)
    app.expect_status("offline")

    assert serious(app.page) == []


def test_the_history_panel_open(app):
    app.add("milk", "eggs")
    app.page.click(".history-toggle")
    app.page.wait_for_selector(".history-entry")

    assert serious(app.page) == []


def test_the_share_panel_with_both_links(app):
    app.add("milk")
    app.page.click("button.share")
    expect(app.page.locator(".share-panel .view-link")).to_have_value(
        re.compile("/view/"), timeout=SYNC_TIMEOUT_MS
    )

    assert serious(app.page) == []


def test_a_past_version_in_the_history_panel(app):
    app.add("milk", "eggs")
    app.item("eggs").hover()
    app.item("eggs").locator(".destroy").click()
    app.page.click(".history-toggle")
    app.page.click(".history-entry >> nth=0")
    app.page.wait_for_selector(".history-restore")

    assert serious(app.page) == []


def test_a_view_only_list(app):
    app.add("milk", "eggs")
    app.toggle("eggs")
    app.page.click("button.share")
    view_link = app.page.locator(".share-panel .view-link")
    expect(view_link).to_have_value(re.compile("/view/"), timeout=SYNC_TIMEOUT_MS)
    app.open(view_link.input_value())
    app.expect_synced_items(["milk", "eggs"])

    assert serious(app.page) == []


def test_others_here_and_an_item_edited_elsewhere(app, browser):
    app.add("milk", "eggs")
    app.expect_saved()
    other = browser.new_context(viewport={"width": 900, "height": 800})
    try:
        bob = TodoApp(other.new_page()).open(app.url)
        bob.expect_synced_items(["milk", "eggs"])
        bob.start_edit("eggs")
        expect(app.page.locator("p.presence")).to_have_text(
            "1 other here", timeout=SYNC_TIMEOUT_MS
        )
        expect(app.item("eggs").locator(".elsewhere-note")).to_have_count(
            1, timeout=SYNC_TIMEOUT_MS
        )

        assert serious(app.page) == []
    finally:
        other.close()
