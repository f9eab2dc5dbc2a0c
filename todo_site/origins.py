"""Which pages may open a WebSocket here: their Origin must be one we serve.

A browser sends the Origin (scheme, host and port) of the page that opens a
socket. It is accepted when it is exactly one of ``TODOS_ALLOWED_ORIGINS``, or when
it is the socket's own address: the same host and port as the request's ``Host``
(which must be in ``ALLOWED_HOSTS``, so a rebound DNS name is still refused) and
the matching scheme (``http`` for ``ws``, ``https`` for ``wss``). Anything else,
another port or scheme of an allowed host included, is refused during the
handshake (Daphne answers 403). Channels' ``AllowedHostsOriginValidator`` compared
host names only.

A socket with no Origin at all is refused too, except on the paths given as
``without_origin``: there a client that is not a browser (and so sends no
Origin, as automerge-repo in Node does) may connect. No cookie or session grants
anything on those paths (the document id is the capability), so a page
elsewhere gains nothing by a socket a browser would open for it, and a browser
always sends an Origin, which is then checked as above.
"""

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443}
PAGE_SCHEME = {"ws": "http", "wss": "https"}


def parse_origin(value):
    """``(scheme, host, port)`` of ``scheme://host[:port]``; None if not that."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    if parts.username is not None or parts.password is not None:
        return None
    return parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme]


def parse_allowed_origins(values):
    """Check a list of configured origins; raise ImproperlyConfigured on a bad one."""
    parsed = []
    for value in values:
        origin = parse_origin(value)
        if origin is None:
            raise ImproperlyConfigured(
                f"TODOS_ALLOWED_ORIGINS: {value!r} is not an origin; write "
                "scheme://host[:port], e.g. https://todos.example.org"
            )
        parsed.append(origin)
    return parsed


def header(scope, name):
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def own_origin(scope):
    """The origin of a page served from the address this socket was opened on."""
    host = header(scope, b"host")
    scheme = PAGE_SCHEME.get(scope.get("scheme", "ws"))
    if not host or scheme is None:
        return None
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    return parse_origin(f"{scheme}://{host}")


def origin_allowed(scope, without_origin=()):
    origin = header(scope, b"origin")
    if origin is None and scope.get("path") in without_origin:
        return True
    parsed = parse_origin(origin) if origin else None
    if parsed is None:
        return False
    if parsed in parse_allowed_origins(settings.TODOS_ALLOWED_ORIGINS):
        return True
    return parsed == own_origin(scope)


class OriginValidator:
    """ASGI middleware for WebSockets: refuse the handshake from other origins."""

    def __init__(self, app, without_origin=()):
        self.app = app
        self.without_origin = tuple(without_origin)
        parse_allowed_origins(settings.TODOS_ALLOWED_ORIGINS)  # a bad one: no start

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not origin_allowed(
            scope, self.without_origin
        ):
            return await WebsocketDenier()(scope, receive, send)
        return await self.app(scope, receive, send)
