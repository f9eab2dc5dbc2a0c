"""WebSocket routes.

Any other path, an invalid document id included, is refused during the handshake
(Daphne answers 403) instead of raising "No route found" inside the application,
which Daphne would turn into a 500 and a logged traceback.
"""

from channels.security.websocket import WebsocketDenier
from django.urls import re_path

from . import consumers, repo_consumer
from .models import DOC_ID_PATTERN

# Where automerge-repo clients connect; they may send no Origin (todo_site/origins.py).
REPO_PATHS = ("/automerge-repo", "/automerge-repo/")

websocket_urlpatterns = [
    re_path(
        rf"^ws/docs/(?P<doc_id>{DOC_ID_PATTERN})/?$",
        consumers.DocumentConsumer.as_asgi(),
    ),
    re_path(
        rf"^ws/shared/(?P<token>{DOC_ID_PATTERN})/?$",
        consumers.SharedDocumentConsumer.as_asgi(),
    ),
    # automerge-repo's clients sync here (``repo_consumer``); the exact path is
    # the one automerge-repo users are told to point their adapter at.
    re_path(r"^automerge-repo/?$", repo_consumer.RepoSyncConsumer.as_asgi()),
    re_path(r"", WebsocketDenier.as_asgi()),
]
