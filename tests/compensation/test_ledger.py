"""The ledger: balanced, append-only, corrected by reversals, and checked."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from marketplace.compensation import ledger
from marketplace.compensation.ledger import Account, Leg, Posting, UnbalancedTransaction
from marketplace.compensation.models import LedgerEntry, LedgerTransaction
from marketplace.core.auth import SCHEDULER
from tests.conftest import START


def _unbalanced(session: Session, backend: str) -> int:
    """A hand-made transaction with one entry of ₩5,000 and nothing against it."""
    if backend == "postgresql":
        # The balance trigger would refuse it; as the database owner would, switch triggers off for this transaction.
        session.execute(sa.text("SET LOCAL session_replication_role = replica"))
    transaction_id = session.scalar(
        sa.insert(LedgerTransaction)
        .values(idempotency_key="hand", kind="test", memo="", effective_at=START, posted_at=START, posted_by="test")
        .returning(LedgerTransaction.id)
    )
    account = ledger.account_ids(session)[Account.COMPENSATION_EXPENSE]
    session.execute(sa.insert(LedgerEntry).values(transaction_id=transaction_id, account_id=account, amount=5000))
    return transaction_id


def test_check_passes_on_balanced_transactions(session: Session) -> None:
    """A balanced posting with no documents behind it only fails the payables check; a platform one passes."""
    legs = ledger.debit_credit(700, Account.PLATFORM_CASH, Account.COMPENSATION_RECOVERED)
    ledger.post(session, [Posting("p-1", "test", legs, START)], actor=SCHEDULER, now=START)
    result = ledger.check(session)
    assert result.ok and result.transactions >= 1


def test_check_fails_naming_a_hand_made_unbalanced_transaction(session: Session, backend: str) -> None:
    """One entry of ₩5,000 with nothing against it: the check names the transaction."""
    transaction_id = _unbalanced(session, backend)
    result = ledger.check(session)
    assert not result.ok
    assert result.problem == f"ledger transaction {transaction_id} does not balance: its 1 entries add up to 5000 won"
    session.rollback()


def test_ledger_check_command_exits_1_on_an_unbalanced_transaction(app: Flask, session: Session, backend: str) -> None:
    """`marketplace ledger check` prints the first problem and exits 1."""
    from marketplace.extensions import db

    with app.app_context():
        transaction_id = _unbalanced(db.session, backend)
        result = app.test_cli_runner().invoke(args=["ledger", "check"])
        assert result.exit_code == 1
        assert f"ledger transaction {transaction_id} does not balance" in result.output
        db.session.rollback()
    session.rollback()


def test_ledger_check_command_passes_on_an_empty_ledger(app: Flask) -> None:
    """Exit 0 and a summary."""
    result = app.test_cli_runner().invoke(args=["ledger", "check"])
    assert result.exit_code == 0 and "Ledger balanced" in result.output


def test_unbalanced_posting_is_refused_before_writing(session: Session) -> None:
    """The code checks every posting first."""
    with pytest.raises(UnbalancedTransaction):
        ledger.post(
            session,
            [Posting("bad", "test", [Leg(Account.PLATFORM_CASH, 10), Leg(Account.COMPENSATION_RECOVERED, -9)], START)],
            actor=SCHEDULER,
            now=START,
        )


def test_database_refuses_an_unbalanced_insert_on_postgresql(session: Session, backend: str) -> None:
    """The statement-level trigger refuses entries that leave their transaction unbalanced."""
    if backend != "postgresql":
        pytest.skip("the balance trigger is PostgreSQL's")
    transaction_id = session.scalar(
        sa.insert(LedgerTransaction)
        .values(idempotency_key="hand", kind="test", memo="", effective_at=START, posted_at=START, posted_by="test")
        .returning(LedgerTransaction.id)
    )
    account = ledger.account_ids(session)[Account.PLATFORM_CASH]
    with pytest.raises(sa.exc.DBAPIError, match="does not balance"):
        session.execute(sa.insert(LedgerEntry).values(transaction_id=transaction_id, account_id=account, amount=1))
    session.rollback()


@pytest.mark.parametrize("statement", ["UPDATE ledger_entries SET amount = 1", "DELETE FROM ledger_entries"])
def test_entries_can_never_be_changed_or_removed(session: Session, statement: str) -> None:
    """Append-only: the database refuses UPDATE and DELETE."""
    legs = ledger.debit_credit(300, Account.PLATFORM_CASH, Account.COMPENSATION_RECOVERED)
    ledger.post(session, [Posting("x", "test", legs, START)], actor=SCHEDULER, now=START)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        session.execute(sa.text(statement))
    session.rollback()


def test_reversal_brings_the_balances_back(session: Session) -> None:
    """A correction is a reversing transaction, posted once."""
    legs = ledger.debit_credit(900, Account.PLATFORM_CASH, Account.COMPENSATION_RECOVERED)
    transaction_id = ledger.post(session, [Posting("r", "test", legs, START)], actor=SCHEDULER, now=START)["r"]
    now = datetime(2026, 10, 1, tzinfo=START.tzinfo)
    assert ledger.reverse(session, transaction_id, memo="mistake", actor=SCHEDULER, now=now) is not None
    assert ledger.reverse(session, transaction_id, memo="again", actor=SCHEDULER, now=now) is None
    assert ledger.balances(session) == {"compensation_recovered": 0, "platform_cash": 0}
