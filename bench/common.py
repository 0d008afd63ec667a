"""Shared helpers for the benchmarks: a fresh PostgreSQL database and a stopwatch."""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from marketplace import migrate
from marketplace.db import create_db_engine

SERVER_URL = os.environ.get("BENCH_POSTGRES_URL") or os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _server() -> sa.URL:
    return sa.make_url(re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", SERVER_URL))


def psycopg_dsn(url: str) -> str:
    """The libpq address of a database URL, for benchmarks that talk to psycopg directly."""
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def _database(name: str, create: str) -> Iterator[str]:
    """The database ``name``, made by the statement ``create``, dropped afterwards."""
    admin = sa.create_engine(_server(), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as connection:
        connection.execute(sa.text(create))
    try:
        yield _server().set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def fresh_database(prefix: str) -> Iterator[str]:
    """A new, migrated PostgreSQL database for one benchmark run, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with _database(name, f'CREATE DATABASE "{name}"') as url:
        engine = create_db_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        yield url


@contextmanager
def copied_database(url: str, prefix: str) -> Iterator[str]:
    """A copy of the database at ``url`` (which must have no open connections), dropped afterwards.

    FILE_COPY copies the files after a checkpoint: for a database of a gigabyte, far faster than the WAL-logged
    default of PostgreSQL 15.
    """
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    source = sa.make_url(url).database
    with _database(name, f'CREATE DATABASE "{name}" TEMPLATE "{source}" STRATEGY FILE_COPY') as copy:
        yield copy


class Stopwatch:
    """Seconds elapsed in a ``with`` block."""

    def __enter__(self) -> Stopwatch:
        self.started = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *_exc: object) -> None:
        self.seconds = time.perf_counter() - self.started
