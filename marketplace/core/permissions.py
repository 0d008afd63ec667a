"""Role, scope and object-level permission checks that every endpoint and page goes through."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from marketplace.core.auth import Actor, ActorKind
from marketplace.core.errors import Forbidden, NotFound, Unauthorized
from marketplace.core.models import STAFF_ROLES, Role


@dataclass(frozen=True, slots=True)
class Permission:
    """Who may do something: roles for people, scopes for API keys."""

    name: str
    roles: frozenset[Role]
    scopes: frozenset[str]


PERMISSIONS: dict[str, Permission] = {}

STAFF = tuple(STAFF_ROLES)
SUPERVISORS = (Role.SUPERVISOR, Role.ADMIN)
EVERYONE = (*STAFF, Role.SELLER, Role.BUYER)


def define_permission(name: str, *, roles: Iterable[Role] = (), scopes: Iterable[str] = ()) -> Permission:
    """Declare a permission once, next to the domain that checks it."""
    if name in PERMISSIONS:
        raise ValueError(f"permission {name!r} is defined twice")
    permission = Permission(name=name, roles=frozenset(roles), scopes=frozenset(scopes))
    PERMISSIONS[name] = permission
    return permission


def allowed(actor: Actor, permission: Permission) -> bool:
    """Whether the actor's role or key scopes grant ``permission`` at all."""
    if actor.kind is ActorKind.SYSTEM:
        return True
    if actor.kind is ActorKind.API_CLIENT:
        return bool(permission.scopes & actor.scopes)
    return actor.role is not None and actor.role in permission.roles


def owns(actor: Actor, obj: Any) -> bool:
    """Whether ``obj`` is within what the actor may see: staff, systems and API clients see all."""
    if actor.kind is ActorKind.SELLER_USER:
        return actor.seller_id is not None and getattr(obj, "seller_id", None) == actor.seller_id
    if actor.kind is ActorKind.BUYER:
        return actor.buyer_id is not None and getattr(obj, "buyer_id", None) == actor.buyer_id
    return actor.kind in {ActorKind.USER, ActorKind.API_CLIENT, ActorKind.SYSTEM}


def can(actor: Actor, permission: Permission, obj: Any = None) -> bool:
    """Whether the actor may do ``permission`` (on ``obj``, when given)."""
    return allowed(actor, permission) and (obj is None or owns(actor, obj))


def authorize(actor: Actor, permission: Permission, obj: Any = None) -> None:
    """Raise unless the actor may do ``permission``; someone else's object is reported as not found."""
    if not actor.is_authenticated:
        raise Unauthorized(_l("Log in or send an API key to use this."))
    if not allowed(actor, permission):
        raise Forbidden(_l("Your role does not allow this action."), permission=permission.name)
    if obj is not None and not owns(actor, obj):
        # Never confirm that another seller's or buyer's object exists.
        raise NotFound(_l("Not found."))


def visible_to(actor: Actor, model: Any) -> sa.ColumnElement[bool]:
    """A WHERE clause limiting ``model``'s rows to those the actor may see."""
    if actor.kind is ActorKind.SELLER_USER:
        column = getattr(model, "seller_id", None)
        return column == actor.seller_id if column is not None and actor.seller_id is not None else sa.false()
    if actor.kind is ActorKind.BUYER:
        column = getattr(model, "buyer_id", None)
        return column == actor.buyer_id if column is not None and actor.buyer_id is not None else sa.false()
    if actor.kind in {ActorKind.USER, ActorKind.API_CLIENT, ActorKind.SYSTEM}:
        return sa.true()
    return sa.false()


# The business calendar is public knowledge; changing it is an administrator's call.
READ_CALENDAR = define_permission("calendar.read", roles=EVERYONE, scopes=("calendar:read", "calendar:write"))
MANAGE_CALENDAR = define_permission("calendar.manage", roles=(Role.ADMIN,), scopes=("calendar:write",))
# The audit log shows every change to every record: supervisors and administrators read it.
READ_AUDIT = define_permission("audit.read", roles=(Role.SUPERVISOR, Role.ADMIN))
# Policy pages: every staff member reads the rules in force; supervisors publish new versions.
VIEW_POLICIES = define_permission("policies.view", roles=STAFF)
EDIT_POLICIES = define_permission("policies.edit", roles=SUPERVISORS)
