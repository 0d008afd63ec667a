"""The inbox and the staff outbox as people use them in Chromium, on SQLite and on PostgreSQL."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from marketplace import create_app
from marketplace.claims.operations import file_claim
from marketplace.core.auth import Actor
from marketplace.demo import DEMO_PASSWORD
from marketplace.notifications.models import OutboxMessage, OutboxStatus
from marketplace.orders.models import Order
from tests.browser import _load_demo_database, log_in
from tests.conftest import create_postgres_database, drop_postgres_database, require_postgres

BUYER = "buyer@demo.example"  # 김민준, B-2001, Korean
ADMIN = "admin@demo.example"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def notices_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo app with a claim filed on O-30003 (so its buyer and seller have notices) and one dead webhook."""
    if request.param == "postgresql":
        require_postgres()
        url = create_postgres_database()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('inbox') / 'live.db'}"
    try:
        _load_demo_database(url)
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "browser-test", "LOGIN_RATE_LIMIT": "1000 per minute"})
        with app.app_context():
            engine = app.extensions["marketplace.db"]["engine"]
            with Session(engine) as session:
                order = session.scalars(sa.select(Order).where(Order.external_id == "O-30003")).one()
                claim = file_claim(
                    session,
                    order,
                    "damaged",
                    description="화면이 깨져서 왔어요",
                    actor=Actor.system("test"),
                    now=datetime.now(UTC),
                )
                webhook = session.scalars(
                    sa.select(OutboxMessage).where(
                        OutboxMessage.topic == "claim.opened",
                        OutboxMessage.recipient_id.is_(None),
                        OutboxMessage.dedupe_key == f"webhook:claim.opened:{claim.id}",
                    )
                ).one()
                webhook.status, webhook.attempts, webhook.last_error = OutboxStatus.DEAD, 10, "HTTP 503 from hooks"
                session.commit()
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
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


@pytest.mark.browser
def test_buyer_opens_inbox_and_reads_the_claim_notice_in_korean_then_english(page: Page, notices_server: str) -> None:
    """The 알림함 link leads to the notice about the claim, with its deadline; English is one click away."""
    log_in(page, notices_server, BUYER, DEMO_PASSWORD)
    page.get_by_role("navigation", name="주 메뉴").get_by_role("link", name="알림함").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("알림함")
    notice = page.get_by_role("article").first
    expect(notice.get_by_role("heading", level=2)).to_have_text("[주문 O-30003] 클레임이 접수되었습니다 — 파손")
    expect(notice.locator("dt", has_text="결제 금액").locator("xpath=following-sibling::dd")).to_have_text("24,800원")
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Inbox")
    expect(page.get_by_role("article").first.get_by_role("heading", level=2)).to_have_text(
        "[Order O-30003] We have received your claim — item damaged"
    )


@pytest.mark.browser
def test_admin_filters_dead_messages_and_retries_one(page: Page, notices_server: str) -> None:
    """Staff find the dead webhook with the status filter, retry it, and see it waiting again."""
    log_in(page, notices_server, ADMIN, DEMO_PASSWORD)
    page.get_by_role("navigation", name="주 메뉴").get_by_role("link", name="알림").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("알림 발송함")
    page.get_by_label("상태").select_option("dead")
    page.get_by_role("button", name="필터 적용").click()
    expect(page).to_have_url(re.compile(r"status=dead"))
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("HTTP 503 from hooks")
    rows.first.get_by_role("button", name=re.compile("다시 보내기")).click()
    expect(page.get_by_role("status")).to_contain_text("곧 다시 보냅니다")
    expect(page.locator("tbody tr")).to_have_text(["조건에 맞는 메시지가 없습니다."])
    page.get_by_label("상태").select_option("pending")
    page.get_by_role("button", name="필터 적용").click()
    # The retried webhook waits again, its error from the last attempt still shown.
    expect(page.locator("tbody tr", has_text="HTTP 503 from hooks")).to_have_count(1)
