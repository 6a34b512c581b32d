"""Cron jobs in the business time zone; one run per slot across workers; missed slots run late."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atelier.platform.db import Database
from atelier.platform.models import AdminUser, ScheduledSlot
from atelier.platform.scheduler import JobRegistry, latest_slot, next_slot, run_due_jobs
from atelier.platform.settings import Settings

KOLKATA = ZoneInfo("Asia/Kolkata")
WEEKDAYS_10AM = "0 10 * * 1-5"
MONDAY_10_IST = datetime(2026, 11, 2, 4, 30, tzinfo=UTC)
FRIDAY_10_IST = datetime(2026, 11, 6, 4, 30, tzinfo=UTC)
SATURDAY_10_IST = datetime(2026, 11, 7, 4, 30, tzinfo=UTC)


class Calls:
    def __init__(self) -> None:
        self.slots: list[datetime] = []
        self._lock = threading.Lock()

    def __call__(self, session: Session, slot: datetime) -> None:
        with self._lock:
            self.slots.append(slot)


@pytest.fixture
def jobs() -> JobRegistry:
    return JobRegistry()


@pytest.fixture
def host_in_los_angeles(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The host's local zone must never matter."""
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def slots(db: Database, job: str) -> list[ScheduledSlot]:
    with db.session(write=False) as session:
        return list(session.scalars(select(ScheduledSlot).where(ScheduledSlot.job == job)))


class TestCronInBusinessZone:
    @pytest.mark.usefixtures("host_in_los_angeles")
    def test_weekday_ten_am_kolkata_is_0430_utc_monday(self) -> None:
        assert latest_slot(WEEKDAYS_10AM, KOLKATA, MONDAY_10_IST) == MONDAY_10_IST
        assert latest_slot(WEEKDAYS_10AM, KOLKATA, MONDAY_10_IST - timedelta(seconds=1)) == (
            FRIDAY_10_IST - timedelta(days=7)
        )
        assert next_slot(WEEKDAYS_10AM, KOLKATA, FRIDAY_10_IST) == MONDAY_10_IST + timedelta(days=7)

    @pytest.mark.usefixtures("host_in_los_angeles")
    def test_does_not_fire_on_saturday(
        self, db: Database, settings: Settings, jobs: JobRegistry
    ) -> None:
        calls = Calls()
        jobs.register("weekday", WEEKDAYS_10AM)(calls)
        assert run_due_jobs(db, settings, FRIDAY_10_IST, jobs=jobs) == ["weekday"]
        assert run_due_jobs(db, settings, SATURDAY_10_IST, jobs=jobs) == []
        assert run_due_jobs(db, settings, SATURDAY_10_IST + timedelta(days=1), jobs=jobs) == []
        monday = FRIDAY_10_IST + timedelta(days=3)
        assert run_due_jobs(db, settings, monday - timedelta(minutes=1), jobs=jobs) == []
        assert run_due_jobs(db, settings, monday, jobs=jobs) == ["weekday"]
        assert calls.slots == [FRIDAY_10_IST, monday]

    def test_fires_at_its_slot_with_the_slot_time(
        self, db: Database, settings: Settings, jobs: JobRegistry
    ) -> None:
        calls = Calls()
        jobs.register("weekday", WEEKDAYS_10AM)(calls)
        assert run_due_jobs(db, settings, MONDAY_10_IST + timedelta(seconds=20), jobs=jobs) == [
            "weekday"
        ]
        assert calls.slots == [MONDAY_10_IST]
        [row] = slots(db, "weekday")
        assert row.slot_at == MONDAY_10_IST
        assert row.finished_at is not None and row.error is None

    def test_invalid_cron_is_refused(self, jobs: JobRegistry) -> None:
        for bad in ("* * * *", "0 10 * * 1-5 2026", "61 * * * *", "every day"):
            with pytest.raises(ValueError):
                jobs.register("bad", bad)


class TestOncePerSlot:
    def test_a_slot_runs_once_per_tick_sequence(
        self, db: Database, settings: Settings, jobs: JobRegistry
    ) -> None:
        calls = Calls()
        jobs.register("hourly", "0 * * * *")(calls)
        now = MONDAY_10_IST
        assert run_due_jobs(db, settings, now, jobs=jobs) == ["hourly"]
        assert run_due_jobs(db, settings, now + timedelta(minutes=20), jobs=jobs) == []
        assert len(calls.slots) == 1

    def test_a_slot_runs_once_with_two_workers(
        self, db: Database, settings: Settings, jobs: JobRegistry
    ) -> None:
        calls = Calls()

        def slow(session: Session, slot: datetime) -> None:
            calls(session, slot)
            time.sleep(0.2)  # keep the claim open while the other worker tries

        jobs.register("hourly", "0 * * * *")(slow)
        barrier = threading.Barrier(2)
        results: dict[str, list[str]] = {}
        errors: list[BaseException] = []

        def tick(worker: str) -> None:
            try:
                barrier.wait()
                results[worker] = run_due_jobs(
                    db, settings, MONDAY_10_IST, jobs=jobs, worker_id=worker
                )
            except BaseException as exc:  # pragma: no cover - surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=tick, args=(w,)) for w in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not errors
        assert sorted(len(r) for r in results.values()) == [0, 1]
        assert len(calls.slots) == 1
        assert len(slots(db, "hourly")) == 1

    def test_a_missed_slot_runs_late_once(
        self, db: Database, settings: Settings, jobs: JobRegistry
    ) -> None:
        calls = Calls()
        jobs.register("hourly", "0 * * * *")(calls)
        # Hourly in Asia/Kolkata (+05:30) is half past every hour in UTC.
        ten = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
        assert run_due_jobs(db, settings, ten + timedelta(minutes=5), jobs=jobs) == ["hourly"]
        # The process is down from 09:35 to 12:50: 10:30, 11:30 and 12:30 were missed.
        late = datetime(2026, 11, 2, 12, 50, tzinfo=UTC)
        assert run_due_jobs(db, settings, late, jobs=jobs) == ["hourly"]
        assert run_due_jobs(db, settings, late + timedelta(minutes=1), jobs=jobs) == []
        assert calls.slots == [ten, ten + timedelta(hours=3)]

    def test_job_work_commits_with_its_slot(
        self, db: Database, settings: Settings, jobs: JobRegistry
    ) -> None:
        def work(session: Session, slot: datetime) -> None:
            session.add(AdminUser(email=f"job-{slot:%H%M}@example.test", password_hash="x"))

        jobs.register("writer", "0 10 * * *")(work)  # 04:30 UTC
        run_due_jobs(db, settings, MONDAY_10_IST, jobs=jobs)
        with db.session(write=False) as session:
            emails = list(session.scalars(select(AdminUser.email)))
        assert emails == ["job-0430@example.test"]

    def test_failing_job_is_rolled_back_recorded_and_not_retried_every_tick(
        self, db: Database, settings: Settings, jobs: JobRegistry
    ) -> None:
        attempts: list[datetime] = []

        def broken(session: Session, slot: datetime) -> None:
            attempts.append(slot)
            session.add(AdminUser(email="partial@example.test", password_hash="x"))
            session.flush()
            raise RuntimeError("sweeper exploded")

        jobs.register("broken", "0 * * * *")(broken)
        assert run_due_jobs(db, settings, MONDAY_10_IST, jobs=jobs) == ["broken"]
        assert run_due_jobs(db, settings, MONDAY_10_IST + timedelta(minutes=1), jobs=jobs) == []
        assert len(attempts) == 1
        [row] = slots(db, "broken")
        assert row.error is not None and "sweeper exploded" in row.error
        with db.session(write=False) as session:
            assert session.scalar(select(func.count()).select_from(AdminUser)) == 0
        # The next slot runs normally.
        assert run_due_jobs(db, settings, MONDAY_10_IST + timedelta(hours=1), jobs=jobs) == [
            "broken"
        ]

    def test_failure_after_a_batch_commit_is_recorded_on_the_slot(
        self, db: Database, settings: Settings, jobs: JobRegistry
    ) -> None:
        def batched(session: Session, slot: datetime) -> None:
            session.add(AdminUser(email="batch-1@example.test", password_hash="x"))
            session.commit()  # a job that commits per batch
            session.add(AdminUser(email="batch-2@example.test", password_hash="x"))
            session.flush()
            raise RuntimeError("second batch failed")

        jobs.register("batched", "0 * * * *")(batched)
        assert run_due_jobs(db, settings, MONDAY_10_IST, jobs=jobs) == ["batched"]
        [row] = slots(db, "batched")
        assert row.error is not None and "second batch failed" in row.error
        assert row.finished_at is not None
        with db.session(write=False) as session:
            assert list(session.scalars(select(AdminUser.email))) == ["batch-1@example.test"]
        assert run_due_jobs(db, settings, MONDAY_10_IST + timedelta(minutes=1), jobs=jobs) == []
