"""Mass incident pages: declare, select by filter or file, preview, run, live progress and the report."""

from __future__ import annotations

import io
import re
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from marketplace.compensation.models import Compensation
from marketplace.incidents.models import Incident, IncidentStatus
from marketplace.scheduler import run_due
from tests.conftest import csrf_token, login
from tests.incidents.conftest import declare, ledger_is_balanced, make_order

__all__ = ["declare", "ledger_is_balanced", "make_order"]

DECLARATION = {
    "title_ko": "가격 오류 주문 일괄 취소",
    "title_en": "Orders cancelled after a price error",
    "cause": "A 90 % discount was shown by mistake.",
    "platform_at_fault": "y",
    "explanation_ko": "가격 오류로 주문이 취소되었습니다. 사과의 뜻으로 쿠폰을 드립니다.",
    "explanation_en": "Your order was cancelled after a price error. Please accept a coupon as an apology.",
    "form": "coupon",
    "method": "percent_of_order",
    "percent": "10",
    "cap": "100000",
}


def _supervisor(app: Flask, make_user: Any) -> FlaskClient:
    client = app.test_client()
    login(client, make_user("supervisor"))
    return client


def _post(client: FlaskClient, page: str, path: str, data: dict[str, Any], **kwargs: Any) -> Any:
    token = csrf_token(client.get(page).get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **data}, **kwargs)


def test_declare_select_run_and_report(app: Flask, make_user: Any, make_order: Any, session: Session) -> None:
    """The Himart case through the pages: 10 % coupons capped at ₩100,000 for the orders of one SKU."""
    hit = [make_order(amount=amount) for amount in (59_000, 1_500_000)]
    make_order(amount=30_000, items=[{"sku": "OTHER", "name": "다른 상품", "quantity": 1}])
    client = _supervisor(app, make_user)
    response = _post(client, "/staff/incidents/new", "/staff/incidents/new", DECLARATION)
    assert response.status_code == 302
    incident = session.scalars(sa.select(Incident)).one()
    path = f"/staff/incidents/{incident.id}"
    response = _post(client, path, f"{path}/selection", {"skus": "SKU-1"}, content_type="multipart/form-data")
    assert response.status_code == 302
    page = client.get(path).get_data(as_text=True)
    # 10 % of ₩59,000 and of ₩1,500,000 capped at ₩100,000.
    assert "105,900원" in page and "5,900원" in page and "100,000원" in page
    assert all(order.external_id in page for order in hit)
    response = _post(client, path, f"{path}/run", {})
    assert response.status_code == 302
    assert "data-progress-url" in client.get(path).get_data(as_text=True)
    results = run_due(app)
    assert all(result.ok for result in results), results
    session.expire_all()
    assert session.get(Incident, incident.id).status is IncidentStatus.COMPLETED
    amounts = sorted(session.scalars(sa.select(Compensation.amount).where(Compensation.incident_id == incident.id)))
    assert amounts == [5_900, 100_000]
    page = client.get(path).get_data(as_text=True)
    assert "결과 보고" in page and re.search(r"보상한 주문</dt><dd>2 / 2", page)


def test_selection_from_an_uploaded_file_of_order_ids(
    app: Flask, make_user: Any, make_order: Any, declare: Any, session: Session
) -> None:
    """A CSV of order ids selects those orders and reports the ids it did not find."""
    orders = [make_order(amount=20_000) for _ in range(3)]
    incident = declare()
    client = _supervisor(app, make_user)
    path = f"/staff/incidents/{incident.id}"
    upload = f"order_id\n{orders[0].external_id}\n{orders[2].external_id}\nO-NOPE\n".encode()
    response = _post(
        client,
        path,
        f"{path}/selection",
        {"order_file": (io.BytesIO(upload), "orders.csv")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "주문 2건을 선택했습니다. 찾지 못한 주문 ID는 1건입니다." in page
    session.expire_all()
    assert session.get(Incident, incident.id).selected_orders == 2


def test_declaration_without_percentage_is_shown_beside_the_field(app: Flask, make_user: Any, session: Session) -> None:
    """A percentage rule without its percentage is refused with the message next to that field."""
    client = _supervisor(app, make_user)
    response = _post(client, "/staff/incidents/new", "/staff/incidents/new", {**DECLARATION, "percent": ""})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="percent-error"' in page and "가격 오류 주문 일괄 취소" in page
    assert session.scalar(sa.select(sa.func.count()).select_from(Incident)) == 0


def test_agents_read_incidents_but_cannot_declare_or_run(
    app: Flask, make_user: Any, make_order: Any, declare: Any
) -> None:
    """Declaring and running are supervisors' actions."""
    make_order()
    incident = declare()
    client = app.test_client()
    login(client, make_user("agent"))
    assert client.get(f"/staff/incidents/{incident.id}").status_code == 200
    assert client.get("/staff/incidents/new").status_code == 403
    token = csrf_token(client.get(f"/staff/incidents/{incident.id}").get_data(as_text=True))
    assert client.post(f"/staff/incidents/{incident.id}/run", data={"csrf_token": token}).status_code == 403


def test_sellers_and_buyers_cannot_open_incidents(app: Flask, make_user: Any) -> None:
    """The incident pages are staff pages."""
    for role in ("seller", "buyer"):
        client = app.test_client()
        login(client, make_user(role))
        assert client.get("/staff/incidents/").status_code == 403
