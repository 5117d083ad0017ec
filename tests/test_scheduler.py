"""The scheduler host: fixed named jobs, run at an injected time or on their interval."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.app import build_app
from bot.settings import Settings
from jobs.scheduler import PeriodicJob, SchedulerHost

WIB = ZoneInfo("Asia/Pontianak")


async def test_a_job_runs_at_an_injected_time() -> None:
    seen: list[datetime] = []

    async def tick(now: datetime) -> None:
        seen.append(now)

    host = SchedulerHost(WIB)
    host.register(PeriodicJob("pengingat", 60, tick))
    moment = datetime(2026, 8, 17, 8, 0, tzinfo=WIB)
    await host.run_now("pengingat", moment)
    assert seen == [moment]
    assert host.job_names == ["pengingat"]


async def test_job_names_are_unique_and_times_aware() -> None:
    async def tick(now: datetime) -> None:
        return None

    host = SchedulerHost(WIB)
    host.register(PeriodicJob("outbox", 1, tick))
    with pytest.raises(ValueError):
        host.register(PeriodicJob("outbox", 5, tick))
    with pytest.raises(ValueError):
        await host.run_now("outbox", datetime(2026, 1, 1, 8, 0))


async def test_a_started_scheduler_runs_jobs_in_the_city_zone() -> None:
    ran = asyncio.Event()
    seen: list[datetime] = []

    async def tick(now: datetime) -> None:
        seen.append(now)
        ran.set()

    host = SchedulerHost(WIB)
    host.register(PeriodicJob("cepat", 0.1, tick))
    host.start()
    try:
        await asyncio.wait_for(ran.wait(), timeout=5)
    finally:
        host.shutdown()
    assert seen[0].tzinfo is not None and seen[0].utcoffset() == WIB.utcoffset(seen[0].replace(tzinfo=None))


async def test_the_app_clock_times_the_scheduled_runs(settings: Settings) -> None:
    """build_app's clock is what the jobs, the runtime and the services are given (here: 2030, in the city zone)."""
    moved = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    app = build_app(settings, clock=lambda: moved)
    ran = asyncio.Event()
    seen: list[datetime] = []

    async def tick(now: datetime) -> None:
        seen.append(now)
        ran.set()

    try:
        assert (app.now(), app.now().tzinfo) == (moved, settings.timezone)
        app.scheduler.register(PeriodicJob("cepat", 0.1, tick))
        app.scheduler.start()
        await asyncio.wait_for(ran.wait(), timeout=5)
    finally:
        await app.close()
    assert seen[0] == moved and seen[0].tzinfo == settings.timezone


async def test_a_naive_clock_is_refused(settings: Settings) -> None:
    app = build_app(settings, clock=lambda: datetime(2030, 1, 2, 3, 4, 5))
    try:
        with pytest.raises(ValueError, match="timezone-aware"):
            app.now()
    finally:
        await app.close()


async def test_a_failing_job_does_not_stop_the_scheduler(caplog: pytest.LogCaptureFixture) -> None:
    calls = 0
    second = asyncio.Event()

    async def flaky(now: datetime) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("first run fails")
        second.set()

    host = SchedulerHost(WIB)
    host.register(PeriodicJob("rapuh", 0.1, flaky))
    host.start()
    try:
        await asyncio.wait_for(second.wait(), timeout=5)
    finally:
        host.shutdown()
    assert "scheduled job rapuh failed" in caplog.text


async def test_pausing_stops_a_running_job_at_once() -> None:
    started, finished = asyncio.Event(), asyncio.Event()

    async def long_job(now: datetime) -> None:
        started.set()
        await asyncio.sleep(30)
        finished.set()

    host = SchedulerHost(WIB)
    host.register(PeriodicJob("panjang", 0.05, long_job))
    host.start()
    try:
        await asyncio.wait_for(started.wait(), timeout=5)
        await asyncio.wait_for(host.pause(), timeout=2)  # a deposed lease holder must stop sending now
        assert not finished.is_set()
    finally:
        await host.stop()


async def test_a_run_woken_just_before_a_drain_does_not_start_after_it() -> None:
    """A clean shutdown drains the jobs, then cancels whatever still runs: a run created before the drain but not yet
    started must not begin after it (it would be cancelled mid-transaction and leave its connection half rolled back).
    It runs at the next `resume` instead."""
    ran: list[datetime] = []

    async def tick(now: datetime) -> None:
        ran.append(now)

    host = SchedulerHost(WIB)
    host.register(PeriodicJob("bangun", 3600, tick))
    host.start()
    try:
        host.wake("bangun")
        while not any(task.get_name() == "job-bangun" for task in asyncio.all_tasks()):
            await asyncio.sleep(0)  # the wake-up fires: the run's task exists but has not started
        await host.drain()
        for _ in range(5):
            await asyncio.sleep(0)
        assert ran == []
        host.resume()
        for _ in range(5):
            await asyncio.sleep(0)
        assert len(ran) == 1
    finally:
        await host.stop()
