"""The app works under its Content-Security-Policy, with no violation, in Chromium.

Every page of a new browser context records the ``securitypolicyviolation`` events
it sees (an init script runs before any of the page's own), and the console's
"Content Security Policy" messages are collected too.
"""

import pytest
from playwright.sync_api import expect

from tests import live
from tests.e2e.pages import SYNC_TIMEOUT_MS, TodoApp
from todo_site.middleware import ADMIN_POLICY, APP_POLICY

pytestmark = [pytest.mark.browser, pytest.mark.live]

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (event) => {
    window.__cspViolations.push(
        `${event.violatedDirective} blocked ${event.blockedURI || 'inline'}`
        + ` at ${event.sourceFile}:${event.lineNumber}`
    );
});
"""


@pytest.fixture
def watched_context(new_context):
    """``open()``: a new context whose pages record CSP violations; ``report()``."""
    contexts = []
    console = []

    def open_context():
        context = new_context()
        context.add_init_script(RECORD_VIOLATIONS)
        context.on(
            "console",
            lambda message: (
                console.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )
        contexts.append(context)
        return context

    def report():
        violations = list(console)
        for context in contexts:
            for page in context.pages:
                if not page.is_closed():
                    violations += page.evaluate("window.__cspViolations || []")
        return violations

    open_context.report = report
    return open_context


def test_the_app_syncs_with_no_csp_violation(watched_context, server):
    alice_context = watched_context()
    alice = TodoApp(alice_context.new_page())
    with alice.page.expect_response(lambda r: "/lists/" in r.url) as page_response:
        alice.start_new_list(server.url)
    assert page_response.value.headers["content-security-policy"] == APP_POLICY
    alice.add("milk", "bread")
    alice.toggle("milk")
    alice.title.fill("Under a strict policy")
    alice.title.press("Enter")
    alice.expect_saved()
    expect(alice.status).to_have_attribute("data-state", "saved")

    # A second device gets the list, and then a live edit, over the WebSocket.
    bob = TodoApp(watched_context().new_page()).open(alice.url)
    bob.expect_synced_items(["milk", "bread"])
    alice.add("eggs")
    bob.expect_synced_items(["milk", "bread", "eggs"])
    alice.expect_offline_ready()  # the service worker registered and stored the shell

    # The "How this works" page, its styles from the stylesheet.
    alice.page.goto(f"{server.url}/how-it-works/")
    heading = alice.page.locator(".how-it-works h1")
    expect(heading).to_have_css("color", "rgb(184, 63, 69)", timeout=SYNC_TIMEOUT_MS)

    assert alice.errors == [] and bob.errors == []
    assert watched_context.report() == []


def test_a_violation_would_be_seen(watched_context, server):
    """The listener works: an inline script on the app's page is reported."""
    page = watched_context().new_page()
    TodoApp(page).start_new_list(server.url)
    page.evaluate(
        """() => {
            const script = document.createElement('script');
            script.textContent = 'window.__inline = true';
            document.head.append(script);
        }"""
    )
    page.wait_for_function("window.__cspViolations.length > 0", timeout=5_000)

    assert page.evaluate("window.__inline === undefined")
    assert any("script-src" in v for v in watched_context.report())


def test_the_admin_works_under_its_policy(watched_context, server):
    live.create_superuser(server.env, "operator", "a-long-password-for-the-test")
    app = TodoApp(watched_context().new_page()).start_new_list(server.url)
    app.add("seen by the admin")
    app.expect_saved()
    doc_id = app.doc_id

    page = watched_context().new_page()
    with page.expect_response(lambda r: "/admin/login/" in r.url) as login:
        page.goto(f"{server.url}/admin/")
    assert login.value.headers["content-security-policy"] == ADMIN_POLICY
    page.fill("#id_username", "operator")
    page.fill("#id_password", "a-long-password-for-the-test")
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_be_visible()
    page.goto(f"{server.url}/admin/todos/document/")
    expect(page.locator("#result_list")).to_contain_text(doc_id)
    page.goto(f"{server.url}/admin/todos/document/{doc_id}/change/")
    expect(page.locator("body")).to_contain_text("seen by the admin")

    assert watched_context.report() == []
