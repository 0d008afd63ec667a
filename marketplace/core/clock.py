"""The injectable clock: domain code takes ``now``; entry points read it from here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import current_app


def now() -> datetime:
    """The app's current time (its configured CLOCK), as an aware UTC datetime."""
    value = current_app.config["CLOCK"]()
    return ensure_aware(value)


def ensure_aware(value: datetime) -> datetime:
    """Refuse naive datetimes and normalise to UTC."""
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"the clock must return an aware datetime, got {value!r}")
    return value.astimezone(UTC)


class FrozenClock:
    """A clock that stands still until moved: for tests, simulations and replays."""

    def __init__(self, start: datetime) -> None:
        self.current = ensure_aware(start)

    def __call__(self) -> datetime:
        return self.current

    def set(self, value: datetime) -> None:
        """Jump to ``value``."""
        self.current = ensure_aware(value)

    def advance(self, delta: timedelta) -> None:
        """Move forward by ``delta``."""
        self.current = self.current + delta
