"""The admin in Chromium at a 1280 px wide window: no sideways scrolling, and the
Download button shows the document id as it is (upper and lower case kept)."""

import http.client

import pytest

from tests import automerge_node, live

pytestmark = [pytest.mark.browser, pytest.mark.live]

PASSWORD = "a-long-password-for-the-test"
DOC_ID = "GroceriesForTheWeekendTripToTheLakeHouse-7KqZ3xW9pLmN2vB8cR4tY6u"  # 64
SCROLLS_SIDEWAYS = "document.documentElement.scrollWidth > window.innerWidth"


@pytest.fixture
def admin_page(browser, server, tmp_path):
    live.create_superuser(server.env, "operator", PASSWORD)
    case = automerge_node.make_scenario(tmp_path / "scenario")
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request(
        "PUT",
        f"/docs/{DOC_ID}",
        case["base"],
        {"Content-Type": "application/octet-stream"},
    )
    assert connection.getresponse().status == 200
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"{server.url}/admin/login/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{server.url}/admin/")
    yield page
    context.close()


def test_the_change_list_fits_a_1280_pixel_window(admin_page, server):
    admin_page.goto(f"{server.url}/admin/todos/document/")
    admin_page.wait_for_selector("#result_list")

    assert admin_page.evaluate(SCROLLS_SIDEWAYS) is False


def test_the_download_button_keeps_the_ids_case(admin_page, server):
    admin_page.goto(f"{server.url}/admin/todos/document/{DOC_ID}/change/")
    button = admin_page.locator("a.todos-download")

    assert button.inner_text() == f"Download {DOC_ID}.automerge"
    assert admin_page.evaluate(SCROLLS_SIDEWAYS) is False
