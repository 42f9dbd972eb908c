"""Who may pull the sandboxes' demo levers (reprice, fail, ship, list orders): holders of one key.

The emulated platform APIs check the platform's own credentials; the levers act as the
merchant in its admin, so they take a key of their own (checkout passes its operator key).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated

from fastapi import Header, HTTPException


def lever_guard(key: str | None) -> Callable[[str | None], None]:
    """A dependency refusing a lever call without `Authorization: Bearer <key>`.

    `key=None` leaves the levers open: only for an emulator built inside a test.
    """

    def guard(authorization: Annotated[str | None, Header()] = None) -> None:
        if key is None:
            return
        scheme, _, secret = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            secret.strip().encode(), key.encode()
        ):
            raise HTTPException(
                401,
                "Sandbox levers need 'Authorization: Bearer <operator key>'.",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return guard
