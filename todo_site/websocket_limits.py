"""Daphne's WebSocket limits against the largest document: a warning at start-up.

Daphne closes a socket whose incoming message passes ``--websocket-max-message-size``
or whose single frame passes ``--websocket-max-frame-size`` (1 MiB each by
default), and its message limit also stops it sending a stored document larger
than that as a socket's first frame. A browser sends each upload as one frame.
So a list near ``TODOS_MAX_DOCUMENT_BYTES`` opens and syncs over its socket only
when both flags are at least that; then an upload over the document limit gets
an error frame (413) from the app, and the socket stays open.
"""

import logging

from daphne import server
from django.conf import settings

logger = logging.getLogger(__name__)

FLAGS = {
    "websocket_max_message_size": "--websocket-max-message-size",
    "websocket_max_frame_size": "--websocket-max-frame-size",
}


def problems(limits, document_limit):
    """What is wrong with Daphne's ``limits`` (attribute -> bytes) for documents of
    up to ``document_limit`` bytes: one sentence per flag, none if all is well."""
    found = []
    for attribute, flag in FLAGS.items():
        value = limits.get(attribute)
        if value is None:
            continue
        if value == 0:
            found.append(
                f"Daphne runs with {flag} 0 (no limit): a client can make it buffer "
                f"any amount. Set it to at least TODOS_MAX_DOCUMENT_BYTES "
                f"({document_limit}), such as twice that."
            )
        elif value < document_limit:
            found.append(
                f"Daphne runs with {flag} {value}, below TODOS_MAX_DOCUMENT_BYTES "
                f"({document_limit}): a list larger than {value} bytes cannot open "
                f"or sync over its WebSocket (Daphne closes it). Set {flag} to at "
                "least the document limit, such as twice that."
            )
    return found


def install_in_daphne():
    """Warn at start-up, once per process, when Daphne's limits are too low."""
    original = server.Server.__init__
    if getattr(original, "checks_websocket_limits", False):
        return

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        limits = {attribute: getattr(self, attribute, None) for attribute in FLAGS}
        for problem in problems(limits, settings.TODOS_MAX_DOCUMENT_BYTES):
            logger.warning(problem)

    init.checks_websocket_limits = True
    server.Server.__init__ = init
