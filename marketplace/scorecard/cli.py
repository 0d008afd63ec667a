"""`marketplace scorecard …`: rebuild everything, update from new events, and show one seller's card."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from marketplace.core import clock
from marketplace.core.auth import CLI
from marketplace.extensions import db
from marketplace.scorecard import build, queries
from marketplace.scorecard.models import WINDOWS
from marketplace.sellers.models import Seller
from marketplace.sellers.queries import get_seller_by_external_id

scorecard_cli = AppGroup("scorecard", help="Seller scorecards.")


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


@scorecard_cli.command("rebuild")
def scorecard_rebuild() -> None:
    """Recompute every seller's day rows from all orders and claims, and today's snapshots."""
    sellers = db.session.query(Seller).count()
    with db.transaction() as session, click.progressbar(length=sellers, label="Rebuilding scorecards") as bar:
        summary = build.rebuild(session, now=clock.now(), actor=CLI, progress=bar.update)
    click.echo(
        f"{summary['sellers']:,} seller(s), {summary['day_rows']:,} day row(s), "
        f"{summary['snapshots']:,} seller(s) snapshotted."
    )


@scorecard_cli.command("refresh")
def scorecard_refresh() -> None:
    """Update the day rows from the events recorded since the last updates, and snapshot."""
    with db.transaction() as session:
        summary = build.refresh(session, now=clock.now(), actor=CLI)
    click.echo(f"{summary['touched']:,} seller-day(s) recomputed, {summary['snapshots']:,} seller(s) snapshotted.")


@scorecard_cli.command("show")
@click.argument("seller_id")
def scorecard_show(seller_id: str) -> None:
    """Print SELLER_ID's scorecard (the marketplace's seller id)."""
    seller = get_seller_by_external_id(db.session, seller_id)
    if seller is None:
        raise click.ClickException(f"No seller {seller_id}.")
    card = queries.read_card(db.session, seller)
    if card.day is None:
        click.echo(f"{seller.external_id} {seller.name}: no scorecard yet (run `marketplace scorecard rebuild`).")
        return
    carrier = card.grade
    reasons = "; ".join(
        f"{reason['metric']} {reason['value']} > {reason['limit']} ({reason['window_days']}d)"
        for reason in carrier.grade_reasons
    )
    click.echo(f"{seller.external_id} {seller.name} on {card.day}: {carrier.grade}{f' ({reasons})' if reasons else ''}")
    click.echo(f"{'window':>6} {'orders':>8} {'cancel':>7} {'late':>7} {'defect':>7} {'lead':>5} {'p90':>4}")
    for days in WINDOWS:
        snapshot = card.windows.get(days)
        if snapshot is None:
            continue
        lead = "-" if snapshot.lead_days_avg is None else f"{snapshot.lead_days_avg:.1f}"
        p90 = "-" if snapshot.lead_days_p90 is None else str(snapshot.lead_days_p90)
        click.echo(
            f"{days:>5}d {snapshot.orders:>8,} {_percent(snapshot.seller_cancel_rate):>7} "
            f"{_percent(snapshot.late_shipment_rate):>7} {_percent(snapshot.defect_rate):>7} {lead:>5} {p90:>4}"
        )
