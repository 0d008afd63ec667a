"""Versioned policy documents: supervisors publish a new version; what is computed records the version used."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from marketplace.core.audit import record_audit
from marketplace.core.auth import Actor
from marketplace.core.errors import Conflict, NotFound, ValidationFailed
from marketplace.core.models import PolicyVersion

# A validator returns {field path: [messages]} for a candidate document (empty when it is valid).
Validator = Callable[[Mapping[str, Any]], dict[str, list[Any]]]
_DEFAULTS: dict[str, tuple[dict[str, Any], Validator]] = {}


@dataclass(frozen=True, slots=True)
class PolicyKind:
    """A kind of policy as the staff pages show it: its title and a label for every field."""

    name: str
    title: Any
    labels: Mapping[str, Any]
    preview: PolicyPreview | None = None


@dataclass(frozen=True, slots=True)
class PolicyPreview:
    """A what-if the policy page offers before publishing: ``run(session, document, days=, now=)`` gives a result
    that ``template`` shows (as ``preview``); ``permission`` says who may run it."""

    run: Callable[..., Any]
    template: str
    permission: Any
    default_days: int = 30


_KINDS: dict[str, PolicyKind] = {}


def register_policy(
    name: str,
    default: dict[str, Any],
    validate: Validator,
    *,
    title: Any = None,
    labels: Mapping[str, Any] | None = None,
) -> None:
    """Declare a policy kind with its built-in default (version 0), its validator, and how people read it."""
    problems = validate(default)
    if problems:
        raise ValueError(f"default {name} policy is invalid: {problems}")
    _DEFAULTS[name] = (default, validate)
    _KINDS[name] = PolicyKind(name=name, title=title or name, labels=dict(labels or {}))


def register_policy_preview(name: str, preview: PolicyPreview) -> None:
    """Offer ``preview`` on the page of the policy kind ``name`` (registered before)."""
    _KINDS[name] = replace(_KINDS[name], preview=preview)


def policy_kinds() -> list[PolicyKind]:
    """Every registered policy kind, in registration order."""
    return list(_KINDS.values())


def policy_kind(name: str) -> PolicyKind:
    """One policy kind, or NotFound."""
    if name not in _KINDS:
        raise NotFound(_l("Unknown policy %(name)s.", name=name))
    return _KINDS[name]


def flatten(document: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested policy document as {"a.b": value} (the paths validators name)."""
    flat: dict[str, Any] = {}
    for key, value in document.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{path}."))
        else:
            flat[path] = value
    return flat


def unflatten(flat: Mapping[str, Any], like: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """The document shaped as ``like`` with the leaves of ``flat`` ({"a.b": value}); keys may contain dots."""
    document: dict[str, Any] = {}
    for key, value in like.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            document[key] = unflatten(flat, value, f"{path}.")
        else:
            document[key] = flat.get(path, value)
    return document


def current_policy(session: Session, name: str) -> PolicyVersion:
    """The version in force; before any is published, the built-in default as version 0 (not stored)."""
    policy = session.scalar(
        sa.select(PolicyVersion).where(PolicyVersion.name == name).order_by(PolicyVersion.version.desc()).limit(1)
    )
    if policy is not None:
        return policy
    return builtin_policy(name)


def builtin_policy(name: str) -> PolicyVersion:
    """The built-in default as version 0 (not stored): what applies before any version is published."""
    if name not in _DEFAULTS:
        raise NotFound(_l("Unknown policy %(name)s.", name=name))
    return PolicyVersion(name=name, version=0, document=dict(_DEFAULTS[name][0]), note="built-in default")


def policy_version(session: Session, name: str, version: int) -> PolicyVersion:
    """One published version."""
    policy = session.scalar(
        sa.select(PolicyVersion).where(PolicyVersion.name == name, PolicyVersion.version == version)
    )
    if policy is None:
        raise NotFound(_l("Policy %(name)s has no version %(version)d.", name=name, version=version))
    return policy


def policy_history(session: Session, name: str) -> list[PolicyVersion]:
    """Every published version, newest first."""
    return list(
        session.scalars(
            sa.select(PolicyVersion).where(PolicyVersion.name == name).order_by(PolicyVersion.version.desc())
        )
    )


def publish_policy(
    session: Session, name: str, document: Mapping[str, Any], *, note: str, actor: Actor, now: datetime
) -> PolicyVersion:
    """Validate and publish a new version; it applies to what is computed from now on."""
    if name not in _DEFAULTS:
        raise NotFound(_l("Unknown policy %(name)s.", name=name))
    problems = _DEFAULTS[name][1](document)
    if problems:
        first = sorted(problems)[0]
        raise ValidationFailed(problems[first][0], field=first, errors=problems)
    version = current_policy(session, name).version + 1
    policy = PolicyVersion(
        name=name, version=version, document=dict(document), note=note, created_at=now, created_by=actor.ref
    )
    try:
        with session.begin_nested():
            session.add(policy)
    except sa.exc.IntegrityError:
        raise Conflict(_l("Another version was published at the same moment. Reload and try again.")) from None
    record_audit(
        session,
        actor=actor,
        action="policy.publish",
        entity_type="policy",
        entity_id=f"{name}:{version}",
        before=None,
        after={"name": name, "version": version, "document": dict(document), "note": note},
        now=now,
    )
    return policy
