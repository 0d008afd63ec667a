"""Mass assignment: a client that sends fields it may not set is refused, or (forms) ignored, and nothing changes.

Every JSON write of the API gets its valid body plus fields no client may choose (a status, points, an amount the
policy computes, ids, parties, timestamps, a policy version, who decided). The answer must be a 422 problem+json
naming each of them, with every row of every table exactly as before. Forms ignore unknown fields: the same form
with and without them must leave the same rows behind. The world is the authorization matrix's (seller A, buyer 1
and their objects); each request runs in a savepoint that is rolled back.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa

from marketplace.db import Base
from tests.hardening.test_authorization_matrix import (
    APPEAL_PLAN,
    INCIDENT,
    PNG,
    PROBLEM,
    TABLES,
    World,
    _policy_form,
    open_world,
)
from tests.orders.factory import paid_event


@pytest.fixture(scope="module")
def world(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The authorization matrix's world: seller A, buyer 1 and one of everything of theirs."""
    with open_world(database_url, str(tmp_path_factory.mktemp("evidence"))) as built:
        yield built


# Columns that move on any authenticated call (the key's last use), not because of what the body says.
VOLATILE = {("api_keys", "last_used_at")}
OTHER_SELLER = 2  # an id that is not seller A's (seller B is the second seller of the world)


def dump(world: World) -> dict[str, list[tuple]]:
    """Every row of every table, in a stable order."""
    dumped = {}
    for name in TABLES:
        table = Base.metadata.tables[name]
        columns = [column for column in table.columns if (name, column.name) not in VOLATILE]
        rows = world.connection.execute(sa.select(*columns)).all()
        dumped[name] = sorted((tuple(row) for row in rows), key=repr)
    return dumped


def send(world: World, role: str, method: str, path: str, **kwargs: Any) -> tuple[Any, Any, Any]:
    """Send a request as ``role`` in a savepoint rolled back afterwards; returns (response, before, after)."""
    client, headers = world.clients.get(role, world.clients["anonymous"]), {}
    if role.startswith("key:"):
        headers = {"Authorization": f"Bearer {world.key((role.removeprefix('key:'),))}"}
    cookie = client.get_cookie("session")
    savepoint = world.connection.begin_nested()
    try:
        before = dump(world)
        response = client.open(path, method=method, headers=headers, **kwargs)
        return response, before, dump(world)
    finally:
        savepoint.rollback()
        # Logging in puts someone in the cookie: put it back as it was.
        if cookie is None:
            client.delete_cookie("session")
        else:
            client.set_cookie("session", cookie.value)


def with_fields(body: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``body`` with ``extra`` added; a dotted name goes inside a nested object (``order.status``)."""
    body = copy.deepcopy(body)
    for name, value in extra.items():
        *parents, leaf = name.split(".")
        target = body
        for parent in parents:
            target = target[parent]
        target[leaf] = value
    return body


# JSON writes of the API ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JsonCase:
    """A valid body for a caller allowed to send it, and the fields no client may set on top of it."""

    method: str
    path: str
    role: str
    body: Any
    extra: dict[str, Any]
    succeeds_with: int = 200

    def url(self, world: World) -> str:
        """The path with the world's ids."""
        return self.path.format(**world.ids)

    def payload(self, world: World) -> dict[str, Any]:
        """The valid body."""
        return self.body(world) if callable(self.body) else self.body


def _policy(name: str) -> Callable[[World], dict[str, Any]]:
    return lambda world: {"document": world.policies[name], "note": "대량 할당"}


WHO = {"decided_by": "user:1", "decided_at": "2026-09-23T15:00:00+09:00"}
JSON_CASES = [
    JsonCase(
        "POST",
        "/api/v1/calendar/holidays",
        "admin",
        {"date": "2026-12-30", "name": "임시 휴무"},
        {"source": "public", "id": 1, "created_by": "system:cli"},
        201,
    ),
    JsonCase(
        "POST",
        "/api/v1/events",
        "key:events:write",
        paid_event("E-MASS-1", "O-MASS", seller_id="S-A", buyer_id="B-1"),
        {"status": "accepted", "received_at": "2026-09-01T00:00:00+09:00", "order.status": "delivered"},
        201,
    ),
    JsonCase(
        "POST",
        "/api/v1/settlement-events",
        "key:settlements:write",
        lambda world: {
            "id": "P-MASS-1",
            "type": "payout.completed",
            "occurred_at": "2026-09-23T15:00:00+09:00",
            "compensation_id": world.ids["compensation_id"],
            "amount": 5_000,
        },
        {"status": "paid_out", "buyer_id": 2, "seller_id": "S-B"},
        201,
    ),
    JsonCase(
        "POST",
        "/api/v1/claims",
        "buyer",
        {"order_id": "O-A4", "type": "damaged", "description": "파손"},
        {
            "id": 99,
            "status": "resolved",
            "seller_id": OTHER_SELLER,
            "buyer_id": 2,
            "opened_at": "2026-01-01T00:00:00+09:00",
            "seller_due_at": "2027-01-01T00:00:00+09:00",
            "policy_version": 99,
            "amount": 1_000_000,
        },
        201,
    ),
    JsonCase(
        "POST",
        "/api/v1/claims/{claim_id}/proposal",
        "seller",
        {"remedy": "refund", "message": "환불"},
        {"status": "resolved", "seller_id": OTHER_SELLER, "proposed_at": "2026-09-01T00:00:00+09:00"},
    ),
    JsonCase("POST", "/api/v1/claims/{proposed_claim_id}/accept", "buyer", {}, {"status": "closed", "amount": 1}),
    JsonCase("POST", "/api/v1/claims/{proposed_claim_id}/reject", "buyer", {"reason": "부족"}, {"status": "resolved"}),
    JsonCase("POST", "/api/v1/claims/{claim_id}/withdraw", "buyer", {"reason": "해결"}, {"status": "resolved"}),
    JsonCase(
        "POST",
        "/api/v1/claims/{claim_id}/escalate",
        "agent",
        {"reason": "확인"},
        {"queue": "supervisor", "staff_due_at": "2027-01-01T00:00:00+09:00", "status": "resolved"},
    ),
    JsonCase(
        "POST",
        "/api/v1/claims/{claim_id}/decision",
        "agent",
        {"decision": "for_seller", "reason": "근거 부족"},
        {**WHO, "status": "closed", "points": 0, "compensation": 1_000_000},
    ),
    JsonCase(
        "POST",
        "/api/v1/claims/{claim_id}/notes",
        "agent",
        {"message": "통화함"},
        {"visibility": "public", "actor": "buyer_user:1"},
        201,
    ),
    JsonCase(
        "POST",
        "/api/v1/compensations/{compensation_id}/void",
        "supervisor",
        {"reason": "잘못 지급"},
        {"amount": 0, "status": "paid_out", "voided_at": "2026-01-01T00:00:00+09:00"},
    ),
    JsonCase("PUT", "/api/v1/policies/sla", "supervisor", _policy("sla"), {"version": 99, "created_by": "user:1"}),
    JsonCase("PUT", "/api/v1/policies/compensation", "supervisor", _policy("compensation"), {"version": 0, "id": 1}),
    JsonCase(
        "PUT", "/api/v1/policies/sanctions", "supervisor", _policy("sanctions"), {"version": 99, "created_at": "x"}
    ),
    JsonCase(
        "POST",
        "/api/v1/policies/sanctions/simulation",
        "agent",
        lambda world: {"document": world.policies["sanctions"], "days": 7},
        {"save": True, "publish": True},
    ),
    JsonCase(
        "POST",
        "/api/v1/incidents",
        "supervisor",
        {**INCIDENT, "platform_at_fault": True, "rule": {"form": "coupon", "method": "fixed", "amount": 5_000}},
        {"status": "completed", "selected_orders": 1_000, "selected_amount": 1, "id": 1, "rule.amount_total": 1},
        201,
    ),
    JsonCase(
        "PUT",
        "/api/v1/incidents/{incident_id}/selection",
        "supervisor",
        {"order_ids": ["O-B1"]},
        {"selected_amount": 1, "status": "running"},
    ),
    JsonCase(
        "POST",
        "/api/v1/sellers/{seller_id}/violations",
        "agent",
        {"points": 1, "reason": "허위 송장"},
        {
            "state": "overturned",
            "kind": "counterfeit",
            "seller_id": OTHER_SELLER,
            "policy_version": 0,
            "expires_at": "x",
        },
        201,
    ),
    JsonCase(
        "POST",
        "/api/v1/violations/{violation_id}/overturn",
        "supervisor",
        {"reason": "오류"},
        {"state": "active", "points": 10},
    ),
    JsonCase(
        "POST",
        "/api/v1/violations/{violation_id}/appeals",
        "seller",
        APPEAL_PLAN,
        {**WHO, "status": "accepted", "seller_id": OTHER_SELLER},
        201,
    ),
    JsonCase(
        "POST",
        "/api/v1/sellers/{seller_id}/sanctions",
        "supervisor",
        {"stage": "restricted", "reason": "반복"},
        {"source": "rule", "points": 99, "seller_id": OTHER_SELLER, "policy_version": 0, "imposed_by": "system:x"},
        201,
    ),
    JsonCase(
        "POST",
        "/api/v1/sanctions/{sanction_id}/shorten",
        "supervisor",
        {"ends_at": "2026-09-25T15:00:00+09:00", "reason": "개선"},
        {"stage": "notice", "ended_at": "2026-09-23T15:00:00+09:00"},
    ),
    JsonCase(
        "POST",
        "/api/v1/sanctions/{sanction_id}/lift",
        "supervisor",
        {"reason": "개선"},
        {"ended_at": "2020-01-01T00:00:00+09:00", "stage": "none"},
    ),
    JsonCase(
        "POST",
        "/api/v1/sanctions/{sanction_id}/appeals",
        "seller",
        APPEAL_PLAN,
        {**WHO, "status": "accepted", "appeal_due_at": "2030-01-01T00:00:00+09:00"},
        201,
    ),
    JsonCase(
        "POST",
        "/api/v1/appeals/{appeal_id}/decision",
        "agent",
        {"outcome": "rejected", "reason": "근거 부족"},
        {**WHO, "status": "accepted"},
    ),
    JsonCase(
        "POST",
        "/api/v1/pauses",
        "supervisor",
        {
            "starts_at": "2026-09-20T00:00:00+09:00",
            "ends_at": "2026-09-22T00:00:00+09:00",
            "kinds": ["late_shipment"],
            "reason": "택배 파업",
        },
        {"declared_by": "system:x", "id": 1, "set_aside": 100},
        201,
    ),
]


@pytest.mark.parametrize("case", JSON_CASES, ids=[f"{case.method} {case.path}" for case in JSON_CASES])
def test_fields_no_client_may_set_are_refused_by_name_and_change_nothing(world: World, case: JsonCase) -> None:
    """The same body without them succeeds; with them: 422 naming each, and every table as it was."""
    body, url = case.payload(world), case.url(world)
    plain, _before, _after = send(world, case.role, case.method, url, json=body)
    assert plain.status_code == case.succeeds_with, plain.get_data(as_text=True)
    response, before, after = send(world, case.role, case.method, url, json=with_fields(body, case.extra))
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    problem = response.get_json()
    assert problem["code"] == "validation-error"
    named = set(problem["errors"])
    assert set(case.extra) <= named, f"not named: {set(case.extra) - named}"
    assert problem["field"] in named
    assert after == before


def test_evidence_upload_refuses_form_fields_it_does_not_know(world: World) -> None:
    """Multipart evidence: a field beside the files (a hash, another claim, a status) is refused by name."""
    url = "/api/v1/claims/{claim_id}/evidence".format(**world.ids)

    def upload(**fields: str) -> dict[str, Any]:
        return {
            "data": {"evidence": (io.BytesIO(PNG + b"mass"), "추가.png"), **fields},
            "content_type": "multipart/form-data",
        }

    plain, _before, _after = send(world, "buyer", "POST", url, **upload())
    assert plain.status_code == 201
    response, before, after = send(
        world, "buyer", "POST", url, **upload(sha256="0" * 64, claim_id="2", status="closed")
    )
    assert response.status_code == 422 and response.mimetype == PROBLEM
    assert {"sha256", "claim_id", "status"} <= set(response.get_json()["errors"])
    assert after == before


def test_filing_a_claim_as_a_form_post_refuses_unknown_fields(world: World) -> None:
    """POST /claims also takes multipart: the same refusal there, naming the field."""
    data = {"order_id": "O-A4", "type": "damaged", "description": "파손", "status": "resolved", "seller_id": "2"}
    response, before, after = send(
        world, "buyer", "POST", "/api/v1/claims", data=data, content_type="multipart/form-data"
    )
    assert response.status_code == 422 and response.mimetype == PROBLEM
    assert {"status", "seller_id"} <= set(response.get_json()["errors"])
    assert after == before


def test_settlement_event_with_a_field_of_the_wrong_type_names_it(world: World) -> None:
    """A settlement event's schema errors name the field (they were reported as ``_body``)."""
    event = {"id": "P-MASS-2", "type": "payout.completed", "occurred_at": "2026-09-23T15:00:00+09:00"}
    event.update(compensation_id=world.ids["compensation_id"], amount="5000")
    response, before, after = send(world, "key:settlements:write", "POST", "/api/v1/settlement-events", json=event)
    assert response.status_code == 422 and response.mimetype == PROBLEM
    assert response.get_json()["field"] == "amount" and list(response.get_json()["errors"]) == ["amount"]
    assert after == before


def test_bodyless_writes_ignore_a_body(world: World) -> None:
    """Starting a run and removing a holiday take no body: one sent anyway sets nothing it names."""
    run = "/api/v1/incidents/{incident_id}/run".format(**world.ids)
    response, _before, after = send(
        world, "supervisor", "POST", run, json={"status": "completed", "selected_orders": 0}
    )
    assert response.status_code == 202
    assert response.get_json()["status"] == "running"
    incident = {row[0]: row for row in after["incidents"]}[world.ids["incident_id"]]
    assert "completed" not in repr(incident) and 1 in incident  # one order selected, as before
    holiday = "/api/v1/calendar/holidays/{day}".format(**world.ids)
    response, before, after = send(world, "admin", "DELETE", holiday, json={"source": "public", "day": "2026-12-25"})
    assert response.status_code == 204
    assert len(after["platform_holidays"]) == len(before["platform_holidays"]) - 1


# Forms: unknown fields are ignored --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FormCase:
    """A form an allowed person posts, fields no form has, and the table whose rows the post changes."""

    path: str
    role: str
    form: Any
    extra: dict[str, str]
    table: str
    expected: int = 302
    ignore: tuple[str, ...] = field(default=("id",))
    changes: bool = True  # whether the plain form changes the table (logging in changes no row)

    def data(self, world: World) -> dict[str, str]:
        """The form as the page sends it."""
        return dict(self.form(world) if callable(self.form) else self.form)


# fmt: off
SNEAKY = {"status": "resolved", "seller_id": str(OTHER_SELLER), "buyer_id": "2", "points": "99", "amount": "999999"}
FORM_CASES = [
    FormCase("/login", "anonymous", {"email": "matrix-agent@test.example", "password": "correct horse battery"},
             {"role": "admin", "is_active": "false", "id": "1"}, "users", ignore=(), changes=False),
    FormCase("/buyer/orders/{free_order_id}/claim", "buyer", {"type": "damaged", "description": "파손"},
             {**SNEAKY, "opened_at": "2026-01-01T00:00", "policy_version": "99"}, "claims"),
    FormCase("/buyer/claims/{proposed_claim_id}/accept", "buyer", {}, SNEAKY, "claims"),
    FormCase("/buyer/claims/{proposed_claim_id}/reject", "buyer", {"reject-reason": "부족"}, SNEAKY, "claims"),
    FormCase("/buyer/claims/{claim_id}/withdraw", "buyer", {"withdraw-reason": "해결"}, SNEAKY, "claims"),
    FormCase("/buyer/claims/{claim_id}/evidence", "buyer", lambda world: {"more-evidence": _file()},
             {**SNEAKY, "sha256": "0" * 64, "claim_id": "2", "uploaded_by": "user:1"}, "claim_evidence"),
    FormCase("/seller/claims/{claim_id}/evidence", "seller", lambda world: {"more-evidence": _file()},
             {**SNEAKY, "sha256": "0" * 64, "claim_id": "2", "uploaded_by": "user:1"}, "claim_evidence"),
    FormCase("/seller/claims/{claim_id}/proposal", "seller", {"remedy": "refund", "message": "환불"},
             {**SNEAKY, "proposed_at": "2026-01-01T00:00"}, "claims"),
    FormCase("/seller/standing/violations/{violation_id}/appeal", "seller", APPEAL_PLAN,
             {**SNEAKY, "decided_by": "user:1"}, "appeals"),
    FormCase("/seller/standing/sanctions/{sanction_id}/appeal", "seller", APPEAL_PLAN,
             {**SNEAKY, "decided_by": "user:1"}, "appeals"),
    FormCase("/staff/claims/{claim_id}/assign", "agent", {"assignee": "me"}, {**SNEAKY, "queue": "supervisor"},
             "claims"),
    FormCase("/staff/claims/{claim_id}/escalate", "agent", {"escalate-reason": "확인"},
             {**SNEAKY, "escalate-queue": "supervisor"}, "claims"),
    FormCase("/staff/claims/{claim_id}/decision", "agent",
             {"decision-decision": "for_seller", "decision-reason": "근거"},
             {**SNEAKY, "decision-decided_by": "user:1"}, "claims"),
    FormCase("/staff/claims/{claim_id}/notes", "agent", {"note-message": "통화함"},
             {**SNEAKY, "note-visibility": "public"}, "claim_events"),
    FormCase("/staff/claims/{claim_id}/compensation", "supervisor",
             {"grant-amount": "5000", "grant-form": "points", "grant-reason": "보상"},
             {**SNEAKY, "grant-rule": "counterfeit.for_buyer", "grant-policy_version": "99"}, "compensations"),
    FormCase("/staff/compensations/{compensation_id}/void", "supervisor",
             lambda world: {f"void-{world.ids['compensation_id']}-reason": "잘못 지급"},
             {**SNEAKY, "void-amount": "0"}, "compensations"),
    FormCase("/staff/sellers/{external_id}/sanctions", "supervisor",
             {"impose-stage": "restricted", "impose-reason": "반복"},
             {**SNEAKY, "impose-points": "99", "impose-source": "rule"}, "sanctions"),
    FormCase("/staff/sellers/{external_id}/sanctions/{sanction_id}/lift", "supervisor",
             lambda world: {f"lift-{world.ids['sanction_id']}-reason": "개선"},
             {**SNEAKY, "ended_at": "2020-01-01T00:00"}, "sanctions"),
    FormCase("/staff/sellers/{external_id}/appeals/{appeal_id}/decision", "agent",
             lambda world: {f"decide-{world.ids['appeal_id']}-outcome": "rejected",
                            f"decide-{world.ids['appeal_id']}-reason": "근거"},
             {**SNEAKY, "decided_by": "user:1"}, "appeals"),
    FormCase("/staff/incidents/new", "supervisor",
             {**INCIDENT, "platform_at_fault": "y", "form": "coupon", "method": "fixed", "amount": "5000"},
             {"status": "completed", "selected_orders": "1000", "recoverable": "y", "declared_by": "user:1"},
             "incidents"),
    FormCase("/staff/incidents/{incident_id}/selection", "supervisor", {"sellers": "S-B"},
             {"selected_amount": "1", "status": "running", "order_ids": "O-A1"}, "incidents"),
    FormCase("/staff/incidents/{incident_id}/run", "supervisor", {}, {"status": "completed"}, "incidents"),
    FormCase("/staff/notifications/{message_id}/retry", "agent", {}, {"status": "sent", "attempts": "0"},
             "outbox_messages"),
    FormCase("/staff/policies/{name}", "supervisor", _policy_form, {"version": "99", "created_by": "user:1"},
             "policy_versions"),
]
# fmt: on


def _file() -> tuple[io.BytesIO, str]:
    """A photo the claim does not have yet; the same bytes each time, so that both posts store the same row."""
    return io.BytesIO(PNG + b"form"), "추가.png"


def _rows(dumped: dict[str, list[tuple]], table: str, ignore: tuple[str, ...]) -> list[tuple]:
    columns = [column.name for column in Base.metadata.tables[table].columns if (table, column.name) not in VOLATILE]
    keep = [index for index, name in enumerate(columns) if name not in ignore]
    return sorted((tuple(row[index] for index in keep) for row in dumped[table]), key=repr)


@pytest.mark.parametrize("case", FORM_CASES, ids=[case.path for case in FORM_CASES])
def test_forms_ignore_fields_they_do_not_have(world: World, case: FormCase) -> None:
    """The same form with extra fields leaves exactly the rows the plain form leaves (new rows' ids aside)."""
    url = case.path.format(**world.ids)
    plain, before, after_plain = send(world, case.role, "POST", url, data=case.data(world))
    sneaky, _before, after_sneaky = send(world, case.role, "POST", url, data={**case.data(world), **case.extra})
    assert plain.status_code == sneaky.status_code == case.expected
    assert (_rows(after_plain, case.table, case.ignore) != _rows(before, case.table, case.ignore)) is case.changes
    assert _rows(after_sneaky, case.table, case.ignore) == _rows(after_plain, case.table, case.ignore)
    assert {name: len(rows) for name, rows in after_sneaky.items()} == {
        name: len(rows) for name, rows in after_plain.items()
    }
