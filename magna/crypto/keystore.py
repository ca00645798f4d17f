"""Encryption at rest for CA private keys.

CA keys live in the database (so every API worker and conductor sees them) but never in clear:
each is sealed with Fernet (AES-128-CBC + HMAC-SHA256) under a key kept outside the database, in
a file generated on first start for the embedded default.
"""

from __future__ import annotations

import os

from cryptography.fernet import Fernet, InvalidToken

from magna.common.exceptions import MagnaError


class KeyStore:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def seal(self, plaintext: bytes) -> bytes:
        return self._fernet.encrypt(plaintext)

    def open(self, sealed: bytes) -> bytes:
        try:
            return self._fernet.decrypt(sealed)
        except InvalidToken:
            raise MagnaError("A CA private key could not be decrypted: the encryption key "
                             "does not match the database.") from None


def load_or_create_key(path: str) -> bytes:
    """Read the Fernet key at ``path``; create it (mode 0600) if it does not exist yet."""
    if os.path.exists(path):
        with open(path, "rb") as handle:
            return handle.read().strip()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    key = Fernet.generate_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, key)
    finally:
        os.close(fd)
    return key
