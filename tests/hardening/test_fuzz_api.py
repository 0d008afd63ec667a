"""Fuzzing the REST API from its own OpenAPI document: every operation, every role, no 500, no undocumented answer.

Schemathesis generates requests (valid ones and ones that break the schema) for each operation of
``/api/openapi.json`` and sends each to the app in-process (WSGI), once as each kind of caller: a buyer, a seller's
user, an agent, a supervisor, an administrator (logged-in browser sessions with their CSRF token), one of the
marketplace's systems with an API key holding every scope, and nobody. Path ids are drawn from the rows seeded first
about half of the time, so that the requests reach real claims, compensations, sanctions and appeals, not only 404s.

Each response must:

- not be a server error (5xx);
- have a status code the operation documents explicitly (the document's catch-all ``default`` response is removed
  before fuzzing, so every status must be listed on its operation);
- have the documented content type, and a body that matches the documented schema;
- be ``application/problem+json`` with a ``status`` equal to the HTTP status when it is a 4xx.
"""

from __future__ import annotations

import copy
import io
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.transport import USER_AGENT
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from marketplace.claims.evidence import EvidenceStore, attach_evidence
from marketplace.claims.operations import (
    decide_claim,
    escalate_claim,
    file_claim,
    open_seller_cancellation_claim,
    propose_remedy,
)
from marketplace.core.auth import SCOPES, Actor
from marketplace.core.operations import add_platform_holiday
from marketplace.incidents.operations import declare_incident
from marketplace.orders.models import CancelInitiator, Order, OrderStatus
from marketplace.orders.operations import create_order
from marketplace.sanctions.operations import declare_pause, file_appeal, impose_sanction, record_manual_violation
from tests.conftest import SETUP, START, csrf_token, login

PROBLEM = "application/problem+json"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(48)
STAFF = Actor.system("fuzz-staff")


@dataclass
class FuzzCaller:
    """A kind of caller: the client it sends with and the headers it adds to every request."""

    name: str
    client: FlaskClient
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FuzzSeed:
    """The rows seeded before fuzzing, by the path parameter that names them."""

    ids: dict[str, list[Any]]
    evidence: list[dict[str, int]]
    fields: dict[str, list[Any]]
    callers: list[FuzzCaller]


def _order(session: Session, seller, buyer, n: int, *, amount: int = 120_000) -> Order:
    return create_order(
        session,
        f"O-FUZZ-{n}",
        seller=seller,
        buyer=buyer,
        amount=amount,
        items=[{"sku": "SKU-FUZZ", "name": "상품", "quantity": 1}],
        paid_at=START - timedelta(hours=2),
        actor=SETUP,
        now=START - timedelta(hours=2),
    )


def _seller_cancelled(session: Session, order: Order):
    order.status = OrderStatus.CANCELLED
    order.cancelled_at = START - timedelta(hours=1)
    order.cancel_initiated_by = CancelInitiator.SELLER
    order.cancel_reason = "out_of_stock"
    return open_seller_cancellation_claim(session, order, actor=SETUP, now=START - timedelta(hours=1))


def _session_caller(app: Flask, name: str, user) -> FuzzCaller:
    """A logged-in browser session; the user agent is the one schemathesis sends (sessions are bound to it)."""
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = USER_AGENT
    response = login(client, user)
    assert response.status_code == 302, f"{name} could not log in"
    token = csrf_token(client.get("/").get_data(as_text=True))
    return FuzzCaller(name, client, {"X-CSRFToken": token, "User-Agent": USER_AGENT})


@pytest.fixture
def fuzz_seed(app: Flask, session: Session, make_seller, make_buyer, make_user, make_api_key, tmp_path) -> FuzzSeed:
    """Two sellers and two buyers with orders, claims in each state, a compensation, violations, a sanction,
    appeals, an incident, a pause and a platform holiday; a caller of every kind."""
    app.config["EVIDENCE_DIR"] = str(tmp_path / "evidence")
    seller, other_seller = make_seller("한빛전자"), make_seller("다른 판매자")
    buyer, other_buyer = make_buyer("김민준"), make_buyer("이서연")
    orders = [_order(session, seller, buyer, n) for n in range(1, 7)]
    orders.append(_order(session, other_seller, other_buyer, 7))
    session.flush()

    awaiting = _seller_cancelled(session, orders[0])
    proposed = file_claim(session, orders[1], "damaged", description="상자가 찢겨 왔어요", actor=SETUP, now=START)
    propose_remedy(session, proposed, "refund", amount=None, message="환불해 드릴게요", actor=SETUP, now=START)
    escalated = file_claim(session, orders[2], "non_delivery", description="안 왔어요", actor=SETUP, now=START)
    escalate_claim(session, escalated, reason="판매자 무응답", actor=STAFF, now=START)
    decided = file_claim(session, orders[3], "counterfeit", description="가품 같아요", actor=SETUP, now=START)
    decide_claim(session, decided, "for_buyer", amount=orders[3].amount, reason="가품 확인", actor=STAFF, now=START)
    others = file_claim(session, orders[6], "wrong_item", description="다른 상품", actor=SETUP, now=START)
    store = EvidenceStore(tmp_path / "evidence", max_bytes=1_000_000)
    evidence = attach_evidence(
        session, proposed, [FileStorage(io.BytesIO(PNG), filename="box.png")], actor=SETUP, now=START, store=store
    )
    session.flush()

    violation = record_manual_violation(session, seller, points=3, reason="반복 지연", actor=STAFF, now=START)
    sanction = impose_sanction(session, seller, "warning", reason="경고", actor=STAFF, now=START)
    session.flush()
    appeals = [
        file_appeal(
            session,
            violation=violation,
            root_cause="재고 연동 오류",
            actions_taken="연동 수정",
            prevention="매일 점검",
            actor=SETUP,
            now=START,
        ),
        file_appeal(
            session,
            sanction=sanction,
            root_cause="재고 연동 오류",
            actions_taken="연동 수정",
            prevention="매일 점검",
            actor=SETUP,
            now=START,
        ),
    ]
    incident = declare_incident(
        session,
        title_ko="쿠폰 오발급",
        title_en="Coupon issued to everyone",
        cause="A voucher meant for 20 winners was issued to every member.",
        platform_at_fault=True,
        explanation_ko="저희 실수로 주문이 취소되었습니다.",
        explanation_en="Your order was cancelled by our mistake.",
        rule={"form": "coupon", "method": "percent_of_order", "percent": "10", "cap": 100_000},
        actor=STAFF,
        now=START,
    )
    declare_pause(
        session,
        starts_at=START - timedelta(days=2),
        ends_at=START - timedelta(days=1),
        kinds=["late_shipment"],
        reason="택배 파업",
        actor=STAFF,
        now=START,
    )
    holiday = add_platform_holiday(session, date(2026, 10, 30), name="창립기념일", actor=SETUP, now=START)
    session.commit()

    from marketplace.compensation.models import Compensation
    from marketplace.sanctions.models import Violation

    compensation_ids = [c.id for c in session.query(Compensation).all()]
    violation_ids = [v.id for v in session.query(Violation).all()]

    callers = [
        _session_caller(app, "buyer", make_user("buyer", buyer=buyer)),
        _session_caller(app, "seller", make_user("seller", seller=seller)),
        _session_caller(app, "agent", make_user("agent")),
        _session_caller(app, "supervisor", make_user("supervisor")),
        _session_caller(app, "admin", make_user("admin")),
    ]
    _key, secret = make_api_key(*sorted(SCOPES))
    callers.append(FuzzCaller("api_key", app.test_client(), {"Authorization": f"Bearer {secret}"}))
    callers.append(FuzzCaller("anonymous", app.test_client()))
    claim_ids = [awaiting.id, proposed.id, escalated.id, decided.id, others.id]
    return FuzzSeed(
        ids={
            "claim_id": claim_ids,
            "compensation_id": compensation_ids,
            "seller_id": [seller.external_id, other_seller.external_id],
            "violation_id": violation_ids,
            "sanction_id": [sanction.id],
            "appeal_id": [a.id for a in appeals],
            "incident_id": [incident.id],
            "day": [holiday.day.isoformat()],
        },
        evidence=[{"claim_id": proposed.id, "evidence_id": e.id} for e in evidence],
        fields={
            "order_id": [order.external_id for order in orders],
            "seller": [seller.external_id, other_seller.external_id],
            "claim_id": claim_ids,
            "compensation_id": compensation_ids,
        },
        callers=callers,
    )


@dataclass
class Found:
    """A distinct failure: who met it and the first report of it."""

    example: str
    callers: set[str] = field(default_factory=set)


def _record(failures: dict, label: str, title: str, response: Any, caller: str, report: str) -> None:
    status = response.status_code if response is not None else 0
    found = failures.setdefault((label, title, status), Found(report[:2000]))
    found.callers.add(caller)


def problem_json_for_client_errors(ctx: Any, response: Any, case: Any) -> bool | None:
    """A 4xx is an RFC 9457 problem whose ``status`` is the HTTP status."""
    if 400 <= response.status_code < 500:
        content_type = response.headers.get("content-type", [""])[0]
        assert content_type.split(";")[0].strip() == PROBLEM, (
            f"{response.status_code} answered with {content_type!r}, not {PROBLEM}"
        )
        body = response.json()
        assert body.get("status") == response.status_code, f"problem status {body.get('status')} != HTTP status"
        assert body.get("title"), "problem without a title"
    return True


def strict_document(app: Flask) -> dict[str, Any]:
    """The app's OpenAPI document, without the catch-all ``default`` responses."""
    document = copy.deepcopy(app.test_client().get("/api/openapi.json").get_json())
    for operations in document["paths"].values():
        for method, operation in operations.items():
            if method != "parameters":
                operation["responses"].pop("default", None)
    return document


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


# Checks left out for an operation, each with its reason.
EXCLUDED_CHECKS: dict[str, dict[Any, str]] = {
    # Both take a batch: the envelope is checked, then each event succeeds or fails on its own and the answer is 200
    # with every event's result (a refused event carries its problem). A schema-violating event inside a valid
    # envelope is refused in the body, not by the status; tests/orders and tests/compensation assert those results.
    "POST /api/v1/events": {negative_data_rejection: "batch: each event's refusal is in the 200 body"},
    "POST /api/v1/settlement-events": {negative_data_rejection: "batch: each event's refusal is in the 200 body"},
}

# Examples per operation and generation mode; every example is sent once as each caller.
EXAMPLES = {"sqlite": 6, "postgresql": 4}


def _use_real_rows(case: Any, seed: FuzzSeed, data: st.DataObject) -> None:
    """Point the case's ids (path, query, body) at seeded rows, so that it reaches real records."""
    names = set(case.path_parameters or {})
    if {"claim_id", "evidence_id"} <= names:
        case.path_parameters.update(data.draw(st.sampled_from(seed.evidence), label="evidence"))
        names -= {"claim_id", "evidence_id"}
    for name in sorted(names):
        case.path_parameters[name] = data.draw(st.sampled_from(seed.ids[name]), label=name)
    for container in (case.query, case.body):
        if isinstance(container, dict):
            for name in sorted(set(container) & set(seed.fields)):
                container[name] = data.draw(st.sampled_from(seed.fields[name]), label=name)


def test_every_operation_answers_as_documented_for_every_caller(app: Flask, fuzz_seed: FuzzSeed, backend: str) -> None:
    """Schemathesis, positive and negative, on every operation of /api/openapi.json, as every kind of caller."""
    schema = schemathesis.openapi.from_dict(strict_document(app))
    schema.app = app
    operations = [result.ok() for result in schema.get_all_operations()]
    failures: dict[tuple[str, str, int], Found] = {}
    statuses: dict[str, set[int]] = {}
    cases = 0
    started = time.monotonic()

    def fuzz(operation: Any, mode: GenerationMode) -> None:
        """Send one operation's generated cases (valid or schema-breaking) as every caller; collect failures."""
        label = operation.label
        excluded = list(EXCLUDED_CHECKS.get(label, {}))

        @settings(
            max_examples=EXAMPLES[backend],
            derandomize=True,
            deadline=None,
            database=None,
            # Every failure is collected (none is raised), so there is nothing to shrink.
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
        def run(case: Any, data: st.DataObject) -> None:
            nonlocal cases
            # Half of the valid requests name seeded rows; the other half random ids (mostly 404s).
            if mode is GenerationMode.POSITIVE and data.draw(st.booleans(), label="real rows"):
                _use_real_rows(case, fuzz_seed, data)
            for caller in fuzz_seed.callers:
                cases += 1
                response = None
                try:
                    response = case.call(session=caller.client, headers=caller.headers)
                    statuses.setdefault(label, set()).add(response.status_code)
                    case.validate_response(
                        response,
                        checks=CHECKS,
                        additional_checks=[problem_json_for_client_errors],
                        excluded_checks=excluded,
                    )
                except BaseExceptionGroup as group:
                    for failure in group.exceptions:
                        _record(failures, label, failure.title, response, caller.name, str(group))
                except Exception as exc:  # noqa: BLE001 - an exception out of the app is a failure to report
                    _record(failures, label, type(exc).__name__, response, caller.name, repr(exc))

        try:
            run()
        except Unsatisfiable:
            # Nothing to break: the operation takes no parameters and no body (GET /me, GET /policies/sla).
            assert mode is GenerationMode.NEGATIVE, f"{label}: no valid request could be generated"

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz(operation, mode)
    elapsed = time.monotonic() - started
    succeeded = sorted(label for label, seen in statuses.items() if any(200 <= status < 300 for status in seen))
    print(
        f"\n[{backend}] {cases} cases over {len(operations)} operations x {len(fuzz_seed.callers)} callers "
        f"in {elapsed:.1f} s; {len(succeeded)} operations answered 2xx at least once"
    )
    for label, seen in sorted(statuses.items()):
        print(f"  {label}: {sorted(seen)}")
    report = "\n\n".join(
        f"{label} -> {status}: {title} (as {', '.join(sorted(found.callers))})\n{found.example}"
        for (label, title, status), found in sorted(failures.items())
    )
    assert not failures, f"{len(failures)} distinct failures:\n\n{report}"
    assert len(operations) == len(statuses) >= 60, "some operations were never called"
    assert cases >= len(operations) * len(fuzz_seed.callers) * EXAMPLES[backend]
