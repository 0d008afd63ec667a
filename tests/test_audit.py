"""The audit log records every change, chains records by hash, and exposes tampering."""

from __future__ import annotations

import hashlib
import itertools
import json
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from marketplace.core.audit import (
    GENESIS_HASH,
    AuditEntry,
    audit_at_the_end,
    record_audit_many,
    record_hash,
    verify_chain,
)
from marketplace.core.auth import SCHEDULER, Actor
from marketplace.core.models import AuditRecord
from marketplace.core.operations import add_platform_holiday
from tests.conftest import START


def _records(session: Session) -> list[AuditRecord]:
    return list(session.scalars(sa.select(AuditRecord).order_by(AuditRecord.id)))


def test_operation_records_actor_action_before_and_after(session: Session, make_user) -> None:
    """Creating a user leaves one audit record naming who, what, and the new state."""
    user = make_user("agent", email="kim@test.example")
    record = session.scalars(
        sa.select(AuditRecord).where(AuditRecord.entity_type == "user", AuditRecord.entity_id == str(user.id))
    ).one()
    assert record.actor == "system:test"
    assert record.action == "user.create"
    assert record.before is None
    assert record.after["email"] == "kim@test.example"
    assert record.after["role"] == "agent"
    assert "password_hash" not in record.after
    assert record.occurred_at == START


def test_records_chain_each_to_the_one_before(session: Session, make_user) -> None:
    """Every record's prev_hash is the hash of the record before it; the first links to the genesis hash."""
    make_user("agent")
    make_user("buyer")
    records = _records(session)
    assert len(records) >= 3
    assert records[0].prev_hash == GENESIS_HASH
    for previous, record in itertools.pairwise(records):
        assert record.prev_hash == previous.hash
    assert verify_chain(session).ok


def test_batch_append_keeps_the_chain(session: Session) -> None:
    """A batched insert of many records chains them in order."""
    entries = [
        AuditEntry(
            SCHEDULER.ref,
            "claim.escalate",
            "claim",
            str(n),
            {"status": "open"},
            {"status": "escalated"},
            START + timedelta(seconds=n),
        )
        for n in range(500)
    ]
    assert record_audit_many(session, entries) == 500
    result = verify_chain(session, batch_size=64)
    assert result.ok and result.checked == 500


def test_record_hash_is_sha256_of_the_canonical_json_of_the_record() -> None:
    """The chain's formula, which stored chains depend on: sorted keys, no blanks, UTF-8 text as is."""
    entry = AuditEntry(
        actor="api_client:1",
        action="order.update",
        entity_type="order",
        entity_id="42",
        before={"status": "paid", "carrier": None},
        after={"status": "shipped", "carrier": "CJ대한통운", "lines": [{"b": 2, "a": 1}]},
        occurred_at=START,
    )
    document = [GENESIS_HASH, "2026-09-23T06:00:00+00:00", "api_client:1", "order.update", "order", "42"]
    document += [entry.before, entry.after]
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert record_hash(GENESIS_HASH, entry) == hashlib.sha256(text.encode()).hexdigest()


def test_verify_names_the_first_altered_record(session: Session, make_user, backend: str) -> None:
    """A record changed directly in the database is reported by id."""
    make_user("agent")
    make_user("supervisor")
    records = _records(session)
    target = records[1]
    _disable_append_only(session, backend)
    session.execute(sa.update(AuditRecord).where(AuditRecord.id == target.id).values(actor="user:999"))
    result = verify_chain(session)
    assert not result.ok
    assert result.first_bad_id == target.id
    assert result.checked == 1


def test_verify_detects_a_deleted_record(session: Session, make_user, backend: str) -> None:
    """Removing a record breaks the link of the one after it."""
    make_user("agent")
    make_user("supervisor")
    records = _records(session)
    _disable_append_only(session, backend)
    session.execute(sa.delete(AuditRecord).where(AuditRecord.id == records[0].id))
    result = verify_chain(session)
    assert result.first_bad_id == records[1].id
    assert "link" in result.reason


@pytest.mark.parametrize("statement", ["UPDATE audit_records SET actor = 'x'", "DELETE FROM audit_records"])
def test_database_refuses_to_change_audit_records(session: Session, make_user, statement: str) -> None:
    """The append-only trigger refuses UPDATE and DELETE on both databases."""
    make_user("agent")
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), session.begin_nested():
        session.execute(sa.text(statement))
    assert verify_chain(session).ok


def test_audit_verify_command_reports_tampering(app: Flask, session: Session, make_user, backend: str) -> None:
    """`marketplace audit verify` exits 0 on an intact log and 1 naming the altered record."""
    make_user("agent")
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "intact" in ok.output

    add_platform_holiday(session, START.date(), name="창립기념일", actor=Actor.system("test"), now=START)
    session.commit()
    record = _records(session)[-1]
    _disable_append_only(session, backend)
    session.execute(
        sa.update(AuditRecord).where(AuditRecord.id == record.id).values(after={"day": "2026-09-23", "name": "X"})
    )
    session.commit()
    bad = runner.invoke(args=["audit", "verify"])
    assert bad.exit_code == 1
    assert f"Audit record {record.id} does not match" in bad.output


def _disable_append_only(session: Session, backend: str) -> None:
    """Play a DBA with direct access: switch the guard off (rolled back with the test)."""
    if backend == "postgresql":
        session.execute(sa.text("ALTER TABLE audit_records DISABLE TRIGGER audit_records_append_only"))
    else:
        session.execute(sa.text("DROP TRIGGER audit_records_no_update"))
        session.execute(sa.text("DROP TRIGGER audit_records_no_delete"))


def _entry(entity_id: str) -> AuditEntry:
    return AuditEntry(
        actor="system:test",
        action="thing.touch",
        entity_type="thing",
        entity_id=entity_id,
        before=None,
        after={"n": entity_id},
        occurred_at=START,
    )


def test_audit_at_the_end_appends_held_records_in_order_when_the_block_ends(session: Session) -> None:
    """Records written inside the block (nested ones too) appear only when it ends, in the order written, chained."""
    with audit_at_the_end(session):
        record_audit_many(session, [_entry("1")])
        with audit_at_the_end(session):
            record_audit_many(session, [_entry("2"), _entry("3")])
        assert [r.entity_id for r in _records(session) if r.entity_type == "thing"] == []
    session.commit()
    assert [r.entity_id for r in _records(session) if r.entity_type == "thing"] == ["1", "2", "3"]
    assert verify_chain(session).ok


def test_audit_at_the_end_appends_nothing_when_the_block_raises(session: Session) -> None:
    with pytest.raises(RuntimeError), audit_at_the_end(session):
        record_audit_many(session, [_entry("1")])
        raise RuntimeError("batch failed")
    record_audit_many(session, [_entry("2")])  # after the block: written at once again
    assert [r.entity_id for r in _records(session) if r.entity_type == "thing"] == ["2"]
