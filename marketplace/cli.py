"""The ``marketplace`` command (also ``flask --app marketplace``)."""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

import click
from flask import Flask, current_app
from flask.cli import AppGroup, FlaskGroup

from marketplace import migrate
from marketplace.compensation.cli import ledger_cli, settlements_cli
from marketplace.core import clock, operations, queries
from marketplace.core.audit import verify_chain
from marketplace.core.auth import CLI, SCOPES
from marketplace.core.errors import DomainError
from marketplace.core.models import Role
from marketplace.extensions import db
from marketplace.incidents.cli import incidents_cli
from marketplace.notifications.cli import notifications_cli
from marketplace.orders.cli import orders_cli
from marketplace.sanctions.cli import policy_cli, sanctions_cli
from marketplace.scorecard.cli import scorecard_cli

F = TypeVar("F", bound=Callable[..., Any])


def domain_errors(func: F) -> F:
    """Turn a refused operation into one readable line and exit code 1, with nothing changed."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DomainError as exc:
            db.session.rollback()
            field = f" ({exc.field})" if exc.field else ""
            raise click.ClickException(f"{exc.detail}{field}") from None

    return wrapper  # type: ignore[return-value]


class IsoDate(click.ParamType):
    """A YYYY-MM-DD date."""

    name = "date"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        """Parse the value or fail with a readable message."""
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is not a date in the form YYYY-MM-DD", param, ctx)


db_cli = AppGroup("db", help="Database schema.")
calendar_cli = AppGroup("calendar", help="The business calendar.")
users_cli = AppGroup("users", help="Logins for staff, sellers and buyers.")
api_keys_cli = AppGroup("api-keys", help="API keys for the marketplace's systems.")
audit_cli = AppGroup("audit", help="The audit log.")
jobs_cli = AppGroup("jobs", help="Periodic jobs.")


@db_cli.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Migrate the database to the newest schema."""
    migrate.upgrade(db.engine, revision)
    click.echo(f"Database at {migrate.current_revision(db.engine)}.")


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Migrate the database down to REVISION ('base' removes every table)."""
    migrate.downgrade(db.engine, revision)
    click.echo(f"Database at {migrate.current_revision(db.engine) or 'base'}.")


@db_cli.command("current")
def db_current() -> None:
    """Show the database's revision and the newest one."""
    current = migrate.current_revision(db.session.connection())
    click.echo(f"database: {current or 'base'}; newest: {migrate.head_revision()}")


@db_cli.command("revision")
@click.option("-m", "--message", required=True)
@click.option("--empty", is_flag=True, help="Do not compare the models with the database.")
def db_revision(message: str, empty: bool) -> None:
    """Write a new migration (compare the models with an up-to-date database); read and edit it by hand."""
    migrate.new_revision(db.engine, message, autogenerate=not empty)


@calendar_cli.command("add-holiday")
@click.argument("day", type=IsoDate())
@click.argument("name")
@domain_errors
def calendar_add_holiday(day: date, name: str) -> None:
    """Close the platform on DAY (YYYY-MM-DD): deadlines computed from now on skip it."""
    with db.transaction() as session:
        operations.add_platform_holiday(session, day, name=name, actor=CLI, now=clock.now())
    click.echo(f"{day.isoformat()} added: {name}")


@calendar_cli.command("remove-holiday")
@click.argument("day", type=IsoDate())
@domain_errors
def calendar_remove_holiday(day: date) -> None:
    """Reopen the platform on DAY; deadlines already computed keep their value."""
    with db.transaction() as session:
        operations.remove_platform_holiday(session, day, actor=CLI, now=clock.now())
    click.echo(f"{day.isoformat()} removed")


@calendar_cli.command("list")
@click.option("--year", type=click.IntRange(1950, 2100), help="Default: this year.")
@click.option("--language", type=click.Choice(["ko", "en"]), default="ko", show_default=True)
def calendar_list(year: int | None, language: str) -> None:
    """List the holidays of a year (public and platform)."""
    calendar = queries.load_calendar(db.session, current_app.config["TIMEZONE"])
    year = year or calendar.local_date(clock.now()).year
    for holiday in calendar.holidays_between(date(year, 1, 1), date(year, 12, 31), language=language):
        click.echo(f"{holiday.day.isoformat()} {holiday.day.strftime('%a')}  {holiday.source:<8} {holiday.name}")


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", required=True, type=click.Choice([role.value for role in Role]))
@click.option("--seller", "seller_ref", help="The seller's marketplace id (seller users).")
@click.option("--buyer", "buyer_ref", help="The buyer's marketplace id (buyer logins).")
@click.option("--language", type=click.Choice(["ko", "en"]), default="ko", show_default=True)
@click.password_option(help="Prompted for when not given.")
@domain_errors
def users_create(
    email: str, name: str, role: str, seller_ref: str | None, buyer_ref: str | None, language: str, password: str
) -> None:
    """Create a login."""
    from marketplace.orders.queries import get_buyer_by_external_id
    from marketplace.sellers.queries import get_seller_by_external_id

    with db.transaction() as session:
        seller_id = buyer_id = None
        if seller_ref is not None:
            seller = get_seller_by_external_id(session, seller_ref)
            if seller is None:
                raise click.ClickException(f"No seller has the id {seller_ref!r} (--seller).")
            seller_id = seller.id
        if buyer_ref is not None:
            buyer = get_buyer_by_external_id(session, buyer_ref)
            if buyer is None:
                raise click.ClickException(f"No buyer has the id {buyer_ref!r} (--buyer).")
            buyer_id = buyer.id
        user = operations.create_user(
            session,
            email,
            name=name,
            role=role,
            password=password,
            seller_id=seller_id,
            buyer_id=buyer_id,
            language=language,
            actor=CLI,
            now=clock.now(),
        )
    click.echo(f"User {user.email} ({user.role.value}) created.")


@api_keys_cli.command("create")
@click.option("--name", required=True, help="The system that will use the key.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    help="Repeat for several; `marketplace api-keys scopes` lists them.",
)
@domain_errors
def api_keys_create(name: str, scopes: tuple[str, ...]) -> None:
    """Issue a key; it is printed once and only its hash is kept."""
    with db.transaction() as session:
        key, secret = operations.create_api_key(session, name, scopes=scopes, actor=CLI, now=clock.now())
    click.echo(f"API key {key.prefix} for {key.name} ({', '.join(key.scopes)}). Store it now; it is not shown again:")
    click.echo(secret)


@api_keys_cli.command("revoke")
@click.argument("prefix")
@domain_errors
def api_keys_revoke(prefix: str) -> None:
    """Revoke the key with PREFIX (the part after 'mk_', shown by 'list')."""
    with db.transaction() as session:
        key = operations.revoke_api_key(session, prefix, actor=CLI, now=clock.now())
    click.echo(f"API key {key.prefix} ({key.name}) revoked.")


@api_keys_cli.command("list")
def api_keys_list() -> None:
    """List keys (never their secrets)."""
    for key in queries.list_api_keys(db.session):
        state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
        used = f"last used {key.last_used_at:%Y-%m-%d %H:%M}Z" if key.last_used_at else "never used"
        click.echo(f"{key.prefix}  {key.name}  [{', '.join(key.scopes)}]  {state}, {used}")


@api_keys_cli.command("scopes")
def api_keys_scopes() -> None:
    """List the scopes a key may carry."""
    for name, description in sorted(SCOPES.items()):
        click.echo(f"{name:<20} {description}")


@audit_cli.command("verify")
def audit_verify() -> None:
    """Recompute the hash chain; exit 1 naming the first record that does not match."""
    result = verify_chain(db.session)
    if not result.ok:
        click.echo(f"Audit record {result.first_bad_id} does not match: {result.reason}.", err=True)
        sys.exit(1)
    click.echo(f"Audit log intact: {result.checked} record(s) verified.")


@jobs_cli.command("run-due")
def jobs_run_due() -> None:
    """Run every periodic job once and exit (for cron, or to catch up after downtime)."""
    from marketplace.scheduler import run_due

    results = run_due(current_app._get_current_object())  # type: ignore[attr-defined]
    for result in results:
        outcome = "ok" if result.ok else f"FAILED: {result.error}"
        click.echo(f"{result.name}: {result.processed} processed in {result.seconds:.3f}s, {outcome}")
    if not results:
        click.echo("No periodic jobs are registered.")
    if any(not result.ok for result in results):
        sys.exit(1)


@jobs_cli.command("list")
def jobs_list() -> None:
    """List the periodic jobs and their intervals."""
    from marketplace.scheduler import load_jobs

    for job in load_jobs().values():
        click.echo(f"{job.name:<32} every {job.every_seconds:>5}s  {job.description}")


@click.command("scheduler")
def scheduler_command() -> None:
    """Run the periodic jobs until stopped (production: one or more of these beside gunicorn)."""
    from marketplace.scheduler import build_scheduler

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    scheduler = build_scheduler(app, background=False)
    click.echo(f"Scheduler running {len(scheduler.get_jobs())} job(s); Ctrl+C stops it.")
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--no-scheduler", is_flag=True, help="Leave the periodic jobs to a separate `marketplace scheduler`.")
def serve_command(host: str, port: int, no_scheduler: bool) -> None:
    """Migrate, then serve the app with the scheduler in the same process."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    migrate.upgrade(db.engine)
    _serve(app, host, port, scheduler=not no_scheduler)


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--no-serve", is_flag=True, help="Load the demo data and exit.")
def demo_command(host: str, port: int, no_serve: bool) -> None:
    """Create and migrate the database, load demo data, print the logins, and serve."""
    from marketplace.demo import DEMO_LOGINS, DEMO_PASSWORD, load_demo

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    migrate.upgrade(db.engine)
    with db.transaction() as session:
        created = load_demo(session, now=clock.now())
    click.echo("Demo data loaded." if created else "Demo data already present.")
    click.echo(f"Database: {app.config['DATABASE_URL']}")
    click.echo(f"Logins (password for all: {DEMO_PASSWORD}):")
    for email, description in DEMO_LOGINS:
        click.echo(f"  {email:<32} {description}")
    if not no_serve:
        _serve(app, host, port, scheduler=True)


def _serve(app: Flask, host: str, port: int, *, scheduler: bool) -> None:
    from werkzeug.serving import run_simple

    from marketplace.scheduler import build_scheduler

    background = build_scheduler(app, background=True) if scheduler else None
    if background is not None:
        background.start()
    click.echo(f"Serving on http://{host}:{port}/ (Ctrl+C stops)")
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)
    finally:
        if background is not None:
            background.shutdown(wait=False)


def register(app: Flask) -> None:
    """Attach the command groups to ``app.cli``."""
    for group in (
        db_cli,
        calendar_cli,
        users_cli,
        api_keys_cli,
        audit_cli,
        jobs_cli,
        orders_cli,
        notifications_cli,
        policy_cli,
        sanctions_cli,
    ):
        app.cli.add_command(group)
    for group in (ledger_cli, settlements_cli, incidents_cli, scorecard_cli):
        app.cli.add_command(group)
    for command in (scheduler_command, serve_command, demo_command):
        app.cli.add_command(command)


def main() -> None:
    """Entry point of the ``marketplace`` console script."""
    from marketplace import create_app

    cli = FlaskGroup(create_app=create_app, add_default_commands=False, add_version_option=False, load_dotenv=False)
    cli.main(prog_name="marketplace")
