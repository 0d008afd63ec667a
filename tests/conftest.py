"""Fixtures: every database test runs on SQLite and on PostgreSQL, each test inside a transaction rolled back."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, NoReturn

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from marketplace import create_app, migrate
from marketplace.core.auth import Actor
from marketplace.core.clock import FrozenClock
from marketplace.core.models import Role, User
from marketplace.core.operations import create_api_key, create_user
from marketplace.db import create_db_engine
from marketplace.extensions import db, limiter
from marketplace.orders.models import Buyer
from marketplace.orders.operations import create_buyer
from marketplace.sellers.models import Seller
from marketplace.sellers.operations import create_seller

# The browser fixtures (live_server, browser, page) for tests/test_browser_*.py.
pytest_plugins = ("tests.browser",)

# Where a PostgreSQL server accepts CREATE DATABASE; .ci/run points this at the database it created.
PG_SERVER_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PASSWORD = "correct horse battery"
SETUP = Actor.system("test")
# 2026-09-23 15:00 KST, the day of the Gmarket story in the issues.
START = datetime(2026, 9, 23, 6, 0, tzinfo=UTC)


def postgres_unreachable_reason() -> str | None:
    """Why PostgreSQL cannot be used for tests, or None when it can."""
    try:
        engine = sa.create_engine(migrate_url(PG_SERVER_URL), poolclass=sa.pool.NullPool)
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return f"PostgreSQL not reachable at {PG_SERVER_URL}: {type(exc).__name__}: {str(exc).splitlines()[0]}"
    return None


def migrate_url(url: str) -> str:
    """Use psycopg 3 for a plain postgresql:// URL."""
    return re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", url)


def missing_requirement(reason: str, requirement: str) -> NoReturn:
    """Skip a test whose ``requirement`` this machine lacks (a developer's laptop may), saying why; under CI=true,
    where everything is installed, fail instead, so that nothing is ever silently left untested."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true requires {requirement})")
    pytest.skip(reason)


def require_postgres() -> None:
    """Skip (or, under CI=true, fail) when PostgreSQL is not reachable."""
    reason = postgres_unreachable_reason()
    if reason is not None:
        missing_requirement(reason, "PostgreSQL")


def create_postgres_database() -> str:
    """A new empty database on the test server; returns its URL."""
    name = f"marketplace_test_{uuid.uuid4().hex[:12]}"
    server = sa.make_url(migrate_url(PG_SERVER_URL))
    engine = sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    return server.set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    """Drop a database created by ``create_postgres_database``."""
    target = sa.make_url(url)
    server = sa.make_url(migrate_url(PG_SERVER_URL))
    engine = sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend of this run of the test."""
    if request.param == "postgresql":
        require_postgres()
    return request.param


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database for the whole session."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.db'}"
        engine = create_db_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        yield url
        return
    url = create_postgres_database()
    engine = create_db_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield url
    drop_postgres_database(url)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[sa.Engine]:
    """The session-wide engine."""
    engine = create_db_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: sa.Engine) -> Iterator[sa.Connection]:
    """One connection per test, inside a transaction that is rolled back at the end."""
    connection = engine.connect()
    transaction = connection.begin()
    yield connection
    transaction.rollback()
    connection.close()


@pytest.fixture
def clock() -> FrozenClock:
    """The app's clock, frozen at 2026-09-23 15:00 KST until a test moves it."""
    return FrozenClock(START)


def _factory(connection: sa.Connection) -> sessionmaker[Session]:
    return sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)


@pytest.fixture
def app(database_url: str, connection: sa.Connection, clock: FrozenClock) -> Iterator[Flask]:
    """The app bound to the test's connection: its commits are savepoints that the test rolls back."""
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "test-secret", "CLOCK": clock, "TESTING": True})
    db.bind(app, _factory(connection))
    limiter.reset()
    yield app
    app.extensions["marketplace.db"]["engine"].dispose()


@pytest.fixture
def session(app: Flask, connection: sa.Connection) -> Iterator[Session]:
    """A session for arranging and checking, separate from the ones requests use, on the same transaction."""
    session = _factory(connection)()
    yield session
    session.close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client for the app."""
    return app.test_client()


@pytest.fixture
def make_seller(session: Session) -> Any:
    """Create a seller."""
    counter = iter(range(1, 1_000_000))

    def make(name: str = "테스트 판매자", **kwargs: Any) -> Seller:
        n = next(counter)
        return create_seller(session, kwargs.pop("external_id", f"S-T{n}"), name=name, actor=SETUP, now=START, **kwargs)

    return make


@pytest.fixture
def make_buyer(session: Session) -> Any:
    """Create a buyer."""
    counter = iter(range(1, 1_000_000))

    def make(name: str = "테스트 구매자", **kwargs: Any) -> Buyer:
        n = next(counter)
        return create_buyer(session, kwargs.pop("external_id", f"B-T{n}"), name=name, actor=SETUP, now=START, **kwargs)

    return make


@pytest.fixture
def make_user(session: Session, make_seller: Any, make_buyer: Any) -> Any:
    """Create a login of any role (a seller or buyer is made for it when none is given)."""
    counter = iter(range(1, 1_000_000))

    def make(role: Role | str = Role.AGENT, *, seller: Seller | None = None, buyer: Buyer | None = None, **kwargs: Any):
        role = Role(role)
        if role is Role.SELLER and seller is None:
            seller = make_seller()
        if role is Role.BUYER and buyer is None:
            buyer = make_buyer()
        n = next(counter)
        user = create_user(
            session,
            kwargs.pop("email", f"{role.value}{n}@test.example"),
            name=kwargs.pop("name", f"{role.value} {n}"),
            role=role,
            password=kwargs.pop("password", PASSWORD),
            seller_id=seller.id if seller else None,
            buyer_id=buyer.id if buyer else None,
            actor=SETUP,
            now=START,
            **kwargs,
        )
        session.commit()
        return user

    return make


@pytest.fixture
def make_api_key(session: Session) -> Any:
    """Issue an API key; returns (key, secret)."""

    def make(*scopes: str, name: str = "marketplace-core"):
        key, secret = create_api_key(session, name, scopes=scopes, actor=SETUP, now=START)
        session.commit()
        return key, secret

    return make


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    """The CSRF token in a rendered form."""
    match = CSRF_RE.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1) or match.group(2)


def login(client: FlaskClient, user: User | str, password: str = PASSWORD) -> Any:
    """Log in through the real form (with its CSRF token)."""
    email = user if isinstance(user, str) else user.email
    page = client.get("/login")
    return client.post(
        "/login", data={"email": email, "password": password, "csrf_token": csrf_token(page.get_data(as_text=True))}
    )
