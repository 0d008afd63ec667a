"""``marketplace notifications``: list the outbox, retry dead messages, deliver now."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from marketplace.core import clock
from marketplace.core.auth import CLI
from marketplace.core.errors import DomainError, NotFound
from marketplace.extensions import db
from marketplace.notifications import operations, queries, relay
from marketplace.notifications.models import Audience, OutboxStatus
from marketplace.notifications.settings import NotifySettings

notifications_cli = AppGroup("notifications", help="Notices and webhooks: the outbox and its relay.")


@notifications_cli.command("list")
@click.option("--status", type=click.Choice([status.value for status in OutboxStatus]))
@click.option("--audience", type=click.Choice([audience.value for audience in Audience]))
@click.option("--topic", help="e.g. claim.opened")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
def notifications_list(status: str | None, audience: str | None, topic: str | None, limit: int) -> None:
    """List messages, newest first."""
    filters = queries.OutboxFilters(
        status=OutboxStatus(status) if status else None,
        audience=Audience(audience) if audience else None,
        topic=topic,
    )
    messages, total = queries.list_messages(db.session, filters, timezone=current_app.config["TIMEZONE"], limit=limit)
    for message in messages:
        recipient = f"{message.audience.value}:{message.recipient_id}" if message.recipient_id is not None else ""
        error = f"  last error: {message.last_error[:120]}" if message.last_error else ""
        click.echo(
            f"{message.id:>8}  {message.created_at:%Y-%m-%d %H:%M}Z  {message.status.value:<7} "
            f"{message.attempts:>2}x  {message.channel:<8} {message.topic:<28} {recipient}{error}"
        )
    click.echo(f"{len(messages)} of {total} message(s) shown.")


@notifications_cli.command("retry")
@click.option("--dead", "all_dead", is_flag=True, help="Every dead message.")
@click.option("--id", "ids", type=int, multiple=True, help="A dead message's id; repeat for several.")
def notifications_retry(all_dead: bool, ids: tuple[int, ...]) -> None:
    """Give dead messages a new round of attempts, due at once (audited)."""
    if all_dead == bool(ids):
        raise click.UsageError("Give either --dead or one or more --id.")
    if all_dead:
        total = 0
        while True:
            with db.transaction() as session:
                moved = operations.retry_dead_messages(session, actor=CLI, now=clock.now())
            if moved == 0:
                break
            total += moved
            click.echo(f"... {total} message(s) back in the queue", err=True)
        click.echo(f"{total} dead message(s) will be sent again.")
        return
    try:
        with db.transaction() as session:
            for message_id in ids:
                message = queries.get_message(session, message_id)
                if message is None:
                    raise NotFound(f"No message has the id {message_id}.", field="id")
                operations.retry_message(session, message, actor=CLI, now=clock.now())
    except DomainError as exc:
        # Nothing was changed: the transaction rolled back.
        raise click.ClickException(f"Message {message_id}: {exc.detail}") from None
    click.echo(f"{len(ids)} message(s) will be sent again.")


@notifications_cli.command("deliver")
def notifications_deliver() -> None:
    """Deliver every due message now (what the scheduler does every few seconds)."""
    settings = NotifySettings.from_config(current_app.config)
    result = relay.run_relay(db.transaction, settings=settings, clock=clock.now)
    click.echo(f"{result.sent} sent, {result.failed} failed (will retry), {result.dead} dead.")
