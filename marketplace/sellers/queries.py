"""Reads for sellers."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.sellers.models import Seller


def get_seller_by_external_id(session: Session, external_id: str) -> Seller | None:
    """The seller the marketplace knows as ``external_id``."""
    return session.scalar(sa.select(Seller).where(Seller.external_id == external_id))


def count_sellers(session: Session) -> int:
    """How many sellers the platform knows."""
    return session.scalar(sa.select(sa.func.count()).select_from(Seller)) or 0
