"""One socket's table of the other sockets open on its list.

Each peer is a socket somewhere (any process) that announced itself on the
list's presence group: its id, the item it is editing, and when it was last
heard from. A peer not heard from for ``silence`` seconds is dropped by
``expire``: its process died, or its tab vanished without closing its socket.
The table holds at most ``MAX_PEERS`` peers, so a flood of sockets on one list
costs each socket a bounded amount of memory and frame size.

Public API: ``Peers``, ``MAX_PEERS``.
"""

import time

__all__ = ["Peers", "MAX_PEERS"]

MAX_PEERS = 100


class Peers:
    """Peer id -> {editing, last seen}; every method says whether the view changed."""

    def __init__(self, clock=time.monotonic, limit=MAX_PEERS):
        self.clock = clock
        self.limit = limit
        self.table = {}

    def heard(self, peer, editing):
        """``peer`` announced itself (editing ``editing``); True if that is news."""
        known = self.table.get(peer)
        if known is None and len(self.table) >= self.limit:
            return False
        self.table[peer] = {"editing": editing, "seen": self.clock()}
        return known is None or known["editing"] != editing

    def left(self, peer):
        """``peer`` closed its socket; True if it was known."""
        return self.table.pop(peer, None) is not None

    def expire(self, silence):
        """Drop the peers not heard from for ``silence`` seconds; True if any."""
        oldest = self.clock() - silence
        gone = [peer for peer, state in self.table.items() if state["seen"] < oldest]
        for peer in gone:
            del self.table[peer]
        return bool(gone)

    def clear(self):
        """Forget every peer (this socket left the list); True if any was known."""
        had = bool(self.table)
        self.table.clear()
        return had

    def others(self):
        """The peers as the client sees them: ``[{"id", "editing"}]``, by id."""
        return [
            {"id": peer, "editing": state["editing"]}
            for peer, state in sorted(self.table.items())
        ]
