"""Scorecard pages: the staff's ranking of sellers by any metric (and its CSV), and the seller's own scorecard.

A card shows the grade and why, the figures over 7, 30 and 90 days, each category's figures and the trend of the
30-day rates over the last 90 days in SVG. The staff seller page and the claim page show the same card and a
one-line summary through the template globals installed here.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask import Blueprint, Response, render_template, request
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from marketplace.core import clock
from marketplace.core.errors import NotFound
from marketplace.core.permissions import authorize, can
from marketplace.extensions import db
from marketplace.scorecard import labels, queries
from marketplace.scorecard.metrics import GRADES
from marketplace.scorecard.models import WINDOWS, ScorecardSnapshot
from marketplace.scorecard.permissions import RANK_SELLERS, READ_SCORECARD
from marketplace.scorecard.policy import GradePolicy, current_grade_policy
from marketplace.sellers.models import Seller
from marketplace.web.paging import Page, page_number
from marketplace.web.session import page_actor

scorecard_staff = Blueprint("scorecard_staff", __name__, url_prefix="/staff")
scorecard_seller = Blueprint("scorecard_seller", __name__, url_prefix="/seller/scorecard")

PAGE_SIZE = 50
DEFAULT_METRIC = "defect_rate"
DEFAULT_WINDOW = max(WINDOWS)
# The figures every ranking row shows (the metric ranked by is added when it is not one of them).
RANK_COLUMNS = (
    "orders",
    "defect_rate",
    "seller_cancel_rate",
    "late_shipment_rate",
    "claim_rate",
    "response_compliance",
    "lead_days_avg",
    "active_points",
)
# The rows of a card's table of windows, in the order a seller reads them.
WINDOW_ROWS = (
    "orders",
    "seller_cancel_rate",
    "late_shipment_rate",
    "lead_days_avg",
    "lead_days_p90",
    "refund_days_avg",
    "overdue_refund_days_avg",
    "claim_rate",
    "defect_rate",
    "response_compliance",
    "counterfeit_claims",
    "active_points",
)
# The columns of a card's table of categories.
CATEGORY_COLUMNS = ("orders", "defect_rate", "seller_cancel_rate", "late_shipment_rate", "claim_rate", "lead_days_avg")
# The rates a card draws the trend of.
TREND_METRICS = ("defect_rate", "late_shipment_rate", "seller_cancel_rate")


# Ranking ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Choice:
    """What the ranking is asked for, and what in the query was not understood (shown, then the default used)."""

    metric: str
    window_days: int
    order: str
    grades: list[str]
    problems: list[str]

    @property
    def descending(self) -> bool:
        return self.order == "desc"


def read_choice(args: MultiDict[str, str]) -> Choice:
    """The ranking's metric, window, order and grades from a query string; each unreadable value is reported."""
    problems: list[str] = []
    metric = args.get("metric") or DEFAULT_METRIC
    if metric not in queries.RANKABLE:
        problems.append(
            _(
                "There is no metric “%(value)s”: ranked by %(metric)s instead.",
                value=metric,
                metric=labels.metric_label(DEFAULT_METRIC),
            )
        )
        metric = DEFAULT_METRIC
    raw_window = args.get("window") or str(DEFAULT_WINDOW)
    window = int(raw_window) if raw_window.isdigit() and int(raw_window) in WINDOWS else None
    if window is None:
        problems.append(
            _(
                "There is no %(value)s-day window (7, 30 or 90): %(days)d days shown.",
                value=raw_window,
                days=DEFAULT_WINDOW,
            )
        )
        window = DEFAULT_WINDOW
    default_order = "asc" if metric in labels.LOW_IS_WORSE else "desc"
    order = args.get("order") or default_order
    if order not in ("asc", "desc"):
        problems.append(_("The order is “asc” or “desc”: the usual order is shown."))
        order = default_order
    wanted = args.getlist("grade")
    grades = [grade for grade in wanted if grade in GRADES]
    unknown = [grade for grade in wanted if grade and grade not in GRADES]
    if unknown:
        problems.append(_("Unknown grade ignored: %(values)s.", values=", ".join(unknown)))
    return Choice(metric=metric, window_days=window, order=order, grades=grades, problems=problems)


def _columns(metric: str) -> list[str]:
    return list(RANK_COLUMNS) if metric in RANK_COLUMNS else [*RANK_COLUMNS, metric]


def _csv_args(choice: Choice) -> dict[str, Any]:
    """The CSV link's query: the filters the page shows (a value the page did not understand is not passed on)."""
    return {"metric": choice.metric, "window": choice.window_days, "order": choice.order, "grade": choice.grades}


@scorecard_staff.get("/scorecards/")
@login_required
def ranking() -> tuple[str, int]:
    """Sellers on the newest snapshot day ranked by a metric over a window, of the grades chosen; 50 a page."""
    authorize(page_actor(), RANK_SELLERS)
    choice = read_choice(request.args)
    number = page_number()
    rows, total, day = queries.rank_sellers(
        db.session,
        metric=choice.metric,
        window_days=choice.window_days,
        descending=choice.descending,
        grades=choice.grades,
        limit=PAGE_SIZE,
        offset=(number - 1) * PAGE_SIZE,
    )
    page = render_template(
        "scorecard/staff/ranking.html",
        rows=rows,
        day=day,
        choice=choice,
        columns=_columns(choice.metric),
        metrics=[(metric, labels.metric_label(metric)) for metric in queries.RANKABLE],
        grades=[(grade, labels.grade_label(grade)) for grade in GRADES],
        windows=WINDOWS,
        page=Page(number, PAGE_SIZE, total),
        csv_args=_csv_args(choice),
    )
    return page, 400 if choice.problems else 200


def _cell(text: str) -> str:
    """A text cell Excel will not read as a formula."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_number(metric: str, value: Any) -> Any:
    if value is None:
        return ""
    if metric in labels.RATES:
        return round(value * 100, 2)
    if metric in labels.DAYS:
        return round(value, 2)
    return value


def csv_header() -> list[str]:
    """The CSV's first row, in the reader's language."""
    metrics = [
        _("%(metric)s (%%)", metric=labels.metric_label(metric))
        if metric in labels.RATES
        else labels.metric_label(metric)
        for metric in queries.RANKABLE
    ]
    return [_("Rank"), _("Seller id"), _("Seller"), _("Grade"), _("Reasons"), *metrics, _("Day"), _("Window, days")]


def csv_rows(rows: Iterable[tuple[Seller, ScorecardSnapshot]]) -> Iterable[list[Any]]:
    """A CSV row per ranked seller: rates as percent numbers, averages to two decimals, empty where none."""
    for rank, (seller, snapshot) in enumerate(rows, start=1):
        yield [
            rank,
            _cell(seller.external_id),
            _cell(seller.name),
            labels.grade_label(snapshot.grade),
            labels.reasons_text(snapshot.grade_reasons),
            *(_csv_number(metric, getattr(snapshot, metric)) for metric in queries.RANKABLE),
            snapshot.day.isoformat(),
            snapshot.window_days,
        ]


@scorecard_staff.get("/scorecards.csv")
@login_required
def ranking_csv() -> Response | tuple[str, int]:
    """The whole ranking with the page's filters as a CSV file (UTF-8 with a BOM, so that Excel reads Korean)."""
    authorize(page_actor(), RANK_SELLERS)
    choice = read_choice(request.args)
    if choice.problems:
        # A file with other filters than asked would mislead: the problem is shown instead.
        return render_template(
            "web/error.html", status=400, title=_("Bad request"), detail=" ".join(choice.problems)
        ), 400
    rows, _total, day = queries.rank_sellers(
        db.session,
        metric=choice.metric,
        window_days=choice.window_days,
        descending=choice.descending,
        grades=choice.grades,
        limit=None,
    )
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(csv_header())
    writer.writerows(csv_rows(rows))
    name = f"scorecards-{(day or queries.today(db.session, clock.now())).isoformat()}.csv"
    return Response(
        buffer.getvalue().encode("utf-8"),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename={name}"},
    )


# A card ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrendChart:
    """One rate's trend ready to draw: points placed on 0…1 along the days, the y-axis ticks, the limit."""

    chart_id: str
    title: str
    # (x from 0 to 1, value in percent or None, the day, the value as text)
    points: list[tuple[float, float | None, str, str]]
    ticks: list[tuple[float, str]]
    x_labels: list[tuple[float, str]]
    limit: tuple[float, str] | None
    note: str


def axis_ticks(top: float) -> list[float]:
    """Round y-axis ticks from 0 up to at least ``top`` (four or five steps of 1, 2, 2.5 or 5 times a power of 10)."""
    top = top if top > 0 else 1.0
    raw = top / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(factor * magnitude for factor in (1, 2, 2.5, 5, 10) if factor * magnitude >= raw - 1e-12)
    count = max(1, math.ceil(top / step - 1e-9))
    return [round(step * index, 6) for index in range(count + 1)]


def trend_chart(
    metric: str, trend: list[ScorecardSnapshot], end: date, policy: GradePolicy, *, prefix: str = "trend"
) -> TrendChart:
    """The chart of ``metric`` (a rate) over the trend's snapshots, the 90 days up to ``end``."""
    span = queries.TREND_DAYS - 1
    start = end - timedelta(days=span)
    points = []
    for snapshot in trend:
        value = getattr(snapshot, metric)
        percent = None if value is None else value * 100
        points.append(
            (
                min(1.0, max(0.0, (snapshot.day - start).days / span)),
                percent,
                snapshot.day.isoformat(),
                labels.percent(percent) if percent is not None else _("no orders"),
            )
        )
    window = trend[0].window_days if trend else 30
    limit = next((rule for rule in policy.limits if rule.metric == metric), None)
    drawn = limit if limit is not None and limit.window_days == window else None
    values = [value for _x, value, _day, _text in points if value is not None]
    top = max([*values, drawn.standard_percent if drawn else 0.0]) * 1.15
    ticks = axis_ticks(top)
    note = ""
    if limit is not None and drawn is None:
        note = _(
            "The grade's limit, %(limit)s, applies over %(days)d days.",
            limit=labels.percent(limit.standard_percent, decimals=False),
            days=limit.window_days,
        )
    middle = start + timedelta(days=span // 2)
    return TrendChart(
        chart_id=f"{prefix}-{metric}",
        title=_(
            "%(metric)s over %(window)d days, day by day for the last %(days)d days",
            metric=labels.metric_label(metric),
            window=window,
            days=queries.TREND_DAYS,
        ),
        points=points,
        ticks=[(tick, labels.percent(tick, decimals=False)) for tick in ticks],
        x_labels=[(0.0, start.isoformat()), (0.5, middle.isoformat()), (1.0, end.isoformat())],
        limit=(
            (
                drawn.standard_percent,
                _("standard %(limit)s", limit=labels.percent(drawn.standard_percent, decimals=False)),
            )
            if drawn is not None
            else None
        ),
        note=note,
    )


def card_view(session: Session, card: queries.Card, *, prefix: str = "scorecard") -> dict[str, Any]:
    """What a card's include shows: the grade and why, each window's snapshot, the categories, the charts."""
    carrier = card.grade
    policy = current_grade_policy(session)
    return {
        "card": card,
        "grade": carrier,
        "reasons": [labels.reason_text(reason) for reason in carrier.grade_reasons] if carrier else [],
        "windows": [(days, card.windows.get(days)) for days in WINDOWS],
        "window_rows": WINDOW_ROWS,
        "categories": [
            (labels.category_label(category), [(days, by_window[days]) for days in WINDOWS if days in by_window])
            for category, by_window in sorted(card.categories.items(), key=lambda item: (item[0] == "", item[0]))
        ],
        "category_columns": CATEGORY_COLUMNS,
        "charts": [trend_chart(metric, card.trend, card.day, policy, prefix=prefix) for metric in TREND_METRICS]
        if card.day is not None
        else [],
        "prefix": prefix,
    }


def staff_card(seller: Seller) -> dict[str, Any] | None:
    """The card of ``seller`` for a staff page (template global), or None when the viewer may not read it."""
    actor = page_actor()
    if not actor.is_staff or not can(actor, READ_SCORECARD, seller):
        return None
    return card_view(db.session, queries.read_card(db.session, seller))


def staff_summary(seller_id: int) -> ScorecardSnapshot | None:
    """The newest 90-day snapshot of a seller for the claim page's seller box (template global), for staff."""
    actor = page_actor()
    return queries.summary_of(db.session, seller_id) if actor.is_staff else None


# Seller portal ---------------------------------------------------------------------------------------------------


@scorecard_seller.get("/")
@login_required
def own_scorecard() -> str:
    """The seller's grade and why, its figures per window and category, and the trend of its rates."""
    actor = page_actor()
    seller = db.session.get(Seller, actor.seller_id) if actor.seller_id is not None else None
    if seller is None:
        raise NotFound(_("Not found."))
    authorize(actor, READ_SCORECARD, seller)
    return render_template(
        "scorecard/seller/scorecard.html",
        seller=seller,
        view=card_view(db.session, queries.read_card(db.session, seller)),
    )


@scorecard_staff.record_once
def _install_helpers(state: BlueprintSetupState) -> None:
    """Scorecard words, and the card and summary for the pages of other domains, as template globals."""
    state.app.jinja_env.globals.update(
        scorecard_grade_label=labels.grade_label,
        scorecard_grade_tone=labels.grade_tone,
        scorecard_metric_label=labels.metric_label,
        scorecard_value=labels.metric_value,
        scorecard_counts=labels.rate_counts,
        scorecard_percent=labels.percent,
        scorecard_reasons=labels.reasons_text,
        scorecard_card=staff_card,
        scorecard_summary=staff_summary,
    )
