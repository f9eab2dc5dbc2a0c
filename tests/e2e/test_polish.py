"""Rough edges: text wraps between words, the title looks editable, a quiet console."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.pages import TodoApp

pytestmark = [pytest.mark.browser, pytest.mark.live]

ORDINARY_TEXT = (
    "Remember to compare the quarterly electricity statements with the neighbourhood "
    "cooperative's figures before Wednesday afternoon, then telephone the customer "
    "representatives about unexplained surcharges and miscellaneous administrative fees"
)

# Per word of a label: the distinct lines (tops of its boxes) it was laid out on.
WORD_LINES = """(label) => {
    const node = label.firstChild;
    const words = [];
    for (const match of node.data.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const tops = [...range.getClientRects()]
            .filter((rect) => rect.width > 0)
            .map((rect) => Math.round(rect.top));
        words.push({word: match[0], lines: [...new Set(tops)]});
    }
    return words;
}"""


def test_item_text_wraps_between_words_and_never_inside_one(app):
    app.add(ORDINARY_TEXT)
    words = app.labels.first.evaluate(WORD_LINES)
    assert len(words) == len(ORDINARY_TEXT.split())
    split = [entry["word"] for entry in words if len(entry["lines"]) != 1]
    assert split == [], f"words split across lines: {split}"
    lines = {entry["lines"][0] for entry in words}
    assert len(lines) >= 3, "the text should wrap onto several lines"


def test_only_a_string_longer_than_the_line_breaks_inside(app):
    unbroken = "x" * 300
    app.add(f"see {unbroken} here")
    label = app.labels.first
    words = {entry["word"]: entry["lines"] for entry in label.evaluate(WORD_LINES)}
    assert len(words[unbroken]) > 1, "the long string breaks to fit"
    assert len(words["see"]) == 1 and len(words["here"]) == 1
    overflow = label.evaluate("(el) => el.scrollWidth - el.clientWidth")
    assert overflow <= 0, "nothing sticks out of the item"


def test_the_list_title_looks_editable_and_untitled_is_a_placeholder(app):
    page = app.page
    expect(app.title).to_have_value("")
    expect(app.title).to_have_attribute("placeholder", "Untitled list")

    def expect_affordance(shown):
        # A pencil and an underline, once any transition has finished.
        page.wait_for_function(
            """([el, shown]) => {
                const style = getComputedStyle(el);
                const pencil = style.backgroundImage.includes('svg');
                const line = style.boxShadow !== 'none';
                const settled = el.getAnimations().length === 0;
                return settled && pencil === shown && line === shown;
            }""",
            arg=[app.title.element_handle(), shown],
            timeout=2_000,
        )

    page.mouse.move(0, 0)
    expect_affordance(False)
    app.title.hover()
    expect_affordance(True)
    page.mouse.move(0, 0)
    expect_affordance(False)
    app.title.focus()
    expect_affordance(True)
    expect(page).to_have_title(re.compile("^Untitled list"))


def test_the_console_stays_quiet_through_a_session_online_and_offline(
    new_context, shared_server
):
    context = new_context()
    messages = []

    def console(message):
        if message.type in ("warning", "error"):
            messages.append(f"{message.type}: {message.text}")

    def listen(page):
        page.on("console", console)
        page.on("pageerror", lambda error: messages.append(f"pageerror: {error}"))

    context.on("page", listen)
    app = TodoApp(context.new_page()).open_home(shared_server.url)
    app.title.fill("Errands")
    app.title.press("Enter")
    app.add("post the letter", "buy stamps")
    app.edit("buy stamps", "buy stamps and envelopes")
    app.toggle("post the letter")
    app.expect_saved()
    app.expect_offline_ready()

    context.set_offline(True)
    app.expect_status("offline")
    app.add("made offline")
    app.edit("made offline", "made and edited offline")
    expect(app.status).to_have_attribute("data-unsynced", "true")
    app.reload()  # the page opens from the stored shell
    app.expect_items(
        ["post the letter", "buy stamps and envelopes", "made and edited offline"]
    )
    app.open_home(shared_server.url)  # so does '/', on the same list
    app.add("after reopening offline")
    app.page.wait_for_timeout(1_500)  # a few reconnection periods

    context.set_offline(False)
    app.expect_saved()
    app.page.wait_for_timeout(500)
    assert messages == []


# At each change of the sync status, where the list and the status then are.
RECORD_STATUS_LAYOUT = """() => {
    const status = document.querySelector('.sync-status');
    const where = () => {
        const list = document.querySelector('.todoapp').getBoundingClientRect();
        const box = status.getBoundingClientRect();
        return [status.dataset.state, Math.round(list.top), Math.round(box.left)];
    };
    window.__statusLayout = [where()];
    new MutationObserver(() => window.__statusLayout.push(where())).observe(
        status, {subtree: true, childList: true, characterData: true, attributes: true}
    );
}"""


def test_the_sync_status_changing_moves_nothing(app):
    # "Saving…" then "Saved on the server" on every edit: neither the list below the
    # bar nor the status itself may move (the longer text once pushed the empty
    # presence line onto a row of its own, and the whole list 8 px down, and back).
    app.add("bread")
    app.expect_saved()
    app.page.evaluate(RECORD_STATUS_LAYOUT)

    app.add("milk")
    app.expect_saved()

    layout = app.page.evaluate("window.__statusLayout")
    assert {state for state, _, _ in layout} >= {"saving", "saved"}
    assert len({(top, left) for _, top, left in layout}) == 1, layout
