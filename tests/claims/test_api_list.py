"""The claim list: the most urgent first, filters, paging, and only what the caller may see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from marketplace.claims import operations
from marketplace.claims.models import Claim
from marketplace.core.models import User
from tests.claims.test_api import KST, PROBLEM, Caller, kst, person
from tests.conftest import SETUP, START


@dataclass
class Queue:
    """Six claims in every state, against two sellers, by two buyers; ``ids`` by name."""

    ids: dict[str, int]
    seller_a: User
    buyer_y: User


@pytest.fixture
def queue(session: Session, make_seller: Any, make_buyer: Any, make_order: Any, make_user: Any) -> Queue:
    """The claims, filed at different times so that their deadlines differ."""
    seller_a, seller_b = make_seller("가나상회", external_id="S-A"), make_seller("다라마켓", external_id="S-B")
    buyer_x, buyer_y = make_buyer(), make_buyer()

    def file(name: str, seller: Any, buyer: Any, claim_type: str, at: datetime) -> Claim:
        order = make_order(seller=seller, buyer=buyer, paid_at=at - timedelta(days=1), external_id=f"O-{name}")
        return operations.file_claim(session, order, claim_type, description=name, actor=SETUP, now=at)

    claims = {
        # Filed Sunday 09-13: due Wednesday 09-16, a week overdue.
        "overdue": file("overdue", seller_a, buyer_x, "damaged", START - timedelta(days=10)),
        # Filed today, due 09-30 (Chuseok in between).
        "fresh": file("fresh", seller_a, buyer_x, "wrong_item", START),
        # Filed yesterday, due 09-29.
        "yesterday": file("yesterday", seller_b, buyer_y, "non_delivery", START - timedelta(days=1)),
        "escalated": file("escalated", seller_a, buyer_x, "not_as_described", START - timedelta(days=5)),
        "withdrawn": file("withdrawn", seller_b, buyer_x, "counterfeit", START - timedelta(days=2)),
        "proposed": file("proposed", seller_a, buyer_x, "non_delivery", START - timedelta(days=3)),
    }
    # Escalated Friday 09-18: staff's 2 business days end Tuesday 09-22, so it is overdue too.
    operations.escalate_claim(session, claims["escalated"], reason="확인", actor=SETUP, now=START - timedelta(days=5))
    operations.withdraw_claim(session, claims["withdrawn"], reason="", actor=SETUP, now=START)
    operations.propose_remedy(session, claims["proposed"], "refund", amount=None, message="", actor=SETUP, now=START)
    session.commit()
    return Queue(
        ids={name: claim.id for name, claim in claims.items()},
        seller_a=make_user("seller", seller=seller_a),
        buyer_y=make_user("buyer", buyer=buyer_y),
    )


@pytest.fixture
def agent(app: Flask, make_user: Any) -> Caller:
    """A trust-and-safety agent."""
    return person(app, make_user("agent"))


def _names(queue: Queue, response: Any) -> list[str]:
    assert response.status_code == 200, response.json
    by_id = {claim_id: name for name, claim_id in queue.ids.items()}
    return [by_id[item["id"]] for item in response.json["items"]]


def test_list_puts_the_least_time_left_first_and_settled_claims_last(queue: Queue, agent: Caller) -> None:
    """Overdue claims lead, then the nearest deadlines; claims with no running deadline follow by id."""
    response = agent.get("/api/v1/claims")
    assert _names(queue, response) == ["overdue", "escalated", "yesterday", "fresh", "withdrawn", "proposed"]
    due = [item["due_at"] for item in response.json["items"]]
    assert due == [
        kst(2026, 9, 16, 23, 59, 59),
        kst(2026, 9, 22, 23, 59, 59),
        kst(2026, 9, 29, 23, 59, 59),
        kst(2026, 9, 30, 23, 59, 59),
        None,
        None,
    ]
    assert response.json["total"] == 6 and response.json["page"] == 1 and response.json["page_size"] == 20


def test_list_items_say_what_and_against_whom(queue: Queue, agent: Caller) -> None:
    """Each item names the type, status, order, seller and the deadlines with their policy versions."""
    item = agent.get("/api/v1/claims").json["items"][1]
    assert item["type"] == "not_as_described" and item["status"] == "escalated" and item["queue"] == "staff"
    assert item["order"]["id"] == "O-escalated" and item["seller"] == {"id": "S-A", "name": "가나상회"}
    assert item["deadlines"]["staff_decision"] == {"due_at": kst(2026, 9, 22, 23, 59, 59), "policy_version": 0}
    assert "timeline" not in item


@pytest.mark.parametrize(
    "query",
    ["status=awaiting_seller&status=escalated", "status=awaiting_seller,escalated", "status=escalated,awaiting_seller"],
)
def test_status_filter_takes_repeated_or_comma_separated_values(queue: Queue, agent: Caller, query: str) -> None:
    """Both spellings of several statuses give the open claims with a running deadline."""
    assert _names(queue, agent.get(f"/api/v1/claims?{query}")) == ["overdue", "escalated", "yesterday", "fresh"]


def test_type_and_seller_filters(queue: Queue, agent: Caller) -> None:
    """Filter by claim type, and by the marketplace's seller id."""
    assert _names(queue, agent.get("/api/v1/claims?type=non_delivery")) == ["yesterday", "proposed"]
    assert _names(queue, agent.get("/api/v1/claims?seller=S-B")) == ["yesterday", "withdrawn"]
    assert _names(queue, agent.get("/api/v1/claims?seller=S-B&status=withdrawn")) == ["withdrawn"]
    assert agent.get("/api/v1/claims?seller=S-UNKNOWN").json["total"] == 0


def test_deadline_before_finds_what_falls_due_by_then(queue: Queue, agent: Caller) -> None:
    """Now (09-23 15:00 KST) finds the overdue claims; 09-30 00:00 adds the one due on 09-29."""
    now = quote("2026-09-23T15:00:00+09:00")
    assert _names(queue, agent.get(f"/api/v1/claims?deadline_before={now}")) == ["overdue", "escalated"]
    later = quote("2026-09-30T00:00:00+09:00")
    assert _names(queue, agent.get(f"/api/v1/claims?deadline_before={later}")) == ["overdue", "escalated", "yesterday"]


def test_paging_keeps_the_order_and_the_total(queue: Queue, agent: Caller) -> None:
    """Pages of two walk the same order; a page past the end is empty but still counts."""
    first = agent.get("/api/v1/claims?page_size=2")
    second = agent.get("/api/v1/claims?page_size=2&page=2")
    beyond = agent.get("/api/v1/claims?page_size=2&page=9")
    assert _names(queue, first) == ["overdue", "escalated"]
    assert _names(queue, second) == ["yesterday", "fresh"]
    assert beyond.json == {"items": [], "page": 9, "page_size": 2, "total": 6}


def test_seller_user_lists_only_its_sellers_claims(app: Flask, queue: Queue) -> None:
    """A seller's user sees its own four claims, most urgent first."""
    seller = person(app, queue.seller_a)
    assert _names(queue, seller.get("/api/v1/claims")) == ["overdue", "escalated", "fresh", "proposed"]
    assert seller.get("/api/v1/claims?seller=S-B").json["total"] == 0


def test_buyer_lists_only_their_own_claims(app: Flask, queue: Queue) -> None:
    """A buyer sees the claims they filed and nothing else."""
    assert _names(queue, person(app, queue.buyer_y).get("/api/v1/claims")) == ["yesterday"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=open", "status"),
        ("status=awaiting_seller,nonsense", "status"),
        ("type=lost", "type"),
        ("page=0", "page"),
        ("page=x", "page"),
        ("page_size=101", "page_size"),
        ("page_size=0", "page_size"),
        ("deadline_before=2026-09-23T15:00:00", "deadline_before"),
        ("sort=id", "sort"),
    ],
)
def test_bad_filters_are_422_naming_the_parameter(queue: Queue, agent: Caller, query: str, field: str) -> None:
    """A typo or a value out of range is named, rather than silently ignored."""
    response = agent.get(f"/api/v1/claims?{query}")
    assert response.status_code == 422 and response.mimetype == PROBLEM
    assert response.json["field"] == field


def test_list_reads_claims_with_one_count_and_one_page_query(
    queue: Queue, agent: Caller, connection: sa.Connection
) -> None:
    """However many claims there are on the page, the list costs two statements on the claims table."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "claims" in statement:
            statements.append(statement)

    sa.event.listen(connection, "before_cursor_execute", record)
    try:
        response = agent.get("/api/v1/claims?page_size=100")
    finally:
        sa.event.remove(connection, "before_cursor_execute", record)
    assert response.json["total"] == 6
    assert len(statements) == 2, statements
    assert "count(" in statements[0].lower()


def test_deadlines_are_shown_in_korean_time(queue: Queue, agent: Caller) -> None:
    """Every instant in a claim reads in KST (+09:00), as people on both sides see it."""
    item = agent.get("/api/v1/claims").json["items"][0]
    opened = datetime.fromisoformat(item["opened_at"])
    assert opened.utcoffset() == timedelta(hours=9)
    assert opened == datetime(2026, 9, 13, 15, 0, tzinfo=KST)
