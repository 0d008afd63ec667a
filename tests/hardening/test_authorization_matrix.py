"""Authorization matrix: every endpoint and page, as each of ten callers, against one world per backend.

``ROWS`` holds one row per (method, rule) of ``app.url_map`` and the status each caller gets; ``REQUESTS`` says
what each write sends, so that an allowed caller succeeds. ``test_every_rule_and_method_has_a_row`` fails when an
endpoint has no row or a row names an endpoint that is gone. Every cell runs in a savepoint that is rolled back, so
no cell sees another's changes; besides the status, each cell checks that a refusal changed no row of any table,
that a successful write left an audit record, that API errors are problem+json, and that an outsider's answer
shows nothing of seller A's or buyer 1's.

``python -m tests.hardening.test_authorization_matrix`` prints how many endpoints, roles and cells it checks.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.datastructures import FileStorage

from marketplace import create_app
from marketplace.claims.evidence import attach_evidence, evidence_store
from marketplace.claims.operations import file_claim, propose_remedy
from marketplace.compensation.operations import grant_by_staff
from marketplace.core.auth import SCOPES, Actor
from marketplace.core.clock import FrozenClock
from marketplace.core.models import Role
from marketplace.core.operations import add_platform_holiday, create_api_key, create_user
from marketplace.core.policies import current_policy, flatten
from marketplace.db import Base, create_db_engine
from marketplace.extensions import db
from marketplace.incidents.operations import declare_incident, select_orders
from marketplace.notifications.models import OutboxMessage, OutboxStatus
from marketplace.orders.operations import create_buyer, create_order
from marketplace.sanctions.operations import file_appeal, impose_sanction, record_manual_violation
from marketplace.sellers.operations import create_seller
from tests.conftest import PASSWORD, SETUP, START
from tests.orders.factory import paid_event

# The callers, in the order of the table's columns.
ROLES = (
    "anonymous",  # anon: no credentials
    "buyer",  # buyr: buyer 1, whose orders of seller A every path names
    "other_buyer",  # obuy: buyer 2
    "seller",  # sell: seller A's user
    "other_seller",  # osel: seller B's user
    "agent",  # agnt
    "supervisor",  # supv
    "admin",  # admn
    "key",  # key: an API key with the scope the row names; "*" (no scope grants it): a key with every scope
    "wrong_key",  # wkey: an API key with one unrelated scope (calendar:read; events:write for calendar rows)
)
LOGIN = "lgn"  # a redirect to the login page (pages ignore API keys: their callers are anonymous there)


@dataclass(frozen=True)
class Row:
    """The expected status of one (method, rule) for each caller."""

    expected: str
    method: str
    rule: str
    scope: str = "*"
    variant: str = ""  # a query string ({names} of the world's ids) for another row of the same endpoint

    @property
    def statuses(self) -> dict[str, str]:
        """Caller → expected status."""
        tokens = self.expected.split()
        assert len(tokens) == len(ROLES), f"{self.method} {self.rule}: {len(tokens)} statuses for {len(ROLES)} roles"
        return dict(zip(ROLES, tokens, strict=True))

    @property
    def is_api(self) -> bool:
        """Whether the row is of the JSON API (where API keys authenticate)."""
        return self.rule.startswith("/api/v1/")

    @property
    def wrong_scope(self) -> str:
        """The unrelated scope of the ``wkey`` column."""
        return "events:write" if self.scope.startswith("calendar:") else "calendar:read"

    @property
    def label(self) -> str:
        """The test id."""
        return f"{self.method} {self.rule}" + (f" ?{self.variant}" if self.variant else "")


def api(expected: str, method: str, rule: str, scope: str = "*", **kwargs: Any) -> Row:
    """A row of the JSON API (the rule without its /api/v1 prefix)."""
    return Row(expected, method, f"/api/v1{rule}", scope, **kwargs)


def page(expected: str, method: str, rule: str) -> Row:
    """A row of the pages, or of the public API documents."""
    return Row(expected, method, rule)


# fmt: off
ROWS: tuple[Row, ...] = (
    # Public: the API documents and the health check.
    #     anon buyr obuy sell osel agnt supv admn key wkey
    page("200 200 200 200 200 200 200 200 200 200", "GET", "/api/docs/"),
    page("200 200 200 200 200 200 200 200 200 200", "GET", "/api/docs/<path:path>"),
    page("200 200 200 200 200 200 200 200 200 200", "GET", "/api/openapi.json"),
    page("200 200 200 200 200 200 200 200 200 200", "GET", "/healthz"),
    # Identity and the business calendar: everyone reads it, an administrator changes it.
    api("401 200 200 200 200 200 200 200 200 200", "GET", "/me", "calendar:read"),
    api("401 200 200 200 200 200 200 200 200 403", "GET", "/calendar/deadline", "calendar:read"),
    api("401 200 200 200 200 200 200 200 200 403", "GET", "/calendar/holidays", "calendar:read"),
    api("401 403 403 403 403 403 403 201 201 403", "POST", "/calendar/holidays", "calendar:write"),
    api("401 403 403 403 403 403 403 204 204 403", "DELETE", "/calendar/holidays/<isodate:day>", "calendar:write"),
    # Order and settlement events: the marketplace's systems only.
    api("401 403 403 403 403 403 403 403 201 403", "POST", "/events", "events:write"),
    api("401 403 403 403 403 403 403 403 201 403", "POST", "/settlement-events", "settlements:write"),
    # Claims: the parties see their own, each answers for its side; staff escalate, decide and note.
    #    anon buyr obuy sell osel agnt supv admn key wkey
    api("401 200 200 200 200 200 200 200 200 403", "GET", "/claims", "claims:read"),
    api("401 200 200 200 200 200 200 200 200 403", "GET", "/claims", "claims:read", variant="seller=S-A"),
    api("401 201 404 403 403 201 201 201 201 403", "POST", "/claims", "claims:write"),
    api("401 200 404 200 404 200 200 200 200 403", "GET", "/claims/<int:claim_id>", "claims:read"),
    api("401 403 404 200 404 403 403 403 200 403", "POST", "/claims/<int:claim_id>/proposal", "claims:write"),
    api("401 200 404 403 404 403 403 403 200 403", "POST", "/claims/<int:claim_id>/accept", "claims:write"),
    api("401 200 404 403 404 403 403 403 200 403", "POST", "/claims/<int:claim_id>/reject", "claims:write"),
    api("401 200 404 403 404 403 403 403 200 403", "POST", "/claims/<int:claim_id>/withdraw", "claims:write"),
    api("401 403 404 403 404 200 200 200 403 403", "POST", "/claims/<int:claim_id>/escalate"),
    api("401 403 404 403 404 200 200 200 403 403", "POST", "/claims/<int:claim_id>/decision"),
    api("401 403 404 403 404 201 201 201 403 403", "POST", "/claims/<int:claim_id>/notes"),
    api("401 201 404 201 404 201 201 201 201 403", "POST", "/claims/<int:claim_id>/evidence", "claims:write"),
    api("401 200 404 200 404 200 200 200 200 403", "GET", "/claims/<int:claim_id>/evidence/<int:evidence_id>",
        "claims:read"),
    api("401 403 403 403 403 200 200 200 200 403", "GET", "/policies/sla", "claims:read"),
    api("401 403 403 403 403 403 200 200 403 403", "PUT", "/policies/sla"),
    api("401 403 403 403 403 200 200 200 200 403", "GET", "/policies/sla/versions", "claims:read"),
    # Compensation: the buyer's and the charged seller's own; supervisors void; staff read the policy.
    #    anon buyr obuy sell osel agnt supv admn key wkey
    api("401 200 200 200 200 200 200 200 200 403", "GET", "/compensations", "compensations:read"),
    api("401 200 200 200 200 200 200 200 200 403", "GET", "/compensations", "compensations:read",
        variant="claim_id={compensated_claim_id}"),
    api("401 200 404 200 404 200 200 200 200 403", "GET", "/compensations/<int:compensation_id>",
        "compensations:read"),
    api("401 403 403 403 403 403 200 200 403 403", "POST", "/compensations/<int:compensation_id>/void"),
    api("401 403 403 403 403 200 200 200 200 403", "GET", "/policies/compensation", "compensations:read"),
    api("401 403 403 403 403 403 200 200 403 403", "PUT", "/policies/compensation"),
    api("401 403 403 403 403 200 200 200 200 403", "GET", "/policies/compensation/versions", "compensations:read"),
    api("401 403 403 200 200 200 200 200 200 403", "GET", "/settlements/deductions", "compensations:read"),
    api("401 403 403 200 404 200 200 200 200 403", "GET", "/settlements/deductions", "compensations:read",
        variant="period=2026-09&seller=S-A"),
    # Mass incidents: staff and the incidents:read key read; supervisors declare, select and run.
    api("401 403 403 403 403 200 200 200 200 403", "GET", "/incidents", "incidents:read"),
    api("401 403 403 403 403 403 201 201 403 403", "POST", "/incidents"),
    api("401 403 403 403 403 200 200 200 200 403", "GET", "/incidents/<int:incident_id>", "incidents:read"),
    api("401 403 403 403 403 403 200 200 403 403", "PUT", "/incidents/<int:incident_id>/selection"),
    api("401 403 403 403 403 200 200 200 200 403", "GET", "/incidents/<int:incident_id>/preview", "incidents:read"),
    api("401 403 403 403 403 403 202 202 403 403", "POST", "/incidents/<int:incident_id>/run"),
    api("401 403 403 403 403 200 200 200 200 403", "GET", "/incidents/<int:incident_id>/progress", "incidents:read"),
    api("401 403 403 403 403 200 200 200 200 403", "GET", "/incidents/<int:incident_id>/report", "incidents:read"),
    # Standing, violations, sanctions, appeals, pauses: seller A's own, staff all, buyers none of it.
    #    anon buyr obuy sell osel agnt supv admn key wkey
    api("401 403 403 200 404 200 200 200 200 403", "GET", "/sellers/<string:seller_id>/standing", "standing:read"),
    api("401 403 403 403 403 200 200 200 200 403", "GET", "/standings", "sanctions:read"),
    api("401 403 403 200 404 200 200 200 200 403", "GET", "/sellers/<string:seller_id>/violations",
        "sanctions:read"),
    api("401 403 403 403 403 201 201 201 403 403", "POST", "/sellers/<string:seller_id>/violations"),
    api("401 403 403 200 404 200 200 200 200 403", "GET", "/violations/<int:violation_id>", "sanctions:read"),
    api("401 403 403 403 404 403 200 200 403 403", "POST", "/violations/<int:violation_id>/overturn"),
    api("401 403 403 201 404 403 403 403 403 403", "POST", "/violations/<int:violation_id>/appeals"),
    api("401 403 403 200 404 200 200 200 200 403", "GET", "/sellers/<string:seller_id>/sanctions", "sanctions:read"),
    api("401 403 403 403 403 403 201 201 403 403", "POST", "/sellers/<string:seller_id>/sanctions"),
    api("401 403 403 403 403 200 200 200 200 403", "GET", "/sanctions", "sanctions:read"),
    api("401 403 403 200 404 200 200 200 200 403", "GET", "/sanctions/<int:sanction_id>", "sanctions:read"),
    api("401 403 403 403 404 403 200 200 403 403", "POST", "/sanctions/<int:sanction_id>/shorten"),
    api("401 403 403 403 404 403 200 200 403 403", "POST", "/sanctions/<int:sanction_id>/lift"),
    api("401 403 403 201 404 403 403 403 403 403", "POST", "/sanctions/<int:sanction_id>/appeals"),
    api("401 403 403 200 404 200 200 200 200 403", "GET", "/sellers/<string:seller_id>/stage-history",
        "sanctions:read"),
    api("401 403 403 200 404 200 200 200 200 403", "GET", "/sellers/<string:seller_id>/appeals", "sanctions:read"),
    api("401 403 403 200 200 200 200 200 200 403", "GET", "/appeals", "sanctions:read"),
    api("401 403 403 200 404 200 200 200 200 403", "GET", "/appeals/<int:appeal_id>", "sanctions:read"),
    api("401 403 403 403 404 200 200 200 403 403", "POST", "/appeals/<int:appeal_id>/decision"),
    api("401 403 403 200 200 200 200 200 200 403", "GET", "/pauses", "sanctions:read"),
    api("401 403 403 403 403 403 201 201 403 403", "POST", "/pauses"),
    api("401 403 403 200 200 200 200 200 200 403", "GET", "/policies/sanctions", "sanctions:read"),
    api("401 403 403 403 403 403 200 200 403 403", "PUT", "/policies/sanctions"),
    api("401 403 403 200 200 200 200 200 200 403", "GET", "/policies/sanctions/versions", "sanctions:read"),
    api("401 403 403 403 403 200 200 200 403 403", "POST", "/policies/sanctions/simulation"),
    # Scorecards.
    api("401 403 403 200 404 200 200 200 200 403", "GET", "/sellers/<string:seller_id>/scorecard", "scorecard:read"),
    api("401 403 403 403 403 200 200 200 200 403", "GET", "/scorecards", "scorecard:read"),
    # Pages every portal shares.
    #     anon buyr obuy sell osel agnt supv admn key wkey
    page("lgn 200 200 200 200 200 200 200 lgn lgn", "GET", "/"),
    page("200 302 302 302 302 302 302 302 200 200", "GET", "/login"),
    page("302 302 302 302 302 302 302 302 302 302", "POST", "/login"),
    page("lgn lgn lgn lgn lgn lgn lgn lgn lgn lgn", "POST", "/logout"),
    page("302 302 302 302 302 302 302 302 302 302", "GET", "/language/<code>"),
    page("lgn 200 200 200 200 403 403 403 lgn lgn", "GET", "/inbox"),
    # Buyer pages. The portal of a role that has none answers 403, or 404 where the page is "your buyer's".
    page("lgn 200 200 403 403 403 403 403 lgn lgn", "GET", "/buyer/claims"),
    page("lgn 200 404 403 404 403 403 403 lgn lgn", "GET", "/buyer/claims/<int:claim_id>"),
    page("lgn 302 404 403 404 403 403 403 lgn lgn", "POST", "/buyer/claims/<int:claim_id>/accept"),
    page("lgn 302 404 403 404 403 403 403 lgn lgn", "POST", "/buyer/claims/<int:claim_id>/reject"),
    page("lgn 302 404 403 404 403 403 403 lgn lgn", "POST", "/buyer/claims/<int:claim_id>/withdraw"),
    # Evidence: the claim's parties and staff may add files (ADD_EVIDENCE), whichever portal's form they post.
    page("lgn 302 404 302 404 302 302 302 lgn lgn", "POST", "/buyer/claims/<int:claim_id>/evidence"),
    page("lgn 200 404 403 403 200 200 200 lgn lgn", "GET", "/buyer/orders/<order_id>/claim"),
    page("lgn 302 404 403 403 302 302 302 lgn lgn", "POST", "/buyer/orders/<order_id>/claim"),
    page("lgn 200 200 404 404 404 404 404 lgn lgn", "GET", "/buyer/compensation"),
    # Seller portal.
    #     anon buyr obuy sell osel agnt supv admn key wkey
    page("lgn 403 403 200 200 403 403 403 lgn lgn", "GET", "/seller/claims/"),
    page("lgn 403 404 200 404 403 403 403 lgn lgn", "GET", "/seller/claims/<int:claim_id>"),
    page("lgn 403 404 302 404 403 403 403 lgn lgn", "POST", "/seller/claims/<int:claim_id>/proposal"),
    page("lgn 302 404 302 404 302 302 302 lgn lgn", "POST", "/seller/claims/<int:claim_id>/evidence"),
    page("lgn 403 403 200 200 404 404 404 lgn lgn", "GET", "/seller/deductions"),
    page("lgn 404 404 200 200 404 404 404 lgn lgn", "GET", "/seller/scorecard/"),
    page("lgn 404 404 200 200 404 404 404 lgn lgn", "GET", "/seller/standing/"),
    page("lgn 403 403 200 404 403 403 403 lgn lgn", "GET", "/seller/standing/violations/<int:violation_id>/appeal"),
    page("lgn 403 403 302 404 403 403 403 lgn lgn", "POST", "/seller/standing/violations/<int:violation_id>/appeal"),
    page("lgn 403 403 200 404 403 403 403 lgn lgn", "GET", "/seller/standing/sanctions/<int:sanction_id>/appeal"),
    page("lgn 403 403 302 404 403 403 403 lgn lgn", "POST", "/seller/standing/sanctions/<int:sanction_id>/appeal"),
    # Staff console: claims and compensation.
    page("lgn 403 403 403 403 200 200 200 lgn lgn", "GET", "/staff/claims/"),
    page("lgn 403 404 403 404 200 200 200 lgn lgn", "GET", "/staff/claims/<int:claim_id>"),
    page("lgn 403 404 403 404 302 302 302 lgn lgn", "POST", "/staff/claims/<int:claim_id>/assign"),
    page("lgn 403 404 403 404 302 302 302 lgn lgn", "POST", "/staff/claims/<int:claim_id>/escalate"),
    page("lgn 403 404 403 404 302 302 302 lgn lgn", "POST", "/staff/claims/<int:claim_id>/decision"),
    page("lgn 403 404 403 404 302 302 302 lgn lgn", "POST", "/staff/claims/<int:claim_id>/notes"),
    page("lgn 403 404 403 404 403 302 302 lgn lgn", "POST", "/staff/claims/<int:claim_id>/compensation"),
    page("lgn 403 403 403 403 403 302 302 lgn lgn", "POST", "/staff/compensations/<int:compensation_id>/void"),
    page("lgn 403 403 404 404 200 200 200 lgn lgn", "GET", "/staff/deductions"),
    # Staff console: sellers, sanctions, appeals, scorecards.
    #     anon buyr obuy sell osel agnt supv admn key wkey
    page("lgn 403 403 403 403 200 200 200 lgn lgn", "GET", "/staff/sellers/"),
    page("lgn 403 403 403 403 200 200 200 lgn lgn", "GET", "/staff/sellers/<external_id>"),
    page("lgn 403 403 403 403 403 302 302 lgn lgn", "POST", "/staff/sellers/<external_id>/sanctions"),
    page("lgn 403 403 403 403 403 302 302 lgn lgn", "POST",
         "/staff/sellers/<external_id>/sanctions/<int:sanction_id>/lift"),
    page("lgn 403 403 403 403 302 302 302 lgn lgn", "POST",
         "/staff/sellers/<external_id>/appeals/<int:appeal_id>/decision"),
    page("lgn 403 403 403 403 200 200 200 lgn lgn", "GET", "/staff/scorecards/"),
    page("lgn 403 403 403 403 200 200 200 lgn lgn", "GET", "/staff/scorecards.csv"),
    # Staff console: incidents.
    page("lgn 403 403 403 403 200 200 200 lgn lgn", "GET", "/staff/incidents/"),
    page("lgn 403 403 403 403 403 200 200 lgn lgn", "GET", "/staff/incidents/new"),
    page("lgn 403 403 403 403 403 302 302 lgn lgn", "POST", "/staff/incidents/new"),
    page("lgn 403 403 403 403 200 200 200 lgn lgn", "GET", "/staff/incidents/<int:incident_id>"),
    page("lgn 403 403 403 403 403 302 302 lgn lgn", "POST", "/staff/incidents/<int:incident_id>/selection"),
    page("lgn 403 403 403 403 403 302 302 lgn lgn", "POST", "/staff/incidents/<int:incident_id>/run"),
    # Staff console: notifications, policies, the audit log.
    page("lgn 403 403 403 403 200 200 200 lgn lgn", "GET", "/staff/notifications/"),
    page("lgn 403 403 403 403 200 200 200 lgn lgn", "GET", "/staff/notifications/<int:message_id>"),
    page("lgn 403 403 403 403 302 302 302 lgn lgn", "POST", "/staff/notifications/<int:message_id>/retry"),
    page("lgn 403 403 403 403 200 200 200 lgn lgn", "GET", "/staff/policies"),
    page("lgn 403 403 403 403 200 200 200 lgn lgn", "GET", "/staff/policies/<name>"),
    page("lgn 403 403 403 403 403 302 302 lgn lgn", "POST", "/staff/policies/<name>"),
    page("lgn 403 403 403 403 403 200 200 lgn lgn", "GET", "/staff/audit"),
)
# fmt: on


# What each request sends --------------------------------------------------------------------------------------------

REASON = {"reason": "확인이 필요합니다"}
APPEAL_PLAN = {
    "root_cause": "담당자 부재",
    "actions_taken": "담당자를 늘렸습니다",
    "prevention": "재고 알림을 켰습니다",
}
INCIDENT = {
    "title_ko": "가격 오류",
    "title_en": "Price error",
    "cause": "90% 가격 오류",
    "explanation_ko": "가격 오류로 주문이 취소되었습니다.",
    "explanation_en": "Your order was cancelled after a price error.",
}


@dataclass(frozen=True)
class Request:
    """How to call a row: a JSON body, a form (with a file field), a query string, which objects the path names."""

    json: Any = None
    form: Any = None
    upload: str | None = None
    query: str = ""
    ids: dict[str, str] = field(default_factory=dict)
    audited: bool = True  # a successful write must leave an audit record, unless it changes no record by design


def _policy_form(world: World) -> dict[str, str]:
    """The SLA policy page's form as it comes: every field holding the value in force."""
    data = {"note": "권한 매트릭스"}
    for path, value in flatten(world.policies["sla"]).items():
        if isinstance(value, bool):
            if value:
                data[f"field:{path}"] = "on"
        elif isinstance(value, list):
            data[f"field:{path}"] = ",".join(str(item) for item in value)
        else:
            data[f"field:{path}"] = "" if value is None else str(value)
    return data


def _policy(name: str) -> Callable[[World], dict[str, Any]]:
    return lambda world: {"document": world.policies[name], "note": "권한 매트릭스"}


PROPOSED = {"claim_id": "proposed_claim_id"}
REQUESTS: dict[tuple[str, str], Request] = {
    ("GET", "/api/v1/calendar/deadline"): Request(query="start=2026-09-23T15:00:00%2B09:00&business_days=3"),
    ("GET", "/api/v1/calendar/holidays"): Request(query="from=2026-09-01&to=2026-12-31"),
    ("POST", "/api/v1/calendar/holidays"): Request(json={"date": "2026-12-30", "name": "임시 휴무"}),
    ("POST", "/api/v1/events"): Request(json=paid_event("E-M1", "O-NEW", seller_id="S-A", buyer_id="B-1")),
    ("POST", "/api/v1/settlement-events"): Request(
        json=lambda world: {
            "id": "P-M1",
            "type": "payout.completed",
            "occurred_at": "2026-09-23T15:00:00+09:00",
            "compensation_id": world.ids["compensation_id"],
            "amount": 5_000,
        }
    ),
    ("POST", "/api/v1/claims"): Request(json={"order_id": "O-A4", "type": "damaged", "description": "파손"}),
    ("POST", "/api/v1/claims/<int:claim_id>/proposal"): Request(json={"remedy": "refund", "message": "환불"}),
    ("POST", "/api/v1/claims/<int:claim_id>/accept"): Request(json={}, ids=PROPOSED),
    ("POST", "/api/v1/claims/<int:claim_id>/reject"): Request(json={"reason": "부족해요"}, ids=PROPOSED),
    ("POST", "/api/v1/claims/<int:claim_id>/withdraw"): Request(json={"reason": "해결됐어요"}),
    ("POST", "/api/v1/claims/<int:claim_id>/escalate"): Request(json=REASON),
    ("POST", "/api/v1/claims/<int:claim_id>/decision"): Request(json={"decision": "for_seller", "reason": "근거 부족"}),
    ("POST", "/api/v1/claims/<int:claim_id>/notes"): Request(json={"message": "통화함"}),
    ("POST", "/api/v1/claims/<int:claim_id>/evidence"): Request(upload="evidence"),
    ("PUT", "/api/v1/policies/sla"): Request(json=_policy("sla")),
    ("POST", "/api/v1/compensations/<int:compensation_id>/void"): Request(json={"reason": "잘못 지급"}),
    ("PUT", "/api/v1/policies/compensation"): Request(json=_policy("compensation")),
    ("GET", "/api/v1/settlements/deductions"): Request(query="period=2026-09"),
    ("POST", "/api/v1/incidents"): Request(
        json={**INCIDENT, "platform_at_fault": True, "rule": {"form": "coupon", "method": "fixed", "amount": 5_000}}
    ),
    ("PUT", "/api/v1/incidents/<int:incident_id>/selection"): Request(json={"order_ids": ["O-B1"]}),
    ("POST", "/api/v1/sellers/<string:seller_id>/violations"): Request(json={"points": 1, "reason": "허위 송장"}),
    ("POST", "/api/v1/violations/<int:violation_id>/overturn"): Request(json=REASON),
    ("POST", "/api/v1/violations/<int:violation_id>/appeals"): Request(json=APPEAL_PLAN),
    ("POST", "/api/v1/sellers/<string:seller_id>/sanctions"): Request(json={"stage": "restricted", "reason": "반복"}),
    ("POST", "/api/v1/sanctions/<int:sanction_id>/shorten"): Request(
        json={"ends_at": (START + timedelta(days=2)).isoformat(), "reason": "개선 확인"}
    ),
    ("POST", "/api/v1/sanctions/<int:sanction_id>/lift"): Request(json=REASON),
    ("POST", "/api/v1/sanctions/<int:sanction_id>/appeals"): Request(json=APPEAL_PLAN),
    ("POST", "/api/v1/appeals/<int:appeal_id>/decision"): Request(json={"outcome": "rejected", "reason": "근거 부족"}),
    ("POST", "/api/v1/pauses"): Request(
        json={
            "starts_at": "2026-09-20T00:00:00+09:00",
            "ends_at": "2026-09-22T00:00:00+09:00",
            "kinds": ["late_shipment"],
            "reason": "택배 파업",
        }
    ),
    ("PUT", "/api/v1/policies/sanctions"): Request(json=_policy("sanctions")),
    # A what-if writes nothing.
    ("POST", "/api/v1/policies/sanctions/simulation"): Request(
        json=lambda world: {"document": world.policies["sanctions"], "days": 7}, audited=False
    ),
    # Logging in as the agent from any session; logging out: the session's state, not a record.
    ("POST", "/login"): Request(form={"email": "matrix-agent@test.example", "password": PASSWORD}, audited=False),
    ("POST", "/logout"): Request(form={}, audited=False),
    ("POST", "/buyer/claims/<int:claim_id>/accept"): Request(form={}, ids=PROPOSED),
    ("POST", "/buyer/claims/<int:claim_id>/reject"): Request(form={"reject-reason": "부족해요"}, ids=PROPOSED),
    ("POST", "/buyer/claims/<int:claim_id>/withdraw"): Request(form={"withdraw-reason": "해결됐어요"}),
    ("POST", "/buyer/claims/<int:claim_id>/evidence"): Request(upload="more-evidence"),
    ("GET", "/buyer/orders/<order_id>/claim"): Request(ids={"order_id": "free_order_id"}),
    ("POST", "/buyer/orders/<order_id>/claim"): Request(
        form={"type": "damaged", "description": "파손"}, ids={"order_id": "free_order_id"}
    ),
    ("POST", "/seller/claims/<int:claim_id>/proposal"): Request(form={"remedy": "refund", "message": "환불"}),
    ("POST", "/seller/claims/<int:claim_id>/evidence"): Request(upload="more-evidence"),
    ("POST", "/seller/standing/violations/<int:violation_id>/appeal"): Request(form=APPEAL_PLAN),
    ("POST", "/seller/standing/sanctions/<int:sanction_id>/appeal"): Request(form=APPEAL_PLAN),
    ("POST", "/staff/claims/<int:claim_id>/assign"): Request(form={"assignee": "me"}),
    ("POST", "/staff/claims/<int:claim_id>/escalate"): Request(form={"escalate-reason": "확인 필요"}),
    ("POST", "/staff/claims/<int:claim_id>/decision"): Request(
        form={"decision-decision": "for_seller", "decision-reason": "근거 부족"}
    ),
    ("POST", "/staff/claims/<int:claim_id>/notes"): Request(form={"note-message": "통화함"}),
    ("POST", "/staff/claims/<int:claim_id>/compensation"): Request(
        form={"grant-amount": "5000", "grant-form": "points", "grant-reason": "불편 보상"}
    ),
    ("POST", "/staff/compensations/<int:compensation_id>/void"): Request(
        form=lambda world: {f"void-{world.ids['compensation_id']}-reason": "잘못 지급"}
    ),
    ("POST", "/staff/sellers/<external_id>/sanctions"): Request(
        form={"impose-stage": "restricted", "impose-reason": "반복 위반"}
    ),
    ("POST", "/staff/sellers/<external_id>/sanctions/<int:sanction_id>/lift"): Request(
        form=lambda world: {f"lift-{world.ids['sanction_id']}-reason": "개선 확인"}
    ),
    ("POST", "/staff/sellers/<external_id>/appeals/<int:appeal_id>/decision"): Request(
        form=lambda world: {
            f"decide-{world.ids['appeal_id']}-outcome": "rejected",
            f"decide-{world.ids['appeal_id']}-reason": "근거 부족",
        }
    ),
    ("POST", "/staff/incidents/new"): Request(
        form={**INCIDENT, "platform_at_fault": "y", "form": "coupon", "method": "fixed", "amount": "5000"}
    ),
    ("POST", "/staff/incidents/<int:incident_id>/selection"): Request(form={"sellers": "S-B"}),
    ("POST", "/staff/incidents/<int:incident_id>/run"): Request(form={}),
    ("POST", "/staff/notifications/<int:message_id>/retry"): Request(form={}),
    ("POST", "/staff/policies/<name>"): Request(form=_policy_form),
}


# The world ----------------------------------------------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)
# What seller A's orders and buyer 1 look like in an answer; an outsider must never see any of it.
A_MARKERS = ("O-A1", "O-A2", "O-A3", "O-A4", "한빛전자", "김민준", "b-1@example.com", "허위 발송", "담당자 부재")
BUYER_CONTACT = "b-1@example.com"


@dataclass
class World:
    """What the matrix's paths point at (seller A's and buyer 1's objects) and a logged-in client per person."""

    app: Flask
    connection: sa.Connection
    session: Session
    ids: dict[str, Any] = field(default_factory=dict)
    policies: dict[str, Any] = field(default_factory=dict)
    clients: dict[str, FlaskClient] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)

    def key(self, scopes: tuple[str, ...]) -> str:
        """The secret of a key holding exactly ``scopes`` (issued once)."""
        name = "every scope" if set(scopes) == set(SCOPES) else ",".join(sorted(scopes))
        if name not in self.secrets:
            _key, secret = create_api_key(self.session, f"matrix: {name}", scopes=scopes, actor=SETUP, now=START)
            self.session.commit()
            self.secrets[name] = secret
        return self.secrets[name]


def _upload() -> FileStorage:
    return FileStorage(io.BytesIO(PNG), filename="사진.png", content_type="image/png")


def build_world(app: Flask, connection: sa.Connection, session: Session) -> World:
    """Sellers A and B with a user each, buyers 1 and 2, staff, and one of everything, all of A and buyer 1."""
    world = World(app, connection, session)
    now = START
    seller_a = create_seller(session, "S-A", name="한빛전자", actor=SETUP, now=now)
    seller_b = create_seller(session, "S-B", name="다른상점", actor=SETUP, now=now)
    buyer_1 = create_buyer(session, "B-1", name="김민준", contact=BUYER_CONTACT, actor=SETUP, now=now)
    buyer_2 = create_buyer(session, "B-2", name="이서연", contact="b-2@example.com", actor=SETUP, now=now)
    parties = {
        "buyer": (Role.BUYER, {"buyer_id": buyer_1.id}),
        "other_buyer": (Role.BUYER, {"buyer_id": buyer_2.id}),
        "seller": (Role.SELLER, {"seller_id": seller_a.id}),
        "other_seller": (Role.SELLER, {"seller_id": seller_b.id}),
        "agent": (Role.AGENT, {}),
        "supervisor": (Role.SUPERVISOR, {}),
        "admin": (Role.ADMIN, {}),
    }
    users = {
        name: create_user(
            session, f"matrix-{name}@test.example", name=name, role=role, password=PASSWORD, actor=SETUP, now=now, **of
        )
        for name, (role, of) in parties.items()
    }
    actors = {name: Actor.for_user(user) for name, user in users.items()}
    item = [{"sku": "TV-43UHD", "name": "43인치 UHD TV", "quantity": 1, "price": 100_000}]
    orders = [
        create_order(
            session,
            external_id,
            seller=seller,
            buyer=buyer,
            amount=100_000,
            items=item,
            paid_at=now - timedelta(hours=1),
            actor=SETUP,
            now=now,
        )
        for external_id, seller, buyer in [(f"O-A{n}", seller_a, buyer_1) for n in range(1, 5)]
        + [("O-B1", seller_b, buyer_2)]
    ]
    buyer, seller, agent, supervisor = (actors[name] for name in ("buyer", "seller", "agent", "supervisor"))
    # Claim 1 waits for the seller (with a photo); claim 2 has the seller's proposal; claim 3 was compensated.
    claim = file_claim(session, orders[0], "damaged", description="화면이 깨져서 왔어요", actor=buyer, now=now)
    evidence = attach_evidence(session, claim, [_upload()], actor=buyer, now=now, store=evidence_store())
    proposed = file_claim(session, orders[1], "wrong_item", description="다른 상품이 왔어요", actor=buyer, now=now)
    propose_remedy(session, proposed, "refund", amount=None, message="환불해 드립니다", actor=seller, now=now)
    compensated = file_claim(session, orders[2], "not_as_described", description="설명과 달라요", actor=buyer, now=now)
    granted = grant_by_staff(
        session, compensated, amount=5_000, form="points", recoverable=True, reason="불편", actor=supervisor, now=now
    )
    # A violation to appeal, another already appealed, and a warning in force.
    violation = record_manual_violation(session, seller_a, points=2, reason="허위 발송 처리", actor=agent, now=now)
    appealed = record_manual_violation(session, seller_a, points=1, reason="응답 지연", actor=agent, now=now)
    appeal = file_appeal(session, violation=appealed, actor=seller, now=now, **APPEAL_PLAN)
    sanction = impose_sanction(session, seller_a, "warning", reason="반복된 지연", actor=supervisor, now=now)
    incident = declare_incident(
        session,
        **INCIDENT,
        platform_at_fault=True,
        rule={"form": "coupon", "method": "percent_of_order", "percent": "10", "cap": 100_000},
        actor=supervisor,
        now=now,
    )
    select_orders(session, incident, order_ids=["O-B1"], actor=supervisor, now=now)
    holiday = add_platform_holiday(session, date(2026, 12, 31), name="창립기념일", actor=SETUP, now=now)
    session.flush()
    # A notice the relay gave up on, so that retrying it is legal.
    message = session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).first()
    assert message is not None, "filing a claim writes notices"
    message.status = OutboxStatus.DEAD
    session.commit()
    world.ids.update(
        claim_id=claim.id,
        evidence_id=evidence[0].id,
        proposed_claim_id=proposed.id,
        compensated_claim_id=compensated.id,
        compensation_id=granted.compensation_id,
        violation_id=violation.id,
        appeal_id=appeal.id,
        sanction_id=sanction.id,
        incident_id=incident.id,
        day=holiday.day.isoformat(),
        message_id=message.id,
        seller_id="S-A",
        external_id="S-A",
        order_id="O-A1",
        free_order_id="O-A4",
        name="sla",
        code="en",
        path="swagger-ui.css",
    )
    world.policies = {name: current_policy(session, name).document for name in ("sla", "compensation", "sanctions")}
    for name, user in users.items():
        client = app.test_client()
        assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302, name
        world.clients[name] = client
    world.clients["anonymous"] = app.test_client()
    for row in ROWS:
        world.key(_key_scopes(row))
        world.key((row.wrong_scope,))
    return world


def _factory(connection: sa.Connection) -> sessionmaker[Session]:
    return sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)


@contextmanager
def open_world(database_url: str, evidence_dir: str) -> Iterator[World]:
    """A world inside a transaction that is rolled back on leaving; each cell runs in a savepoint of its own."""
    engine = create_db_engine(database_url)
    connection = engine.connect()
    transaction = connection.begin()
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": "matrix-secret",
            "CLOCK": FrozenClock(START),
            "TESTING": True,
            # The matrix is about who may do what: CSRF and rate limits have tests of their own.
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "EVIDENCE_DIR": evidence_dir,
        }
    )
    db.bind(app, _factory(connection))
    session = _factory(connection)()
    try:
        with app.test_request_context():
            built = build_world(app, connection, session)
        yield built
    finally:
        session.close()
        transaction.rollback()
        connection.close()
        app.extensions["marketplace.db"]["engine"].dispose()
        engine.dispose()


@pytest.fixture(scope="module")
def world(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One world per backend for the whole module."""
    with open_world(database_url, str(tmp_path_factory.mktemp("evidence"))) as built:
        yield built


# Running a cell -----------------------------------------------------------------------------------------------------

PROBLEM = "application/problem+json"
TABLES = sorted(Base.metadata.tables)
# Every table's row count in one statement: a refused request must leave each as it was.
ROW_COUNTS = sa.select(
    *(sa.select(sa.func.count()).select_from(Base.metadata.tables[name]).scalar_subquery() for name in TABLES)
)


@dataclass
class Cell:
    """One request of the matrix: who sent it, the answer, and the row counts around it."""

    role: str
    response: Any
    before: dict[str, int]
    after: dict[str, int]

    @property
    def changed(self) -> dict[str, int]:
        """The tables whose row count moved, and by how much."""
        return {name: self.after[name] - self.before[name] for name in TABLES if self.after[name] != self.before[name]}

    @property
    def token(self) -> str:
        """The status as the table writes it."""
        location = self.response.headers.get("Location", "")
        if self.response.status_code == 302 and location.split("?")[0].endswith("/login"):
            return LOGIN
        return str(self.response.status_code)


def _key_scopes(row: Row) -> tuple[str, ...]:
    return tuple(sorted(SCOPES)) if row.scope == "*" else (row.scope,)


def request_of(row: Row) -> Request:
    """How to call the row."""
    return REQUESTS.get((row.method, row.rule), Request())


def path_of(row: Row, world: World) -> str:
    """The rule with its parameters filled in with seller A's and buyer 1's objects."""
    request = request_of(row)
    path = row.rule
    for part in [piece.split(">")[0] for piece in row.rule.split("<")[1:]]:
        name = part.split(":")[-1]
        path = path.replace(f"<{part}>", str(world.ids[request.ids.get(name, name)]))
    query = row.variant.format(**world.ids) or request.query
    return f"{path}?{query}" if query else path


def _send(row: Row, world: World) -> dict[str, Any]:
    request = request_of(row)
    kwargs: dict[str, Any] = {}
    if request.json is not None:
        kwargs["json"] = request.json(world) if callable(request.json) else request.json
    if request.form is not None or request.upload is not None:
        data = dict(request.form(world) if callable(request.form) else (request.form or {}))
        if request.upload is not None:
            # A file the claim does not have yet (the same content again is not added twice).
            data[request.upload] = (io.BytesIO(PNG + os.urandom(8)), "추가.png")
            kwargs["content_type"] = "multipart/form-data"
        kwargs["data"] = data
    return kwargs


def call(row: Row, world: World, role: str) -> Cell:
    """Send the row's request as ``role`` inside a savepoint that is rolled back afterwards."""
    if role in {"key", "wrong_key"}:
        scopes = _key_scopes(row) if role == "key" else (row.wrong_scope,)
        client, headers = world.clients["anonymous"], {"Authorization": f"Bearer {world.key(scopes)}"}
    else:
        client, headers = world.clients[role], {}
    cookie = client.get_cookie("session")
    savepoint = world.connection.begin_nested()
    try:
        before = world.connection.execute(ROW_COUNTS).one()
        response = client.open(path_of(row, world), method=row.method, headers=headers, **_send(row, world))
        assert world.connection.get_nested_transaction() is savepoint, "the request left a savepoint open"
        after = world.connection.execute(ROW_COUNTS).one()
        return Cell(role, response, dict(zip(TABLES, before, strict=True)), dict(zip(TABLES, after, strict=True)))
    finally:
        savepoint.rollback()
        # Logging out or in, a language, a flashed message: all live in the cookie; put it back as it was.
        if cookie is None:
            client.delete_cookie("session")
        else:
            client.set_cookie("session", cookie.value)


def problems_of(row: Row, cell: Cell) -> list[str]:
    """What is wrong with a cell besides its status."""
    problems = []
    status, response = cell.response.status_code, cell.response
    refused = status >= 400 or cell.token == LOGIN
    if (refused or row.method == "GET") and cell.changed:
        problems.append(f"{cell.role}: {status}, yet rows changed: {cell.changed}")
    if row.method != "GET" and not refused and request_of(row).audited and cell.changed.get("audit_records", 0) < 1:
        problems.append(f"{cell.role}: {status} without an audit record")
    if row.is_api and status >= 400 and response.mimetype != PROBLEM:
        problems.append(f"{cell.role}: {status} as {response.mimetype}, not problem+json")
    if row.is_api and status == 401 and "Bearer" not in response.headers.get("WWW-Authenticate", ""):
        problems.append(f"{cell.role}: 401 without 'WWW-Authenticate: Bearer'")
    if 200 <= status < 300 and response.mimetype in {"application/json", "text/html", "text/csv"}:
        body = response.get_data(as_text=True).lower()
        markers = {"other_buyer": A_MARKERS, "other_seller": A_MARKERS, "seller": (BUYER_CONTACT,)}
        shown = [marker for marker in markers.get(cell.role, ()) if marker.lower() in body]
        if shown:
            problems.append(f"{cell.role}: the answer shows {shown}")
    return problems


# The tests ----------------------------------------------------------------------------------------------------------


def _rules() -> list[Any]:
    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite://"})
    return [rule for rule in app.url_map.iter_rules() if not rule.rule.startswith("/static")]


def routes() -> set[tuple[str, str]]:
    """Every (method, rule) the app serves, but HEAD, OPTIONS and static files."""
    return {(method, rule.rule) for rule in _rules() for method in rule.methods - {"HEAD", "OPTIONS"}}


def summary() -> str:
    """The matrix's size, for the README."""
    rules, served = _rules(), routes()
    api_rules = [rule for rule in rules if rule.rule.startswith("/api/")]
    return (
        f"{len(served)} endpoints (method × rule) of {len(rules)} URL rules ({len(api_rules)} under /api, static files "
        f"aside): {len(ROWS)} rows (with {len(ROWS) - len(served)} filter variants) × {len(ROLES)} callers = "
        f"{len(ROWS) * len(ROLES)} cells per database backend"
    )


def test_every_rule_and_method_has_a_row() -> None:
    """A new endpoint without a row fails here, and so does a row for an endpoint that is gone."""
    served = routes()
    listed = {(row.method, row.rule) for row in ROWS}
    assert sorted(served - listed) == [], "endpoints without a row in ROWS"
    assert sorted(listed - served) == [], "rows for endpoints the app no longer serves"
    labels = [row.label for row in ROWS]
    assert len(labels) == len(set(labels)), "a row is listed twice"
    assert set(REQUESTS) <= listed, "REQUESTS names an endpoint without a row"
    assert all(row.statuses for row in ROWS)
    print(summary())


@pytest.mark.parametrize("row", ROWS, ids=[row.label for row in ROWS])
def test_authorization_matrix(world: World, row: Row) -> None:
    """Each caller gets the status the table says, a refusal changes nothing, an outsider sees nothing of A's."""
    cells = [call(row, world, role) for role in ROLES]
    actual = {cell.role: cell.token for cell in cells}
    wrong = {
        role: f"{row.statuses[role]} expected, got {actual[role]}"
        for role in ROLES
        if actual[role] != row.statuses[role]
    }
    problems = [problem for cell in cells for problem in problems_of(row, cell)]
    assert not wrong and not problems, f"{row.label}: {wrong} {problems}; actual: {' '.join(actual.values())}"


if __name__ == "__main__":
    print(summary())
