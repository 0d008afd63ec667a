"""Fixtures for notifications: orders (from the claims tests) and notification settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from marketplace.notifications.channels import Channel
from marketplace.notifications.models import Audience
from marketplace.notifications.outbox import Outgoing, enqueue
from marketplace.notifications.relay import RelayResult, run_relay
from marketplace.notifications.settings import NotifySettings
from tests.claims.conftest import make_order  # noqa: F401 - a fixture shared with the claims tests
from tests.conftest import START
from tests.notifications.samples import SAMPLES

SECRET = "shared-secret-for-tests"


def relay(
    session: Session,
    settings: NotifySettings,
    *,
    at: datetime = START,
    overrides: dict[str, Channel] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> RelayResult:
    """One relay run over the test's session: each of its transactions is a savepoint the test rolls back."""

    @contextmanager
    def transaction() -> Iterator[Session]:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise

    return run_relay(transaction, settings=settings, clock=clock or (lambda: at), overrides=overrides)


def write_notice(
    session: Session,
    key: tuple[str, str, str],
    *,
    channel: str,
    address: str | None = None,
    language: str = "ko",
    dedupe_key: str | None = None,
    recipient_id: int = 2,
    now: datetime = START,
) -> str:
    """A pending notice with a sample payload; returns its dedupe key."""
    audience, topic, variant = key
    dedupe_key = dedupe_key or f"{topic}:{variant or 'x'}:{audience}:{recipient_id}:{language}"
    payload: dict[str, Any] = SAMPLES[key]
    enqueue(
        session,
        [
            Outgoing(
                dedupe_key=dedupe_key,
                topic=topic,
                audience=Audience(audience),
                channel=channel,
                payload=payload,
                recipient_id=recipient_id,
                language=language,
                address=address,
            )
        ],
        now=now,
    )
    session.commit()
    return dedupe_key
