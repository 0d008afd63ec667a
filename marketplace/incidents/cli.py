"""`marketplace incidents …`: declare, select, preview, run (with a progress bar) and report mass incidents."""

from __future__ import annotations

import csv
import functools
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from flask.cli import AppGroup

from marketplace.core import clock
from marketplace.core.auth import Actor
from marketplace.core.errors import DomainError
from marketplace.core.money import format_won
from marketplace.extensions import db
from marketplace.incidents import operations, queries
from marketplace.incidents.jobs import run_incident
from marketplace.incidents.models import Incident

INCIDENTS = Actor.system("incidents")

incidents_cli = AppGroup("incidents", help="Mass incidents: declare, select, preview, run, report.")


def domain_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """A refused operation: one readable line, exit code 1, nothing changed (as ``marketplace.cli``)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DomainError as exc:
            db.session.rollback()
            field = f" ({exc.field})" if exc.field else ""
            raise click.ClickException(f"{exc.detail}{field}") from None

    return wrapper


class AwareDateTime(click.ParamType):
    """An ISO 8601 date-time with an offset."""

    name = "datetime"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        """Parse the value or fail with a readable message."""
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 date-time", param, ctx)
        if parsed.tzinfo is None:
            self.fail(f"{value!r} has no offset (e.g. 2026-09-23T00:00:00+09:00)", param, ctx)
        return parsed


def _incident(incident_id: int, *, for_update: bool = False) -> Incident:
    incident = queries.get_incident(db.session, incident_id, for_update=for_update)
    if incident is None:
        raise click.ClickException(f"No incident has the id {incident_id}.")
    return incident


def _echo_preview(preview: dict[str, Any]) -> None:
    click.echo(
        f"Incident {preview['incident_id']}: {preview['orders']} order(s) of {preview['buyers']} buyer(s)"
        f" from {preview['sellers']} seller(s); total {format_won(preview['total_amount'])} as {preview['form']}."
    )
    for line in preview["sample"]:
        click.echo(f"  {line['order_id']}  {format_won(line['order_amount']):>14} → {format_won(line['amount'])}")


@incidents_cli.command("declare")
@click.option("--title-ko", required=True)
@click.option("--title-en", required=True)
@click.option("--cause", required=True)
@click.option("--platform-at-fault/--seller-at-fault", required=True, help="Whether the platform caused it.")
@click.option("--explanation-ko", required=True, help="The public explanation sent to every buyer.")
@click.option("--explanation-en", required=True)
@click.option("--form", type=click.Choice(["points", "coupon", "cash"]), required=True)
@click.option("--percent", help="Percent of each order, e.g. 10.")
@click.option("--minimum", type=click.IntRange(0), help="Won.")
@click.option("--cap", type=click.IntRange(0), help="Won.")
@click.option("--amount", type=click.IntRange(1), help="A fixed amount in won instead of a percentage.")
@domain_errors
def declare(form: str, percent: str | None, minimum: int | None, cap: int | None, amount: int | None, **texts: Any):
    """Declare a mass incident and its compensation rule."""
    if (percent is None) == (amount is None):
        raise click.UsageError("Give either --percent or --amount.")
    if amount is not None:
        rule: dict[str, Any] = {"form": form, "method": "fixed", "amount": amount}
    else:
        rule = {"form": form, "method": "percent_of_order", "percent": percent, "minimum": minimum, "cap": cap}
    with db.transaction() as session:
        incident = operations.declare_incident(session, **texts, rule=rule, actor=INCIDENTS, now=clock.now())
    click.echo(
        f"Incident {incident.id} declared: {incident.title_en}. Next: marketplace incidents select {incident.id}"
    )


@incidents_cli.command("select")
@click.argument("incident_id", type=int)
@click.option("--seller", "sellers", multiple=True, help="A marketplace seller id (repeat for several).")
@click.option("--sku", "skus", multiple=True, help="A SKU in the order's items (repeat for several).")
@click.option("--paid-from", type=AwareDateTime(), help="Paid at or after (ISO 8601 with offset).")
@click.option("--paid-to", type=AwareDateTime(), help="Paid before.")
@click.option("--coupon-code")
@click.option("--campaign")
@click.option(
    "--order-ids",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file of order ids: one per line, or a CSV whose first column is the order id.",
)
@domain_errors
def select(incident_id: int, order_ids: Path | None, **filters: Any) -> None:
    """Select the orders the incident hit (every filter given must match), replacing any earlier selection."""
    ids = _read_order_ids(order_ids) if order_ids is not None else None
    with db.transaction() as session:
        incident = _incident(incident_id, for_update=True)
        result = operations.select_orders(session, incident, **filters, order_ids=ids, actor=INCIDENTS, now=clock.now())
    if result["unknown_order_ids"]:
        click.echo(f"{result['unknown_order_ids']} order id(s) in the file are unknown and were skipped.", err=True)
    _echo_preview(queries.preview(db.session, _incident(incident_id)))


def _read_order_ids(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as stream:
        rows = [row[0].strip() for row in csv.reader(stream) if row and row[0].strip()]
    return rows[1:] if rows and rows[0].lower() in {"order_id", "id", "order"} else rows


@incidents_cli.command("preview")
@click.argument("incident_id", type=int)
def preview(incident_id: int) -> None:
    """Count the selected orders and buyers and the total cost."""
    _echo_preview(queries.preview(db.session, _incident(incident_id)))


@incidents_cli.command("run")
@click.argument("incident_id", type=int)
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=operations.DEFAULT_BATCH, show_default=True)
@domain_errors
def run(incident_id: int, batch_size: int) -> None:
    """Compensate every selected order, batch by batch with a progress bar; run it again to resume."""
    with db.transaction() as session:
        incident = _incident(incident_id, for_update=True)
        operations.start_incident(session, incident, actor=INCIDENTS, now=clock.now())
        done, total = incident.processed_orders, incident.selected_orders
    with click.progressbar(length=total, label=f"Incident {incident_id}", show_pos=True) as bar:
        bar.update(done)
        run_incident(incident_id, clock.now, actor=INCIDENTS, batch_size=batch_size, progress=bar.update)
    db.session.expire_all()
    _echo_report(queries.incident_report(db.session, _incident(incident_id)))


def _echo_report(report: dict[str, Any]) -> None:
    notices, webhooks = report["notices"], report["payout_instructions"]
    click.echo(
        f"Incident {report['incident_id']} {report['status']}: {report['orders']} of {report['selected_orders']}"
        f" order(s), {report['buyers']} buyer(s), {report['compensations']} compensation(s) totalling"
        f" {format_won(report['total_amount'])}."
    )
    click.echo(
        f"Notices: {notices['written']} written, {notices['sent']} sent, {notices['failed']} failed,"
        f" {notices['pending']} pending. Payout instructions: {webhooks['written']} written,"
        f" {webhooks['sent']} sent, {webhooks['failed']} failed."
    )


@incidents_cli.command("report")
@click.argument("incident_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def report(incident_id: int, as_json: bool) -> None:
    """Orders, buyers, total compensation, and the notices written, sent and failed."""
    result = queries.incident_report(db.session, _incident(incident_id))
    if as_json:
        click.echo(json.dumps(result, default=str, ensure_ascii=False, indent=2))
    else:
        _echo_report(result)


@incidents_cli.command("list")
def list_incidents() -> None:
    """List incidents, newest first."""
    items, _total = queries.list_incidents(db.session, limit=100)
    for incident in items:
        click.echo(
            f"{incident.id:>5}  {incident.status.value:<9} {incident.processed_orders}/{incident.selected_orders}"
            f"  {incident.title_en}"
        )
