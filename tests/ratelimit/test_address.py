"""The client address every limit counts by (todos/ratelimit/address.py)."""

import ipaddress
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from todos.ratelimit import address

ROOT = Path(__file__).resolve().parent.parent.parent
PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128"))


def test_without_a_forwarded_header_the_peer_is_the_client():
    assert address.client_address("10.0.0.5", None, PROXIES) == "10.0.0.5"
    assert address.client_address("203.0.113.9", "", PROXIES) == "203.0.113.9"


def test_the_header_from_an_untrusted_peer_is_ignored():
    forged = "198.51.100.1"

    assert address.client_address("203.0.113.9", forged, PROXIES) == "203.0.113.9"
    assert address.client_address("203.0.113.9", forged, ()) == "203.0.113.9"


def test_a_trusted_proxy_names_the_client():
    assert address.client_address("10.0.0.5", "198.51.100.1", PROXIES) == (
        "198.51.100.1"
    )


def test_the_rightmost_untrusted_hop_is_the_client_not_what_it_sent():
    # The client sent "1.2.3.4" itself; the proxy appended the address it saw.
    header = "1.2.3.4, 198.51.100.1"

    assert address.client_address("10.0.0.5", header, PROXIES) == "198.51.100.1"


def test_hops_through_several_trusted_proxies_are_skipped():
    header = "198.51.100.1, 10.1.1.1,10.2.2.2"

    assert address.client_address("10.0.0.5", header, PROXIES) == "198.51.100.1"


def test_a_chain_of_only_trusted_proxies_gives_the_leftmost():
    assert address.client_address("10.0.0.5", "10.9.9.9, 10.1.1.1", PROXIES) == (
        "10.9.9.9"
    )


def test_garbage_written_by_a_trusted_proxy_stops_at_the_last_believable_hop():
    assert address.client_address("10.0.0.5", "not-an-ip, 10.1.1.1", PROXIES) == (
        "10.1.1.1"
    )
    assert address.client_address("10.0.0.5", "junk", PROXIES) == "10.0.0.5"


def test_ipv6_peers_and_bracketed_hops():
    assert address.client_address("::1", "[2001:db8::1]", PROXIES) == "2001:db8::1"


def test_no_peer_is_unknown():
    assert address.client_address(None, "198.51.100.1", PROXIES) == "unknown"


def test_trusted_proxies_setting_is_parsed(settings):
    settings.TODOS_TRUSTED_PROXIES = "127.0.0.1, 10.0.0.0/8"

    assert address.trusted_proxies() == (
        ipaddress.ip_network("127.0.0.1/32"),
        ipaddress.ip_network("10.0.0.0/8"),
    )


def test_a_bad_trusted_proxy_is_a_configuration_error_naming_it(settings):
    settings.TODOS_TRUSTED_PROXIES = "127.0.0.1,localhost"

    with pytest.raises(ImproperlyConfigured, match="TODOS_TRUSTED_PROXIES.*localhost"):
        address.trusted_proxies()


def test_request_address_trusts_the_header_only_from_a_listed_proxy(settings):
    settings.TODOS_TRUSTED_PROXIES = "127.0.0.1"
    factory = RequestFactory()
    via_proxy = factory.get(
        "/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4"
    )
    direct = factory.get("/", REMOTE_ADDR="5.6.7.8", HTTP_X_FORWARDED_FOR="1.2.3.4")

    assert address.address_of_request(via_proxy) == "1.2.3.4"
    assert address.address_of_request(direct) == "5.6.7.8"


def test_scope_address_joins_repeated_headers(settings):
    settings.TODOS_TRUSTED_PROXIES = "127.0.0.1"
    scope = {
        "client": ["127.0.0.1", 5000],
        "headers": [
            (b"x-forwarded-for", b"1.2.3.4"),
            (b"X-Forwarded-For", b"198.51.100.7"),
        ],
    }

    assert address.address_of_scope(scope) == "198.51.100.7"
    settings.TODOS_TRUSTED_PROXIES = ""
    assert address.address_of_scope(scope) == "127.0.0.1"


def test_default_trusts_no_proxy(settings):
    assert settings.TODOS_TRUSTED_PROXIES == ""
    request = RequestFactory().get(
        "/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4"
    )

    assert address.address_of_request(request) == "127.0.0.1"


@pytest.mark.parametrize(
    "variable, value",
    [
        ("TODOS_TRUSTED_PROXIES", "proxy.example"),
        ("TODOS_CREATE_RATE_LIMIT", "50 an hour"),
        ("TODOS_WRITE_RATE_LIMIT", "fast"),
        ("TODOS_MAX_CLIENT_BYTES", "1 GB"),
    ],
)
def test_a_bad_limit_setting_stops_the_server_at_start(variable, value):
    env = {
        **os.environ,
        variable: value,
        "DJANGO_SETTINGS_MODULE": "todo_site.settings",
    }

    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )

    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr
    assert variable in done.stderr and value in done.stderr
