"""The job mechanism: registered jobs run once per `jobs run-due`, failures are reported, not fatal."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from flask import Flask

from marketplace import scheduler
from marketplace.core.operations import add_platform_holiday
from marketplace.extensions import db
from tests.conftest import SETUP, START


@pytest.fixture
def jobs() -> Iterator[dict]:
    """An empty job registry for the test, restored afterwards."""
    # Every domain's jobs module imported first: one imported later would register into the emptied registry.
    scheduler.load_jobs()
    saved = dict(scheduler.JOBS)
    scheduler.JOBS.clear()
    yield scheduler.JOBS
    scheduler.JOBS.clear()
    scheduler.JOBS.update(saved)


def test_run_due_runs_each_job_with_the_app_clock(app: Flask, jobs) -> None:
    """Each job runs once, inside an app context, with `now` from CLOCK, and its commit lands."""
    seen: list[datetime] = []

    @scheduler.periodic_job("close-founding-day", every_seconds=60, description="test job")
    def close_day(now: datetime) -> int:
        seen.append(now)
        with db.transaction() as session:
            add_platform_holiday(session, now.date(), name="창립기념일", actor=SETUP, now=now)
        return 1

    results = scheduler.run_due(app)
    assert seen == [START]
    assert [(r.name, r.processed, r.ok) for r in results] == [("close-founding-day", 1, True)]


def test_failing_job_is_reported_and_the_others_still_run(app: Flask, jobs) -> None:
    """One job's exception does not stop the next job."""

    @scheduler.periodic_job("broken", every_seconds=60, description="fails")
    def broken(now: datetime) -> int:
        raise RuntimeError("boom")

    @scheduler.periodic_job("fine", every_seconds=60, description="works")
    def fine(now: datetime) -> int:
        return 3

    results = {r.name: r for r in scheduler.run_due(app)}
    assert results["broken"].error == "RuntimeError: boom"
    assert results["fine"].processed == 3 and results["fine"].ok


def test_jobs_run_due_command_exits_1_when_a_job_fails(app: Flask, jobs) -> None:
    """`marketplace jobs run-due` prints each job's outcome and fails when any failed."""

    @scheduler.periodic_job("broken", every_seconds=60, description="fails")
    def broken(now: datetime) -> int:
        raise RuntimeError("boom")

    result = app.test_cli_runner().invoke(args=["jobs", "run-due"])
    assert result.exit_code == 1
    assert "broken: 0 processed" in result.output and "FAILED: RuntimeError: boom" in result.output


def test_jobs_run_due_with_no_jobs_says_so(app: Flask, jobs) -> None:
    """With nothing registered the command still succeeds and says so."""
    result = app.test_cli_runner().invoke(args=["jobs", "run-due"])
    assert result.exit_code == 0 and "No periodic jobs are registered." in result.output


def test_scheduler_schedules_every_job_at_its_interval(app: Flask, jobs) -> None:
    """The long-running scheduler has one interval trigger per job, never overlapping itself."""

    @scheduler.periodic_job("every-minute", every_seconds=60, description="x")
    def every_minute(now: datetime) -> int:
        return 0

    built = scheduler.build_scheduler(app, background=True)
    (job,) = built.get_jobs()
    assert job.id == "every-minute" and job.trigger.interval.total_seconds() == 60
    assert job.max_instances == 1 and job.coalesce


def test_registering_a_job_twice_is_an_error(jobs) -> None:
    """Two jobs with one name would run twice as often; refuse it."""
    scheduler.periodic_job("x", every_seconds=60, description="x")(lambda now: 0)
    with pytest.raises(ValueError, match="twice"):
        scheduler.periodic_job("x", every_seconds=60, description="x")(lambda now: 0)
