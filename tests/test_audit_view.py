"""The staff audit log page: every change with who made it, filterable, for supervisors and administrators."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from marketplace.core.auth import Actor
from marketplace.core.operations import create_api_key
from tests.conftest import START, login


def _page(app: Flask, user: Any, path: str) -> Any:
    client = app.test_client()
    login(client, user)
    return client.get(path)


def test_supervisor_filters_audit_log_by_action(app: Flask, make_user: Any, session: Session) -> None:
    """Filtering by an action prefix shows only those changes, with the account's name beside its reference."""
    supervisor = make_user("supervisor", name="박감독")
    create_api_key(session, "marketplace-core", scopes=["calendar:read"], actor=Actor.for_user(supervisor), now=START)
    session.commit()
    response = _page(app, supervisor, "/staff/audit?action=api_key.")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "api_key.create" in page and "user.create" not in page
    assert f"user:{supervisor.id}" in page and "박감독" in page
    assert "1건" in page or "1 record" in page


def test_audit_log_filters_by_day_in_seoul(app: Flask, make_user: Any) -> None:
    """A day filter means that day in Asia/Seoul; records of other days are left out."""
    admin = make_user("admin")
    assert "user.create" in _page(app, admin, "/staff/audit?since=2026-09-23&until=2026-09-23").get_data(as_text=True)
    empty = _page(app, admin, "/staff/audit?since=2026-09-24").get_data(as_text=True)
    assert "user.create" not in empty


def test_agents_and_parties_cannot_read_the_audit_log(app: Flask, make_user: Any) -> None:
    """The log shows every record's before and after: agents, sellers and buyers are refused."""
    for role in ("agent", "seller", "buyer"):
        assert _page(app, make_user(role), "/staff/audit").status_code == 403
