"""Site-wide middleware: unknown hosts refused quietly; the Content-Security-Policy."""

import functools
import logging

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import JsonResponse
from django.urls import reverse

logger = logging.getLogger("todo_site.security")


class RefuseDisallowedHosts:
    """A request whose Host is not in ALLOWED_HOSTS: 400, and one log line.

    Left to Django, the first middleware that asks for the host raises
    DisallowedHost, which is logged with its traceback (twice with DEBUG on) and
    then again as "Bad Request". A wrong Host is a client's mistake or a scan,
    not a server error: it is worth one line.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            request.get_host()
        except DisallowedHost as exc:
            logger.warning("Refused (400) %s %s: %s", request.method, request.path, exc)
            response = JsonResponse(
                {"error": "Bad Request: this server does not answer for that host."},
                status=400,
            )
            # Django's own "Bad Request" line would repeat the one above.
            response._has_been_logged = True
            return response
        return self.get_response(request)


# The app's pages run only its own scripts (ES modules under /static/) and
# Automerge's wasm; no inline script or style, nothing from elsewhere. 'self' in
# connect-src covers ws:// and wss:// to the page's own host and port (CSP Level 3).
APP_DIRECTIVES = {
    "default-src": "'self'",
    "script-src": "'self' 'wasm-unsafe-eval'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
# Django's admin runs only its own script files too (no wasm), but its pages (and
# ours in templates/admin/) carry inline styles.
ADMIN_DIRECTIVES = {
    **APP_DIRECTIVES,
    "script-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",
}


def policy(directives):
    """A Content-Security-Policy header value from {directive: sources}."""
    return "; ".join(f"{name} {sources}" for name, sources in directives.items())


APP_POLICY = policy(APP_DIRECTIVES)
ADMIN_POLICY = policy(ADMIN_DIRECTIVES)


@functools.cache
def admin_prefix():
    return reverse("admin:index")


class ContentSecurityPolicy:
    """Send a Content-Security-Policy with every response: the admin's under /admin/.

    With DEBUG on, Django's own error pages (inline styles and script) are left
    without one, so that they stay readable.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Content-Security-Policy" in response:
            return response
        if settings.DEBUG and response.status_code >= 400:
            if response.get("Content-Type", "").startswith("text/html"):
                return response
        admin = request.path.startswith(admin_prefix())
        response["Content-Security-Policy"] = ADMIN_POLICY if admin else APP_POLICY
        return response
