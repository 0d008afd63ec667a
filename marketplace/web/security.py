"""Security headers on every response (DESIGN.md §9): what a browser may load, frame, sniff and send along."""

from __future__ import annotations

from flask import Flask, Response, request

# Pages load only this site's own files: no inline script, no inline style, no framing by anyone.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
)
# The interactive API docs (Swagger UI) configure themselves with an inline script.
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
)


def add_security_headers(response: Response) -> Response:
    """Set the headers unless a view chose stricter ones (evidence downloads are sandboxed)."""
    headers = response.headers
    policy = DOCS_POLICY if request.path.startswith("/api/docs") else PAGE_POLICY
    headers.setdefault("Content-Security-Policy", policy)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request.is_secure or _production():
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response


def _production() -> bool:
    from flask import current_app

    return current_app.config.get("MARKETPLACE_ENV") == "production"


def register(app: Flask) -> None:
    """Install the headers on ``app``."""
    app.after_request(add_security_headers)
