"""The web app manifest and the icons it names."""

import struct

import pytest
from django.contrib.staticfiles import finders

from todos import icons

pytestmark = pytest.mark.django_db


def png_size(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_the_committed_icons_are_what_icons_py_draws():
    path = finders.find(f"todos/icons/{icons.file_name(192)}")

    with open(path, "rb") as stored:
        assert stored.read() == icons.png(192)  # else: manage.py make_icons


def test_every_size_is_a_png_of_that_size():
    for size in icons.SIZES:
        with open(finders.find(f"todos/icons/{icons.file_name(size)}"), "rb") as f:
            assert png_size(f.read()) == (size, size)


def test_the_manifest_names_what_an_installable_app_needs(client):
    response = client.get("/manifest.webmanifest")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    manifest = response.json()
    assert manifest["name"] and manifest["short_name"]
    assert manifest["start_url"] == "/" and manifest["display"] == "standalone"
    assert manifest["theme_color"].startswith("#")
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    assert all("maskable" in icon["purpose"] for icon in manifest["icons"])


@pytest.mark.parametrize("path", ["/", "/lists/abc/", "/how-it-works/"])
def test_every_page_links_the_manifest_and_an_icon(client, path):
    page = client.get(path).content.decode()

    assert '<link rel="manifest" href="/manifest.webmanifest">' in page
    assert 'rel="icon"' in page and "icon-192" in page
