"""Merchant platform credentials, encrypted at rest with a key from settings (Fernet: AES + HMAC)."""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken


class CredentialVault:
    def __init__(self, key: str) -> None:
        self._fernet = Fernet(key.encode())

    def seal(self, credentials: dict[str, Any]) -> bytes:
        return self._fernet.encrypt(json.dumps(credentials, sort_keys=True).encode())

    def open(self, sealed: bytes) -> dict[str, Any]:
        try:
            opened: dict[str, Any] = json.loads(self._fernet.decrypt(sealed))
        except InvalidToken as exc:
            # A changed CREDENTIALS_KEY makes stored credentials unreadable: say so, do not guess.
            raise ValueError("stored credentials cannot be decrypted with CREDENTIALS_KEY") from exc
        return opened
