"""The double-entry ledger: balanced transactions posted set-based, reversals, derived balances, and the check.

Amounts are signed whole won: a debit is positive, a credit negative, so a transaction balances when its entries
add up to zero. Buyers' and sellers' shares of an account are told apart by the entry's party, so the chart stays
small and a balance per buyer or seller is a GROUP BY. Entries and transactions are never updated or deleted
(PostgreSQL triggers refuse it); a correction is a reversing transaction. On PostgreSQL a statement-level trigger
also refuses any INSERT that leaves a transaction of its rows unbalanced, so a transaction's entries are always
written in one statement.

The money movements of a compensation:

=========================  ==========================================  =========================================
movement                   debit                                       credit
=========================  ==========================================  =========================================
grant                      compensation_expense                        buyer_payable (buyer)
recovery (recoverable)     seller_receivable (seller)                  compensation_recovered
payout completed           buyer_payable (buyer)                       platform_cash
deduction confirmed        platform_cash                               seller_receivable (seller)
=========================  ==========================================  =========================================
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from marketplace.compensation.models import (
    OWED_STATUSES,
    Compensation,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Recovery,
    RecoveryStatus,
)
from marketplace.core.auth import Actor
from marketplace.core.bulk import insert_new, insert_returning, insert_rows

accounts = LedgerAccount.__table__
transactions = LedgerTransaction.__table__
entries = LedgerEntry.__table__


class Account(enum.StrEnum):
    """The chart of accounts (seeded by the migration)."""

    COMPENSATION_EXPENSE = "compensation_expense"
    BUYER_PAYABLE = "buyer_payable"
    SELLER_RECEIVABLE = "seller_receivable"
    COMPENSATION_RECOVERED = "compensation_recovered"
    PLATFORM_CASH = "platform_cash"


@dataclass(frozen=True, slots=True)
class Leg:
    """One entry to post: an account, the buyer or seller it concerns (if any), and a signed amount."""

    account: Account
    amount: int
    party_type: str | None = None
    party_id: int | None = None


@dataclass(frozen=True, slots=True)
class Posting:
    """A transaction to post, identified by its idempotency key."""

    key: str
    kind: str
    legs: Sequence[Leg]
    effective_at: datetime
    compensation_id: int | None = None
    memo: str = ""


class UnbalancedTransaction(ValueError):
    """A posting whose legs do not add up to zero: a bug in the caller, never client input."""


def debit_credit(
    amount: int,
    debit: Account,
    credit: Account,
    *,
    debit_party: tuple[str, int] | None = None,
    credit_party: tuple[str, int] | None = None,
) -> list[Leg]:
    """The two legs of a simple movement of ``amount`` from ``credit`` to ``debit``."""
    return [
        Leg(debit, amount, *(debit_party or (None, None))),
        Leg(credit, -amount, *(credit_party or (None, None))),
    ]


def account_ids(session: Session) -> dict[Account, int]:
    """The chart's ids by account."""
    rows = session.execute(sa.select(accounts.c.code, accounts.c.id)).all()
    return {Account(code): account_id for code, account_id in rows if code in Account._value2member_map_}


def post(
    session: Session, postings: Iterable[Posting], *, actor: Actor, now: datetime, fresh: bool = False
) -> dict[str, int]:
    """Post balanced transactions; a key already posted is skipped. Returns the new transactions' ids by key.

    ``fresh``: the keys cannot have been posted before (they name rows made in this transaction), so the rows are
    COPYed without the check; a taken key is still refused by its unique index.
    """
    postings = list(postings)
    for posting in postings:
        if len(posting.legs) < 2 or sum(leg.amount for leg in posting.legs) != 0:
            raise UnbalancedTransaction(f"ledger transaction {posting.key!r} does not balance: {posting.legs!r}")
        if any(leg.amount == 0 for leg in posting.legs):
            raise UnbalancedTransaction(f"ledger transaction {posting.key!r} has an entry of zero")
    if not postings:
        return {}
    rows = [
        {
            "idempotency_key": posting.key,
            "kind": posting.kind,
            "compensation_id": posting.compensation_id,
            "reverses_id": None,
            "memo": posting.memo,
            "effective_at": posting.effective_at,
            "posted_at": now,
            "posted_by": actor.ref,
        }
        for posting in postings
    ]
    if fresh:
        ids_made = insert_new(session, transactions, rows)
        created = dict(zip([row["idempotency_key"] for row in rows], ids_made, strict=True))
    else:
        created = dict(
            insert_returning(
                session,
                transactions,
                rows,
                returning=[transactions.c.idempotency_key, transactions.c.id],
                conflict=["idempotency_key"],
            )
        )
    ids = account_ids(session)
    _insert_entries(
        session,
        [
            {
                "transaction_id": created[posting.key],
                "account_id": ids[leg.account],
                "party_type": leg.party_type,
                "party_id": leg.party_id,
                "amount": leg.amount,
            }
            for posting in postings
            if posting.key in created
            for leg in posting.legs
        ],
    )
    return created


def reverse(session: Session, transaction_id: int, *, memo: str, actor: Actor, now: datetime) -> int | None:
    """Post the reversal of a transaction (every entry negated); None when it was reversed before."""
    original = session.execute(sa.select(transactions).where(transactions.c.id == transaction_id)).one()
    legs = session.execute(
        sa.select(entries.c.account_id, entries.c.party_type, entries.c.party_id, entries.c.amount).where(
            entries.c.transaction_id == transaction_id
        )
    ).all()
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    reversal_id = session.scalar(
        insert(transactions)
        .values(
            idempotency_key=f"reversal:{original.idempotency_key}"[:140],
            kind="reversal",
            compensation_id=original.compensation_id,
            reverses_id=transaction_id,
            memo=memo[:200],
            effective_at=now,
            posted_at=now,
            posted_by=actor.ref,
        )
        .on_conflict_do_nothing()
        .returning(transactions.c.id)
    )
    if reversal_id is None:
        return None
    _insert_entries(
        session,
        [
            {
                "transaction_id": reversal_id,
                "account_id": leg.account_id,
                "party_type": leg.party_type,
                "party_id": leg.party_id,
                "amount": -leg.amount,
            }
            for leg in legs
        ],
    )
    return reversal_id


def _insert_entries(session: Session, rows: list[dict]) -> None:
    """Every entry of the given transactions in ONE statement (COPY, or a multi-row INSERT), so that the
    PostgreSQL balance trigger sees each transaction whole."""
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql" and len(rows) >= 50:
        insert_rows(session, entries, rows)
    else:
        for start in range(0, len(rows), 5000):
            # SQLite has no balance trigger; chunks only keep the statement under its variable limit.
            session.execute(sa.insert(entries).values(rows[start : start + 5000]))


def balances(session: Session, *, party_type: str | None = None, party_id: int | None = None) -> dict[str, int]:
    """Derived balances by account code (debit positive), over every entry or one party's."""
    stmt = (
        sa.select(accounts.c.code, sa.func.coalesce(sa.func.sum(entries.c.amount), 0))
        .join_from(entries, accounts, entries.c.account_id == accounts.c.id)
        .group_by(accounts.c.code)
    )
    if party_type is not None:
        stmt = stmt.where(entries.c.party_type == party_type, entries.c.party_id == party_id)
    return {code: int(total) for code, total in session.execute(stmt)}


@dataclass(frozen=True, slots=True)
class LedgerCheck:
    """The result of checking the ledger: what was checked and the first problem found, if any."""

    transactions: int
    entries: int
    problem: str | None = None

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return self.problem is None


def check(session: Session) -> LedgerCheck:
    """Every transaction balances, and the derived balances match the compensations and recoveries behind them."""
    counted = session.execute(
        sa.select(
            sa.select(sa.func.count()).select_from(transactions).scalar_subquery(),
            sa.select(sa.func.count()).select_from(entries).scalar_subquery(),
        )
    ).one()
    result = {"transactions": int(counted[0]), "entries": int(counted[1])}
    for problem in (_unbalanced, _payables, _receivables):
        message = problem(session)
        if message is not None:
            return LedgerCheck(**result, problem=message)
    return LedgerCheck(**result)


def _unbalanced(session: Session) -> str | None:
    per_transaction = (
        sa.select(
            transactions.c.id,
            sa.func.coalesce(sa.func.sum(entries.c.amount), 0).label("total"),
            sa.func.count(entries.c.id).label("legs"),
        )
        .join_from(transactions, entries, entries.c.transaction_id == transactions.c.id, isouter=True)
        .group_by(transactions.c.id)
        .subquery()
    )
    bad = session.execute(
        sa.select(per_transaction)
        .where(sa.or_(per_transaction.c.total != 0, per_transaction.c.legs < 2))
        .order_by(per_transaction.c.id)
        .limit(1)
    ).first()
    if bad is not None:
        return f"ledger transaction {bad.id} does not balance: its {bad.legs} entries add up to {int(bad.total)} won"
    orphan = session.scalar(
        sa.select(entries.c.id)
        .where(~sa.exists().where(transactions.c.id == entries.c.transaction_id))
        .order_by(entries.c.id)
        .limit(1)
    )
    if orphan is not None:
        return f"ledger entry {orphan} belongs to no transaction"
    return None


def _mismatch(
    session: Session, account: Account, party_type: str, expected: sa.Select, label: str, owed: str
) -> str | None:
    """The first party whose balance on ``account`` differs from its documents (``expected``: party, amount)."""
    sign = -1 if account is Account.BUYER_PAYABLE else 1  # a payable is a credit balance
    ledger = (
        sa.select(entries.c.party_id.label("party"), sa.func.sum(entries.c.amount * sign).label("amount"))
        .join_from(entries, accounts, entries.c.account_id == accounts.c.id)
        .where(accounts.c.code == account.value, entries.c.party_type == party_type)
        .group_by(entries.c.party_id)
        .subquery()
    )
    documents = expected.subquery()
    # A full outer join, written as two anti-joins so that SQLite runs it too.
    rows = session.execute(
        sa.union_all(
            sa.select(ledger.c.party, ledger.c.amount, sa.func.coalesce(documents.c.amount, 0))
            .join_from(ledger, documents, documents.c.party == ledger.c.party, isouter=True)
            .where(ledger.c.amount != sa.func.coalesce(documents.c.amount, 0)),
            sa.select(documents.c.party, sa.literal(0), documents.c.amount)
            .join_from(documents, ledger, documents.c.party == ledger.c.party, isouter=True)
            .where(ledger.c.party.is_(None), documents.c.amount != 0),
        )
        .order_by(sa.literal_column("1"))
        .limit(1)
    ).first()
    if rows is None:
        return None
    party, balance, want = rows
    return f"{label} {party}'s {account.value} balance is {int(balance)} won, but its {owed} add up to {int(want)} won"


def _payables(session: Session) -> str | None:
    compensations = Compensation.__table__
    expected = (
        sa.select(compensations.c.buyer_id.label("party"), sa.func.sum(compensations.c.amount).label("amount"))
        .where(compensations.c.status.in_([status.value for status in OWED_STATUSES]))
        .group_by(compensations.c.buyer_id)
    )
    return _mismatch(session, Account.BUYER_PAYABLE, "buyer", expected, "buyer", "unpaid compensations")


def _receivables(session: Session) -> str | None:
    recoveries = Recovery.__table__
    expected = (
        sa.select(recoveries.c.seller_id.label("party"), sa.func.sum(recoveries.c.amount).label("amount"))
        .where(recoveries.c.status == RecoveryStatus.OPEN.value)
        .group_by(recoveries.c.seller_id)
    )
    return _mismatch(session, Account.SELLER_RECEIVABLE, "seller", expected, "seller", "open recoveries")
