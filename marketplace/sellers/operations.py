"""Write use-cases for sellers."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from marketplace.core.audit import record_audit
from marketplace.core.auth import Actor
from marketplace.core.errors import Conflict, ValidationFailed
from marketplace.sellers import queries
from marketplace.sellers.models import Seller


def create_seller(
    session: Session,
    external_id: str,
    *,
    name: str,
    contact_email: str | None = None,
    language: str = "ko",
    actor: Actor,
    now: datetime,
) -> Seller:
    """Register a seller under the marketplace's own seller id."""
    external_id = external_id.strip()
    if not external_id:
        raise ValidationFailed(_l("Give the marketplace's seller id."), field="external_id")
    if not name.strip():
        raise ValidationFailed(_l("Enter a name."), field="name")
    if language not in ("ko", "en"):
        raise ValidationFailed(_l("Language must be ko or en."), field="language")
    if queries.get_seller_by_external_id(session, external_id) is not None:
        raise Conflict(_l("A seller with this id already exists."), field="external_id")
    seller = Seller(
        external_id=external_id, name=name.strip(), contact_email=contact_email, language=language, created_at=now
    )
    session.add(seller)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="seller.create",
        entity_type="seller",
        entity_id=seller.id,
        before=None,
        after=seller.snapshot(),
        now=now,
    )
    return seller
