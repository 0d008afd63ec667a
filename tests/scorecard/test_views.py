"""Scorecard pages: the staff ranking and its CSV, the seller's own card with its trend charts, the card on the staff
seller page, the summary on the claim page and the grades on the dashboard, in Korean and English."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from marketplace.claims.operations import file_claim
from marketplace.core.auth import SCHEDULER, Actor
from marketplace.orders.models import CancelInitiator, OrderStatus
from marketplace.orders.operations import create_order
from marketplace.scorecard import build, views
from marketplace.scorecard.labels import reason_text
from marketplace.sellers.models import Seller
from tests.conftest import SETUP, START, login

# The day the scorecards are built on: START is 2026-09-23 15:00 in Seoul.
TODAY = date(2026, 9, 23)


@pytest.fixture
def history(session: Session, make_seller: Any, make_buyer: Any) -> Any:
    """Give a seller paid orders five days before START: some shipped late, some cancelled by the seller."""
    buyer = make_buyer()
    counter = iter(range(1, 1_000_000))

    def make(
        seller: Seller | None = None,
        *,
        orders: int = 20,
        late: int = 0,
        cancelled: int = 0,
        category: str | None = "fashion",
        uncategorised: int = 0,
        days_ago: int = 5,
    ) -> Seller:
        seller = seller or make_seller()
        paid = START - timedelta(days=days_ago)
        for n in range(orders):
            item: dict[str, Any] = {"sku": "SKU-1", "name": "상품", "quantity": 1, "price": 1000}
            if category and n >= uncategorised:
                item["category"] = category
            order = create_order(
                session,
                f"O-SC{next(counter)}",
                seller=seller,
                buyer=buyer,
                amount=1000,
                items=[item],
                paid_at=paid,
                ship_by=paid + timedelta(days=2),
                actor=SETUP,
                now=paid,
            )
            if n < late:
                order.status, order.shipped_at = OrderStatus.SHIPPED, paid + timedelta(days=4)
            elif n < late + cancelled:
                order.status, order.cancelled_at = OrderStatus.CANCELLED, paid + timedelta(hours=3)
                order.cancel_initiated_by = CancelInitiator.SELLER
            else:
                order.status, order.shipped_at = OrderStatus.SHIPPED, paid + timedelta(days=1)
        session.commit()
        return seller

    return make


def rebuild(session: Session) -> None:
    build.rebuild(session, now=START, actor=SCHEDULER)
    session.commit()


def browser(app: Flask, user: Any, *, english: bool = False) -> FlaskClient:
    client = app.test_client()
    login(client, user)
    if english:
        client.get("/language/en")
    return client


def text(client: FlaskClient, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, (path, response.status_code)
    return response.get_data(as_text=True)


def ranked_names(page: str) -> list[str]:
    """The seller names of the ranking table, top to bottom."""
    return re.findall(r'<a href="/staff/sellers/[^"]+">([^<]+)</a>', page)


def three_sellers(history: Any, make_seller: Any) -> None:
    """가: 10 % late, 나: none late, 다: 5 % late (20 orders each)."""
    history(make_seller("가 상점"), late=2)
    history(make_seller("나 상점"), late=0)
    history(make_seller("다 상점"), late=1)


# Staff ranking ---------------------------------------------------------------------------------------------------


def test_staff_rank_sellers_by_the_chosen_metric(
    app: Flask, session: Session, history: Any, make_seller: Any, make_user: Any
) -> None:
    three_sellers(history, make_seller)
    rebuild(session)
    agent = browser(app, make_user("agent"))
    page = text(agent, "/staff/scorecards/?metric=late_shipment_rate&window=30&order=desc")
    assert ranked_names(page) == ["가 상점", "다 상점", "나 상점"]
    assert "판매자 점수표" in page and "2026-09-23" in page
    assert "미달" in page and "30일 지연배송률 10.0% &gt; 4%" in page
    assert '<option value="late_shipment_rate" selected>' in page and '<option value="30" selected>' in page
    assert 'aria-sort="descending"' in page
    lowest = text(agent, "/staff/scorecards/?metric=late_shipment_rate&window=30&order=asc")
    assert ranked_names(lowest) == ["나 상점", "다 상점", "가 상점"]
    assert '<option value="asc" selected>' in lowest
    top = text(agent, "/staff/scorecards/?metric=late_shipment_rate&window=30&grade=top_rated")
    assert ranked_names(top) == ["나 상점"]
    assert 'value="top_rated" checked' in top
    assert "/staff/scorecards.csv?metric=late_shipment_rate&amp;window=30&amp;order=desc&amp;grade=top_rated" in top
    # The nav links to the ranking for staff.
    assert 'href="/staff/scorecards/"' in text(agent, "/")


def test_the_ranking_is_paged_and_keeps_its_filters(
    app: Flask, session: Session, history: Any, make_seller: Any, make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    three_sellers(history, make_seller)
    rebuild(session)
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    agent = browser(app, make_user("agent"))
    first = text(agent, "/staff/scorecards/?metric=late_shipment_rate&window=30")
    assert ranked_names(first) == ["가 상점", "다 상점"]
    assert "2쪽 중 1쪽" in first
    link = re.search(r'<a rel="next" href="([^"]+)"', first)
    assert link is not None
    href = link.group(1).replace("&amp;", "&")
    assert "metric=late_shipment_rate" in href and "page=2" in href
    second = text(agent, href)
    assert ranked_names(second) == ["나 상점"]
    assert ">3</td>" in second  # the rank goes on from the first page


def test_bad_ranking_values_are_said_and_the_defaults_shown(
    app: Flask, session: Session, history: Any, make_seller: Any, make_user: Any
) -> None:
    three_sellers(history, make_seller)
    rebuild(session)
    agent = browser(app, make_user("agent"))
    page = text(agent, "/staff/scorecards/?metric=bogus&window=60&order=sideways&grade=excellent", status=400)
    assert "bogus" in page and "60" in page and "excellent" in page
    assert 'role="alert"' in page
    assert '<option value="defect_rate" selected>' in page and '<option value="90" selected>' in page
    assert len(ranked_names(page)) == 3
    # Page 0 or a word is page 1, as on every list.
    assert len(ranked_names(text(agent, "/staff/scorecards/?page=0"))) == 3
    assert len(ranked_names(text(agent, "/staff/scorecards/?page=x"))) == 3
    assert agent.get("/staff/scorecards.csv?window=60").status_code == 400
    # The page's CSV link carries the filters it shows, not the ones it did not understand.
    assert 'href="/staff/scorecards.csv?metric=defect_rate&amp;window=90&amp;order=desc"' in page


def test_before_any_scorecard_the_ranking_says_so(app: Flask, make_user: Any) -> None:
    page = text(browser(app, make_user("agent")), "/staff/scorecards/")
    assert "아직 점수표가 없습니다" in page
    response = browser(app, make_user("agent")).get("/staff/scorecards.csv")
    assert response.status_code == 200
    assert response.data.startswith(b"\xef\xbb\xbf") and len(response.data.decode("utf-8-sig").splitlines()) == 1


def test_the_csv_holds_every_row_with_a_header_and_a_bom(
    app: Flask, session: Session, history: Any, make_seller: Any, make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    three_sellers(history, make_seller)
    history(make_seller("=HYPERLINK(1)"), orders=3)
    rebuild(session)
    monkeypatch.setattr(views, "PAGE_SIZE", 1)  # the CSV is not paged
    agent = browser(app, make_user("agent"))
    response = agent.get("/staff/scorecards.csv?metric=late_shipment_rate&window=30&order=desc")
    assert response.status_code == 200
    assert response.mimetype == "text/csv" and response.mimetype_params["charset"] == "utf-8"
    assert response.headers["Content-Disposition"] == "attachment; filename=scorecards-2026-09-23.csv"
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    header = rows[0]
    assert header[:5] == ["순위", "판매자 ID", "판매자", "등급", "사유"]
    assert "지연배송률 (%)" in header
    late = header.index("지연배송률 (%)")
    body = rows[1:]
    assert [row[2] for row in body] == ["가 상점", "다 상점", "나 상점", "'=HYPERLINK(1)"]
    assert [row[late] for row in body] == ["10.0", "5.0", "0.0", "0.0"]
    assert body[0][3] == "미달" and body[3][3] == "데이터 부족"
    assert body[0][header.index("주문")] == "20"
    graded = agent.get("/staff/scorecards.csv?grade=below_standard")
    assert len(list(csv.reader(io.StringIO(graded.data.decode("utf-8-sig"))))) == 3
    english = browser(app, make_user("agent"), english=True).get("/staff/scorecards.csv")
    header = next(csv.reader(io.StringIO(english.data.decode("utf-8-sig"))))
    assert header[:4] == ["Rank", "Seller id", "Seller", "Grade"] and "Late-shipment rate (%)" in header


def test_staff_only(app: Flask, session: Session, history: Any, make_user: Any) -> None:
    seller = history(late=2)
    rebuild(session)
    for path in ("/staff/scorecards/", "/staff/scorecards.csv"):
        assert browser(app, make_user("seller", seller=seller)).get(path).status_code == 403
        assert browser(app, make_user("buyer")).get(path).status_code == 403
        assert app.test_client().get(path).status_code == 302  # to the login page
        for role in ("agent", "supervisor", "admin"):
            assert browser(app, make_user(role)).get(path).status_code == 200
    seller_client = browser(app, make_user("seller", seller=seller))
    assert 'href="/staff/scorecards/"' not in text(seller_client, "/seller/scorecard/")
    # Staff and buyers have no card of their own.
    assert browser(app, make_user("agent")).get("/seller/scorecard/").status_code == 404
    assert browser(app, make_user("buyer")).get("/seller/scorecard/").status_code == 404


# The seller's own card -------------------------------------------------------------------------------------------


def test_seller_sees_its_grade_figures_categories_and_trend(
    app: Flask, session: Session, history: Any, make_seller: Any, make_user: Any
) -> None:
    seller = history(make_seller("내 상점"), late=2, cancelled=1, uncategorised=5)
    history(make_seller("남의 상점"), late=0)
    rebuild(session)
    client = browser(app, make_user("seller", seller=seller))
    page = text(client, "/seller/scorecard/")
    assert "내 판매자 점수표" in page and 'href="/seller/scorecard/"' in page  # the nav
    assert "미달" in page
    assert "30일 지연배송률 10.0% &gt; 4%" in page and "30일 판매자 취소율 5.0% &gt; 2.5%" in page
    assert "90일 결함률 5.0% &gt; 2%" in page
    # The windows: 20 orders in each; 2 of 20 late.
    assert '10.0% <span class="muted">(20건 중 2건)</span>' in page
    # The categories: fashion and the orders without one.
    assert "fashion" in page and "미분류" in page
    # Three trend charts, drawn in SVG, with a text alternative.
    assert page.count('role="img"') == 3 and page.count("<svg") == 3
    assert "<title" in page and 'class="visually-hidden"' in page
    assert 'class="limit-line"' in page  # the late-shipment limit is over 30 days, as the trend
    assert "남의 상점" not in page
    english = text(browser(app, make_user("seller", seller=seller), english=True), "/seller/scorecard/")
    assert "My scorecard" in english and "Below standard" in english
    assert "late-shipment rate 10.0 % &gt; 4 % (30 days)" in english
    assert "Uncategorised" in english and "Figures by window" in english


def test_a_seller_with_few_orders_has_not_enough_data(
    app: Flask, session: Session, history: Any, make_user: Any
) -> None:
    seller = history(orders=3)
    rebuild(session)
    page = text(browser(app, make_user("seller", seller=seller)), "/seller/scorecard/")
    assert "데이터 부족" in page
    assert "90일 동안 주문 3건: 등급 산정에 필요한 10건보다 적습니다" in page
    english = text(browser(app, make_user("seller", seller=seller), english=True), "/seller/scorecard/")
    assert "Not enough data" in english and "3 orders in 90 days, fewer than the 10 a grade needs" in english


def test_before_any_snapshot_the_seller_is_told_there_is_none_yet(
    app: Flask, session: Session, history: Any, make_user: Any
) -> None:
    seller = history()  # orders, but no rebuild yet
    page = text(browser(app, make_user("seller", seller=seller)), "/seller/scorecard/")
    assert "아직 점수표가 없습니다" in page and "<svg" not in page


def test_the_trend_has_a_point_per_day(app: Flask, session: Session, history: Any, make_user: Any) -> None:
    seller = history(late=1, days_ago=20)
    history(seller, late=3, days_ago=5)
    rebuild(session)
    for back in (10, 3, 1):
        build.snapshot_day(session, TODAY - timedelta(days=back), now=START)
    session.commit()
    page = text(browser(app, make_user("seller", seller=seller)), "/seller/scorecard/")
    late_chart = page[page.index('id="scorecard-late_shipment_rate-title"') :]
    late_chart = late_chart[: late_chart.index("</figure>")]
    assert late_chart.count("<circle") == 4
    assert re.search(r'<path d="M[\d.]+,[\d.]+ L[\d.]+,[\d.]+ L[\d.]+,[\d.]+ L[\d.]+,[\d.]+"', late_chart)
    # 1 of 20 late until the second batch, then 4 of 40.
    assert "2026-09-13</th><td>5.0%" in late_chart and "2026-09-23</th><td>10.0%" in late_chart


# The card and the summary on other pages -------------------------------------------------------------------------


def test_staff_seller_page_shows_the_card(app: Flask, session: Session, history: Any, make_user: Any) -> None:
    seller = history(late=2)
    rebuild(session)
    page = text(browser(app, make_user("agent")), f"/staff/sellers/{seller.external_id}")
    assert 'id="scorecard"' in page and "미달" in page and "30일 지연배송률 10.0% &gt; 4%" in page
    assert page.count("<svg") == 3 and "기간별 지표" in page
    # The seller's own standing page links to its card but does not carry it.
    own = text(browser(app, make_user("seller", seller=seller)), "/seller/standing/")
    assert 'id="scorecard"' not in own and 'href="/seller/scorecard/"' in own


def test_staff_seller_page_before_any_scorecard(app: Flask, make_seller: Any, make_user: Any) -> None:
    seller = make_seller()
    page = text(browser(app, make_user("agent")), f"/staff/sellers/{seller.external_id}")
    assert 'id="scorecard"' in page and "아직 점수표가 없습니다" in page


def test_claim_page_shows_the_scorecard_summary(
    app: Flask, session: Session, history: Any, make_user: Any, make_buyer: Any
) -> None:
    seller = history(late=2)
    rebuild(session)
    buyer = make_buyer()
    order = create_order(
        session,
        "O-CLAIM",
        seller=seller,
        buyer=buyer,
        amount=1000,
        items=[{"sku": "S", "name": "상품", "quantity": 1}],
        paid_at=START - timedelta(hours=2),
        actor=SETUP,
        now=START,
    )
    claim = file_claim(
        session, order, "damaged", description="파손", actor=Actor.for_user(make_user("buyer", buyer=buyer)), now=START
    )
    session.commit()
    page = text(browser(app, make_user("agent")), f"/staff/claims/{claim.id}")
    summary = page[page.index('class="scorecard-summary"') :]
    summary = summary[: summary.index("</p>")]
    assert "미달" in summary and "90일 결함률 0.0%, 지연배송률 10.0%" in summary
    assert f'href="/staff/sellers/{seller.external_id}#scorecard"' in summary
    english = text(browser(app, make_user("agent"), english=True), f"/staff/claims/{claim.id}")
    assert "90-day defect rate 0.0 %, late-shipment rate 10.0 %" in english


def test_dashboard_counts_sellers_by_grade(
    app: Flask, session: Session, history: Any, make_seller: Any, make_user: Any
) -> None:
    before = text(browser(app, make_user("agent")), "/")
    assert "점수표 등급별 판매자" in before and "아직 점수표가 없습니다" in before
    three_sellers(history, make_seller)
    history(orders=3)
    make_seller()  # no order: not enough data
    rebuild(session)
    page = text(browser(app, make_user("agent")), "/")
    chart = page[page.index('id="sellers-by-grade-title"') :]
    chart = chart[: chart.index("</figure>")]
    assert "<svg" in chart
    assert '<th scope="row">우수</th><td>1' in chart
    assert '<th scope="row">미달</th><td>2' in chart
    assert '<th scope="row">데이터 부족</th><td>2' in chart
    english = text(browser(app, make_user("agent"), english=True), "/")
    assert "Sellers by scorecard grade" in english and "Top rated" in english


# Labels ----------------------------------------------------------------------------------------------------------


def test_reasons_read_in_both_languages(app: Flask) -> None:
    reason = {"metric": "late_shipment_rate", "value": 6.06, "limit": 4.0, "window_days": 30}
    few = {"metric": "orders", "value": 1, "limit": 10, "window_days": 90}
    with app.test_request_context():
        assert reason_text(reason) == "30일 지연배송률 6.1% > 4%"
        assert reason_text(few) == "90일 동안 주문 1건: 등급 산정에 필요한 10건보다 적습니다"
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert reason_text(reason) == "late-shipment rate 6.1 % > 4 % (30 days)"
        assert reason_text({**reason, "limit": 2.5}) == "late-shipment rate 6.1 % > 2.5 % (30 days)"
        assert reason_text(few) == "1 order in 90 days, fewer than the 10 a grade needs"


def test_axis_ticks_are_round() -> None:
    assert views.axis_ticks(6.1 * 1.15) == [0, 2, 4, 6, 8]
    assert views.axis_ticks(0) == [0, 0.25, 0.5, 0.75, 1]
    assert views.axis_ticks(0.5 * 1.15) == [0, 0.2, 0.4, 0.6]
