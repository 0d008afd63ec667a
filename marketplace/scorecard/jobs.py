"""The scheduled incremental update of the scorecard."""

from __future__ import annotations

from datetime import datetime

from marketplace.core.auth import SCHEDULER
from marketplace.extensions import db
from marketplace.scheduler import periodic_job
from marketplace.scorecard import build


@periodic_job("scorecard.refresh", every_seconds=900, description="Update the seller scorecards from new events")
def refresh_scorecards(now: datetime) -> int:
    """Recompute the day rows the new events touch and snapshot; the (seller, day) pairs recomputed."""
    with db.transaction() as session:
        return build.refresh(session, now=now, actor=SCHEDULER)["touched"]
