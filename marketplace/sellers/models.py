"""Sellers known to the platform, keyed by the marketplace's own seller id."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, BigIntPK


class Seller(Base):
    """An independent seller on the marketplace."""

    __tablename__ = "sellers"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    external_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    contact_email: Mapped[str | None] = mapped_column(sa.String(254))
    language: Mapped[str] = mapped_column(sa.String(5), default="ko")
    created_at: Mapped[datetime]

    @hybrid_property
    def seller_id(self) -> int:
        """A seller owns itself (object-level permission checks read ``seller_id``)."""
        return self.id

    def snapshot(self) -> dict[str, Any]:
        """What the audit log records of a seller."""
        return {
            "external_id": self.external_id,
            "name": self.name,
            "contact_email": self.contact_email,
            "language": self.language,
        }
