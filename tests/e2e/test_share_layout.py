"""Share confirms the copy, or shows the link to copy by hand, in place; its
panel fits a phone's screen."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.pages import SYNC_TIMEOUT_MS, TodoApp

pytestmark = [pytest.mark.browser, pytest.mark.live]

# Every layout shift the page reports from now on (the Layout Instability API).
WATCH_SHIFTS = """() => {
    window.__shifts = [];
    new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) window.__shifts.push(entry.value);
    }).observe({type: 'layout-shift', buffered: false});
}"""
# Resolves once the page has been drawn.
NEXT_FRAME = (
    "() => new Promise((done) => requestAnimationFrame(() => setTimeout(done)))"
)
BOXES = """() => [...document.querySelectorAll(
    '.todoapp, .sync-status, .lists-menu, .share, .new-todo'
)].map((element) => {
    const box = element.getBoundingClientRect();
    return [element.className, Math.round(box.left), Math.round(box.top),
            Math.round(box.width), Math.round(box.height)];
})"""


def share_and_measure(app):
    page = app.page
    app.add("milk")
    app.expect_saved()  # the status says so: its text no longer changes
    page.evaluate(NEXT_FRAME)  # and the page has been drawn since it changed
    page.evaluate(WATCH_SHIFTS)
    before = page.evaluate(BOXES)
    page.click("button.share")
    return before


def test_a_copied_link_is_confirmed_in_place(new_context, shared_server):
    app = TodoApp(new_context().new_page()).start_new_list(shared_server.url)
    before = share_and_measure(app)

    expect(app.page.locator(".share-note")).to_contain_text("copied")
    assert app.page.evaluate(BOXES) == before
    assert app.page.evaluate("window.__shifts") == []


def test_without_the_clipboard_the_link_is_selected_in_place(browser, shared_server):
    context = browser.new_context(viewport={"width": 900, "height": 800})
    page = context.new_page()
    # No clipboard API at all, as on plain HTTP to another host.
    page.add_init_script("delete Navigator.prototype.clipboard")
    app = TodoApp(page).start_new_list(shared_server.url)
    before = share_and_measure(app)

    url = page.locator(".share-url")
    expect(url).to_be_visible()
    expect(url).to_be_focused()
    assert url.evaluate("input => input.selectionEnd - input.selectionStart") > 0
    assert page.evaluate(BOXES) == before
    assert page.evaluate("window.__shifts") == []
    context.close()


# Each control of the open share panel: where it is, and what sets it apart
# from the text around it.
PANEL_CONTROLS = """() => [...document.querySelectorAll(
    '.share-panel button, .share-panel input'
)].map((control) => {
    const box = control.getBoundingClientRect();
    const style = getComputedStyle(control);
    return {name: control.className, left: box.left, right: box.right,
            border: parseFloat(style.borderTopWidth)};
})"""


@pytest.mark.parametrize("width", [375, 900])
def test_the_share_panel_fits_the_screen_and_its_buttons_look_like_buttons(
    browser, shared_server, width
):
    # On a phone the panel ran past the right edge, the Copy buttons with it; and
    # its buttons were bare text, "New view-only link Turn off" read as a sentence.
    context = browser.new_context(viewport={"width": width, "height": 800})
    app = TodoApp(context.new_page()).start_new_list(shared_server.url)
    app.page.click("button.share")
    expect(app.page.locator(".share-panel .view-link")).to_have_value(
        re.compile("/view/"), timeout=SYNC_TIMEOUT_MS
    )

    controls = app.page.evaluate(PANEL_CONTROLS)
    assert len(controls) == 7, controls  # two links, two Copy, three more buttons
    outside = [c for c in controls if c["left"] < 0 or c["right"] > width]
    assert outside == []
    assert [c["name"] for c in controls if c["border"] < 1] == []
    context.close()
