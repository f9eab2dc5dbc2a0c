"""ASGI entry point: Django for HTTP, Channels for WebSockets (/ws/docs/<doc_id>).

WebSockets are accepted only from the site's own pages (``origins``). HTTP
bodies over TODOS_MAX_DOCUMENT_BYTES are refused before they are read
(``body_limit``): by Daphne's request class, which this module installs, and by
ASGI middleware in front of Django for any other server. Daphne's WebSocket limits
too low for the largest document get a warning at start-up (``websocket_limits``).
Under Daphne, a response's ``send`` waits while the client is not reading
(``backpressure``), so a streamed document is read from the database only as
fast as the client takes it.
Django's handler is ``asgi_handler.ASGIHandler``: the middleware and the view run
in one thread hop.
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "todo_site.settings")

# Build the HTTP app first: set Django up before anything imports models (as
# django.core.asgi.get_asgi_application does, with our handler).
django.setup(set_prefix=False)
from todo_site.asgi_handler import ASGIHandler  # noqa: E402

django_asgi_app = ASGIHandler()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from todo_site import backpressure, body_limit, websocket_limits  # noqa: E402
from todo_site.origins import OriginValidator  # noqa: E402
from todos.routing import REPO_PATHS, websocket_urlpatterns  # noqa: E402

body_limit.install_in_daphne()
backpressure.install_in_daphne()
websocket_limits.install_in_daphne()

application = ProtocolTypeRouter(
    {
        "http": body_limit.BodyLimit(django_asgi_app),
        "websocket": OriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
            # automerge-repo clients in Node send no Origin (todos/repo_consumer.py)
            without_origin=REPO_PATHS,
        ),
    }
)
