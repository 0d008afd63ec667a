"""REST: who am I, the business calendar, deadlines."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_babel import get_locale
from flask_smorest import Blueprint

from marketplace.core import clock, operations, queries
from marketplace.core.auth import ActorKind
from marketplace.core.errors import Unauthorized
from marketplace.core.permissions import MANAGE_CALENDAR, READ_CALENDAR, authorize
from marketplace.core.schemas import (
    DeadlineQueryArgsSchema,
    DeadlineSchema,
    HolidayCreateSchema,
    HolidayQueryArgsSchema,
    HolidaySchema,
    MeSchema,
)
from marketplace.extensions import db
from marketplace.web.session import api_actor

blp = Blueprint("core_api", __name__, description="Identity and the business calendar")


@blp.route("/me")
class Me(MethodView):
    """The caller."""

    @blp.response(200, MeSchema)
    def get(self) -> dict[str, Any]:
        """Show who the credentials belong to and what they may do."""
        actor = api_actor()
        if actor.kind is ActorKind.ANONYMOUS:
            raise Unauthorized("Log in or send an API key to use this.")
        return {
            "kind": actor.kind.value,
            "id": actor.id,
            "name": actor.name,
            "role": actor.role.value if actor.role else None,
            "seller_id": actor.seller_id,
            "buyer_id": actor.buyer_id,
            "scopes": sorted(actor.scopes),
        }


def _calendar():
    return queries.load_calendar(db.session, current_app.config["TIMEZONE"])


@blp.route("/calendar/holidays")
class Holidays(MethodView):
    """Public holidays and the platform's own closed days."""

    @blp.arguments(HolidayQueryArgsSchema, location="query")
    @blp.response(200, HolidaySchema(many=True))
    @blp.alt_response(403, response="FORBIDDEN")
    def get(self, args: dict[str, date]) -> list[dict[str, Any]]:
        """List the non-business days (other than weekends) in a date range."""
        authorize(api_actor(), READ_CALENDAR)
        calendar = _calendar()
        korean = calendar.holidays_between(args["start"], args["end"], language="ko")
        english = {holiday.day: holiday.name for holiday in calendar.holidays_between(args["start"], args["end"], "en")}
        wants_english = str(get_locale()) == "en"
        return [
            {
                "date": holiday.day,
                "name": english[holiday.day] if wants_english else holiday.name,
                "name_ko": holiday.name,
                "name_en": english[holiday.day],
                "source": holiday.source,
            }
            for holiday in korean
        ]

    @blp.arguments(HolidayCreateSchema)
    @blp.response(201, HolidaySchema)
    @blp.alt_response(403, response="FORBIDDEN")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Add a platform holiday; deadlines computed afterwards skip it."""
        actor = api_actor()
        authorize(actor, MANAGE_CALENDAR)
        holiday = operations.add_platform_holiday(
            db.session, data["date"], name=data["name"], actor=actor, now=clock.now()
        )
        db.session.commit()
        return {
            "date": holiday.day,
            "name": holiday.name,
            "name_ko": holiday.name,
            "name_en": holiday.name,
            "source": "platform",
        }


@blp.route("/calendar/holidays/<isodate:day>")
class Holiday(MethodView):
    """One platform holiday."""

    @blp.response(204)
    @blp.alt_response(403, response="FORBIDDEN")
    @blp.alt_response(404, response="NOT_FOUND")
    def delete(self, day: date) -> None:
        """Remove a platform holiday (public holidays cannot be removed)."""
        actor = api_actor()
        authorize(actor, MANAGE_CALENDAR)
        operations.remove_platform_holiday(db.session, day, actor=actor, now=clock.now())
        db.session.commit()


@blp.route("/calendar/deadline")
class Deadline(MethodView):
    """Deadline arithmetic in business days."""

    @blp.arguments(DeadlineQueryArgsSchema, location="query")
    @blp.response(200, DeadlineSchema)
    @blp.alt_response(403, response="FORBIDDEN")
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Compute when N business days after an instant end (23:59:59 Asia/Seoul on the N-th business day)."""
        authorize(api_actor(), READ_CALENDAR)
        calendar = _calendar()
        deadline = calendar.add_business_days(args["start"], args["business_days"]).astimezone(calendar.tz)
        return {"start": args["start"], "business_days": args["business_days"], "deadline": deadline}
