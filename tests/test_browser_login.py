"""The login page and each role's home page as a person sees them in Chromium, on SQLite and on PostgreSQL."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from marketplace.demo import DEMO_PASSWORD
from tests.browser import log_in

BUYER = "buyer@demo.example"
SELLER_USER = "seller@hanbit.example"
ADMIN = "admin@demo.example"
ALL_ORDERS = {"O-30001", "O-30002", "O-30003", "O-30004", "O-30005", "O-30006"}


def order_ids(view: Page) -> list[str]:
    """The order numbers in the first column of the orders table, top to bottom."""
    expect(view.locator("tbody tr").first).to_be_visible()
    return view.locator("tbody tr td:first-child").all_inner_texts()


def field_for(view: Page, label: str) -> Locator:
    """The form field block (label, input, error) whose label reads ``label``."""
    return view.locator("div.field").filter(has=view.get_by_label(label, exact=True))


@pytest.mark.browser
def test_open_login_page_shows_korean_by_default(page: Page, live_server: str) -> None:
    """A first visit shows the login form in Korean."""
    page.goto(f"{live_server}/login")
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    expect(page.get_by_role("heading", level=1)).to_have_text("로그인")
    expect(page.get_by_label("이메일", exact=True)).to_be_visible()
    expect(page.get_by_label("비밀번호", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="로그인", exact=True)).to_be_visible()


@pytest.mark.browser
def test_click_english_when_on_login_page_shows_english(page: Page, live_server: str) -> None:
    """The "English" link turns the same page into English."""
    page.goto(f"{live_server}/login")
    page.get_by_role("link", name="English").click()
    expect(page).to_have_url(re.compile(r"/login\??$"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    expect(page.get_by_label("E-mail", exact=True)).to_be_visible()
    expect(page.get_by_label("Password", exact=True)).to_be_visible()


@pytest.mark.browser
def test_reload_after_choosing_english_keeps_english(page: Page, live_server: str) -> None:
    """The language chosen sticks for the next page load of the same browser."""
    page.goto(f"{live_server}/login")
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    page.goto(f"{live_server}/login")
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    expect(page.get_by_role("link", name="한국어")).to_be_visible()


@pytest.mark.browser
def test_log_in_with_wrong_password_shows_error_and_keeps_email(page: Page, live_server: str) -> None:
    """A wrong password is refused beside the form, the e-mail stays typed, and nobody is logged in."""
    log_in(page, live_server, BUYER, "not-the-password")
    form_card = page.locator("section.card").filter(has=page.locator("form"))
    expect(form_card.get_by_role("alert")).to_have_text("이메일 또는 비밀번호가 올바르지 않습니다.")
    expect(page.get_by_label("이메일", exact=True)).to_have_value(BUYER)
    expect(page.get_by_label("비밀번호", exact=True)).to_have_value("")
    expect(page.get_by_role("heading", level=1)).to_have_text("로그인")
    expect(page.get_by_role("button", name="로그아웃")).to_have_count(0)


@pytest.mark.browser
def test_submit_empty_login_form_shows_error_beside_each_field(page: Page, live_server: str) -> None:
    """Each empty field says, next to it, what to enter; the inputs point at their messages."""
    page.goto(f"{live_server}/login")
    page.get_by_role("button", name="로그인", exact=True).click()
    expect(field_for(page, "이메일").locator(".field-error")).to_have_text("이메일 주소를 입력하세요.")
    expect(field_for(page, "비밀번호").locator(".field-error")).to_have_text("비밀번호를 입력하세요.")
    email = page.get_by_label("이메일", exact=True)
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_have_accessible_description("이메일 주소를 입력하세요.")
    expect(page.get_by_role("button", name="로그아웃")).to_have_count(0)


@pytest.mark.browser
def test_log_in_as_buyer_shows_only_own_orders(page: Page, live_server: str) -> None:
    """The demo buyer lands on "내 주문" and sees their two orders, amounts in won, and nobody else's."""
    log_in(page, live_server, BUYER, DEMO_PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("내 주문")
    ids = order_ids(page)
    assert sorted(ids) == ["O-30001", "O-30003"]
    expect(page.get_by_role("row").filter(has_text="O-30001").locator("td.num")).to_have_text("389,000원")
    expect(page.get_by_role("row").filter(has_text="O-30003").locator("td.num")).to_have_text("24,800원")
    for other in sorted(ALL_ORDERS - {"O-30001", "O-30003"}):
        expect(page.get_by_text(other)).to_have_count(0)


@pytest.mark.browser
def test_log_out_as_buyer_returns_to_login_page(page: Page, live_server: str) -> None:
    """The logout button ends the session: the login page is back and "/" asks to log in again."""
    log_in(page, live_server, BUYER, DEMO_PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("내 주문")
    page.get_by_role("button", name="로그아웃").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("로그인")
    page.goto(f"{live_server}/")
    expect(page).to_have_url(re.compile(r"/login\?next=%2F$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("로그인")
    expect(page.get_by_role("button", name="로그아웃")).to_have_count(0)


@pytest.mark.browser
def test_log_in_as_seller_user_shows_only_that_sellers_orders(page: Page, live_server: str) -> None:
    """The 한빛전자 (S-1001) user sees that seller's orders and no other seller's."""
    log_in(page, live_server, SELLER_USER, DEMO_PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("주문")
    shown = order_ids(page)
    # The demo's two recent 한빛전자 orders; the rest are its past weeks (O-H…), never another seller's O-3000x.
    assert sorted(order for order in shown if not order.startswith("O-H")) == ["O-30001", "O-30002"]


@pytest.mark.browser
def test_log_in_as_admin_shows_overview_and_recent_changes(page: Page, live_server: str) -> None:
    """The admin sees the platform's counts and the audit trail, including their own login."""
    log_in(page, live_server, ADMIN, DEMO_PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("현황")
    stats = page.locator("ul.stats li")
    expect(stats).to_have_count(3)
    shown = {item.locator(".stat-label").inner_text(): item.locator(".stat-value").inner_text() for item in stats.all()}
    # Three buyers with logins or orders to work on, and the one behind the sellers' past weeks of orders.
    assert (shown["판매자"], shown["구매자"]) == ("3", "4")
    assert int(shown["주문"].replace(",", "")) > 6
    expect(page.get_by_role("heading", level=2)).to_have_text("최근 변경 내역")
    changes = page.get_by_role("table")
    expect(changes.get_by_role("columnheader", name="작업")).to_be_visible()
    expect(changes.locator("td code", has_text=re.compile(r"^user\.login$")).first).to_be_visible()


@pytest.mark.browser
def test_open_login_page_on_narrow_screen_fits_without_horizontal_scroll(page: Page, live_server: str) -> None:
    """On a 375 px wide phone the whole form shows and the page does not scroll sideways."""
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto(f"{live_server}/login")
    for control in (
        page.get_by_label("이메일", exact=True),
        page.get_by_label("비밀번호", exact=True),
        page.get_by_role("button", name="로그인", exact=True),
    ):
        expect(control).to_be_in_viewport()
        box = control.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
