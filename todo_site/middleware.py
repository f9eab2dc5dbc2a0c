"""Site-wide middleware: unknown hosts refused quietly; the Content-Security-Policy."""

import logging

from django.core.exceptions import DisallowedHost
from django.http import JsonResponse

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
