"""`marketplace notifications list | retry | deliver`."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from marketplace.core.models import AuditRecord
from marketplace.notifications.models import OutboxMessage, OutboxStatus
from tests.notifications.conftest import write_notice


def _kill(session: Session, key: str) -> OutboxMessage:
    message = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.dedupe_key == key)).one()
    message.status, message.attempts = OutboxStatus.DEAD, 10
    session.commit()
    return message


def test_list_shows_messages_with_their_status(app: Flask, session: Session) -> None:
    """One line per message, newest first, filtered by status."""
    write_notice(session, ("buyer", "claim.opened", "filed"), channel="log", dedupe_key="a")
    _kill(session, write_notice(session, ("seller", "claim.reminder", ""), channel="email", dedupe_key="b"))
    result = app.test_cli_runner().invoke(args=["notifications", "list", "--status", "dead"])
    assert result.exit_code == 0
    [line, summary] = result.output.strip().splitlines()
    assert "dead" in line and "claim.reminder" in line and "seller:2" in line
    assert summary == "1 of 1 message(s) shown."


def test_retry_dead_brings_every_dead_message_back(app: Flask, session: Session) -> None:
    """`retry --dead` requeues all dead messages, audited as the CLI."""
    for key in ("a", "b"):
        _kill(session, write_notice(session, ("buyer", "claim.opened", "filed"), channel="gateway", dedupe_key=key))
    write_notice(session, ("buyer", "claim.opened", "filed"), channel="gateway", dedupe_key="c")
    result = app.test_cli_runner().invoke(args=["notifications", "retry", "--dead"])
    assert result.exit_code == 0 and "2 dead message(s) will be sent again." in result.output
    session.expire_all()
    assert set(session.scalars(sa.select(OutboxMessage.status))) == {OutboxStatus.PENDING}
    actors = session.scalars(sa.select(AuditRecord.actor).where(AuditRecord.action == "outbox.retry")).all()
    assert actors == ["system:cli", "system:cli"]


def test_retry_by_id_refuses_a_message_that_is_not_dead(app: Flask, session: Session) -> None:
    """Exit 1 with one readable line, and nothing changed."""
    dead = _kill(session, write_notice(session, ("buyer", "claim.opened", "filed"), channel="gateway", dedupe_key="a"))
    pending_key = write_notice(session, ("buyer", "claim.opened", "filed"), channel="gateway", dedupe_key="b")
    pending = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.dedupe_key == pending_key)).one()
    result = app.test_cli_runner().invoke(
        args=["notifications", "retry", "--id", str(dead.id), "--id", str(pending.id)]
    )
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"Error: Message {pending.id}: Only a message that has run out of attempts can be retried."
    )
    session.expire_all()
    assert dead.status is OutboxStatus.DEAD


def test_retry_needs_dead_or_an_id(app: Flask) -> None:
    """Neither or both is a usage error."""
    assert app.test_cli_runner().invoke(args=["notifications", "retry"]).exit_code == 2
    assert app.test_cli_runner().invoke(args=["notifications", "retry", "--dead", "--id", "1"]).exit_code == 2


def test_deliver_sends_what_is_due(app: Flask, session: Session) -> None:
    """Without channels configured the demo's log channel takes everything."""
    write_notice(session, ("buyer", "claim.opened", "filed"), channel="log")
    result = app.test_cli_runner().invoke(args=["notifications", "deliver"])
    assert result.exit_code == 0 and result.output.strip() == "1 sent, 0 failed (will retry), 0 dead."
