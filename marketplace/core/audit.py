"""The audit log: every state change, append-only, each record chained to the one before by a SHA-256 hash."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from json.encoder import encode_basestring
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from marketplace.core.bulk import canonical_json, insert_rows, utc_iso
from marketplace.core.models import AuditRecord

if TYPE_CHECKING:
    from marketplace.core.auth import Actor

GENESIS_HASH = "0" * 64
# Any constant works; it only has to be the same in every process that writes audit records.
_CHAIN_LOCK_KEY = 0x6D6B_6175_6469_74
_HEAD_KEY = "audit_chain_head"
_DEFERRED_KEY = "audit_deferred"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One state change to record."""

    actor: str
    action: str
    entity_type: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class ChainVerification:
    """The outcome of walking the chain: how many records matched and the first one that did not."""

    checked: int
    first_bad_id: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """True when every record matched."""
        return self.first_bad_id is None


# Values JSON takes as they are: returned at once (a sweep's snapshots and payloads are mostly these).
_PLAIN = frozenset({str, int, float, bool, type(None)})


def jsonable(value: Any) -> Any:
    """A JSON-safe copy with stable spellings for datetimes, dates, decimals and enums."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict:
        # The common case, without a call per plain value.
        return {
            key if type(key) is str else str(key): inner if type(inner) in _PLAIN else jsonable(inner)
            for key, inner in value.items()
        }
    if kind is list or kind is tuple:
        return [inner if type(inner) in _PLAIN else jsonable(inner) for inner in value]
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("audit timestamps must be timezone-aware")
        return utc_iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): jsonable(inner) for key, inner in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [jsonable(inner) for inner in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    return value


def record_hash(prev_hash: str, entry: AuditEntry) -> str:
    """The hash that chains ``entry`` to the record before it.

    SHA-256 of the canonical JSON (``canonical_json``) of ``[prev_hash, occurred_at (UTC ISO 8601), actor, action,
    entity_type, entity_id, before, after]``.
    """
    at = entry.occurred_at.astimezone(UTC).isoformat()
    return _chained_hash(prev_hash, at, entry, canonical_json(entry.before), canonical_json(entry.after))


def _chained_hash(prev_hash: str, at: str, entry: AuditEntry, before: str, after: str) -> str:
    # The canonical JSON of a list is its items' canonical JSON joined by commas: the snapshots, encoded once for
    # the row, are spliced in rather than encoded again, and the strings are encoded as json encodes them.
    head = (prev_hash, at, entry.actor, entry.action, entry.entity_type, entry.entity_id)
    try:
        text = ",".join(map(encode_basestring, head))
    except TypeError:  # not all strings
        text = canonical_json(list(head))[1:-1]
    return hashlib.sha256(f"[{text},{before},{after}]".encode()).hexdigest()


def record_audit(
    session: Session,
    *,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: str | int,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    now: datetime,
) -> None:
    """Append one audit record in the caller's transaction."""
    record_audit_many(
        session,
        [
            AuditEntry(
                actor=actor.ref,
                action=action,
                entity_type=entity_type,
                entity_id=str(entity_id),
                before=jsonable(before) if before is not None else None,
                after=jsonable(after) if after is not None else None,
                occurred_at=now,
            )
        ],
    )


@contextmanager
def audit_at_the_end(session: Session) -> Iterator[None]:
    """Hold the audit records written inside the block and append them in one batch when it ends.

    Appending takes the chain's lock until commit; a batch job that appends last holds it only for its final
    statements and its commit, so that several runners (or the API) overlap their work instead of queueing behind
    the first one's lock for the whole batch. Nothing is appended when the block raises (the transaction is going
    to roll back anyway). Nested blocks append with the outermost.
    """
    if _DEFERRED_KEY in session.info:
        yield
        return
    held: list[AuditEntry] = []
    session.info[_DEFERRED_KEY] = held
    try:
        yield
    finally:
        session.info.pop(_DEFERRED_KEY, None)
    record_audit_many(session, held)


def record_audit_many(session: Session, entries: Iterable[AuditEntry]) -> int:
    """Append many audit records with one batched insert (or hold them, in ``audit_at_the_end``); returns how many."""
    held = session.info.get(_DEFERRED_KEY)
    if held is not None:
        before = len(held)
        held.extend(entries)
        return len(held) - before
    rows = audit_records(session, entries)
    # COPY and Core executemany both keep the order of ``rows``, so ids follow the chain.
    insert_rows(session, AuditRecord.__table__, rows)
    return len(rows)


def audit_records(session: Session, entries: Iterable[AuditEntry]) -> list[dict[str, Any]]:
    """The ``audit_records`` rows that append ``entries`` to the chain; the chain's head moves on to the last.

    ``record_audit_many`` inserts them at once. A caller that builds them while the database is busy with other
    rows (having read the head before, ``read_chain_head``) must insert them itself, in this order, with
    ``insert_rows`` before it appends anything else.
    """
    entries = list(entries)
    if not entries:
        return []
    head = _chain_head(session)
    rows = []
    occurred_at, at = None, ""
    for entry in entries:
        if entry.occurred_at.tzinfo is None:
            raise ValueError("audit timestamps must be timezone-aware")
        if entry.occurred_at is not occurred_at:
            # A batch's records mostly share one time: spelled once.
            occurred_at, at = entry.occurred_at, entry.occurred_at.astimezone(UTC).isoformat()
        before, after = canonical_json(entry.before), canonical_json(entry.after)
        digest = _chained_hash(head, at, entry, before, after)
        rows.append(
            {
                "occurred_at": entry.occurred_at,
                "actor": entry.actor,
                "action": entry.action,
                "entity_type": entry.entity_type,
                "entity_id": entry.entity_id,
                "before": before,
                "after": after,
                "prev_hash": head,
                "hash": digest,
            }
        )
        head = digest
    session.info[_HEAD_KEY] = head
    return rows


def read_chain_head(session: Session) -> None:
    """Take the chain's lock and read its head now, so that ``audit_records`` needs no query later."""
    _chain_head(session)


def _chain_head(session: Session) -> str:
    cached = session.info.get(_HEAD_KEY)
    if cached is not None:
        return cached
    if session.get_bind().dialect.name == "postgresql":
        # Serialise appenders until commit so two transactions never chain to the same head.
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(_CHAIN_LOCK_KEY)))
    # On SQLite every write transaction already begins IMMEDIATE, which serialises writers.
    head = session.scalar(sa.select(AuditRecord.hash).order_by(AuditRecord.id.desc()).limit(1)) or GENESIS_HASH
    session.info[_HEAD_KEY] = head
    return head


@event.listens_for(Session, "after_rollback")
@event.listens_for(Session, "after_soft_rollback")
def _forget_chain_head(session: Session, *_args: Any) -> None:
    # The head is only valid inside the transaction that holds the chain lock, and a rollback (of a savepoint
    # too) may have taken the records it points to.
    session.info.pop(_HEAD_KEY, None)


@event.listens_for(Session, "after_commit")
def _forget_chain_head_after_commit(session: Session) -> None:
    # Releasing a savepoint also fires after_commit; its records stay in the transaction, and so does the head.
    if not session.in_nested_transaction():
        session.info.pop(_HEAD_KEY, None)


def verify_chain(
    session: Session, *, batch_size: int = 5000, progress: Callable[[int], None] | None = None
) -> ChainVerification:
    """Walk the whole log in id order and recompute every hash; stop at the first record that does not match."""
    prev_hash = GENESIS_HASH
    checked = 0
    last_id = 0
    table = AuditRecord.__table__
    while True:
        # Core rows, not ORM objects: nothing piles up in the session's identity map on a long log.
        records = session.execute(
            sa.select(table).where(table.c.id > last_id).order_by(table.c.id).limit(batch_size)
        ).all()
        if not records:
            return ChainVerification(checked=checked)
        for record in records:
            if record.prev_hash != prev_hash:
                return ChainVerification(
                    checked=checked, first_bad_id=record.id, reason="link to the previous record is broken"
                )
            entry = AuditEntry(
                actor=record.actor,
                action=record.action,
                entity_type=record.entity_type,
                entity_id=record.entity_id,
                before=record.before,
                after=record.after,
                occurred_at=record.occurred_at,
            )
            if record_hash(prev_hash, entry) != record.hash:
                return ChainVerification(
                    checked=checked, first_bad_id=record.id, reason="content does not match its hash"
                )
            prev_hash = record.hash
            checked += 1
        last_id = records[-1].id
        if progress is not None:
            progress(checked)
