"""The what-if on the sanction policy page: a supervisor sees who would move before publishing anything."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from marketplace.core.clock import FrozenClock
from marketplace.core.models import PolicyVersion
from tests.conftest import csrf_token, login
from tests.sanctions.conftest import escalate, kst, run_sweeps

NOW = kst(2026, 10, 12, 9, 0)


@pytest.fixture
def busy(session: Session, make_shop: Any, clock: FrozenClock) -> Any:
    """A seller with 40 orders and 4 cancellations: 8 points, far below 40 % of its orders, so in good standing."""
    shop = make_shop(name="대형상점")
    shop.paid(40, at=kst(2026, 9, 16, 10, 0))
    for index in range(4):
        shop.cancel(shop.orders[index], at=kst(2026, 9, 22, 9, 0) + timedelta(hours=index))
    escalate(session, now=kst(2026, 10, 5, 9, 0))
    run_sweeps(session, now=NOW)
    session.commit()
    clock.set(NOW)
    return shop


def _staff(app: Flask, make_user: Any, role: str = "supervisor", language: str = "en") -> FlaskClient:
    client = app.test_client()
    login(client, make_user(role))
    client.get(f"/language/{language}")
    return client


def _form(page: str, **changes: str) -> dict[str, str]:
    values = dict(re.findall(r'name="(field:[^"]+)" value="([^"]*)"', page))
    values.update({f"field:{path}": value for path, value in changes.items()})
    return {"csrf_token": csrf_token(page), "days": "60", "action": "preview", **values}


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_a_stricter_candidate_shows_who_would_move_and_publishes_nothing(
    app: Flask, make_user: Any, session: Session, busy: Any
) -> None:
    client = _staff(app, make_user)
    page = client.get("/staff/policies/sanctions").get_data(as_text=True)
    assert "What would change? (publishes nothing)" in page
    data = _form(
        page,
        **{
            "notice_threshold.points": "4",
            "notice_threshold.ratio_percent": "10",
            "sanction_threshold.points": "6",
            "sanction_threshold.ratio_percent": "10",
        },
    )
    response = client.post("/staff/policies/sanctions", data=data)
    assert response.status_code == 200
    text = _text(response.get_data(as_text=True))
    assert "Sellers per stage, of 1 in all" in text
    assert "1 seller would change" in text
    assert f"대형상점 {busy.seller.external_id} in good standing selling restricted 8 → 8" in text
    # The form keeps what was typed, and nothing was published.
    assert 'name="field:notice_threshold.points" value="4"' in response.get_data(as_text=True)
    assert session.scalar(sa.select(sa.func.count()).select_from(PolicyVersion)) == 0


def test_the_what_if_reads_in_korean(app: Flask, make_user: Any, busy: Any) -> None:
    client = _staff(app, make_user, language="ko")
    page = client.get("/staff/policies/sanctions").get_data(as_text=True)
    response = client.post("/staff/policies/sanctions", data=_form(page))
    text = _text(response.get_data(as_text=True))
    assert "변경 예상" in text
    assert "단계가 바뀌는 판매자가 없습니다." in text


def test_an_invalid_candidate_or_day_count_is_shown_beside_its_field(
    app: Flask, make_user: Any, session: Session, busy: Any
) -> None:
    client = _staff(app, make_user)
    page = client.get("/staff/policies/sanctions").get_data(as_text=True)
    response = client.post("/staff/policies/sanctions", data={**_form(page), "days": "0"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(r'id="days-error">A whole number of days from 1 to 365\.<', html)
    assert 'name="days" value="0"' in html
    response = client.post("/staff/policies/sanctions", data=_form(page, **{"notice_threshold.points": "-1"}))
    assert response.status_code == 422
    assert "Sellers per stage" not in _text(response.get_data(as_text=True))
    assert 'aria-invalid="true"' in response.get_data(as_text=True)
    assert session.scalar(sa.select(sa.func.count()).select_from(PolicyVersion)) == 0


def test_an_agent_cannot_run_the_what_if(app: Flask, make_user: Any, busy: Any) -> None:
    """Agents read the policy; the what-if sits with publishing, which is for supervisors."""
    client = _staff(app, make_user, role="agent")
    page = client.get("/staff/policies/sanctions").get_data(as_text=True)
    assert "What would change?" not in page
    response = client.post("/staff/policies/sanctions", data={"csrf_token": csrf_token(page), "action": "preview"})
    assert response.status_code == 403


def test_the_policy_form_sent_unchanged_publishes_the_same_rules(app: Flask, make_user: Any, session: Session) -> None:
    """Durations without an end ("until a supervisor's review") are empty fields, not the word None."""
    client = _staff(app, make_user)
    page = client.get("/staff/policies/sanctions").get_data(as_text=True)
    assert 'name="field:stage_days.restricted" value=""' in page
    data = {key: value for key, value in _form(page).items() if key not in ("action", "days")}
    response = client.post("/staff/policies/sanctions", data={**data, "note": "same rules"})
    assert response.status_code == 302
    [version] = session.scalars(sa.select(PolicyVersion)).all()
    assert version.document["stage_days"]["restricted"] is None
