"""Properties of the business calendar, compensation amounts and the ledger, over generated inputs.

tests/core/test_calendar.py and tests/core/test_money.py already check the default calendar's round trip and the
floor of a bare percentage. These go further: the calendar against an independent day-by-day count over the
``holidays`` package (substitute days included) with platform days added in the table and through the API; the
policy's own rules (percentage, minimum, cap, delay interest) against exact fractions; and random sequences of
grants, payouts, failed payouts, deductions and voids on a real database, with the ledger check after every step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest
import sqlalchemy as sa
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from sqlalchemy.orm import Session

from marketplace.claims.operations import file_claim
from marketplace.compensation import ledger
from marketplace.compensation.ledger import Account
from marketplace.compensation.models import (
    OWED_STATUSES,
    Compensation,
    CompensationForm,
    CompensationStatus,
    LedgerEntry,
    LedgerTransaction,
    Recovery,
    RecoveryStatus,
)
from marketplace.compensation.operations import GrantRequest, grant_compensations, grant_key, void_compensation
from marketplace.compensation.policy import DEFAULT_COMPENSATION, rule_from_document
from marketplace.compensation.settlement import ACCEPTED, DUPLICATE, REJECTED, ingest_settlement_events
from marketplace.core.auth import Actor
from marketplace.core.calendar import BusinessCalendar
from marketplace.core.errors import DomainError
from marketplace.core.money import percent_of
from marketplace.core.operations import add_platform_holiday
from marketplace.core.queries import load_calendar
from marketplace.orders.operations import create_order
from tests.conftest import SETUP, START

KST = ZoneInfo("Asia/Seoul")
STAFF = Actor.system("property-staff")
MARKETPLACE = Actor.system("property-marketplace")

# ---------------------------------------------------------------------------------------------------------------
# The business calendar
# ---------------------------------------------------------------------------------------------------------------

FIRST_DAY, LAST_DAY = date(2020, 1, 1), date(2035, 12, 31)
_KOREAN = holidays.country_holidays("KR", years=range(FIRST_DAY.year, LAST_DAY.year + 2), language="ko")

starts = st.datetimes(
    min_value=datetime(2020, 1, 1),
    max_value=datetime(2035, 6, 30, 23, 59, 59),
    timezones=st.sampled_from([UTC, KST, ZoneInfo("America/Los_Angeles"), ZoneInfo("Asia/Kolkata")]),
)
platform_days = st.sets(st.dates(min_value=FIRST_DAY, max_value=LAST_DAY), max_size=12)


def closed(day: date, platform: set[date]) -> bool:
    """The oracle: a weekend, a Korean public holiday (lunar and substitute days included), or a platform day."""
    return day.weekday() >= 5 or day in _KOREAN or day in platform


def nth_business_day_after(day: date, n: int, platform: set[date]) -> date:
    """Walk day by day from ``day`` (excluded) to the n-th open day; n = 0 is ``day`` itself."""
    while n > 0:
        day += timedelta(days=1)
        if not closed(day, platform):
            n -= 1
    return day


def deadline_of(start: datetime, n: int, platform: set[date]) -> datetime:
    """What the product defines: 23:59:59 Asia/Seoul on the n-th business day after the start's Seoul date."""
    day = nth_business_day_after(start.astimezone(KST).date(), n, platform)
    return datetime.combine(day, time(23, 59, 59), tzinfo=KST)


@settings(max_examples=120, deadline=None)
@given(start=starts, days=st.integers(min_value=0, max_value=45), platform=platform_days)
def test_deadline_matches_a_day_by_day_count_with_platform_days(start: datetime, days: int, platform: set) -> None:
    """N business days after T is the independent walk's day at 23:59:59 KST, counted back it gives N, and the
    day before it holds only N - 1: the deadline is the first instant at which N business days have passed."""
    calendar = BusinessCalendar(extra_holidays={day: "플랫폼 휴무" for day in platform})
    deadline = calendar.add_business_days(start, days)
    assert deadline == deadline_of(start, days, platform)
    assert deadline.tzinfo is UTC and deadline.astimezone(KST).time() == time(23, 59, 59)
    assert calendar.business_days_between(start, deadline) == days
    if days:
        day = deadline.astimezone(KST).date()
        assert not closed(day, platform), f"{day} is a weekend or holiday ({_KOREAN.get(day)})"
        assert day not in _KOREAN and "대체" not in (calendar.holiday_name(day) or "")
        assert calendar.business_days_between(start, calendar.end_of_day(day - timedelta(days=1))) == days - 1


@settings(max_examples=120, deadline=None)
@given(start=starts, first=st.integers(0, 30), second=st.integers(0, 30), platform=platform_days)
def test_business_days_compose(start: datetime, first: int, second: int, platform: set) -> None:
    """Adding a then b business days lands where adding a + b does (deadlines chain, e.g. response then staff)."""
    calendar = BusinessCalendar(extra_holidays={day: "플랫폼 휴무" for day in platform})
    step = calendar.add_business_days(calendar.add_business_days(start, first), second)
    assert step == calendar.add_business_days(start, first + second)


API_EXAMPLES = {"sqlite": 30, "postgresql": 15}


def test_calendar_from_the_table_and_the_api_skips_platform_days(
    app: Flask, session: Session, make_api_key: Any, backend: str
) -> None:
    """Platform days added in the table (load_calendar) and through POST /calendar/holidays are skipped by
    GET /calendar/deadline exactly as the independent count says; removing them through the API restores it."""
    _key, secret = make_api_key("calendar:write")
    client = app.test_client()
    auth = {"Authorization": f"Bearer {secret}"}
    in_table = {date(2026, 10, 1), date(2026, 12, 24)}
    for day in sorted(in_table):
        add_platform_holiday(session, day, name="창립 기념 휴무", actor=SETUP, now=START)
    session.commit()
    examples = 0

    @settings(max_examples=API_EXAMPLES[backend], deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(
        start=st.datetimes(min_value=datetime(2026, 9, 1), max_value=datetime(2027, 3, 1), timezones=st.just(KST)),
        days=st.integers(min_value=0, max_value=20),
        added=st.sets(st.dates(min_value=date(2026, 9, 1), max_value=date(2027, 4, 30)), max_size=4),
    )
    def check(start: datetime, days: int, added: set[date]) -> None:
        nonlocal examples
        examples += 1
        added = added - in_table
        assert load_calendar(session, "Asia/Seoul").add_business_days(start, days) == deadline_of(start, days, in_table)
        for day in sorted(added):
            holiday = {"date": day.isoformat(), "name": "임시 휴무"}
            response = client.post("/api/v1/calendar/holidays", json=holiday, headers=auth)
            assert response.status_code == 201, response.get_json()
        try:
            query = {"start": start.isoformat(), "business_days": days}
            body = client.get("/api/v1/calendar/deadline", query_string=query, headers=auth).get_json()
            assert datetime.fromisoformat(body["deadline"]) == deadline_of(start, days, in_table | added)
            assert body["deadline"].endswith("T23:59:59+09:00")
        finally:
            for day in sorted(added):
                assert client.delete(f"/api/v1/calendar/holidays/{day.isoformat()}", headers=auth).status_code == 204
        body = client.get("/api/v1/calendar/deadline", query_string=query, headers=auth).get_json()
        assert datetime.fromisoformat(body["deadline"]) == deadline_of(start, days, in_table)

    check()
    assert examples == API_EXAMPLES[backend]


# ---------------------------------------------------------------------------------------------------------------
# Compensation amounts
# ---------------------------------------------------------------------------------------------------------------

POLICY_RULES = {key: rule_from_document(key, 0, document) for key, document in DEFAULT_COMPENSATION["rules"].items()}
PERCENT_RULES = sorted(key for key, rule in POLICY_RULES.items() if rule.method == "percent_of_order")
order_amounts = st.integers(min_value=0, max_value=10**10)


@settings(max_examples=200, deadline=None)
@given(key=st.sampled_from(PERCENT_RULES), amount=order_amounts, other=order_amounts)
def test_policy_percentages_are_whole_won_within_minimum_and_cap(key: str, amount: int, other: int) -> None:
    """Every percentage rule of the default policy (5 % min ₩3,000 max ₩20,000, 3 % min ₩1,000 max ₩10,000,
    100 %, 110 %): an int, the exact product rounded down then held within [minimum, cap], never above the exact
    value unless raised to the minimum, and never less for a larger order."""
    rule = POLICY_RULES[key]
    result, calculation = rule.compute(order_amount=amount)
    assert type(result) is int
    exact = Fraction(amount) * Fraction(rule.percent) / 100
    assert result <= max(exact, rule.minimum or 0)
    if rule.minimum is not None:
        assert result >= rule.minimum
    if rule.cap is not None:
        assert result <= rule.cap
    expected = int(exact)  # floor: exact is not negative
    if rule.minimum is not None:
        expected = max(expected, rule.minimum)
    if rule.cap is not None:
        expected = min(expected, rule.cap)
    assert result == expected
    assert calculation["base"] == amount and Decimal(calculation["percent"]) == rule.percent
    smaller, larger = sorted((amount, other))
    assert rule.compute(order_amount=smaller)[0] <= rule.compute(order_amount=larger)[0]


@settings(max_examples=200, deadline=None)
@given(
    amount=order_amounts,
    other=order_amounts,
    percent=st.decimals(min_value=0, max_value=300, places=3, allow_nan=False, allow_infinity=False),
    bounds=st.tuples(st.integers(0, 10**6), st.integers(0, 10**6)).map(sorted),
)
def test_percent_of_any_rule_is_clamped_floor_and_monotone(amount: int, other: int, percent: Decimal, bounds) -> None:
    """For any percentage and any minimum <= cap: floor(exact) held within [minimum, cap], monotone in the order."""
    minimum, cap = bounds
    result = percent_of(amount, percent, minimum=minimum, cap=cap)
    assert type(result) is int and minimum <= result <= cap
    assert result == min(max(int(Fraction(amount) * Fraction(percent) / 100), minimum), cap)
    smaller, larger = sorted((amount, other))
    low, high = (percent_of(value, percent, minimum=minimum, cap=cap) for value in (smaller, larger))
    assert low <= high


DELAY = POLICY_RULES["seller_cancellation.refund_late"]


@settings(max_examples=200, deadline=None)
@given(
    refunded=st.integers(min_value=0, max_value=10**10),
    deadline_day=st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)),
    late=st.integers(min_value=-30, max_value=2000),
    more=st.integers(min_value=0, max_value=400),
)
def test_delay_interest_is_fifteen_percent_a_year_per_day_late_rounded_down(
    refunded: int, deadline_day: date, late: int, more: int
) -> None:
    """전자상거래법 §18②: 15 % a year for each calendar day from the day after the deadline to the refund day,
    rounded down to the won: an int, exactly floor(amount × 0.15 × days / 365), nothing when not late, and more
    days never owe less."""
    refund_day = deadline_day + timedelta(days=late)
    interest, calculation = DELAY.delay_interest(refunded, deadline_day, refund_day)
    days = max(late, 0)
    assert type(interest) is int
    exact = Fraction(refunded) * Fraction(15, 100) * days / 365
    assert interest == int(exact) and interest <= exact
    assert calculation["days"] == days and calculation["annual_percent"] == "15"
    assert calculation["first_day"] == (deadline_day + timedelta(days=1)).isoformat()
    if late <= 0:
        assert interest == 0
    later, _ = DELAY.delay_interest(refunded, deadline_day, refund_day + timedelta(days=more))
    assert later >= interest
    assert DELAY.delay_interest(refunded + more, deadline_day, refund_day)[0] >= interest


# ---------------------------------------------------------------------------------------------------------------
# The ledger
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Expected:
    """What the ledger should show for one compensation, by the model."""

    id: int
    buyer_id: int
    seller_id: int
    amount: int
    recoverable: bool
    status: CompensationStatus = CompensationStatus.GRANTED
    recovery: RecoveryStatus | None = None


@dataclass
class World:
    """Claims to grant on, with their sellers; made once per test, shared by every run of the machine."""

    session: Session
    claims: list[Any]
    sellers: dict[int, str] = field(default_factory=dict)  # id -> the marketplace's seller id


class LedgerMachine(RuleBasedStateMachine):
    """Grants, payouts (completed and failed), deductions and voids in any order, through the real operations."""

    world: World
    # What the runs did, across all of them: the test asserts that every kind of movement happened.
    done: dict[str, int]

    def __init__(self) -> None:
        super().__init__()
        self.session = self.world.session
        self.savepoint = self.session.begin_nested()
        self.now = START
        self.events = 0
        self.granted_keys: set[str] = set()
        self.expected: dict[int, Expected] = {}
        self.deducted: dict[int, int] = {}  # seller id -> won confirmed deducted

    def teardown(self) -> None:
        self.savepoint.rollback()
        self.session.expire_all()

    def _tick(self) -> datetime:
        self.now += timedelta(hours=7)
        return self.now

    def _event_id(self) -> str:
        self.events += 1
        return f"SE-{self.events}"

    def _settle(self, event: dict[str, Any]) -> Any:
        [result] = ingest_settlement_events(self.session, [event], actor=MARKETPLACE, now=self._tick()).results
        self.session.flush()
        return result

    @rule(
        claim=st.integers(0, 3),
        rule_name=st.sampled_from(["seller_silent", "for_buyer", "refund_late"]),
        amount=st.integers(min_value=1, max_value=500_000),
        recoverable=st.booleans(),
    )
    def grant(self, claim: int, rule_name: str, amount: int, recoverable: bool) -> None:
        """Grant a compensation; the same claim and rule again grants nothing."""
        target = self.world.claims[claim]
        key = grant_key(target.id, f"{target.type.value}.{rule_name}")
        request = GrantRequest(
            key=key,
            buyer_id=target.buyer_id,
            seller_id=target.seller_id,
            order_id=target.order_id,
            claim_id=target.id,
            amount=amount,
            form=CompensationForm.CASH,
            rule=f"{target.type.value}.{rule_name}",
            policy_version=0,
            recoverable=recoverable,
            effective_at=self.now,
        )
        granted = grant_compensations(self.session, [request], actor=STAFF, now=self._tick())
        if key in self.granted_keys:
            assert granted == [], f"{key} paid twice"
            return
        self.granted_keys.add(key)
        self.done["grant"] += 1
        [made] = granted
        self.expected[made.compensation_id] = Expected(
            made.compensation_id,
            target.buyer_id,
            target.seller_id,
            amount,
            recoverable,
            recovery=RecoveryStatus.OPEN if recoverable else None,
        )

    @precondition(lambda self: self.expected)
    @rule(data=st.data(), completed=st.booleans(), replay=st.booleans())
    def payout(self, data: st.DataObject, completed: bool, replay: bool) -> None:
        """The marketplace reports a payout completed or failed; sent twice, the second changes nothing."""
        target = self.expected[data.draw(st.sampled_from(sorted(self.expected)), label="compensation")]
        event = {
            "id": self._event_id(),
            "type": "payout.completed" if completed else "payout.failed",
            "compensation_id": target.id,
            "amount": target.amount,
            "occurred_at": self.now.isoformat(),
        }
        if not completed:
            event["reason"] = "계좌 오류"
        result = self._settle(event)
        allowed = OWED_STATUSES if completed else (CompensationStatus.GRANTED,)
        if target.status in allowed:
            assert result.status == ACCEPTED, result.error and result.error.to_problem()
            target.status = CompensationStatus.PAID_OUT if completed else CompensationStatus.FAILED
            self.done["payout" if completed else "payout failed"] += 1
        else:
            assert result.status == REJECTED
        if replay:
            again = self._settle(event)
            assert again.status in {DUPLICATE, REJECTED}
            assert again.status == DUPLICATE or result.status == REJECTED

    @precondition(lambda self: self.expected)
    @rule(data=st.data(), wrong_by=st.sampled_from([0, 0, 0, 1, -1]))
    def deduction(self, data: st.DataObject, wrong_by: int) -> None:
        """The marketplace confirms it withheld a seller's open recoveries; a wrong total is refused."""
        seller_id = data.draw(st.sampled_from(sorted(self.world.sellers)), label="seller")
        owed = sum(
            e.amount for e in self.expected.values() if e.seller_id == seller_id and e.recovery is RecoveryStatus.OPEN
        )
        if owed + wrong_by < 0:
            wrong_by = 0
        period = self.now.astimezone(KST).strftime("%Y-%m")
        result = self._settle(
            {
                "id": self._event_id(),
                "type": "deduction.confirmed",
                "seller_id": self.world.sellers[seller_id],
                "period": period,
                "amount": owed + wrong_by,
                "occurred_at": self.now.isoformat(),
            }
        )
        if wrong_by:
            assert result.status == REJECTED
            return
        assert result.status == ACCEPTED, result.error and result.error.to_problem()
        for expected in self.expected.values():
            if expected.seller_id == seller_id and expected.recovery is RecoveryStatus.OPEN:
                expected.recovery = RecoveryStatus.DEDUCTED
        self.deducted[seller_id] = self.deducted.get(seller_id, 0) + owed
        if owed:
            self.done["deduction"] += 1

    @precondition(lambda self: self.expected)
    @rule(data=st.data())
    def void(self, data: st.DataObject) -> None:
        """Staff void a compensation: allowed while it is owed and the seller was not charged yet."""
        target = self.expected[data.draw(st.sampled_from(sorted(self.expected)), label="compensation")]
        compensation = self.session.get(Compensation, target.id)
        allowed = target.status in OWED_STATUSES and target.recovery in {None, RecoveryStatus.OPEN}
        nested = self.session.begin_nested()
        try:
            void_compensation(self.session, compensation, reason="중복 지급", actor=STAFF, now=self._tick())
        except DomainError:
            nested.rollback()
            self.session.expire_all()
            assert not allowed, f"void of {target} refused"
            return
        nested.commit()
        assert allowed, f"void of {target} accepted"
        target.status = CompensationStatus.VOIDED
        self.done["void"] += 1
        if target.recovery is not None:
            target.recovery = RecoveryStatus.VOIDED

    @invariant()
    def ledger_check_passes(self) -> None:
        """`marketplace ledger check`'s function: every transaction balances, balances match their documents."""
        self.session.flush()
        result = ledger.check(self.session)
        assert result.ok, result.problem

    @invariant()
    def every_transaction_balances_and_balances_are_sums_of_entries(self) -> None:
        """Each transaction's entries add up to zero, and each account's balance is the sum of its entries."""
        per_transaction = self.session.execute(
            sa.select(LedgerEntry.transaction_id, sa.func.sum(LedgerEntry.amount), sa.func.count()).group_by(
                LedgerEntry.transaction_id
            )
        ).all()
        assert all(total == 0 and legs >= 2 for _id, total, legs in per_transaction)
        balances = ledger.balances(self.session)
        assert sum(balances.values()) == 0
        owed = sum(e.amount for e in self.expected.values() if e.status in OWED_STATUSES)
        paid = sum(e.amount for e in self.expected.values() if e.status is CompensationStatus.PAID_OUT)
        kept = sum(e.amount for e in self.expected.values() if e.status is not CompensationStatus.VOIDED)
        receivable = sum(e.amount for e in self.expected.values() if e.recovery is RecoveryStatus.OPEN)
        recovered = sum(
            e.amount for e in self.expected.values() if e.recovery in {RecoveryStatus.OPEN, RecoveryStatus.DEDUCTED}
        )
        deducted = sum(self.deducted.values())
        assert balances.get(Account.BUYER_PAYABLE.value, 0) == -owed
        assert balances.get(Account.COMPENSATION_EXPENSE.value, 0) == kept
        assert balances.get(Account.SELLER_RECEIVABLE.value, 0) == receivable
        assert balances.get(Account.COMPENSATION_RECOVERED.value, 0) == -recovered
        assert balances.get(Account.PLATFORM_CASH.value, 0) == deducted - paid

    @invariant()
    def no_compensation_is_paid_or_granted_twice(self) -> None:
        """At most one grant and one payout transaction per compensation; the records agree with the model."""
        counts = self.session.execute(
            sa.select(LedgerTransaction.compensation_id, LedgerTransaction.kind, sa.func.count())
            .where(LedgerTransaction.kind.in_(["grant", "payout"]))
            .group_by(LedgerTransaction.compensation_id, LedgerTransaction.kind)
        ).all()
        assert all(count == 1 for _id, _kind, count in counts), counts
        stored = dict(self.session.execute(sa.select(Compensation.id, Compensation.status)).all())
        assert {key: CompensationStatus(value) for key, value in stored.items()} == {
            e.id: e.status for e in self.expected.values()
        }
        recoveries = dict(self.session.execute(sa.select(Recovery.compensation_id, Recovery.status)).all())
        assert {key: RecoveryStatus(value) for key, value in recoveries.items()} == {
            e.id: e.recovery for e in self.expected.values() if e.recovery is not None
        }


# Runs of the machine (each up to 20 steps, every invariant after each step); PostgreSQL fewer, each step costs more.
LEDGER_RUNS = {"sqlite": 20, "postgresql": 10}


def test_ledger_stays_balanced_under_random_money_movements(
    app: Flask, session: Session, make_seller: Any, make_buyer: Any, backend: str
) -> None:
    """Random sequences of grants (some replayed), payouts, failed payouts, deductions and voids keep the ledger
    balanced and equal to the compensations and recoveries behind it, and never pay a grant twice."""
    sellers = [make_seller("한빛전자"), make_seller("다른 판매자")]
    claims = []
    for n in range(4):
        order = create_order(
            session,
            f"O-PROP-{n}",
            seller=sellers[n % 2],
            buyer=make_buyer(),
            amount=389_000,
            items=[{"sku": "TV", "name": "TV", "quantity": 1}],
            paid_at=START - timedelta(days=1),
            actor=SETUP,
            now=START - timedelta(days=1),
        )
        claims.append(file_claim(session, order, "damaged", description="파손", actor=SETUP, now=START))
    session.commit()
    LedgerMachine.world = World(session, claims, {seller.id: seller.external_id for seller in sellers})
    LedgerMachine.done = dict.fromkeys(["grant", "payout", "payout failed", "deduction", "void"], 0)
    with app.app_context():
        run_state_machine_as_test(
            LedgerMachine,
            settings=settings(
                max_examples=LEDGER_RUNS[backend],
                stateful_step_count=20,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            ),
        )
    print(f"\n[{backend}] ledger machine: {LedgerMachine.done}")
    assert all(LedgerMachine.done.values()), f"some movement never happened: {LedgerMachine.done}"


@pytest.fixture(autouse=True)
def _no_leftover_world() -> Any:
    yield
    LedgerMachine.world = None  # type: ignore[assignment]
