"""The scorecard kept from real events: rebuilt, updated incrementally to the same result, served by the API."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.core.auth import SCHEDULER, Actor
from marketplace.core.models import AuditRecord, Role
from marketplace.core.policies import publish_policy
from marketplace.scorecard import build
from marketplace.scorecard.models import ScorecardDay, ScorecardSnapshot
from marketplace.scorecard.policy import SCORECARD
from marketplace.sellers.queries import get_seller_by_external_id
from tests.conftest import login
from tests.orders.conftest import bearer
from tests.orders.factory import cancelled_event, paid_event, shipped_event

KST = timezone(timedelta(hours=9))


def at(month: int, day: int, hour: int = 10) -> str:
    return datetime(2026, month, day, hour, tzinfo=KST).isoformat()


def item(category: str | None) -> list[dict[str, Any]]:
    line: dict[str, Any] = {"sku": "SKU-1", "name": "상품", "quantity": 1, "price": 10_000}
    if category:
        line["category"] = category
    return [line]


def twelve_orders(seller: str = "S-1") -> list[dict[str, Any]]:
    """Twelve orders paid 21–23 Sep 2026: ten shipped, one cancelled by the seller, one by the buyer."""
    events = []
    for n in range(12):
        order_id = f"{seller}-O{n}"
        category = "fashion" if n % 3 == 0 else None if n % 3 == 1 else "digital"
        events.append(
            paid_event(
                f"{order_id}-paid",
                order_id,
                occurred_at=at(9, 21 + n % 3),
                seller_id=seller,
                buyer_id=f"B-{n}",
                amount=10_000,
                items=item(category),
            )
        )
    for n in range(10):
        order_id = f"{seller}-O{n}"
        # Shipped on 28 Sep (after Chuseok); orders 0–2 shipped 6 Oct, after their ship-by.
        shipped = at(10, 6) if n < 3 else at(9, 28)
        events.append(shipped_event(f"{order_id}-ship", order_id, occurred_at=shipped))
    events.append(
        cancelled_event(
            f"{seller}-O10-cancel",
            f"{seller}-O10",
            initiated_by="seller",
            reason="out_of_stock",
            occurred_at=at(9, 23, 12),
        )
    )
    events.append(
        cancelled_event(f"{seller}-O11-cancel", f"{seller}-O11", initiated_by="buyer", occurred_at=at(9, 23, 12))
    )
    return events


def snapshots(session: Session) -> list[tuple[Any, ...]]:
    session.expire_all()
    rows = session.execute(
        sa.select(ScorecardSnapshot).order_by(
            ScorecardSnapshot.seller_id, ScorecardSnapshot.day, ScorecardSnapshot.window_days
        )
    ).scalars()
    return [(s.seller_id, s.day, s.window_days, s.orders, s.grade, s.counts, s.defect_rate) for s in rows]


def day_rows(session: Session) -> list[tuple[Any, ...]]:
    session.expire_all()
    table = ScorecardDay.__table__
    return [tuple(row) for row in session.execute(sa.select(table).order_by(*table.primary_key.columns))]


def test_rebuild_counts_each_category_and_grades_the_seller(session, post_events, clock) -> None:
    assert post_events({"events": twelve_orders()}).status_code == 200
    now = datetime(2026, 10, 8, 12, tzinfo=KST)
    clock.set(now)
    summary = build.rebuild(session, now=now, actor=SCHEDULER)
    session.commit()
    assert summary["sellers"] == 1 and summary["snapshots"] == 1
    categories = {row.category: row for row in session.scalars(sa.select(ScorecardDay))}
    assert {row.category for row in categories.values()} == {"", "digital", "fashion"}
    assert sum(row.orders for row in categories.values()) == 12
    card = {s.window_days: s for s in session.scalars(sa.select(ScorecardSnapshot))}
    month = card[30]
    assert month.orders == 12
    assert month.seller_cancel_rate == 1 / 12
    assert month.late_shipment_rate == 3 / 12
    # Shipped 28 Sep after payment on 21, 22 or 23 Sep: 3, 2 or 1 business days (24–26 Sep are Chuseok).
    assert month.lead_days_p90 is not None
    # Seven days back from 8 Oct reaches 2 Oct: none of these orders.
    assert card[7].orders == 0
    # 1 seller cancellation in 12 orders is 8.3 %: over the 2.5 % standard limit.
    assert month.grade == "below_standard"
    assert {reason["metric"] for reason in month.grade_reasons} >= {"seller_cancel_rate", "late_shipment_rate"}
    assert (
        session.scalar(
            sa.select(sa.func.count()).select_from(AuditRecord).where(AuditRecord.action == "scorecard.rebuild")
        )
        == 1
    )


def test_incremental_updates_give_what_a_rebuild_gives(session, post_events, clock) -> None:
    events = twelve_orders("S-1") + twelve_orders("S-2")
    first, rest = events[:14], events[14:]
    day = datetime(2026, 9, 28, 20, tzinfo=KST)
    clock.set(day)
    assert post_events({"events": first}).status_code == 200
    build.refresh(session, now=day, actor=SCHEDULER)  # the first run rebuilds
    session.commit()
    # The rest arrive over two days; the update runs after each part, the second after midnight.
    assert post_events({"events": rest[:10]}).status_code == 200
    build.refresh(session, now=day + timedelta(hours=1), actor=SCHEDULER)
    session.commit()
    assert post_events({"events": rest[10:]}).status_code == 200
    summary = build.refresh(session, now=day + timedelta(days=1, hours=1), actor=SCHEDULER)
    session.commit()
    assert summary["touched"] > 0
    incremental_rows, incremental_snapshots = day_rows(session), snapshots(session)
    build.rebuild(session, now=day + timedelta(days=1, hours=1), actor=SCHEDULER)
    session.commit()
    assert day_rows(session) == incremental_rows
    # The rebuild rewrites today's snapshots only; they match, and yesterday's stays as the update left it.
    rebuilt = snapshots(session)
    assert [row for row in rebuilt if row[1].day == 29] == [row for row in incremental_snapshots if row[1].day == 29]
    assert {row[1].day for row in incremental_snapshots} == {28, 29}


def test_an_event_committed_after_a_later_one_was_read_is_still_counted(session, post_events, clock) -> None:
    """The update re-reads from the run before the last: a slow transaction's event is not skipped."""
    now = datetime(2026, 10, 8, 12, tzinfo=KST)
    clock.set(now)
    post_events({"events": twelve_orders()[:12]})
    build.rebuild(session, now=now, actor=SCHEDULER)
    session.commit()
    post_events({"events": [shipped_event("S-1-O11-ship", "S-1-O11", occurred_at=at(9, 28))]})
    # Pretend the update ran once already past this event (as if it had read a later id first).
    build.refresh(session, now=now + timedelta(minutes=15), actor=SCHEDULER)
    session.commit()
    build.refresh(session, now=now + timedelta(minutes=30), actor=SCHEDULER)
    session.commit()
    rows = day_rows(session)
    build.rebuild(session, now=now + timedelta(minutes=30), actor=SCHEDULER)
    session.commit()
    assert day_rows(session) == rows


def test_after_three_days_down_the_update_snapshots_each_missed_day(session, post_events, clock) -> None:
    now = datetime(2026, 10, 5, 12, tzinfo=KST)
    clock.set(now)
    post_events({"events": twelve_orders()})
    build.refresh(session, now=now, actor=SCHEDULER)
    session.commit()
    build.refresh(session, now=now + timedelta(days=3), actor=SCHEDULER)
    session.commit()
    days = sorted({row[1].isoformat() for row in snapshots(session)})
    assert days == ["2026-10-05", "2026-10-06", "2026-10-07", "2026-10-08"]


def test_a_new_grade_policy_applies_from_the_next_snapshot(session, post_events, clock, make_user) -> None:
    now = datetime(2026, 10, 8, 12, tzinfo=KST)
    clock.set(now)
    post_events({"events": twelve_orders()})
    build.rebuild(session, now=now, actor=SCHEDULER)
    supervisor = make_user(Role.SUPERVISOR)
    document = {
        "min_orders": 20,
        "min_orders_window_days": 90,
        "limits": {"defect_rate": {"window_days": 90, "top_rated_percent": 0.5, "standard_percent": 2.0}},
    }
    publish_policy(session, SCORECARD, document, note="more orders", actor=Actor.for_user(supervisor), now=now)
    build.rebuild(session, now=now, actor=SCHEDULER)
    session.commit()
    snapshot = session.scalar(sa.select(ScorecardSnapshot).where(ScorecardSnapshot.window_days == 90))
    assert (snapshot.grade, snapshot.policy_version) == ("not_enough_data", 1)
    assert snapshot.grade_reasons == [{"metric": "orders", "value": 12, "limit": 20, "window_days": 90}]


def test_the_api_shows_a_seller_its_own_card_and_staff_any(
    session, client, post_events, clock, make_user, make_api_key
) -> None:
    now = datetime(2026, 10, 8, 12, tzinfo=KST)
    clock.set(now)
    post_events({"events": twelve_orders("S-1") + twelve_orders("S-2")})
    build.rebuild(session, now=now, actor=SCHEDULER)
    session.commit()
    seller_user = make_user(Role.SELLER, seller=get_seller_by_external_id(session, "S-1"))
    login(client, seller_user)
    mine = client.get("/api/v1/sellers/S-1/scorecard")
    assert mine.status_code == 200
    body = mine.get_json()
    assert body["grade"] == "below_standard"
    assert [window["window_days"] for window in body["windows"]] == [7, 30, 90]
    assert body["windows"][1]["orders"] == 12
    assert {category["category"] for category in body["categories"]} == {"", "digital", "fashion"}
    assert body["trend"][0]["day"] == "2026-10-08"
    assert client.get("/api/v1/sellers/S-2/scorecard").status_code == 404
    assert client.get("/api/v1/scorecards").status_code == 403
    _key, secret = make_api_key("scorecard:read", name="seller-centre")
    listing = client.get("/api/v1/scorecards?metric=late_shipment_rate&window=30", headers=bearer(secret))
    assert listing.status_code == 200
    assert listing.get_json()["total"] == 2
    bad = client.get("/api/v1/scorecards?metric=speed", headers=bearer(secret))
    assert bad.status_code == 422
    assert bad.content_type.startswith("application/problem+json")
    assert "metric" in str(bad.get_json())
    assert client.get("/api/v1/sellers/NOPE/scorecard", headers=bearer(secret)).status_code == 404


def test_a_seller_whose_orders_left_the_windows_gets_an_empty_card_not_its_old_grade(
    session, post_events, clock
) -> None:
    now = datetime(2026, 12, 21, 12, tzinfo=KST)  # 90 days back reaches 23 Sep: four of the orders
    clock.set(now)
    post_events({"events": twelve_orders()})
    build.refresh(session, now=now, actor=SCHEDULER)
    session.commit()
    build.refresh(session, now=now + timedelta(days=1), actor=SCHEDULER)
    session.commit()
    by_day = {(row[1].isoformat(), row[2]): row for row in snapshots(session)}
    assert by_day[("2026-12-21", 90)][3] == 4
    empty = by_day[("2026-12-22", 90)]
    assert (empty[3], empty[4]) == (0, "not_enough_data")
