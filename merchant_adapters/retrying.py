"""Reading a Retry-After header, which both platforms send with a 429."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from email.utils import parsedate_to_datetime


def retry_after_seconds(value: str, now: Callable[[], datetime]) -> float | None:
    """Retry-After as seconds from `now` (delta-seconds or an HTTP date), or None if neither.

    Not clamped at zero: each adapter clamps (and picks its fallback) itself.
    """
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return (parsedate_to_datetime(value) - now()).total_seconds()
    except (TypeError, ValueError):
        return None
