"""WebSocket routes.

Any other path, an invalid document id included, is refused during the handshake
(Daphne answers 403) instead of raising "No route found" inside the application,
which Daphne would turn into a 500 and a logged traceback.
"""

from channels.security.websocket import WebsocketDenier
from django.urls import re_path

from . import consumers
from .models import DOC_ID_PATTERN

websocket_urlpatterns = [
    re_path(
        rf"^ws/docs/(?P<doc_id>{DOC_ID_PATTERN})/?$",
        consumers.DocumentConsumer.as_asgi(),
    ),
    re_path(
        rf"^ws/shared/(?P<token>{DOC_ID_PATTERN})/?$",
        consumers.SharedDocumentConsumer.as_asgi(),
    ),
    re_path(r"", WebsocketDenier.as_asgi()),
]
