"""List ids that automerge-repo clients can name: bs58check of 16 random bytes.

An automerge-repo document id is the Base58Check encoding (Bitcoin's alphabet,
a 4-byte double-SHA-256 checksum appended) of 16 bytes. Such an id is also a
valid list id here (1-64 characters of [A-Za-z0-9_-]), so the server uses the
one id for both: ``/lists/<id>/`` in the app is ``automerge:<id>`` in a Repo.

Public API: ``new_document_id()``, ``is_repo_document_id(doc_id)``.
"""

import hashlib
import secrets

__all__ = ["new_document_id", "is_repo_document_id"]

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
ID_BYTES = 16


def _checksum(payload):
    return hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]


def _b58encode(data):
    number = int.from_bytes(data, "big")
    encoded = ""
    while number:
        number, digit = divmod(number, 58)
        encoded = ALPHABET[digit] + encoded
    zeros = len(data) - len(data.lstrip(b"\0"))
    return ALPHABET[0] * zeros + encoded


def _b58decode(text):
    number = 0
    for character in text:
        number = number * 58 + ALPHABET.index(character)
    zeros = len(text) - len(text.lstrip(ALPHABET[0]))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return b"\0" * zeros + body


def new_document_id():
    """A fresh, unguessable id (128 random bits) that is a list id and a repo id."""
    payload = secrets.token_bytes(ID_BYTES)
    return _b58encode(payload + _checksum(payload))


def is_repo_document_id(doc_id):
    """True when automerge-repo clients accept ``doc_id`` as a document id."""
    if not doc_id or any(character not in ALPHABET for character in doc_id):
        return False
    data = _b58decode(doc_id)
    payload, checksum = data[:-4], data[-4:]
    return len(payload) == ID_BYTES and _checksum(payload) == checksum
