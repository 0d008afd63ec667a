"""REST: a seller's scorecard (its own to a seller's user, any to staff and the marketplace) and the ranking."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from flask.views import MethodView
from flask_babel import lazy_gettext as _l
from flask_smorest import Blueprint
from marshmallow import RAISE

from marketplace.core.errors import NotFound
from marketplace.core.permissions import authorize
from marketplace.extensions import db
from marketplace.scorecard import queries
from marketplace.scorecard.permissions import RANK_SELLERS, READ_SCORECARD
from marketplace.scorecard.schemas import RankArgsSchema, RankPageSchema, ScorecardSchema, card_out, ranked_out
from marketplace.sellers.queries import get_seller_by_external_id
from marketplace.web.session import api_actor

blp = Blueprint("scorecard_api", __name__, description="Seller scorecards: figures per window, grade, trend, ranking")


@blp.route("/sellers/<string:seller_id>/scorecard")
class ScorecardResource(MethodView):
    """A seller's scorecard."""

    @blp.alt_response(HTTPStatus.UNAUTHORIZED, response="UNAUTHORIZED")
    @blp.alt_response(HTTPStatus.FORBIDDEN, response="FORBIDDEN")
    @blp.alt_response(HTTPStatus.NOT_FOUND, response="NOT_FOUND")
    @blp.response(200, ScorecardSchema)
    def get(self, seller_id: str) -> dict[str, Any]:
        """The seller's figures over 7, 30 and 90 days, its grade and why, its categories and its 30-day trend."""
        actor = api_actor()
        authorize(actor, READ_SCORECARD)
        seller = get_seller_by_external_id(db.session, seller_id)
        if seller is None:
            raise NotFound(_l("Not found."))
        authorize(actor, READ_SCORECARD, seller)
        return card_out(queries.read_card(db.session, seller))


@blp.route("/scorecards")
class Scorecards(MethodView):
    """Sellers ranked by a metric."""

    @blp.arguments(RankArgsSchema, location="query", unknown=RAISE)
    @blp.alt_response(HTTPStatus.UNAUTHORIZED, response="UNAUTHORIZED")
    @blp.alt_response(HTTPStatus.FORBIDDEN, response="FORBIDDEN")
    @blp.response(200, RankPageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Sellers on the newest snapshot day ranked by any metric over a window, optionally of some grades (staff)."""
        authorize(api_actor(), RANK_SELLERS)
        rows, total, day = queries.rank_sellers(
            db.session,
            metric=args["metric"],
            window_days=args["window"],
            descending=args["order"] == "desc",
            grades=args["grade"],
            limit=args["page_size"],
            offset=(args["page"] - 1) * args["page_size"],
        )
        return {
            "day": day,
            "items": [ranked_out(seller, snapshot) for seller, snapshot in rows],
            "page": args["page"],
            "page_size": args["page_size"],
            "total": total,
        }
