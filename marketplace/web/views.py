"""Log in, log out, choose a language, and each role's home page."""

from __future__ import annotations

from datetime import datetime, time
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from marketplace.claims import queries as claim_queries
from marketplace.compensation import queries as compensation_queries
from marketplace.core import clock
from marketplace.core import queries as core_queries
from marketplace.core.errors import Unauthorized
from marketplace.core.operations import authenticate_user
from marketplace.extensions import db, limiter
from marketplace.orders import queries as order_queries
from marketplace.sanctions import queries as sanction_queries
from marketplace.sanctions.models import Stage
from marketplace.scorecard import labels as scorecard_labels
from marketplace.scorecard import queries as scorecard_queries
from marketplace.scorecard.metrics import GRADES, NOT_ENOUGH_DATA
from marketplace.sellers import queries as seller_queries
from marketplace.web.forms import LoginForm
from marketplace.web.paging import Page, page_number
from marketplace.web.session import page_actor

auth_web = Blueprint("auth_web", __name__)
home_web = Blueprint("home_web", __name__)

PAGE_SIZE = 20


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _safe_next(target: str | None) -> str:
    # Only same-site paths: an absolute or protocol-relative URL would make the login page an open redirect.
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("home_web.home")


@auth_web.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], deduct_when=lambda response: response.status_code != 302)
def login() -> Response | tuple[str, int] | str:
    """Show the login form and check what was typed."""
    form = LoginForm()
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(url_for("home_web.home"))
        form.next.data = request.args.get("next", "")
        return render_template("auth/login.html", form=form)
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 422
    try:
        user = authenticate_user(db.session, form.email.data, form.password.data, now=clock.now())
    except Unauthorized as exc:
        db.session.rollback()
        return render_template("auth/login.html", form=form, login_error=str(exc.detail)), 401
    db.session.commit()
    login_user(user)
    session.pop("lang", None)
    return redirect(_safe_next(form.next.data))


@auth_web.route("/logout", methods=["POST"])
def logout() -> Response:
    """End the session (CSRFProtect has already checked the form's token)."""
    logout_user()
    return redirect(url_for("auth_web.login"))


@auth_web.route("/language/<code>")
def language(code: str) -> Response:
    """Switch the language of the pages for this browser session."""
    if code in current_app.config["LANGUAGES"]:
        session["lang"] = code
    return redirect(_safe_next(request.args.get("next")))


@home_web.route("/")
@login_required
def home() -> str:
    """Each role's home: staff see the platform at a glance, sellers and buyers their orders."""
    actor = page_actor()
    if actor.is_staff:
        return _dashboard()
    number = page_number()
    orders_page, total = order_queries.recent_orders(
        db.session, actor, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE
    )
    return render_template(
        "web/home_party.html",
        orders=orders_page,
        page=Page(number, PAGE_SIZE, total),
        title=_("My orders") if actor.buyer_id else _("Orders"),
    )


@home_web.route("/healthz")
def health() -> tuple[dict[str, str], int]:
    """Liveness and database reachability, for load balancers."""
    if not core_queries.database_reachable(db.session):
        return {"status": "database unreachable"}, 503
    return {"status": "ok"}, 200


def _dashboard() -> str:
    """The staff dashboard: the platform's size, open claims by time to breach, today's breaches."""
    now = clock.now()
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    local = now.astimezone(zone)
    today = datetime.combine(local.date(), time.min, zone)
    month_start = datetime.combine(local.date().replace(day=1), time.min, zone)
    buyers, orders = order_queries.count_buyers_and_orders(db.session)
    records, _total = core_queries.recent_audit_records(db.session, limit=10)
    sellers = seller_queries.count_sellers(db.session)
    by_stage = sanction_queries.sellers_by_stage(db.session)
    by_stage[Stage.NONE] += sellers - sum(by_stage.values())  # sellers that never had a violation or sanction
    tones = {Stage.NONE: "ok", Stage.NOTICE: "muted", Stage.WARNING: "warning"}
    scorecard_day = scorecard_queries.latest_day(db.session)
    grades = None  # before the first scorecard there is no grade to count
    if scorecard_day is not None:
        by_grade = scorecard_queries.grade_distribution(db.session, scorecard_day)
        # Sellers without a snapshot that day had no order in the 90 days: not enough data for a grade.
        by_grade[NOT_ENOUGH_DATA] += max(0, sellers - sum(by_grade.values()))
        grades = [
            (scorecard_labels.grade_label(grade), by_grade[grade], scorecard_labels.grade_tone(grade))
            for grade in GRADES
        ]
    return render_template(
        "web/home_staff.html",
        sellers=sellers,
        stages=[(stage.label, by_stage[stage], tones.get(stage, "danger")) for stage in Stage],
        grades=grades,
        buyers=buyers,
        orders=orders,
        buckets=claim_queries.open_claims_by_time_to_breach(db.session, now=now),
        breaches=claim_queries.breaches_between(db.session, today, now),
        money=compensation_queries.month_totals(db.session, month_start, now, local.strftime("%Y-%m")),
        records=records,
    )
