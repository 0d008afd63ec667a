"""`marketplace ledger …` and `marketplace settlements …`: the ledger check and sellers' deductions."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from marketplace.compensation import ledger, queries
from marketplace.core.errors import DomainError
from marketplace.core.money import format_won
from marketplace.extensions import db
from marketplace.sellers.queries import get_seller_by_external_id

ledger_cli = AppGroup("ledger", help="The double-entry ledger of compensation money.")
settlements_cli = AppGroup("settlements", help="Sellers' settlements: what to deduct.")


@ledger_cli.command("check")
def ledger_check() -> None:
    """Verify that every transaction balances and that balances match the compensations and recoveries."""
    result = ledger.check(db.session)
    if not result.ok:
        click.echo(f"Ledger check failed: {result.problem}.", err=True)
        sys.exit(1)
    click.echo(f"Ledger balanced: {result.transactions} transaction(s), {result.entries} entries checked.")


@settlements_cli.command("deductions")
@click.option("--period", required=True, help="The settlement month, YYYY-MM.")
@click.option("--seller", "seller_ref", help="Only this seller (the marketplace's seller id).")
def settlements_deductions(period: str, seller_ref: str | None) -> None:
    """List per seller what to deduct from its settlement of PERIOD, line by line with claim and compensation."""
    try:
        queries.parse_period(period, field="--period")
    except DomainError as exc:
        raise click.ClickException(f"{exc.detail} (--period)") from None
    seller_id = None
    if seller_ref is not None:
        seller = get_seller_by_external_id(db.session, seller_ref)
        if seller is None:
            raise click.ClickException(f"No seller has the id {seller_ref!r} (--seller).")
        seller_id = seller.id
    sellers = queries.deductions(db.session, period, seller_id=seller_id)
    if not sellers:
        click.echo(f"Nothing to deduct for {period}.")
        return
    for deduction in sellers:
        click.echo(
            f"{deduction.seller_external_id}  {deduction.seller_name}: deduct {format_won(deduction.to_deduct)}"
            f" (already deducted in {period}: {format_won(deduction.deducted)})"
        )
        for line in deduction.lines:
            claim = (
                f"claim {line['claim_id']} ({line['claim_type']})"
                if line["claim_id"]
                else (f"incident {line['incident_id']}")
            )
            click.echo(
                f"  {line['status']:<8} {format_won(line['amount']):>12}  compensation {line['compensation_id']}"
                f"  {claim}  order {line['order_id']}  rule {line['rule']} v{line['policy_version']}"
            )
    click.echo(f"Total to deduct for {period}: {format_won(sum(d.to_deduct for d in sellers))}")
