"""Periodic jobs and the processes that run them.

APScheduler is only the clock: it has no coordination between processes, so every job claims its due rows from
the database in bounded batches, moves each with a guarded update and writes its effects behind unique keys.
Any number of scheduler processes is then safe (DESIGN.md §9).
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask

from marketplace.config import system_clock
from marketplace.core import clock

log = logging.getLogger(__name__)

# Domain modules whose import registers their jobs (each issue adds its ``jobs`` module here).
JOB_MODULES: tuple[str, ...] = (
    "marketplace.claims.jobs",
    "marketplace.sanctions.jobs",
    "marketplace.incidents.jobs",
    "marketplace.notifications.jobs",
    "marketplace.scorecard.jobs",
)


@dataclass(frozen=True, slots=True)
class Job:
    """A periodic job: it takes ``now``, does what fell due by then, commits, and says how many items it handled."""

    name: str
    func: Callable[[datetime], int]
    every_seconds: int
    description: str


@dataclass(frozen=True, slots=True)
class JobResult:
    """What one run of a job did."""

    name: str
    processed: int
    seconds: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the run finished without an error."""
        return self.error is None


JOBS: dict[str, Job] = {}


JobFunc = Callable[[datetime], int]


def periodic_job(name: str, *, every_seconds: int, description: str) -> Callable[[JobFunc], JobFunc]:
    """Register a function as a periodic job; the function itself stays callable as it was."""

    def register(func: JobFunc) -> JobFunc:
        if name in JOBS:
            raise ValueError(f"job {name!r} is registered twice")
        JOBS[name] = Job(name=name, func=func, every_seconds=every_seconds, description=description)
        return func

    return register


def load_jobs() -> dict[str, Job]:
    """Import the domain job modules so that their jobs are registered."""
    for module in JOB_MODULES:
        importlib.import_module(module)
    return JOBS


def run_job(app: Flask, job: Job) -> JobResult:
    """Run one job once inside an app context; a failure is logged and reported, never raised to the scheduler."""
    started = time.perf_counter()
    with app.app_context():
        try:
            processed = job.func(clock.now())
        except Exception as exc:
            log.exception("job %s failed", job.name)
            return JobResult(job.name, 0, time.perf_counter() - started, error=f"{type(exc).__name__}: {exc}")
    result = JobResult(job.name, processed or 0, time.perf_counter() - started)
    if result.processed:
        log.info("job %s processed %d item(s) in %.3fs", job.name, result.processed, result.seconds)
    return result


def run_due(app: Flask) -> list[JobResult]:
    """Run every registered job once, in registration order."""
    return [run_job(app, job) for job in load_jobs().values()]


def build_scheduler(app: Flask, *, background: bool) -> BaseScheduler:
    """A scheduler that runs each job at its interval; ``background`` for the in-process demo scheduler."""
    scheduler: BaseScheduler = BackgroundScheduler(timezone="UTC") if background else BlockingScheduler(timezone="UTC")
    for job in load_jobs().values():
        scheduler.add_job(
            run_job,
            IntervalTrigger(seconds=job.every_seconds, timezone="UTC"),
            args=(app, job),
            id=job.name,
            name=job.description,
            # Work is catch-up by design (effective time = the deadline), so missed runs need not be replayed.
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
            next_run_time=system_clock(),
        )
    return scheduler
