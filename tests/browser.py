"""Fixtures for browser tests: the app with demo data served on a free port, and headless Chromium driving it.

Test modules import the fixtures they use::

    from tests.browser import browser, live_server, page  # noqa: F401
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from marketplace import create_app, migrate
from marketplace.db import create_db_engine
from marketplace.demo import load_demo
from tests.conftest import create_postgres_database, drop_postgres_database, missing_requirement, require_postgres

# Debian's Chromium: Playwright's own browser download does not work on the machines these tests run on.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def _load_demo_database(url: str) -> None:
    """Migrate the empty database at ``url`` and load the demo data into it."""
    engine = create_db_engine(url)
    try:
        migrate.upgrade(engine)
        with Session(engine) as session:
            load_demo(session, now=datetime.now(UTC))
            session.commit()
    finally:
        engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app over a fresh database with the demo data, served in a thread; yields its base URL."""
    if request.param == "postgresql":
        require_postgres()
        url = create_postgres_database()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'live.db'}"
    try:
        _load_demo_database(url)
        app = create_app(
            {
                "DATABASE_URL": url,
                "SECRET_KEY": "browser-test",
                "TESTING": False,
                # The limiter's memory store lives as long as the test process; failed logins of other modules
                # must not lock these tests out.
                "LOGIN_RATE_LIMIT": "1000 per minute",
            }
        )
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, name=f"live-server-{request.param}", daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)
            app.extensions["marketplace.db"]["engine"].dispose()
    finally:
        if request.param == "postgresql":
            drop_postgres_database(url)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Chromium for the whole session (skipped without it, required under CI=true)."""
    if not CHROMIUM.exists():
        missing_requirement(f"Chromium not found at {CHROMIUM} (apt-get install chromium)", "the browser tests")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page in its own browser context (Korean locale), so cookies never leak between tests."""
    context = browser.new_context(locale="ko-KR")
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def log_in(page: Page, base_url: str, email: str, password: str) -> None:
    """Fill in and submit the Korean login form as a person would."""
    page.goto(f"{base_url}/login")
    page.get_by_label("이메일", exact=True).fill(email)
    page.get_by_label("비밀번호", exact=True).fill(password)
    page.get_by_role("button", name="로그인", exact=True).click()
