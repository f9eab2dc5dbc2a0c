"""The client address that every limit counts by.

- ``client_address(peer, forwarded_for, trusted) -> str``: the address to count,
  from the direct peer and the ``X-Forwarded-For`` header.
- ``trusted_proxies() -> tuple[network, ...]``: the ``TODOS_TRUSTED_PROXIES``
  setting, parsed (``parse_networks``).
- ``address_of_request(request)`` and ``address_of_scope(scope)``: the same for a
  Django request and an ASGI (WebSocket) scope.

``X-Forwarded-For`` is believed only when the direct peer is a trusted proxy: a
client can write anything in it, so from anyone else the header is ignored.
When it is believed, the header is read from the right (the hop nearest to us)
past every trusted proxy; the first address that is not one is the client. A
proxy appends the address it saw to whatever the client sent, so a forged
left part is never reached.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

__all__ = [
    "parse_networks",
    "client_address",
    "trusted_proxies",
    "address_of_request",
    "address_of_scope",
]

UNKNOWN = "unknown"


@lru_cache(maxsize=8)
def parse_networks(text, setting="TODOS_TRUSTED_PROXIES"):
    """The ``ipaddress`` networks of ``text``, comma-separated addresses or networks."""
    networks = []
    for item in text.split(","):
        if not item.strip():
            continue
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"{setting} contains {item.strip()!r}, which is not an IP "
                "address or network: list addresses or networks, comma-separated, "
                "such as '127.0.0.1,10.0.0.0/8'."
            ) from None
    return tuple(networks)


def trusted_proxies():
    """The networks of TODOS_TRUSTED_PROXIES (a comma-separated string or a list)."""
    value = getattr(settings, "TODOS_TRUSTED_PROXIES", "")
    if not isinstance(value, str):
        value = ",".join(value)
    return parse_networks(value)


def _ip(text):
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _is_trusted(ip, trusted):
    return ip is not None and any(ip in network for network in trusted)


def client_address(peer, forwarded_for, trusted):
    """The address to count for a request from ``peer`` carrying ``forwarded_for``.

    ``peer`` is the direct peer's address (or None); ``forwarded_for`` the
    ``X-Forwarded-For`` header's value (or None); ``trusted`` a sequence of
    ``ipaddress`` networks.
    """
    if not peer:
        return UNKNOWN
    if not forwarded_for or not _is_trusted(_ip(peer), trusted):
        return peer
    client = peer
    for hop in reversed(forwarded_for.split(",")):
        ip = _ip(hop)
        if ip is None:
            # A trusted proxy wrote something that is not an address: stop at
            # the last hop we could believe.
            return client
        client = str(ip)
        if not _is_trusted(ip, trusted):
            return client
    return client


def address_of_request(request):
    """The client address of a Django HttpRequest."""
    return client_address(
        request.META.get("REMOTE_ADDR"),
        request.META.get("HTTP_X_FORWARDED_FOR"),
        trusted_proxies(),
    )


def address_of_scope(scope):
    """The client address of an ASGI scope (WebSocket or HTTP)."""
    peer = (scope.get("client") or [None])[0]
    forwarded = [
        value.decode("latin-1")
        for name, value in scope.get("headers", ())
        if name.lower() == b"x-forwarded-for"
    ]
    return client_address(peer, ",".join(forwarded) or None, trusted_proxies())
