"""REST: mass incidents — declare, select the affected orders, preview, start the run, follow it, report."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from flask.views import MethodView
from flask_babel import lazy_gettext as _l
from flask_smorest import Blueprint
from marshmallow import RAISE

from marketplace.core import clock
from marketplace.core.auth import Actor
from marketplace.core.errors import NotFound
from marketplace.core.permissions import authorize
from marketplace.extensions import db
from marketplace.incidents import operations, queries
from marketplace.incidents.models import Incident
from marketplace.incidents.permissions import MANAGE_INCIDENT, READ_INCIDENT
from marketplace.incidents.schemas import (
    IncidentCreateSchema,
    IncidentPageSchema,
    IncidentSchema,
    PageArgsSchema,
    PreviewSchema,
    ProgressSchema,
    ReportSchema,
    SelectionCreateSchema,
)
from marketplace.web.session import api_actor

blp = Blueprint("incidents_api", __name__, description="Mass incidents and their bulk compensation")
_SEE = (HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND)
_ACT = (*_SEE, HTTPStatus.CONFLICT)


def _problems(*statuses: HTTPStatus) -> Any:
    def decorate(view: Any) -> Any:
        for status in statuses:
            view = blp.alt_response(status, response=status.name)(view)
        return view

    return decorate


def _incident_for(permission: Any, incident_id: int, *, for_update: bool = False) -> tuple[Actor, Incident]:
    actor = api_actor()
    authorize(actor, READ_INCIDENT)
    authorize(actor, permission)
    incident = queries.get_incident(db.session, incident_id, for_update=for_update)
    if incident is None:
        raise NotFound(_l("Not found."))
    return actor, incident


@blp.route("/incidents")
class Incidents(MethodView):
    """Mass incidents."""

    @blp.arguments(PageArgsSchema, location="query", unknown=RAISE)
    @_problems(HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN)
    @blp.response(200, IncidentPageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List incidents, newest first (staff)."""
        authorize(api_actor(), READ_INCIDENT)
        page, size = args["page"], args["page_size"]
        items, total = queries.list_incidents(db.session, limit=size, offset=(page - 1) * size)
        return {"items": items, "page": page, "page_size": size, "total": total}

    @blp.arguments(IncidentCreateSchema)
    @_problems(HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN)
    @blp.response(201, IncidentSchema)
    def post(self, data: dict[str, Any]) -> Incident:
        """Declare an incident: cause, fault, public explanation (ko, en) and compensation rule (supervisors)."""
        actor = api_actor()
        authorize(actor, MANAGE_INCIDENT)
        incident = operations.declare_incident(db.session, **data, actor=actor, now=clock.now())
        db.session.commit()
        return incident


@blp.route("/incidents/<int:incident_id>")
class IncidentResource(MethodView):
    """One incident."""

    @_problems(*_SEE)
    @blp.response(200, IncidentSchema)
    def get(self, incident_id: int) -> Incident:
        """Show an incident with its rule, selection and progress counters (staff)."""
        return _incident_for(READ_INCIDENT, incident_id)[1]


@blp.route("/incidents/<int:incident_id>/selection")
class Selection(MethodView):
    """The affected orders."""

    @blp.arguments(SelectionCreateSchema)
    @_problems(*_ACT)
    @blp.response(200, PreviewSchema)
    def put(self, data: dict[str, Any], incident_id: int) -> dict[str, Any]:
        """Select the affected orders by filters or a list of order ids, replacing any earlier selection."""
        actor, incident = _incident_for(MANAGE_INCIDENT, incident_id, for_update=True)
        operations.select_orders(db.session, incident, **data, actor=actor, now=clock.now())
        db.session.commit()
        return queries.preview(db.session, incident)


@blp.route("/incidents/<int:incident_id>/preview")
class Preview(MethodView):
    """What the run would do."""

    @_problems(*_SEE)
    @blp.response(200, PreviewSchema)
    def get(self, incident_id: int) -> dict[str, Any]:
        """Count the selected orders and buyers, the total cost, and a sample of orders (staff)."""
        return queries.preview(db.session, _incident_for(READ_INCIDENT, incident_id)[1])


@blp.route("/incidents/<int:incident_id>/run")
class Run(MethodView):
    """Start the run."""

    @_problems(*_ACT, HTTPStatus.UNPROCESSABLE_ENTITY)
    @blp.response(202, ProgressSchema)
    def post(self, incident_id: int) -> dict[str, Any]:
        """Start (or resume) compensating the selection; the scheduler runs it in batches (supervisors)."""
        actor, incident = _incident_for(MANAGE_INCIDENT, incident_id, for_update=True)
        now = clock.now()
        operations.start_incident(db.session, incident, actor=actor, now=now)
        db.session.commit()
        return queries.progress(incident, now=now)


@blp.route("/incidents/<int:incident_id>/progress")
class Progress(MethodView):
    """The run's progress."""

    @_problems(*_SEE)
    @blp.response(200, ProgressSchema)
    def get(self, incident_id: int) -> dict[str, Any]:
        """How many orders are compensated so far, the rate and the time left (staff; poll it while running)."""
        return queries.progress(_incident_for(READ_INCIDENT, incident_id)[1], now=clock.now())


@blp.route("/incidents/<int:incident_id>/report")
class Report(MethodView):
    """The outcome."""

    @_problems(*_SEE)
    @blp.response(200, ReportSchema)
    def get(self, incident_id: int) -> dict[str, Any]:
        """Orders, buyers, total compensation by form, and the notices written, sent and failed (staff)."""
        return queries.incident_report(db.session, _incident_for(READ_INCIDENT, incident_id)[1])
