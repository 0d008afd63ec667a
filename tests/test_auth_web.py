"""Logging in and out through the pages: clear errors, CSRF, rate limits, languages."""

from __future__ import annotations

import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from marketplace.core.models import AuditRecord, User
from tests.conftest import PASSWORD, csrf_token, login


def _login_audits(session: Session) -> int:
    return session.scalar(sa.select(sa.func.count()).where(AuditRecord.action == "user.login")) or 0


def test_login_page_is_korean_by_default(client: FlaskClient) -> None:
    """Without any choice the page speaks Korean."""
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="ko">' in page
    assert "<h1>로그인</h1>" in page
    assert "이메일" in page and "비밀번호" in page


def test_language_switch_shows_english(client: FlaskClient) -> None:
    """Choosing English sticks for the rest of the browser session."""
    response = client.get("/language/en?next=/login")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="en">' in page and "<h1>Log in</h1>" in page


def test_login_with_right_password_opens_home(client: FlaskClient, make_user, session: Session) -> None:
    """The right password logs in, lands on the role's home page and is audited."""
    user = make_user("agent", name="정상담")
    response = login(client, user)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    home = client.get("/").get_data(as_text=True)
    assert "정상담" in home and "현황" in home
    assert _login_audits(session) == 1
    session.expire_all()
    assert session.get(User, user.id).last_login_at is not None


def test_login_with_wrong_password_is_refused_and_changes_nothing(
    client: FlaskClient, make_user, session: Session
) -> None:
    """A wrong password re-shows the form with the message, keeps the e-mail, and logs nobody in."""
    user = make_user("agent")
    response = login(client, user, password="not the password")
    assert response.status_code == 401
    page = response.get_data(as_text=True)
    assert "이메일 또는 비밀번호가 올바르지 않습니다." in page
    assert f'value="{user.email}"' in page
    assert client.get("/").status_code == 302
    assert _login_audits(session) == 0
    session.expire_all()
    assert session.get(User, user.id).last_login_at is None


def test_login_with_unknown_email_gives_the_same_message(client: FlaskClient) -> None:
    """An unknown e-mail is indistinguishable from a wrong password."""
    response = login(client, "nobody@test.example")
    assert response.status_code == 401
    assert "이메일 또는 비밀번호가 올바르지 않습니다." in response.get_data(as_text=True)


def test_login_of_disabled_user_is_refused(client: FlaskClient, make_user, session: Session, app) -> None:
    """A disabled account cannot log in."""
    from marketplace.core.operations import set_user_active
    from tests.conftest import SETUP, START

    user = make_user("agent")
    set_user_active(session, session.get(User, user.id), active=False, actor=SETUP, now=START)
    session.commit()
    response = login(client, user)
    assert response.status_code == 401
    assert "사용이 중지된 계정입니다" in response.get_data(as_text=True)


def test_login_without_csrf_token_is_refused(client: FlaskClient, make_user, session: Session) -> None:
    """A form posted without its CSRF token is refused with a clear message and logs nobody in."""
    user = make_user("agent")
    client.get("/login")
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    assert "양식이 만료되었거나" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302
    assert _login_audits(session) == 0


def test_login_with_empty_fields_shows_field_errors(client: FlaskClient) -> None:
    """Each missing field gets its message beside it."""
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/login", data={"email": "", "password": "", "csrf_token": csrf_token(page)})
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "이메일 주소를 입력하세요." in text and "비밀번호를 입력하세요." in text
    assert 'aria-invalid="true"' in text


def test_login_is_rate_limited_after_repeated_failures(client: FlaskClient, make_user) -> None:
    """After ten failures in five minutes even the right password is refused for a while."""
    user = make_user("agent")
    for _ in range(10):
        assert login(client, user, password="wrong password!").status_code == 401
    response = login(client, user)
    assert response.status_code == 429
    assert "시도 횟수가 너무 많습니다" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_successful_logins_do_not_count_towards_the_limit(client: FlaskClient, make_user) -> None:
    """Only failures are counted."""
    user = make_user("agent")
    for _ in range(12):
        assert login(client, user).status_code == 302
        logout_page = client.get("/").get_data(as_text=True)
        assert client.post("/logout", data={"csrf_token": csrf_token(logout_page)}).status_code == 302


def test_logout_needs_post_with_csrf(client: FlaskClient, make_user) -> None:
    """Logging out is a POST carrying the CSRF token; a GET or a bare POST does not log out."""
    user = make_user("agent")
    login(client, user)
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200
    home = client.get("/").get_data(as_text=True)
    assert client.post("/logout", data={"csrf_token": csrf_token(home)}).headers["Location"] == "/login"
    assert client.get("/").status_code == 302


def test_login_never_redirects_off_site(client: FlaskClient, make_user) -> None:
    """A 'next' pointing at another site is ignored."""
    user = make_user("agent")
    page = client.get("/login?next=//evil.example/").get_data(as_text=True)
    response = client.post(
        "/login",
        data={"email": user.email, "password": PASSWORD, "next": "//evil.example/", "csrf_token": csrf_token(page)},
    )
    assert response.headers["Location"] == "/"


def test_home_requires_login(client: FlaskClient) -> None:
    """Anonymous visitors are sent to the login page."""
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_session_cookie_is_httponly_and_samesite_lax(client: FlaskClient) -> None:
    """The session cookie cannot be read by scripts or sent by other sites' forms."""
    cookie = client.get("/login").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_unknown_page_is_a_korean_404(client: FlaskClient) -> None:
    """A wrong address gets a page saying so, not a stack trace."""
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "이 주소에는 아무것도 없습니다." in response.get_data(as_text=True)
