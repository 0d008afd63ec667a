"""The API: Bearer keys, problem+json errors naming the field, nothing changed on refusal."""

from __future__ import annotations

import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from marketplace.core.models import AuditRecord, PlatformHoliday
from marketplace.core.operations import revoke_api_key
from tests.conftest import SETUP, START, csrf_token, login

PROBLEM = "application/problem+json"


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _holidays(session: Session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(PlatformHoliday)) or 0


def _audits(session: Session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(AuditRecord)) or 0


def test_me_with_valid_key_names_the_client_and_scopes(client: FlaskClient, make_api_key) -> None:
    """A valid key is recognised as its API client."""
    key, secret = make_api_key("calendar:read", name="order-system")
    response = client.get("/api/v1/me", headers=_bearer(secret))
    assert response.status_code == 200
    assert response.json == {
        "kind": "api_client",
        "id": key.id,
        "name": "order-system",
        "role": None,
        "seller_id": None,
        "buyer_id": None,
        "scopes": ["calendar:read"],
    }


def test_unknown_api_key_is_refused_with_problem_json(client: FlaskClient) -> None:
    """An unknown key gets 401 problem+json saying so."""
    response = client.get("/api/v1/me", headers=_bearer("mk_deadbeef_not-a-real-key"))
    assert response.status_code == 401
    assert response.mimetype == PROBLEM
    assert response.json["detail"] == "알 수 없는 API 키입니다."
    assert response.json["status"] == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_problem_detail_follows_accept_language(client: FlaskClient) -> None:
    """English is given to clients that ask for it."""
    response = client.get("/api/v1/me", headers={**_bearer("mk_x_y"), "Accept-Language": "en"})
    assert response.json["detail"] == "Unknown API key."


def test_revoked_api_key_is_refused(client: FlaskClient, make_api_key, session: Session) -> None:
    """A revoked key stops working at once."""
    key, secret = make_api_key("calendar:read")
    assert client.get("/api/v1/me", headers=_bearer(secret)).status_code == 200
    revoke_api_key(session, key.prefix, actor=SETUP, now=START)
    session.commit()
    response = client.get("/api/v1/me", headers=_bearer(secret))
    assert response.status_code == 401
    assert response.json["detail"] == "폐기된 API 키입니다."


def test_malformed_authorization_header_is_refused(client: FlaskClient) -> None:
    """Anything but 'Bearer <key>' is a 401 explaining the expected form."""
    response = client.get("/api/v1/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert response.status_code == 401
    assert "Bearer" in response.json["detail"]


def test_no_credentials_is_401(client: FlaskClient) -> None:
    """Calling without credentials is refused."""
    response = client.get("/api/v1/calendar/deadline?start=2026-09-23T15:00:00%2B09:00&business_days=3")
    assert response.status_code == 401
    assert response.mimetype == PROBLEM


def test_deadline_skips_chuseok_and_the_weekend(client: FlaskClient, make_api_key) -> None:
    """3 business days after 2026-09-23 15:00 KST end on 2026-09-30 23:59:59 KST."""
    _, secret = make_api_key("calendar:read")
    response = client.get(
        "/api/v1/calendar/deadline?start=2026-09-23T15:00:00%2B09:00&business_days=3", headers=_bearer(secret)
    )
    assert response.status_code == 200
    assert response.json["deadline"] == "2026-09-30T23:59:59+09:00"


def test_deadline_without_offset_is_refused_naming_the_field(client: FlaskClient, make_api_key) -> None:
    """A naive start time is ambiguous: 422 naming 'start'."""
    _, secret = make_api_key("calendar:read")
    response = client.get(
        "/api/v1/calendar/deadline?start=2026-09-23T15:00:00&business_days=3", headers=_bearer(secret)
    )
    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    assert response.json["field"] == "start"
    assert "start" in response.json["errors"]


def test_platform_holiday_added_by_api_moves_deadlines(client: FlaskClient, make_api_key, session: Session) -> None:
    """A holiday added through the API is skipped by later deadline computations, and audited."""
    _, secret = make_api_key("calendar:write")
    response = client.post(
        "/api/v1/calendar/holidays", json={"date": "2026-09-29", "name": "시스템 점검일"}, headers=_bearer(secret)
    )
    assert response.status_code == 201
    assert response.json["source"] == "platform"
    deadline = client.get(
        "/api/v1/calendar/deadline?start=2026-09-23T15:00:00%2B09:00&business_days=3", headers=_bearer(secret)
    )
    assert deadline.json["deadline"] == "2026-10-01T23:59:59+09:00"
    record = session.scalars(sa.select(AuditRecord).order_by(AuditRecord.id.desc())).first()
    assert record.action == "platform_holiday.add" and record.actor.startswith("api_client:")


def test_holidays_list_has_public_and_platform_days(client: FlaskClient, make_api_key) -> None:
    """The holiday list names each day in both languages with its source."""
    _, secret = make_api_key("calendar:read", "calendar:write")
    client.post("/api/v1/calendar/holidays", json={"date": "2026-09-29", "name": "점검일"}, headers=_bearer(secret))
    response = client.get("/api/v1/calendar/holidays?from=2026-09-01&to=2026-09-30", headers=_bearer(secret))
    days = {item["date"]: item for item in response.json}
    assert days["2026-09-25"]["name_ko"] == "추석" and days["2026-09-25"]["source"] == "public"
    assert days["2026-09-25"]["name_en"] == "Chuseok"
    assert days["2026-09-29"]["source"] == "platform"


def test_malformed_json_is_400_and_changes_nothing(client: FlaskClient, make_api_key, session: Session) -> None:
    """A body that is not JSON gets a clear 400 problem and nothing is written."""
    _, secret = make_api_key("calendar:write")
    audits = _audits(session)
    response = client.post(
        "/api/v1/calendar/holidays",
        data='{"date": "2026-09-29", "name": ',
        headers={**_bearer(secret), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.mimetype == PROBLEM
    assert response.json["detail"] == "요청 본문이 올바른 JSON이 아닙니다."
    assert _holidays(session) == 0 and _audits(session) == audits


def test_missing_and_unknown_fields_are_422_naming_them(client: FlaskClient, make_api_key, session: Session) -> None:
    """A missing name and a field the client may not send are both named."""
    _, secret = make_api_key("calendar:write")
    response = client.post(
        "/api/v1/calendar/holidays", json={"date": "2026-09-29", "created_by": "me"}, headers=_bearer(secret)
    )
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"name", "created_by"}
    assert _holidays(session) == 0


def test_duplicate_holiday_is_409_naming_the_date(client: FlaskClient, make_api_key, session: Session) -> None:
    """Adding the same day twice is a conflict, and the first stays as it was."""
    _, secret = make_api_key("calendar:write")
    client.post("/api/v1/calendar/holidays", json={"date": "2026-09-29", "name": "점검일"}, headers=_bearer(secret))
    response = client.post(
        "/api/v1/calendar/holidays", json={"date": "2026-09-29", "name": "다른 이름"}, headers=_bearer(secret)
    )
    assert response.status_code == 409
    assert response.json["field"] == "date"
    assert session.get(PlatformHoliday, START.date().replace(day=29)).name == "점검일"


def test_key_without_the_scope_is_403(client: FlaskClient, make_api_key, session: Session) -> None:
    """A read-only key cannot add holidays."""
    _, secret = make_api_key("calendar:read")
    response = client.post(
        "/api/v1/calendar/holidays", json={"date": "2026-09-29", "name": "점검일"}, headers=_bearer(secret)
    )
    assert response.status_code == 403
    assert _holidays(session) == 0


def test_agent_session_cannot_manage_the_calendar(client: FlaskClient, make_user, session: Session) -> None:
    """Managing the calendar is for administrators: an agent gets 403 and nothing changes."""
    login(client, make_user("agent"))
    token = csrf_token(client.get("/").get_data(as_text=True))
    response = client.post(
        "/api/v1/calendar/holidays", json={"date": "2026-09-29", "name": "점검일"}, headers={"X-CSRFToken": token}
    )
    assert response.status_code == 403
    assert response.json["permission"] == "calendar.manage"
    assert _holidays(session) == 0


def test_session_write_without_csrf_header_is_refused(client: FlaskClient, make_user, session: Session) -> None:
    """A logged-in browser must send the CSRF token with API writes."""
    login(client, make_user("admin"))
    response = client.post("/api/v1/calendar/holidays", json={"date": "2026-09-29", "name": "점검일"})
    assert response.status_code == 400
    assert response.json["code"] == "csrf-failed"
    assert _holidays(session) == 0


def test_session_write_with_csrf_header_is_accepted(client: FlaskClient, make_user, session: Session) -> None:
    """The same write with the page's CSRF token goes through, audited as the user."""
    user = make_user("admin")
    login(client, user)
    token = csrf_token(client.get("/").get_data(as_text=True))
    response = client.post(
        "/api/v1/calendar/holidays", json={"date": "2026-09-29", "name": "점검일"}, headers={"X-CSRFToken": token}
    )
    assert response.status_code == 201
    record = session.scalars(sa.select(AuditRecord).order_by(AuditRecord.id.desc())).first()
    assert record.actor == f"user:{user.id}"


def test_openapi_document_lists_the_endpoints(client: FlaskClient) -> None:
    """The OpenAPI document is served and describes the API."""
    spec = client.get("/api/openapi.json").json
    assert spec["openapi"].startswith("3.1")
    assert {"/api/v1/me", "/api/v1/calendar/holidays", "/api/v1/calendar/deadline"} <= set(spec["paths"])


def test_api_docs_page_is_served_without_external_assets(client: FlaskClient) -> None:
    """The interactive docs load their scripts from this server."""
    page = client.get("/api/docs/").get_data(as_text=True)
    assert "swagger-ui-bundle.js" in page and "https://" not in page.split("<body")[0]
    assert client.get("/api/docs/swagger-ui-bundle.js").status_code == 200


def test_unknown_api_path_is_problem_json(client: FlaskClient) -> None:
    """404s under /api are problem+json too."""
    response = client.get("/api/v1/nothing")
    assert response.status_code == 404 and response.mimetype == PROBLEM


def test_wrong_method_is_405_problem(client: FlaskClient) -> None:
    """A method the endpoint does not take is a 405 problem, not a 500."""
    response = client.put("/api/v1/me")
    assert response.status_code == 405 and response.mimetype == PROBLEM


def test_bad_date_in_path_is_404(client: FlaskClient, make_api_key) -> None:
    """An impossible date in the path is not found."""
    _, secret = make_api_key("calendar:write")
    assert client.delete("/api/v1/calendar/holidays/2026-13-45", headers=_bearer(secret)).status_code == 404
