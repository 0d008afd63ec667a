"""The policy pages: every staff member reads the rules in force; supervisors publish new versions."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from marketplace.claims.models import ClaimType
from marketplace.claims.policy import current_sla
from tests.conftest import csrf_token, login


def _client(app: Flask, user: Any) -> FlaskClient:
    client = app.test_client()
    login(client, user)
    return client


def _form(page: str) -> dict[str, str]:
    """Every field of the policy form as the browser would send it unchanged."""
    import re

    values = dict(re.findall(r'name="(field:[^"]+)" value="([^"]*)"', page))
    return {"csrf_token": csrf_token(page), **values}


def test_supervisor_publishes_a_longer_answer_deadline(app: Flask, make_user: Any, session: Session) -> None:
    """A new version is in force at once and the history says what it changed and why."""
    client = _client(app, make_user("supervisor"))
    page = client.get("/staff/policies/sla").get_data(as_text=True)
    assert "판매자 답변 영업일: 파손되어 도착" in page
    data = _form(page) | {"field:seller_response_business_days.damaged": "5", "note": "추석 연휴 대비"}
    response = client.post("/staff/policies/sla", data=data)
    assert response.status_code == 302
    sla = current_sla(session)
    assert sla.version == 1 and sla.seller_response_days(ClaimType.DAMAGED) == 5
    assert sla.seller_response_days(ClaimType.WRONG_ITEM) == 3
    page = client.get("/staff/policies/sla").get_data(as_text=True)
    assert "버전 1" in page and "추석 연휴 대비" in page


def test_invalid_value_is_shown_beside_its_field_and_nothing_is_published(
    app: Flask, make_user: Any, session: Session
) -> None:
    """Zero business days is refused with the message next to that field; the typed values stay."""
    client = _client(app, make_user("supervisor"))
    page = client.get("/staff/policies/sla").get_data(as_text=True)
    data = _form(page) | {"field:staff_decision_business_days": "0"}
    response = client.post("/staff/policies/sla", data=data)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "1부터 60까지의 정수" in body and 'aria-invalid="true"' in body and 'value="0"' in body
    assert current_sla(session).version == 0


def test_agent_reads_the_policy_but_cannot_publish(app: Flask, make_user: Any, session: Session) -> None:
    """Agents see the rules in force without a form; a forged post is refused."""
    client = _client(app, make_user("agent"))
    page = client.get("/staff/policies/sla").get_data(as_text=True)
    assert 'name="field:' not in page and "상담원 결정" in page
    response = client.post("/staff/policies/sla", data={"csrf_token": csrf_token(page), "note": "x"})
    assert response.status_code == 403
    assert current_sla(session).version == 0


def test_parties_cannot_open_policy_pages(app: Flask, make_user: Any) -> None:
    """Sellers and buyers are refused."""
    for role in ("seller", "buyer"):
        assert _client(app, make_user(role)).get("/staff/policies").status_code == 403
