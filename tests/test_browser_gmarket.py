"""The Gmarket story end to end in headless Chromium, across the three portals (issue: portals, "done when").

A seller cancels a paid order on its own ("out of stock"); the marketplace sends the event; the buyer sees the
claim and its deadline; the seller sees the countdown and stays silent; the jobs run past the deadline; staff see
the escalation and the seller's standing; the buyer sees the compensation; the seller sees its violations and
their points. Screenshots of each portal's main page are written to build/screenshots/.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from marketplace import create_app, migrate
from marketplace.core.auth import Actor
from marketplace.core.clock import FrozenClock
from marketplace.core.models import Role
from marketplace.core.operations import create_api_key, create_user
from marketplace.db import create_db_engine
from marketplace.orders.operations import create_buyer
from marketplace.scheduler import run_due
from marketplace.sellers.operations import create_seller
from tests.browser import log_in
from tests.conftest import create_postgres_database, drop_postgres_database, require_postgres

KST = ZoneInfo("Asia/Seoul")
PASSWORD = "story-password-1"
SCREENSHOTS = Path(__file__).resolve().parent.parent / "build" / "screenshots"
SETUP = Actor.system("story")


@dataclass
class Story:
    """The live app with a clock the test moves, and the marketplace's API key."""

    base_url: str
    app: Flask
    clock: FrozenClock
    api_key: str
    backend: str


@pytest.fixture(params=["sqlite", "postgresql"])
def story(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Story]:
    """A fresh database with one seller, one buyer, their logins and an agent; the app served in a thread."""
    if request.param == "postgresql":
        require_postgres()
        url = create_postgres_database()
    else:
        url = f"sqlite:///{tmp_path / 'story.db'}"
    clock = FrozenClock(datetime(2026, 9, 23, 9, 0, tzinfo=KST))
    # The app first: creating it registers every domain's API key scopes.
    app = create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": "story",
            "CLOCK": clock,
            "TESTING": False,
            "LOGIN_RATE_LIMIT": "1000 per minute",
        }
    )
    engine = create_db_engine(url)
    migrate.upgrade(engine)
    with Session(engine) as session:
        now = clock()
        seller = create_seller(session, "S-7001", name="최저가몰", actor=SETUP, now=now)
        buyer = create_buyer(session, "B-8001", name="김구매", contact="kim@example.com", actor=SETUP, now=now)
        for email, role, extra in (
            ("buyer@story.example", Role.BUYER, {"buyer_id": buyer.id}),
            ("seller@story.example", Role.SELLER, {"seller_id": seller.id}),
            ("agent@story.example", Role.AGENT, {}),
        ):
            create_user(
                session, email, name=email.split("@")[0], role=role, password=PASSWORD, actor=SETUP, now=now, **extra
            )
        _key, secret = create_api_key(session, "marketplace-core", scopes=["events:write"], actor=SETUP, now=now)
        session.commit()
    engine.dispose()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Story(f"http://127.0.0.1:{server.server_port}", app, clock, secret, request.param)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        app.extensions["marketplace.db"]["engine"].dispose()
        if request.param == "postgresql":
            drop_postgres_database(url)


@pytest.fixture
def browser_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="ko-KR", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def _send(page: Page, story: Story, *events: dict) -> None:
    """The marketplace posts events to the API, as its integration would."""
    response = page.request.post(
        f"{story.base_url}/api/v1/events",
        data=json.dumps({"events": list(events)}),
        headers={"Authorization": f"Bearer {story.api_key}", "Content-Type": "application/json"},
    )
    assert response.ok, response.text()
    assert all(result["status"] == "accepted" for result in response.json()["results"]), response.json()


def _shoot(page: Page, story: Story, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{story.backend}.png"), full_page=True)


def _log_out(page: Page) -> None:
    page.get_by_role("button", name="로그아웃").click()


@pytest.mark.browser
def test_gmarket_story_across_the_three_portals(browser_page: Page, story: Story) -> None:
    """Seller cancels for "out of stock" and stays silent; the platform follows up by itself."""
    page = browser_page
    paid = datetime(2026, 9, 23, 10, 0, tzinfo=KST)
    cancelled = datetime(2026, 9, 23, 15, 0, tzinfo=KST)
    story.clock.set(cancelled + timedelta(minutes=1))
    _send(
        page,
        story,
        {
            "id": "evt-paid-1",
            "type": "order.paid",
            "occurred_at": paid.isoformat(),
            "order": {
                "id": "G-2009-0001",
                "seller": {"id": "S-7001", "name": "최저가몰"},
                "buyer": {"id": "B-8001", "name": "김구매", "contact": "kim@example.com", "language": "ko"},
                "amount": 150_000,
                "items": [{"sku": "CAM-1", "name": "디지털 카메라", "quantity": 1}],
                "paid_at": paid.isoformat(),
            },
        },
        {
            "id": "evt-cancel-1",
            "type": "order.cancelled",
            "occurred_at": cancelled.isoformat(),
            "order": {"id": "G-2009-0001"},
            "initiated_by": "seller",
            "reason": "out_of_stock",
        },
    )

    # The buyer sees the claim the platform opened, and the seller's deadline (Chuseok and the weekend skipped).
    log_in(page, story.base_url, "buyer@story.example", PASSWORD)
    page.get_by_role("link", name="내 클레임").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("내 클레임")
    row = page.locator("tbody tr").filter(has_text="G-2009-0001")
    expect(row).to_contain_text("판매자가 주문을 취소함")
    _shoot(page, story, "buyer-claims")
    row.get_by_role("link").click()
    expect(page.locator(".deadline-banner")).to_contain_text("2026-09-30 23:59 KST")
    _log_out(page)

    # The seller sees the claim first in its list, with the time left counting down; it answers nothing.
    log_in(page, story.base_url, "seller@story.example", PASSWORD)
    page.get_by_role("link", name="클레임", exact=True).click()
    first = page.locator("tbody tr").first
    expect(first).to_contain_text("판매자 응답 대기")
    expect(first.locator("time.countdown")).to_contain_text("남음")
    _shoot(page, story, "seller-claims")
    _log_out(page)

    # The jobs run at 2026-10-01 00:00 KST: the silent seller's claim escalates, effective at its deadline.
    story.clock.set(datetime(2026, 10, 1, 0, 0, tzinfo=KST))
    results = run_due(story.app)
    assert all(result.ok for result in results), results

    log_in(page, story.base_url, "agent@story.example", PASSWORD)
    page.get_by_role("link", name="클레임 대기열", exact=True).click()
    row = page.locator("tbody tr").filter(has_text="최저가몰")
    expect(row).to_contain_text("상담원 검토 중")
    _shoot(page, story, "staff-queue")
    row.get_by_role("link").first.click()
    expect(page.locator(".timeline")).to_contain_text("판매자가 기한 안에 답하지 않음")
    expect(page.locator(".timeline")).to_contain_text("플랫폼 (자동)")
    page.goto(f"{story.base_url}/")
    dashboard = page.locator(".charts")
    expect(dashboard.locator("#money-month-title + svg")).to_contain_text("7,500")  # granted this very run
    expect(dashboard.locator("#sellers-by-stage-title + svg")).to_contain_text("주의")  # the seller's stage now
    _shoot(page, story, "staff-dashboard")
    # Staff open the seller from the claim: the violations and the deduction for the grant are there.
    page.goto(f"{story.base_url}/staff/sellers/")
    page.get_by_role("link", name="최저가몰").click()
    expect(page.locator("#violations-title")).to_have_text("벌점과 사유")
    expect(page.locator("#deductions-title + .stats")).to_contain_text("7,500원")
    _shoot(page, story, "staff-seller")
    _log_out(page)

    # The buyer sees the compensation paid at once (5 % of ₩150,000) and why.
    log_in(page, story.base_url, "buyer@story.example", PASSWORD)
    page.get_by_role("link", name="내 보상").click()
    expect(page.locator("main")).to_contain_text("7,500원")
    expect(page.locator("main")).to_contain_text("판매자가 주문을 취소함")
    _shoot(page, story, "buyer-compensation")
    _log_out(page)

    # The seller sees the violations, their points and the claim behind them, and may appeal.
    log_in(page, story.base_url, "seller@story.example", PASSWORD)
    page.get_by_role("link", name="내 판매자 상태").click()
    points = page.locator("#violations-title + .table-wrap tbody tr")
    expect(points.filter(has_text="응답 기한 미준수")).to_have_count(1)  # the silence past the deadline counts too
    cancellation = points.filter(has_text="판매자 취소")
    expect(cancellation.locator('a[href^="/seller/claims/"]')).to_be_visible()
    expect(cancellation.get_by_role("link", name="소명하기")).to_be_visible()
    expect(page.locator(".stats")).to_contain_text("유효 벌점")
    expect(page.locator("#sanctions-title + .table-wrap")).to_contain_text("규칙에 따라: 유효 벌점")
    _shoot(page, story, "seller-standing")
