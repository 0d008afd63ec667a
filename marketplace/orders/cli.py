"""`marketplace orders …`: order events from a file."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import click
from flask.cli import AppGroup

from marketplace.core import clock
from marketplace.core.auth import Actor
from marketplace.extensions import db
from marketplace.orders.events import EventStatus, ingest_events
from marketplace.orders.importer import HeaderError, Problem, chunks, count_rows, problems_of, read_event_rows
from marketplace.orders.schemas import MAX_BATCH

IMPORT = Actor.system("import")

orders_cli = AppGroup("orders", help="Orders and the marketplace's order events.")


@orders_cli.command("import")
@click.argument("path", metavar="FILE.csv", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_events(path: Path) -> None:
    """Load order events from a CSV file, 1,000 rows per transaction; bad rows are reported by line, not loaded.

    \b
    Line 1 names the columns; event_id, type, occurred_at and order_id are required:
      event_id, type, occurred_at, order_id, seller_id, seller_name, buyer_id, buyer_name,
      buyer_contact, buyer_language, amount, items (JSON), paid_at, ship_by, carrier,
      tracking_number, initiated_by, reason, refund_amount, refunded_at

    Rows imported before are recognised by their event_id and skipped. Exit code 1 when any row was refused.
    """
    try:
        with path.open(encoding="utf-8-sig", newline="") as stream:
            total = count_rows(stream)
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{path.name} is not UTF-8 text (byte {exc.start + 1}).") from None
    counts: Counter[str] = Counter()
    problems: list[Problem] = []
    with path.open(encoding="utf-8-sig", newline="") as stream:
        try:
            rows = read_event_rows(stream)
        except HeaderError as exc:
            raise click.ClickException(f"{path.name}: {exc}") from None
        with click.progressbar(length=total, label=f"Importing {path.name}") as bar:
            for chunk in chunks(rows, MAX_BATCH):
                good = [row for row in chunk if row.event is not None]
                problems.extend(problem for row in chunk for problem in row.problems)
                counts["refused"] += len(chunk) - len(good)
                if good:
                    outcome = ingest_events(db.session, [row.event for row in good], actor=IMPORT, now=clock.now())
                    db.session.commit()
                    for row, result in zip(good, outcome.results, strict=True):
                        problems.extend(problems_of(row.line, result))
                        counts["refused" if result.status is EventStatus.REJECTED else result.status.value] += 1
                        counts["pending"] += result.pending
                bar.update(len(chunk))
    for problem in sorted(problems, key=lambda problem: problem.line):
        click.echo(str(problem), err=True)
    rows_read = counts["accepted"] + counts["duplicate"] + counts["refused"]
    click.echo(
        f"{path.name}: {rows_read} row(s): {counts['accepted']} imported"
        f" ({counts['pending']} waiting for their order.paid), {counts['duplicate']} imported before,"
        f" {counts['refused']} refused."
    )
    if counts["refused"]:
        sys.exit(1)
