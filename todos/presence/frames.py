"""The presence frames: the client's announcement, checked, and the server's answers.

A client sends ``{"type": "presence", "editing": <item id> | null}`` as a text
frame, at most ``MAX_FRAME_BYTES`` bytes, when the item it edits changes and
as a heartbeat (``heartbeat_seconds`` apart). ``parse_presence`` returns the
item id (or None), or raises ``PresenceError`` whose ``status`` is 400 (not
such a frame), 413 (too big) or 403 (a view-only socket named an item). The
server sends ``{"type": "presence", "others": [{"id", "editing"}], "timeout"}``.

Public API: ``parse_presence``, ``others_frame``, ``error_frame``,
``PresenceError``, ``FrameBucket``, ``MAX_FRAME_BYTES``, ``MAX_ITEM_ID_CHARS``.
"""

import json
import time

__all__ = [
    "parse_presence",
    "others_frame",
    "error_frame",
    "PresenceError",
    "FrameBucket",
    "MAX_FRAME_BYTES",
    "MAX_ITEM_ID_CHARS",
]

MAX_FRAME_BYTES = 512
# Item ids are Automerge object ids ("12@a1b2..."): far shorter than this.
MAX_ITEM_ID_CHARS = 128
# Per socket: a burst of this many frames, then one per REFILL_SECONDS.
BURST = 10
REFILL_SECONDS = 1.0
NOT_PRESENCE = (
    "Text frames here are presence frames: send "
    '{"type": "presence", "editing": <item id or null>}; send Automerge bytes '
    "(Automerge.save or saveIncremental output) as a binary frame."
)
VIEWER_EDITING = (
    "This is a view-only link: it cannot edit items, so it cannot announce "
    'editing one. Send {"type": "presence", "editing": null}.'
)


class PresenceError(Exception):
    """A presence frame was refused; ``status`` is its HTTP-like status."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.message = message
        self.status = status


def parse_presence(text, read_only=False):
    """The item id a presence frame names (None for none); raise PresenceError."""
    if len(text) > MAX_FRAME_BYTES or len(text.encode()) > MAX_FRAME_BYTES:
        raise PresenceError(
            f"A presence frame is at most {MAX_FRAME_BYTES} bytes; this one has "
            f"{len(text.encode())}.",
            413,
        )
    try:
        frame = json.loads(text)
    except ValueError as exc:
        raise PresenceError(f"{NOT_PRESENCE} (not JSON: {exc})") from exc
    if not isinstance(frame, dict) or frame.get("type") != "presence":
        raise PresenceError(NOT_PRESENCE)
    editing = frame.get("editing")
    if editing is None:
        return None
    if not isinstance(editing, str) or not 0 < len(editing) <= MAX_ITEM_ID_CHARS:
        raise PresenceError(
            f"'editing' must be an item id (a string of 1 to {MAX_ITEM_ID_CHARS} "
            f"characters) or null, not {editing!r:.80}."
        )
    if read_only:
        raise PresenceError(VIEWER_EDITING, 403)
    return editing


def others_frame(others, timeout):
    """The server's frame: the other sockets on the list, and the timeout (s)."""
    return json.dumps({"type": "presence", "others": others, "timeout": timeout})


def error_frame(error, retry_after=None):
    """An error frame about presence (``about`` keeps it apart from uploads')."""
    frame = {
        "type": "error",
        "about": "presence",
        "status": error.status,
        "error": error.message,
    }
    if retry_after is not None:
        frame["retry_after"] = retry_after
    return json.dumps(frame)


class FrameBucket:
    """A token bucket of one socket's presence frames: ``BURST``, then 1/s."""

    def __init__(
        self, burst=BURST, refill_seconds=REFILL_SECONDS, clock=time.monotonic
    ):
        self.burst = burst
        self.refill_seconds = refill_seconds
        self.clock = clock
        self.tokens = float(burst)
        self.updated = clock()

    def take(self):
        """Take one token: 0 if there was one, else the seconds until there is."""
        now = self.clock()
        elapsed = now - self.updated
        self.tokens = min(self.burst, self.tokens + elapsed / self.refill_seconds)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0
        return (1 - self.tokens) * self.refill_seconds


def too_many(wait):
    """The 429 PresenceError for a socket over its frame rate."""
    return PresenceError(
        f"Too many presence frames: at most {BURST} at once, then one a second. "
        f"Wait {wait:.1f} s.",
        429,
    )
