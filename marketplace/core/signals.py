"""Signals: what one domain tells the others when something happens, inside the same transaction.

A claim that escalates against a silent seller must, in the same transaction, record the seller's violation,
compensate the buyer and write the notices. Claims do not know about sanctions, compensation or notifications:
they publish ``claim.escalated`` and each of those domains subscribes in its own ``subscribers`` module. The
handlers run synchronously, in the caller's transaction, before it commits; if one raises, nothing is kept.

Signals come in lists: a sweep that escalates 1,000 claims publishes one list of 1,000 signals, and each
handler writes its effects with set-based statements, never one query per signal.

The names and the keys of ``data`` are a contract between domains; each publisher documents its own
(``marketplace.claims.signals`` for ``claim.*``).
"""

from __future__ import annotations

import importlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from marketplace.core.auth import Actor

# The modules whose import subscribes their handlers, in the order the handlers run for the same signal:
# consequences first (violations, sanctions, compensation), then the notices that report them.
SUBSCRIBER_MODULES: tuple[str, ...] = (
    "marketplace.sanctions.subscribers",
    "marketplace.compensation.subscribers",
    "marketplace.notifications.subscribers",
)


@dataclass(frozen=True, slots=True)
class Signal:
    """Something that happened: its name (``claim.escalated``), when it took effect, and plain values."""

    name: str
    at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)


class Handler(Protocol):
    """A subscriber: it writes its effects for every signal in the list and flushes; it never commits."""

    def __call__(self, session: Session, signals: list[Signal], *, actor: Actor, now: datetime) -> None: ...


_HANDLERS: dict[str, list[Handler]] = defaultdict(list)
_loaded = False


def subscribe(*names: str) -> Callable[[Handler], Handler]:
    """Run the decorated handler whenever signals of these names are published."""

    def register(handler: Handler) -> Handler:
        for name in names:
            if handler in _HANDLERS[name]:
                raise ValueError(f"{handler!r} subscribes to {name!r} twice")
            _HANDLERS[name].append(handler)
        return handler

    return register


def unsubscribe(handler: Handler, *names: str) -> None:
    """Stop running ``handler`` for these names (tests that subscribe a recorder for a while)."""
    for name in names:
        if handler in _HANDLERS.get(name, ()):
            _HANDLERS[name].remove(handler)


def load_subscribers() -> None:
    """Import every domain's subscribers (once per process)."""
    global _loaded
    if _loaded:
        return
    for module in SUBSCRIBER_MODULES:
        importlib.import_module(module)
    _loaded = True


def publish(session: Session, signals: Iterable[Signal], *, actor: Actor, now: datetime) -> None:
    """Hand ``signals`` to their subscribers, grouped by name in the order the names first appear."""
    load_subscribers()
    by_name: dict[str, list[Signal]] = {}
    for signal in signals:
        by_name.setdefault(signal.name, []).append(signal)
    for name, group in by_name.items():
        for handler in _ordered(name):
            handler(session, group, actor=actor, now=now)


def _ordered(name: str) -> list[Handler]:
    """The handlers of ``name`` in the order of SUBSCRIBER_MODULES (then of registration), whatever the order in
    which their modules happened to be imported: consequences first, the notices that report them last."""
    rank = {module: index for index, module in enumerate(SUBSCRIBER_MODULES)}
    handlers = list(_HANDLERS.get(name, ()))
    return sorted(handlers, key=lambda handler: rank.get(getattr(handler, "__module__", ""), len(rank)))


def subscribers(name: str) -> list[Handler]:
    """The handlers of ``name``, in the order they run (for tests and documentation)."""
    load_subscribers()
    return _ordered(name)
