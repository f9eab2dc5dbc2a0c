"""What the storage service returns: StoredDocument (a read), WriteResult (a write)."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class StoredDocument:
    """What a read returns: the concatenated chunks and a validator for them."""

    data: bytes
    etag: str


@dataclass
class WriteResult:
    """The outcome of a write: what changed, and what is now stored."""

    doc_id: str
    changed: bool
    new_bytes: bytes = b""
    new_changes: int = 0
    heads: list[str] = field(default_factory=list)
    clock: dict[str, int] = field(default_factory=dict)
    size: int = 0
    chunk_count: int = 0
    etag: str = ""

    def as_json(self):
        """The acknowledgement sent to the writer (HTTP body or WebSocket frame)."""
        return {
            "doc_id": self.doc_id,
            "changed": self.changed,
            "new_changes": self.new_changes,
            "heads": self.heads,
            "clock": self.clock,
            "size": self.size,
            "chunks": self.chunk_count,
            "etag": self.etag,
        }
