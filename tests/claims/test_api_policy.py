"""The SLA policy through the API: read by staff, published by supervisors, applied to claims opened afterwards."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from marketplace.claims.policy import DEFAULT_SLA
from marketplace.core.models import AuditRecord, PolicyVersion
from tests.claims.test_api import PROBLEM, Caller, Cast, audits, kst, person


@pytest.fixture
def cast(app: Flask, make_user: Any, make_api_key: Any, make_order: Any) -> Cast:
    """An order, its buyer and seller, and staff."""
    return Cast(app, make_user, make_api_key, make_order())


@pytest.fixture
def supervisor(app: Flask, make_user: Any) -> Caller:
    """A supervisor, who may publish policy."""
    return person(app, make_user("supervisor"))


def document(**changes: Any) -> dict[str, Any]:
    """The default SLA document with ``changes``; ``damaged=5`` changes one claim type's response days."""
    changed = copy.deepcopy(DEFAULT_SLA)
    for key, value in changes.items():
        if key in changed["seller_response_business_days"]:
            changed["seller_response_business_days"][key] = value
        else:
            changed[key] = value
    return changed


def _versions(session: Session) -> list[int]:
    return list(session.scalars(sa.select(PolicyVersion.version).where(PolicyVersion.name == "sla")))


def test_staff_read_the_built_in_default_before_anything_is_published(cast: Cast) -> None:
    """Version 0 is DESIGN.md §5's defaults: 3 business days for the seller, 2 for staff."""
    response = cast.agent.get("/api/v1/policies/sla")
    assert response.status_code == 200
    assert response.json["version"] == 0 and response.json["document"] == DEFAULT_SLA
    assert response.json["created_at"] is None and response.json["note"] == "built-in default"


def test_published_policy_applies_to_claims_opened_afterwards(
    cast: Cast, supervisor: Caller, make_order: Any, session: Session
) -> None:
    """A claim filed before keeps its deadline and version; one filed after gets the new days and version."""
    before = cast.file("damaged")
    published = supervisor.put(
        "/api/v1/policies/sla", {"document": document(damaged=5), "note": "파손 클레임은 사진 확인에 시간이 걸림"}
    )
    assert published.status_code == 200
    assert published.json["version"] == 1 and published.json["created_by"].startswith("user:")
    assert published.json["created_at"] == kst(2026, 9, 23, 15, 0)
    assert published.json["document"]["seller_response_business_days"]["damaged"] == 5

    later_order = make_order(buyer=cast.order.buyer)
    after = cast.file("damaged", order=later_order)
    # Five business days from 09-23 (Chuseok 09-24..09-26 and the weekend skipped): 09-28 … 10-02.
    assert after["deadlines"]["seller_response"] == {"due_at": kst(2026, 10, 2, 23, 59, 59), "policy_version": 1}
    unchanged = cast.buyer.get(f"/api/v1/claims/{before['id']}").json
    assert unchanged["deadlines"]["seller_response"] == {"due_at": kst(2026, 9, 30, 23, 59, 59), "policy_version": 0}
    other_type = cast.file("wrong_item", order=later_order)
    assert other_type["deadlines"]["seller_response"] == {"due_at": kst(2026, 9, 30, 23, 59, 59), "policy_version": 1}


def test_staff_deadline_of_an_escalation_follows_the_policy_in_force_then(cast: Cast, supervisor: Caller) -> None:
    """Escalated after staff's days went from 2 to 4, the claim gets 4 business days and version 1."""
    claim = cast.file()
    supervisor.put("/api/v1/policies/sla", {"document": document(staff_decision_business_days=4), "note": "인력 부족"})
    escalated = cast.agent.post(f"/api/v1/claims/{claim['id']}/escalate", {"reason": "확인"}).json
    assert escalated["deadlines"]["staff_decision"] == {"due_at": kst(2026, 10, 1, 23, 59, 59), "policy_version": 1}
    assert escalated["deadlines"]["seller_response"]["policy_version"] == 0


def test_publishing_is_audited_and_listed_in_the_history(cast: Cast, supervisor: Caller, session: Session) -> None:
    """Each version is kept, newest first, down to the built-in default; each publication is audited."""
    supervisor.put("/api/v1/policies/sla", {"document": document(damaged=4), "note": "첫 변경"})
    supervisor.put("/api/v1/policies/sla", {"document": document(damaged=5), "note": "두 번째 변경"})
    history = cast.agent.get("/api/v1/policies/sla/versions").json
    assert [(version["version"], version["note"]) for version in history] == [
        (2, "두 번째 변경"),
        (1, "첫 변경"),
        (0, "built-in default"),
    ]
    assert cast.agent.get("/api/v1/policies/sla").json["version"] == 2
    published = session.scalars(
        sa.select(AuditRecord.entity_id).where(AuditRecord.action == "policy.publish").order_by(AuditRecord.id)
    ).all()
    assert published == ["sla:1", "sla:2"]


def test_admin_may_publish_too(app: Flask, make_user: Any) -> None:
    """Administrators publish like supervisors."""
    admin = person(app, make_user("admin"))
    response = admin.put("/api/v1/policies/sla", {"document": document(damaged=4), "note": "조정"})
    assert response.status_code == 200 and response.json["version"] == 1


def test_agent_cannot_publish_policy(cast: Cast, session: Session) -> None:
    """Agents read the policy but do not change it: 403 naming the permission, nothing published."""
    agent = cast.agent
    count = audits(session)
    response = agent.put("/api/v1/policies/sla", {"document": document(damaged=1), "note": "빨리"})
    assert response.status_code == 403 and response.json["permission"] == "policy.publish"
    assert _versions(session) == [] and audits(session) == count


@pytest.mark.parametrize("who", ["seller", "buyer"])
def test_parties_cannot_read_the_policy(cast: Cast, who: str) -> None:
    """The policy document is staff's; sellers and buyers see the deadlines on their claims instead."""
    response = getattr(cast, who).get("/api/v1/policies/sla")
    assert response.status_code == 403 and response.json["permission"] == "policy.read"


def test_marketplace_key_with_claims_read_reads_the_policy(cast: Cast) -> None:
    """The marketplace's systems may read the policy in force, but not publish one."""
    reader = cast.key("claims:read")
    assert reader.get("/api/v1/policies/sla/versions").status_code == 200
    refused = reader.put("/api/v1/policies/sla", {"document": document(damaged=4), "note": "x"})
    assert refused.status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"document": document(damaged=0), "note": "x"}, "document.seller_response_business_days.damaged"),
        ({"document": document(damaged=3.5), "note": "x"}, "document.seller_response_business_days.damaged"),
        ({"document": document(staff_decision_business_days=61), "note": "x"}, "document.staff_decision_business_days"),
        ({"document": document(grace_days=1), "note": "x"}, "document.grace_days"),
        (
            {"document": {k: v for k, v in DEFAULT_SLA.items() if k != "refund_business_days"}, "note": "x"},
            "document.refund_business_days",
        ),
        ({"document": document(damaged=4)}, "note"),
        ({"document": document(damaged=4), "note": "x", "version": 7}, "version"),
        ({"document": "3 days", "note": "x"}, "document"),
    ],
)
def test_invalid_policy_is_422_naming_the_field_and_nothing_is_published(
    supervisor: Caller, session: Session, body: dict, field: str
) -> None:
    """A bad document is refused naming the exact field inside it; no version is published."""
    response = supervisor.put("/api/v1/policies/sla", body)
    assert response.status_code == 422 and response.mimetype == PROBLEM
    assert field in response.json["errors"], response.json
    assert response.json["field"] == sorted(response.json["errors"])[0]
    assert _versions(session) == []
