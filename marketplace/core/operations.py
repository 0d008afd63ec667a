"""Write use-cases for accounts, API keys and platform holidays. They flush; the caller commits."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from marketplace.core import queries
from marketplace.core.audit import record_audit
from marketplace.core.auth import (
    API_KEY_PREFIX,
    MIN_PASSWORD_LENGTH,
    SCOPES,
    Actor,
    generate_api_key,
    hash_api_key,
    hash_password,
    password_needs_rehash,
    verify_password,
)
from marketplace.core.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from marketplace.core.models import STAFF_ROLES, ApiKey, PlatformHoliday, Role, User

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LANGUAGES = ("ko", "en")
# Writing last_used_at on every call would turn each API read into a write; once a few minutes is enough.
_LAST_USED_RESOLUTION = timedelta(minutes=5)


def create_user(
    session: Session,
    email: str,
    *,
    name: str,
    role: Role | str,
    password: str,
    seller_id: int | None = None,
    buyer_id: int | None = None,
    language: str = "ko",
    actor: Actor,
    now: datetime,
) -> User:
    """Create a login; a seller user is bound to one seller, a buyer login to one buyer."""
    email = queries.normalize_email(email)
    if not EMAIL_RE.match(email):
        raise ValidationFailed(_l("Enter a valid e-mail address."), field="email")
    if not name.strip():
        raise ValidationFailed(_l("Enter a name."), field="name")
    try:
        role = Role(role)
    except ValueError:
        raise ValidationFailed(
            _l("Unknown role. Use one of: %(roles)s.", roles=", ".join(r.value for r in Role)), field="role"
        ) from None
    if language not in LANGUAGES:
        raise ValidationFailed(_l("Language must be ko or en."), field="language")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            _l("The password must have at least %(count)d characters.", count=MIN_PASSWORD_LENGTH), field="password"
        )
    if role is Role.SELLER and seller_id is None:
        raise ValidationFailed(_l("A seller user must belong to a seller."), field="seller")
    if role is Role.BUYER and buyer_id is None:
        raise ValidationFailed(_l("A buyer login must belong to a buyer."), field="buyer")
    if role in STAFF_ROLES and (seller_id is not None or buyer_id is not None):
        raise ValidationFailed(_l("Staff accounts belong to no seller or buyer."), field="role")
    if role is not Role.SELLER and seller_id is not None:
        raise ValidationFailed(_l("Only seller users belong to a seller."), field="seller")
    if role is not Role.BUYER and buyer_id is not None:
        raise ValidationFailed(_l("Only buyer logins belong to a buyer."), field="buyer")
    if queries.get_user_by_email(session, email) is not None:
        raise Conflict(_l("A user with this e-mail already exists."), field="email")

    user = User(
        email=email,
        name=name.strip(),
        role=role,
        password_hash=hash_password(password),
        seller_id=seller_id,
        buyer_id=buyer_id,
        language=language,
        is_active=True,
        created_at=now,
    )
    session.add(user)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="user.create",
        entity_type="user",
        entity_id=user.id,
        before=None,
        after=user.snapshot(),
        now=now,
    )
    return user


def authenticate_user(session: Session, email: str, password: str, *, now: datetime) -> User:
    """Check a login; on success record it and upgrade an outdated password hash."""
    user = queries.get_user_by_email(session, email)
    if not verify_password(user.password_hash if user else None, password) or user is None:
        raise Unauthorized(_l("The e-mail or password is not correct."))
    if not user.is_active:
        raise Unauthorized(_l("This account is disabled. Contact an administrator."))
    if password_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    before = {"last_login_at": user.last_login_at}
    user.last_login_at = now
    session.flush()
    record_audit(
        session,
        actor=Actor.for_user(user),
        action="user.login",
        entity_type="user",
        entity_id=user.id,
        before=before,
        after={"last_login_at": now},
        now=now,
    )
    return user


def set_user_active(session: Session, user: User, *, active: bool, actor: Actor, now: datetime) -> User:
    """Disable or re-enable a login; a disabled user cannot log in and its sessions end."""
    if user.is_active == active:
        return user
    before = user.snapshot()
    user.is_active = active
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="user.enable" if active else "user.disable",
        entity_type="user",
        entity_id=user.id,
        before=before,
        after=user.snapshot(),
        now=now,
    )
    return user


def create_api_key(
    session: Session, name: str, *, scopes: Iterable[str], actor: Actor, now: datetime
) -> tuple[ApiKey, str]:
    """Issue an API key; the returned secret is shown once and never stored."""
    name = name.strip()
    if not name:
        raise ValidationFailed(_l("Give the key a name (the system that will use it)."), field="name")
    scopes = sorted(set(scopes))
    if not scopes:
        raise ValidationFailed(_l("Give the key at least one scope."), field="scopes")
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if unknown:
        raise ValidationFailed(
            _l(
                "Unknown scope %(scope)s. Known scopes: %(known)s.",
                scope=unknown[0],
                known=", ".join(sorted(SCOPES)),
            ),
            field="scopes",
        )
    secret, prefix, secret_hash = generate_api_key()
    key = ApiKey(name=name, prefix=prefix, secret_hash=secret_hash, scopes=scopes, created_at=now, created_by=actor.ref)
    session.add(key)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="api_key.create",
        entity_type="api_key",
        entity_id=key.id,
        before=None,
        after=key.snapshot(),
        now=now,
    )
    return key, secret


def revoke_api_key(session: Session, prefix: str, *, actor: Actor, now: datetime) -> ApiKey:
    """Revoke a key for good; calls with it are refused from now on."""
    key = session.scalar(sa.select(ApiKey).where(ApiKey.prefix == prefix.removeprefix(API_KEY_PREFIX)))
    if key is None:
        raise NotFound(_l("No API key has the prefix %(prefix)s.", prefix=prefix), field="prefix")
    if key.is_revoked:
        raise Conflict(_l("This API key is already revoked."), field="prefix")
    before = key.snapshot()
    key.revoked_at = now
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="api_key.revoke",
        entity_type="api_key",
        entity_id=key.id,
        before=before,
        after=key.snapshot(),
        now=now,
    )
    return key


def authenticate_api_key(session: Session, secret: str, *, now: datetime) -> ApiKey:
    """The key behind a Bearer token, or Unauthorized with the reason."""
    key = queries.get_api_key_by_hash(session, hash_api_key(secret.strip()))
    if key is None:
        raise Unauthorized(_l("Unknown API key."))
    if key.is_revoked:
        raise Unauthorized(_l("This API key has been revoked."))
    if key.last_used_at is None or now - key.last_used_at >= _LAST_USED_RESOLUTION:
        key.last_used_at = now
    return key


def add_platform_holiday(session: Session, day: date, *, name: str, actor: Actor, now: datetime) -> PlatformHoliday:
    """Close the platform on ``day``: deadlines computed from now on skip it."""
    name = name.strip()
    if not name:
        raise ValidationFailed(_l("Give the holiday a name."), field="name")
    if len(name) > 120:
        raise ValidationFailed(_l("The name may have at most 120 characters."), field="name")
    if session.get(PlatformHoliday, day) is not None:
        raise Conflict(_l("%(day)s is already a platform holiday.", day=day.isoformat()), field="date")
    holiday = PlatformHoliday(day=day, name=name, created_at=now, created_by=actor.ref)
    session.add(holiday)
    session.flush()
    session.info.pop("business_calendar", None)
    record_audit(
        session,
        actor=actor,
        action="platform_holiday.add",
        entity_type="platform_holiday",
        entity_id=day.isoformat(),
        before=None,
        after={"day": day, "name": name},
        now=now,
    )
    return holiday


def remove_platform_holiday(session: Session, day: date, *, actor: Actor, now: datetime) -> None:
    """Reopen the platform on ``day``; deadlines already computed keep their stored value."""
    holiday = session.get(PlatformHoliday, day)
    if holiday is None:
        raise NotFound(_l("%(day)s is not a platform holiday.", day=day.isoformat()), field="date")
    before = {"day": day, "name": holiday.name}
    session.delete(holiday)
    session.flush()
    session.info.pop("business_calendar", None)
    record_audit(
        session,
        actor=actor,
        action="platform_holiday.remove",
        entity_type="platform_holiday",
        entity_id=day.isoformat(),
        before=before,
        after=None,
        now=now,
    )
