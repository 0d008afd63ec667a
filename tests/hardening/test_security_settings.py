"""Security settings (DESIGN.md §9): rate limits on login and on the whole API (in memory and in Redis), secure
cookies and HSTS in production, secrets only from the environment, and what evidence uploads refuse.

The security headers themselves are tested in ``tests/test_security_headers.py``; the upload checks that exist
already (a renamed executable, an oversize file, a body over MAX_CONTENT_LENGTH, an empty file, filename cleaning,
storage keys) in ``tests/claims/test_evidence.py``. This file adds what those do not cover.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from marketplace import create_app
from marketplace.claims.models import Evidence
from marketplace.config import ConfigurationError, load_config
from marketplace.core.clock import FrozenClock
from marketplace.extensions import db, limiter
from marketplace.orders.models import OrderEvent
from marketplace.orders.operations import create_order
from tests.claims.test_api import PROBLEM, Cast, api_client, person
from tests.conftest import PASSWORD, SETUP, START, csrf_token, login
from tests.orders.factory import paid_event

REPO = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(48)


def _bound(app: Flask, connection: sa.Connection) -> Flask:
    """``app`` writing into the test's connection (rolled back at the end), as the conftest's ``app`` does."""
    db.bind(app, sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False))
    return app


def _paid(n: int, prefix: str) -> dict[str, Any]:
    """An order.paid event, the n-th of a run named ``prefix``."""
    ids = {"seller_id": f"{prefix}-S{n % 7}", "buyer_id": f"{prefix}-B{n % 11}"}
    return paid_event(f"{prefix}-E{n}", f"{prefix}-O{n}", **ids)


def _events(session: Session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(OrderEvent)) or 0


# The API rate limit: the whole of /api/v1 shares one budget per API key, logged-in user or address.


@pytest.fixture
def small_api_limit(app: Flask) -> Flask:
    """The app with an API limit of 3 requests a minute."""
    app.config["API_RATE_LIMIT"] = "3 per minute"
    return app


def test_api_over_the_limit_is_a_429_problem_with_retry_after(small_api_limit: Flask, make_api_key: Any) -> None:
    """The 4th request in the minute is refused as problem+json, in Korean by default and in English on request."""
    _key, secret = make_api_key("claims:read")
    caller = api_client(small_api_limit, secret)
    statuses = [caller.get("/api/v1/claims").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    refused = caller.get("/api/v1/claims")
    assert refused.status_code == 429 and refused.mimetype == PROBLEM
    retry_after = int(refused.headers["Retry-After"])
    assert 0 <= retry_after <= 60
    body = refused.json
    assert body["type"] == "urn:marketplace:problem:rate-limited" and body["code"] == "rate-limited"
    assert (body["status"], body["limit"], body["window_seconds"]) == (429, 3, 60)
    assert body["title"] == "요청이 너무 많습니다"
    wait = max(retry_after, 1)
    assert body["detail"] == f"요청이 너무 많습니다: 60초에 3건까지입니다. {wait}초 뒤에 다시 시도하세요."
    english = caller.get("/api/v1/claims", headers={"Accept-Language": "en"}).json
    assert english["title"] == "Too many requests"
    assert re.fullmatch(r"Too many requests: at most 3 in 60 seconds\. Try again in \d+ seconds\.", english["detail"])


def test_refused_write_changes_nothing(app: Flask, make_api_key: Any, session: Session) -> None:
    """An event batch over the limit is not ingested: the events are not stored."""
    app.config["API_RATE_LIMIT"] = "1 per minute"
    _key, secret = make_api_key("events:write")
    caller = api_client(app, secret)
    accepted = caller.post("/api/v1/events", {"events": [_paid(1, "RL")]})
    assert accepted.status_code == 200 and accepted.json["accepted"] == 1, accepted.json
    before = _events(session)
    refused = caller.post("/api/v1/events", {"events": [_paid(2, "RL")]})
    assert refused.status_code == 429
    assert _events(session) == before == 1


def test_a_batch_of_a_thousand_events_counts_as_one_request(app: Flask, make_api_key: Any) -> None:
    """The marketplace's feed spends one request per batch, however many events it carries."""
    app.config["API_RATE_LIMIT"] = "2 per minute"
    _key, secret = make_api_key("events:write")
    caller = api_client(app, secret)
    response = caller.post("/api/v1/events", {"events": [_paid(n, "K") for n in range(1000)]})
    assert response.status_code == 200 and response.json["accepted"] == 1000
    assert response.headers["X-RateLimit-Limit"] == "2" and response.headers["X-RateLimit-Remaining"] == "1"


def test_every_api_key_user_and_address_has_its_own_budget(
    small_api_limit: Flask, make_api_key: Any, make_user: Any
) -> None:
    """One caller over the limit does not stop another key, a logged-in person, or another address."""
    _first, first_secret = make_api_key("claims:read")
    _second, second_secret = make_api_key("claims:read", name="second")
    first = api_client(small_api_limit, first_secret)
    for _ in range(3):
        first.get("/api/v1/claims")
    assert first.get("/api/v1/claims").status_code == 429
    assert api_client(small_api_limit, second_secret).get("/api/v1/claims").status_code == 200
    agent = person(small_api_limit, make_user("agent"))
    assert [agent.get("/api/v1/claims").status_code for _ in range(4)] == [200, 200, 200, 429]
    # The same person from another browser is the same user: the budget is theirs, not the session's.
    again = person(small_api_limit, make_user("agent", email="same@test.example"))
    assert again.get("/api/v1/claims").status_code == 200
    anonymous = small_api_limit.test_client()
    assert anonymous.get("/api/v1/claims", environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code == 401


def test_made_up_api_keys_count_against_their_address(small_api_limit: Flask, make_api_key: Any) -> None:
    """Inventing a new token per request does not escape the limit; a real key from that address still works."""
    client = small_api_limit.test_client()
    address = {"REMOTE_ADDR": "10.0.0.7"}
    statuses = [
        client.get("/api/v1/claims", headers={"Authorization": f"Bearer mk_{n:08x}_forged"}, environ_base=address)
        for n in range(4)
    ]
    assert [response.status_code for response in statuses] == [401, 401, 401, 429]
    _key, secret = make_api_key("claims:read")
    real = client.get("/api/v1/claims", headers={"Authorization": f"Bearer {secret}"}, environ_base=address)
    assert real.status_code == 200


def test_pages_docs_and_the_openapi_document_are_not_counted(small_api_limit: Flask, make_api_key: Any) -> None:
    """Only /api/v1 is limited: the login page, the API docs and the OpenAPI document spend nothing."""
    _key, secret = make_api_key("claims:read")
    caller = api_client(small_api_limit, secret)
    for path in ("/login", "/api/openapi.json", "/api/docs/", "/healthz") * 2:
        assert caller.get(path).status_code == 200, path
    assert [caller.get("/api/v1/claims").status_code for _ in range(4)] == [200, 200, 200, 429]


def test_api_limit_must_be_a_rate(tmp_path: Path) -> None:
    """A malformed limit is refused at start, naming the setting, rather than failing every request later."""
    with pytest.raises(ConfigurationError, match="API_RATE_LIMIT must be a rate limit"):
        load_config(tmp_path, {"SECRET_KEY": "x", "API_RATE_LIMIT": "lots"})
    with pytest.raises(ConfigurationError, match="LOGIN_RATE_LIMIT"):
        load_config(tmp_path, {"SECRET_KEY": "x", "LOGIN_RATE_LIMIT": ""})


# Storage: Redis when RATELIMIT_STORAGE_URI=redis://…, memory otherwise (and when Redis goes away).


def _redis_unreachable_reason() -> str | None:
    try:
        import redis
    except ImportError:
        return "the redis client is not installed (pip install '.[redis]')"
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        return f"Redis not reachable at {REDIS_URL}: {type(exc).__name__}: {exc}"
    return None


@pytest.fixture
def limiter_storage() -> Iterator[None]:
    """Leave the shared limiter as the other tests expect it: its own storage alive, counters cleared."""
    yield
    # flask-limiter keeps "storage is dead, use memory" on the (process-wide) limiter object; a later app with
    # working storage would otherwise keep counting in a fallback store that nothing resets between tests.
    limiter._storage_dead = False


def _app_with_storage(database_url: str, connection: sa.Connection, storage_uri: str) -> Flask:
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret",
            "CLOCK": FrozenClock(START),
            "TESTING": True,
            "RATELIMIT_STORAGE_URI": storage_uri,
            "API_RATE_LIMIT": "3 per minute",
        }
    )
    return _bound(app, connection)


def test_redis_storage_holds_the_api_counters(
    database_url: str, connection: sa.Connection, make_api_key: Any, limiter_storage: None
) -> None:
    """With RATELIMIT_STORAGE_URI=redis://… the counters live in Redis, where every app process sees them."""
    reason = _redis_unreachable_reason()
    if reason:
        pytest.skip(reason)
    import redis

    app = _app_with_storage(database_url, connection, REDIS_URL)
    limiter.reset()  # this test's Redis database only (13 unless TEST_REDIS_URL says otherwise)
    key, secret = make_api_key("claims:read")
    caller = api_client(app, secret)
    assert [caller.get("/api/v1/claims").status_code for _ in range(4)] == [200, 200, 200, 429]
    stored = redis.Redis.from_url(REDIS_URL)
    [counter] = [name for name in stored.keys("LIMITS*") if f"api-key:{key.id}".encode() in name]
    assert int(stored.get(counter)) >= 3
    # A second app process would read the same counter: clearing this process's memory changes nothing.
    other = _app_with_storage(database_url, connection, REDIS_URL)
    assert api_client(other, secret).get("/api/v1/claims").status_code == 429
    limiter.reset()


def test_unreachable_redis_falls_back_to_counting_in_memory(
    database_url: str, connection: sa.Connection, make_api_key: Any, limiter_storage: None
) -> None:
    """Redis down does not take the API down: requests are served and each process still enforces the limit."""
    app = _app_with_storage(database_url, connection, "redis://127.0.0.1:1/0")
    _key, secret = make_api_key("claims:read")
    caller = api_client(app, secret)
    assert [caller.get("/api/v1/claims").status_code for _ in range(4)] == [200, 200, 200, 429]


def test_memory_is_the_default_storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without RATELIMIT_STORAGE_URI one process counts in memory."""
    monkeypatch.delenv("RATELIMIT_STORAGE_URI", raising=False)
    assert load_config(tmp_path, {"SECRET_KEY": "x"})["RATELIMIT_STORAGE_URI"] == "memory://"


# Login attempts: a few failures per address, then the form says to wait.


def _attempt(client: FlaskClient, email: str, password: str, address: str) -> Any:
    page = client.get("/login", environ_base={"REMOTE_ADDR": address})
    data = {"email": email, "password": password, "csrf_token": csrf_token(page.get_data(as_text=True))}
    return client.post("/login", data=data, environ_base={"REMOTE_ADDR": address})


def test_login_is_refused_after_repeated_failures_from_one_address(app: Flask, make_user: Any) -> None:
    """After LOGIN_RATE_LIMIT failures even the right password waits; the form says so, in Korean and English."""
    app.config["LOGIN_RATE_LIMIT"] = "3 per 5 minutes"
    user = make_user("agent")
    client = app.test_client()
    failures = [_attempt(client, user.email, "wrong password!", "10.1.1.1").status_code for _ in range(3)]
    assert failures == [401, 401, 401]
    refused = _attempt(client, user.email, PASSWORD, "10.1.1.1")
    assert refused.status_code == 429
    html = refused.get_data(as_text=True)
    assert "시도 횟수가 너무 많습니다. 몇 분 뒤에 다시 시도하세요." in html
    assert 'name="email"' in html  # the form is still there, to try again later
    assert "Retry-After" in refused.headers
    english = app.test_client()
    english.get("/language/en")
    page = english.get("/login", environ_base={"REMOTE_ADDR": "10.1.1.1"})
    data = {"email": user.email, "password": PASSWORD, "csrf_token": csrf_token(page.get_data(as_text=True))}
    response = english.post("/login", data=data, environ_base={"REMOTE_ADDR": "10.1.1.1"})
    assert response.status_code == 429
    assert "Too many attempts. Wait a few minutes and try again." in response.get_data(as_text=True)


def test_login_counter_is_per_address_and_successes_do_not_count(app: Flask, make_user: Any) -> None:
    """Another address logs in while one is locked out; logging in successfully spends nothing."""
    app.config["LOGIN_RATE_LIMIT"] = "2 per 5 minutes"
    user = make_user("agent")
    for _ in range(2):
        _attempt(app.test_client(), user.email, "wrong password!", "10.2.2.2")
    assert _attempt(app.test_client(), user.email, PASSWORD, "10.2.2.2").status_code == 429
    for _ in range(3):
        assert _attempt(app.test_client(), user.email, PASSWORD, "10.3.3.3").status_code == 302


# Production: cookies, HSTS, the secret key.


@pytest.fixture
def production_app(database_url: str, connection: sa.Connection, monkeypatch: pytest.MonkeyPatch) -> Flask:
    """The app as MARKETPLACE_ENV=production starts it, the secret key from the environment."""
    monkeypatch.setenv("MARKETPLACE_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "a-secret-from-the-environment-" + uuid.uuid4().hex)
    app = create_app({"DATABASE_URL": database_url, "CLOCK": FrozenClock(START), "TESTING": True})
    limiter.reset()
    return _bound(app, connection)


def _cookie_attributes(response: Any, name: str) -> set[str]:
    """The attributes of the cookie ``name`` set by ``response``: ``secure``, ``httponly``, ``samesite=Lax``…"""
    [header] = [value for value in response.headers.getlist("Set-Cookie") if value.startswith(f"{name}=")]
    attributes = set()
    for part in header.split(";")[1:]:
        key, _eq, value = part.strip().partition("=")
        attributes.add(f"samesite={value}" if key.lower() == "samesite" else key.lower())
    return attributes


def test_production_session_cookie_is_secure_httponly_and_samesite_lax(production_app: Flask, make_user: Any) -> None:
    """The cookie a person gets on logging in travels over HTTPS only, out of reach of scripts and other sites."""
    response = login(production_app.test_client(), make_user("agent"))
    assert response.status_code == 302
    attributes = _cookie_attributes(response, "session")
    assert {"secure", "httponly", "samesite=Lax"} <= attributes


def test_development_session_cookie_is_httponly_samesite_but_not_secure(app: Flask, make_user: Any) -> None:
    """On the plain-HTTP demo the cookie must work without HTTPS, still out of reach of scripts."""
    attributes = _cookie_attributes(login(app.test_client(), make_user("agent")), "session")
    assert {"httponly", "samesite=Lax"} <= attributes and "secure" not in attributes


def test_production_sends_hsts_on_pages_and_api(production_app: Flask) -> None:
    """Browsers are told to use HTTPS only, for a year, on every page and API answer."""
    client = production_app.test_client()
    for path in ("/login", "/api/v1/claims"):
        assert client.get(path).headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_hsts_is_sent_whenever_the_request_came_over_https(client: FlaskClient) -> None:
    """Behind HTTPS even a development server says so."""
    response = client.get("/login", base_url="https://localhost")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_production_with_an_empty_secret_key_refuses_to_start_and_makes_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SECRET_KEY= (empty) is as good as missing: production never falls back to a generated key file."""
    monkeypatch.setenv("MARKETPLACE_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "")
    with pytest.raises(ConfigurationError, match="SECRET_KEY must be set"):
        load_config(tmp_path)
    assert not (tmp_path / "secret_key").exists()


# Secrets come from the environment only.


def test_no_secret_has_a_default_in_the_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With nothing in the environment every secret setting is empty (or generated per installation)."""
    for name in ("SECRET_KEY", "SMTP_PASSWORD", "NOTIFY_GATEWAY_SECRET", "NOTIFY_WEBHOOK_SECRET", "MARKETPLACE_ENV"):
        monkeypatch.delenv(name, raising=False)
    config = load_config(tmp_path)
    assert (config["SMTP_PASSWORD"], config["NOTIFY_GATEWAY_SECRET"], config["NOTIFY_WEBHOOK_SECRET"]) == ("", "", "")
    assert config["SECRET_KEY"] == (tmp_path / "secret_key").read_text().strip()


# What a leaked credential looks like; the test files' own made-up passwords do not match these.
SECRET_PATTERNS = {
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |OPENSSH |DSA )?PRIVATE KEY-----"),
    "AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36}\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "marketplace API key": re.compile(r"\bmk_[0-9a-f]{8}_[A-Za-z0-9_-]{40,}"),
    "secret assigned in code": re.compile(
        r"""(?i)\b(?:SECRET_KEY|SMTP_PASSWORD|NOTIFY_\w*SECRET)\s*[:=]\s*["'][^"'\s]{16,}["']"""
    ),
}


def _tracked_files() -> list[Path]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True, timeout=30
        ).stdout.decode()
        return [REPO / name for name in listed.split("\0") if name]
    except (OSError, subprocess.SubprocessError):
        # Not a checkout (an unpacked archive): everything but the virtual environment and the instance folder.
        skip = {".venv", "instance", ".git", "node_modules", "__pycache__"}
        return [path for path in REPO.rglob("*") if path.is_file() and not skip & set(path.relative_to(REPO).parts)]


def test_no_secret_is_committed() -> None:
    """No tracked file holds a private key, a cloud or chat token, an API key or a hard-coded secret setting."""
    found = []
    for path in _tracked_files():
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        text = path.read_bytes().decode("utf-8", errors="ignore")
        found += [f"{path.relative_to(REPO)}: {kind}" for kind, rule in SECRET_PATTERNS.items() if rule.search(text)]
    assert found == []
    assert "/instance/" in (REPO / ".gitignore").read_text().split()  # the generated secret_key stays out


def test_secret_scan_would_catch_a_committed_key() -> None:
    """The patterns above do match real-looking leaks (so the scan cannot pass by matching nothing)."""
    samples = {
        # Spelled in two parts, like the others, so that this file does not hold what it looks for.
        "private key": "-----BEGIN RSA " + "PRIVATE KEY-----",
        "AWS access key": "AKIA" + "ABCDEFGHIJKLMNOP",
        "marketplace API key": "mk_0123abcd_" + "x" * 43,
        "secret assigned in code": 'SECRET_KEY = "' + "q" * 24 + '"',
    }
    for kind, sample in samples.items():
        assert SECRET_PATTERNS[kind].search(sample), kind


# Evidence uploads: what tests/claims/test_evidence.py does not already cover.


@pytest.fixture
def evidence_dir(tmp_path: Path) -> Path:
    """Where this test's evidence is stored."""
    return tmp_path / "store" / "evidence"


@pytest.fixture
def cast(app: Flask, evidence_dir: Path, make_user: Any, make_api_key: Any, make_seller: Any, make_buyer: Any, session):
    """An order, its buyer and seller, staff and outsiders; evidence under the test's own folder."""
    app.config["EVIDENCE_DIR"] = str(evidence_dir)
    order = create_order(
        session,
        "O-SEC-1",
        seller=make_seller(),
        buyer=make_buyer(),
        amount=50_000,
        items=[{"sku": "SKU-1", "name": "상품", "quantity": 1}],
        paid_at=START - timedelta(hours=1),
        actor=SETUP,
        now=START,
    )
    session.commit()
    return Cast(app, make_user, make_api_key, order)


def _upload(cast: Cast, claim_id: int, content: bytes, filename: str) -> Any:
    return cast.buyer.post(
        f"/api/v1/claims/{claim_id}/evidence",
        data={"evidence": [(io.BytesIO(content), filename)]},
        content_type="multipart/form-data",
    )


TRAVERSING_NAMES = (
    "../../../../outside.png",
    "..\\..\\outside.png",
    "/etc/cron.d/outside.png",
    "....//..//outside.png",
)


def test_path_in_an_uploaded_filename_cannot_place_the_file(
    cast: Cast, session: Session, tmp_path: Path, evidence_dir: Path
) -> None:
    """Each file lands at <claim>/<sha256>.png inside the store whatever its name says; the name is shown bare."""
    claim_id = cast.file()["id"]
    for n, filename in enumerate(TRAVERSING_NAMES):
        response = _upload(cast, claim_id, PNG + bytes([n]), filename)
        assert response.status_code == 201, (filename, response.json)
        shown = response.json["evidence"][-1]["filename"]
        assert shown.endswith("outside.png") and not {"/", "\\"} & set(shown), filename
    stored = sorted(path for path in tmp_path.rglob("*") if path.is_file())
    assert len(stored) == len(TRAVERSING_NAMES)
    assert all(path.parent == evidence_dir / str(claim_id) for path in stored)
    assert not list(tmp_path.parent.rglob("outside.png")) and not Path("/etc/cron.d/outside.png").exists()
    keys = session.scalars(sa.select(Evidence.storage_key).where(Evidence.claim_id == claim_id)).all()
    assert len(keys) == len(TRAVERSING_NAMES)
    assert all(re.fullmatch(rf"{claim_id}/[0-9a-f]{{64}}\.png", key) for key in keys)


DISGUISED = (
    (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>', "photo.png"),
    (b"<!DOCTYPE html><html><script>alert(1)</script></html>", "receipt.pdf"),
    (b"#!/bin/sh\nrm -rf /\n", "photo.jpg"),
    (b"PK\x03\x04" + bytes(40), "evidence.gif"),
)


def test_script_or_archive_named_as_an_image_is_refused(cast: Cast, session: Session, evidence_dir: Path) -> None:
    """SVG, HTML, a shell script or a zip is judged by its bytes, not its name: 422 naming each, nothing stored."""
    claim_id = cast.file()["id"]
    response = cast.buyer.post(
        f"/api/v1/claims/{claim_id}/evidence",
        data={"evidence": [(io.BytesIO(content), filename) for content, filename in (*DISGUISED, (PNG, "ok.png"))]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422 and response.mimetype == PROBLEM
    assert response.json["field"] == "evidence"
    assert response.json["errors"]["evidence"] == [
        f"{filename}: JPEG, PNG, WebP, GIF, PDF 파일만 올릴 수 있습니다." for _content, filename in DISGUISED
    ]
    assert session.scalar(sa.select(sa.func.count()).select_from(Evidence)) == 0
    assert not evidence_dir.exists() or not [path for path in evidence_dir.rglob("*") if path.is_file()]


def test_oversize_file_on_the_buyers_form_is_refused_and_the_form_shown_again(cast: Cast, session: Session) -> None:
    """The page flow refuses the oversize file too, naming the limit beside the form, and files no claim."""
    cast.app.config["EVIDENCE_MAX_BYTES"] = 1024
    client = cast.buyer.client
    path = f"/buyer/orders/{cast.order.external_id}/claim"
    page = client.get(path)
    assert page.status_code == 200
    response = client.post(
        path,
        data={
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            "type": "damaged",
            "description": "사진 첨부합니다",
            "evidence": [(io.BytesIO(PNG + bytes(2048)), "big.png")],
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "big.png: 파일이 1 KB보다 큽니다." in response.get_data(as_text=True)
    assert session.scalar(sa.select(sa.func.count()).select_from(Evidence)) == 0
