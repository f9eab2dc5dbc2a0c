"""WebSocket routes."""

from django.urls import re_path

from . import consumers
from .models import DOC_ID_PATTERN

websocket_urlpatterns = [
    re_path(
        rf"^ws/docs/(?P<doc_id>{DOC_ID_PATTERN})/?$",
        consumers.DocumentConsumer.as_asgi(),
    ),
]
