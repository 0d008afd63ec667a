"""The `marketplace` command: administrative commands with one readable line on refusal."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from marketplace.core.models import ApiKey, AuditRecord, PlatformHoliday, User
from marketplace.core.queries import load_calendar
from tests.conftest import START


def _run(app: Flask, *args: str):
    return app.test_cli_runner().invoke(args=list(args))


def test_add_holiday_moves_the_next_deadline(app: Flask, session: Session) -> None:
    """`calendar add-holiday` closes a day and deadlines computed afterwards skip it."""
    result = _run(app, "calendar", "add-holiday", "2026-09-29", "창립기념일")
    assert result.exit_code == 0, result.output
    assert "2026-09-29 added" in result.output
    calendar = load_calendar(session, "Asia/Seoul")
    assert calendar.add_business_days(START, 3).isoformat() == "2026-10-01T14:59:59+00:00"
    audit = session.scalars(sa.select(AuditRecord).order_by(AuditRecord.id.desc())).first()
    assert (audit.actor, audit.action) == ("system:cli", "platform_holiday.add")


def test_add_holiday_twice_fails_with_one_line(app: Flask, session: Session) -> None:
    """A duplicate is refused with exit code 1 and one line, leaving the first."""
    _run(app, "calendar", "add-holiday", "2026-09-29", "창립기념일")
    result = _run(app, "calendar", "add-holiday", "2026-09-29", "다른 이름")
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0
    assert "already a platform holiday" in result.output
    assert session.get(PlatformHoliday, START.date().replace(day=29)).name == "창립기념일"


def test_add_holiday_with_bad_date_fails_with_usage_error(app: Flask, session: Session) -> None:
    """A malformed date is a usage error naming the argument."""
    result = _run(app, "calendar", "add-holiday", "2026-02-30", "x")
    assert result.exit_code == 2
    assert "not a date in the form YYYY-MM-DD" in result.output
    assert session.scalar(sa.select(sa.func.count()).select_from(PlatformHoliday)) == 0


def test_remove_holiday_reopens_the_day(app: Flask, session: Session) -> None:
    """`calendar remove-holiday` undoes an added day; removing an unknown one fails cleanly."""
    _run(app, "calendar", "add-holiday", "2026-09-29", "창립기념일")
    assert _run(app, "calendar", "remove-holiday", "2026-09-29").exit_code == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(PlatformHoliday)) == 0
    missing = _run(app, "calendar", "remove-holiday", "2026-09-29")
    assert missing.exit_code == 1 and "not a platform holiday" in missing.output


def test_calendar_list_shows_seollal_and_its_substitute(app: Flask) -> None:
    """The 2027 list has Seollal on the weekend and its substitute Tuesday."""
    result = _run(app, "calendar", "list", "--year", "2027", "--language", "en")
    assert result.exit_code == 0
    assert "2027-02-09 Tue  public   Alternative holiday for Korean New Year" in result.output


def test_users_create_makes_a_seller_user(app: Flask, session: Session, make_seller) -> None:
    """A seller user is bound to its seller by the marketplace's id."""
    seller = make_seller(external_id="S-9")
    session.commit()
    result = _run(
        app,
        "users",
        "create",
        "--email",
        "Kim@Seller.example",
        "--name",
        "김판매",
        "--role",
        "seller",
        "--seller",
        "S-9",
        "--password",
        "long enough password",
    )
    assert result.exit_code == 0, result.output
    user = session.scalars(sa.select(User).where(User.email == "kim@seller.example")).one()
    assert user.seller_id == seller.id and user.role.value == "seller"
    assert user.password_hash.startswith("$argon2id$")


def test_users_create_refuses_bad_input_with_one_line(app: Flask, session: Session, make_user) -> None:
    """Short passwords, missing seller bindings, unknown sellers and duplicate e-mails are refused."""
    make_user("agent", email="taken@test.example")
    cases = [
        (["--email", "a@test.example", "--role", "agent", "--password", "short"], "at least 10 characters"),
        (["--email", "b@test.example", "--role", "seller", "--password", "long enough pw"], "must belong to a seller"),
        (
            ["--email", "c@test.example", "--role", "seller", "--seller", "S-404", "--password", "long enough pw"],
            "No seller has the id",
        ),
        (["--email", "taken@test.example", "--role", "agent", "--password", "long enough pw"], "already exists"),
        (["--email", "not-an-email", "--role", "agent", "--password", "long enough pw"], "valid e-mail"),
    ]
    before = session.scalar(sa.select(sa.func.count()).select_from(User))
    for args, message in cases:
        result = _run(app, "users", "create", "--name", "X", *args)
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output
        assert len(result.output.strip().splitlines()) == 1
    assert session.scalar(sa.select(sa.func.count()).select_from(User)) == before


def test_api_key_create_shows_the_secret_once_and_stores_only_a_hash(app: Flask, session: Session) -> None:
    """The printed key works; the database holds its hash, never the key."""
    result = _run(app, "api-keys", "create", "--name", "order-system", "--scope", "calendar:read")
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    assert secret.startswith("mk_")
    key = session.scalars(sa.select(ApiKey)).one()
    assert secret not in (key.secret_hash, key.prefix) and len(key.secret_hash) == 64
    assert app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    listing = _run(app, "api-keys", "list")
    assert key.prefix in listing.output and secret not in listing.output


def test_api_key_with_unknown_scope_is_refused(app: Flask, session: Session) -> None:
    """Only registered scopes may be granted."""
    result = _run(app, "api-keys", "create", "--name", "x", "--scope", "everything")
    assert result.exit_code == 1 and "Unknown scope everything" in result.output
    assert session.scalar(sa.select(sa.func.count()).select_from(ApiKey)) == 0


def test_api_key_revoke_stops_the_key(app: Flask) -> None:
    """A revoked key is refused; revoking twice or an unknown prefix fails with one line."""
    created = _run(app, "api-keys", "create", "--name", "x", "--scope", "calendar:read")
    secret = created.output.strip().splitlines()[-1]
    prefix = secret.split("_")[1]
    assert _run(app, "api-keys", "revoke", prefix).exit_code == 0
    assert app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    again = _run(app, "api-keys", "revoke", prefix)
    assert again.exit_code == 1 and "already revoked" in again.output
    assert _run(app, "api-keys", "revoke", "ffffffff").exit_code == 1


def test_db_current_reports_head(app: Flask) -> None:
    """`db current` shows the database at the newest revision."""
    result = _run(app, "db", "current")
    database, newest = result.output.strip().split("; ")
    assert database.removeprefix("database: ") == newest.removeprefix("newest: ")
