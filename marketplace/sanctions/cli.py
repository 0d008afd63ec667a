"""`marketplace policy simulate` and `marketplace sanctions …`: the what-if and a seller's standing from the shell."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import AppGroup

from marketplace.core import clock
from marketplace.core.errors import ValidationFailed
from marketplace.extensions import db
from marketplace.sanctions import queries
from marketplace.sanctions.models import Stage
from marketplace.sanctions.simulation import MAX_DAYS, simulate

policy_cli = AppGroup("policy", help="Policies and what-ifs.")
sanctions_cli = AppGroup("sanctions", help="Sellers' standing and sanctions.")


def _load(path: Path) -> dict:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.ClickException(f"{path.name} is not a JSON document: {exc}") from None
    if not isinstance(document, dict):
        raise click.ClickException(f"{path.name} must hold one JSON object: the whole sanction policy.")
    return document


@policy_cli.command("simulate")
@click.argument("path", metavar="FILE", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--days", type=click.IntRange(1, MAX_DAYS), default=30, show_default=True, help="Days to replay.")
def policy_simulate(path: Path, days: int) -> None:
    """Replay the last DAYS days of violations under the sanction policy in FILE (JSON) beside the current policy.

    Prints the sellers per stage under each and the sellers whose standing would change; nothing is saved.
    """
    try:
        result = simulate(db.session, _load(path), days=days, now=clock.now())
    except ValidationFailed as exc:
        problems = "; ".join(
            f"{field}: {', '.join(str(m) for m in messages)}" for field, messages in exc.errors.items()
        )
        raise click.ClickException(f"{path.name} is not a valid sanction policy: {problems or exc.detail}") from None
    click.echo(
        f"Replayed {result.days} day(s) up to {result.at:%Y-%m-%d %H:%M}Z; current policy v{result.current_version}."
    )
    click.echo(f"{'stage':<20} {'current':>9} {'candidate':>9}")
    for row in result.stages:
        click.echo(f"{row['stage']:<20} {row['current']:>9,} {row['candidate']:>9,}")
    click.echo(f"{len(result.changed):,} seller(s) would change.")
    for change in result.changed:
        current, candidate = change.current, change.candidate
        click.echo(
            f"  {change.external_id}  {change.name}: {current.stage.value} ({current.active_points} pts)"
            f" -> {candidate.stage.value} ({candidate.active_points} pts)"
        )


@sanctions_cli.command("standing")
@click.argument("seller_id")
def sanctions_standing(seller_id: str) -> None:
    """Show the standing of the seller the marketplace knows as SELLER_ID."""
    read = queries.read_standing(db.session, seller_id)
    if read is None:
        raise click.ClickException(f"No seller has the id {seller_id!r}.")
    standing = read.standing
    if standing is None:
        click.echo(f"{seller_id} ({read.seller.name}): {Stage.NONE.value}, may list, may sell, 0 points.")
        return
    may = [word for word, allowed in (("may list", standing.may_list), ("may sell", standing.may_sell)) if allowed]
    click.echo(
        f"{seller_id} ({read.seller.name}): {standing.stage.value}, {', '.join(may) or 'may neither list nor sell'},"
        f" {standing.active_points} point(s) over {standing.orders_in_window} order(s) in {standing.window_days} days."
    )
    for sanction in standing.sanctions:
        until = sanction["ends_at"] or "until a supervisor's review"
        click.echo(
            f"  #{sanction['id']} {sanction['stage']} from {sanction['starts_at']} to {until}: {sanction['reason']}"
        )
