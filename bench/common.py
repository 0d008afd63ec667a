"""Shared helpers for the benchmarks: a fresh PostgreSQL database, a stopwatch and a CPU meter."""

from __future__ import annotations

import os
import re
import sys
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


class CpuMeter:
    """CPU seconds spent in a ``with`` block by this process (every thread) and by the PostgreSQL server.

    On a machine where the app and PostgreSQL share the cores, their CPU time per unit of work bounds what any
    number of runners can reach: ``ceiling`` is the machine's cores divided by the two together. The server's
    time is read from ``/proc`` (every ``postgres`` process: backends, WAL writer, checkpointer, and through the
    postmaster's children's times the backends that ended), so only for a server on this machine; elsewhere it is
    None, and so is the ceiling.
    """

    def __enter__(self) -> CpuMeter:
        self.app = 0.0
        self.database: float | None = None
        self._started = (time.process_time(), _postgres_cpu())
        return self

    def __exit__(self, *_exc: object) -> None:
        app, database = time.process_time(), _settled_postgres_cpu()
        self.app = app - self._started[0]
        if database is not None and self._started[1] is not None:
            self.database = database - self._started[1]

    def ceiling(self, units: int) -> float | None:
        """Units per second the cores could do at most, were both the app and the server to use all of them."""
        if self.database is None or units <= 0 or self.app + self.database <= 0:
            return None
        return (os.cpu_count() or 1) * units / (self.app + self.database)

    def describe(self, units: int, unit: str) -> str:
        """The CPU time per unit, and the ceiling it sets, as a line for a benchmark's report."""
        app = f"app CPU {self.app / units * 1e6:,.0f} µs/{unit}"
        if self.database is None:
            return f"{app} (PostgreSQL's CPU time is not readable here)"
        ceiling = self.ceiling(units) or 0.0
        return (
            f"{app} + PostgreSQL CPU {self.database / units * 1e6:,.0f} µs/{unit}: "
            f"at most {ceiling:,.0f} {unit}s/s on {os.cpu_count()} cores"
        )


def _settled_postgres_cpu() -> float | None:
    """``_postgres_cpu`` once it stops moving (up to a second): a backend whose connection just closed joins the
    postmaster's children's times only when the postmaster has reaped it."""
    last = _postgres_cpu()
    for _attempt in range(20):
        time.sleep(0.05)
        now = _postgres_cpu()
        if now == last:
            break
        last = now
    return last


def _postgres_cpu() -> float | None:
    """User and system CPU seconds of every process named ``postgres`` on this machine, or None (no /proc, or the
    server is not local)."""
    if not sys.platform.startswith("linux") or _server().host not in {"127.0.0.1", "localhost", "::1", None}:
        return None
    ticks = 0
    found = False
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as stat:
                text = stat.read()
        except OSError:
            continue  # gone since the listing, or not ours to read
        name, _, rest = text.partition(" (")[2].rpartition(") ")
        if name != "postgres":
            continue
        fields = rest.split()
        # utime, stime, cutime, cstime (fields 14–17 of proc(5)): the postmaster's children's times keep the CPU
        # time of backends that ended (a closed connection's) in the sum.
        ticks += sum(int(value) for value in fields[11:15])
        found = True
    return ticks / os.sysconf("SC_CLK_TCK") if found else None
