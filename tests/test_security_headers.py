"""Security headers: pages load only this site's files and cannot be framed; nothing is sniffed."""

from __future__ import annotations

from flask.testing import FlaskClient


def test_login_page_forbids_inline_script_and_framing(client: FlaskClient) -> None:
    """The page's policy allows this site's own script and style only, and no framing."""
    response = client.get("/login")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "'unsafe-inline'" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP in development


def test_api_errors_carry_the_headers_too(client: FlaskClient) -> None:
    """A problem+json answer is as protected as a page."""
    response = client.get("/api/v1/claims")
    assert response.status_code == 401
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_api_docs_allow_their_own_inline_setup(client: FlaskClient) -> None:
    """Swagger UI configures itself inline; only its pages get that allowance."""
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert "'unsafe-inline'" in response.headers["Content-Security-Policy"]
