"""Chromium reports the app installable: manifest, icons, service worker."""

import pytest

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.e2e.pages import TodoApp

pytestmark = [pytest.mark.browser, pytest.mark.live]


@pytest.fixture
def profile(browser, tmp_path):
    """A context with a profile on disk (Chromium installs nothing in incognito)."""
    context = browser.browser_type.launch_persistent_context(
        tmp_path / "profile", executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
    )
    yield context
    context.close()


def test_chromium_finds_the_app_installable(profile, shared_server):
    page = profile.new_page()
    app = TodoApp(page).start_new_list(shared_server.url)
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    cdp = page.context.new_cdp_session(page)

    manifest = cdp.send("Page.getAppManifest")
    errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]

    assert manifest["url"].endswith("/manifest.webmanifest")
    assert manifest["errors"] == []
    assert errors == [], errors
    assert app.doc_id
