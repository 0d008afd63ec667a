"""The notices and webhooks that other domains' signals produce, written in the transaction of the change.

Loaded last (``SUBSCRIBER_MODULES``), so a notice reports consequences already written by the other handlers of
the same signal (the violation, the compensation).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from marketplace.claims import signals as claim_signals
from marketplace.core.auth import Actor
from marketplace.core.signals import Signal, subscribe
from marketplace.notifications.notices import OTHER_SIGNALS, write_notices


@subscribe(*claim_signals.ALL)
def tell_about_claims(session: Session, signals: list[Signal], *, actor: Actor, now: datetime) -> None:
    """Buyers' and sellers' notices for claim moves, and a ``claim.*`` webhook to the marketplace for each."""
    write_notices(session, signals, now=now, webhooks=True)


@subscribe(*OTHER_SIGNALS)
def tell_about_consequences(session: Session, signals: list[Signal], *, actor: Actor, now: datetime) -> None:
    """Sellers' notices of violations, sanctions, appeals and deductions; buyers' of compensation and incidents."""
    write_notices(session, signals, now=now)
