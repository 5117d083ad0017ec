"""The scheduler host: one APScheduler AsyncIOScheduler in the city's time zone, with fixed, named jobs.

Jobs never hold per-OPD state in memory: each is a periodic question to the database ("what is due now?"), so
a restart loses and duplicates nothing. Every job takes the current time as a parameter, which lets tests run
one at an injected time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_RUNNING

logger = logging.getLogger(__name__)

# What a run returns (a job may count what it did, for its tests) is not the scheduler's concern.
JobFunction = Callable[[datetime], Awaitable[object]]
NextDue = Callable[[datetime], Awaitable[datetime | None]]
# A job with `next_due` that failed runs again this soon (its interval is only the slow safety poll).
RETRY_AFTER_FAILURE_SECONDS = 1.0


@dataclass(frozen=True)
class PeriodicJob:
    """A fixed job: a stable name, how often it runs, and what it does at a given moment."""

    name: str
    every_seconds: float
    run: JobFunction
    start_now: bool = False  # first run when the scheduler starts, not one interval later
    # Asked after each run: when the next thing is due. The job then runs at that moment, and `every_seconds`
    # is only the slow safety poll (for rows written by other processes, e.g. the CLI).
    next_due: NextDue | None = None


class SchedulerHost:
    """Owns the scheduler; only `monev run` (the lease holder) starts it."""

    def __init__(self, zone: ZoneInfo, clock: Callable[[], datetime] | None = None) -> None:
        self.zone = zone
        # The time each run is given; the composition root passes the process's clock.
        self._clock: Callable[[], datetime] = clock or (lambda: datetime.now(zone))
        self._scheduler = AsyncIOScheduler(timezone=zone)
        self._jobs: dict[str, PeriodicJob] = {}
        self._running: set[asyncio.Task[None]] = set()
        self._busy: set[str] = set()  # jobs running now
        self._again: set[str] = set()  # woken while running: run once more right after
        self._woken: set[str] = set()  # woken while paused: run at `resume`
        self._timers: dict[str, asyncio.TimerHandle] = {}

    @property
    def job_names(self) -> list[str]:
        return sorted(self._jobs)

    def register(self, job: PeriodicJob) -> None:
        """Add a fixed job; names are unique so a job can always be found again."""
        if job.name in self._jobs:
            raise ValueError(f"job {job.name!r} is already registered")
        self._jobs[job.name] = job
        self._scheduler.add_job(
            self._tick,
            "interval",
            seconds=job.every_seconds,
            id=job.name,
            name=job.name,
            args=[job.name],
            coalesce=True,  # after a pause, run once rather than once per missed interval
            max_instances=1,
            misfire_grace_time=None,
            **({"next_run_time": datetime.now(self.zone)} if job.start_now else {}),
        )

    async def run_now(self, name: str, now: datetime) -> None:
        """Run one job at an injected time (tests, and the CLI)."""
        if now.tzinfo is None:
            raise ValueError("a job's time must be timezone-aware")
        await self._jobs[name].run(now)

    def wake(self, name: str, at: datetime | None = None) -> None:
        """Run job `name` at `at` (default: now) unless a run is due earlier; if it is running, again after it.

        What this process writes wakes its job (see `storage.database.Database.on_commit`), so no job has to
        poll often for it. While the scheduler is paused (a standby) the run waits for `resume`.
        """
        loop = asyncio.get_running_loop()
        delay = 0.0 if at is None else max(0.0, (at - datetime.now(self.zone)).total_seconds())
        timer = self._timers.get(name)
        if timer is not None:
            if timer.when() <= loop.time() + delay:
                return  # an earlier run is set already
            timer.cancel()
        self._timers[name] = loop.call_later(delay, self._fire, name)

    def _fire(self, name: str) -> None:
        self._timers.pop(name, None)
        if self._scheduler.state != STATE_RUNNING:
            self._woken.add(name)
        elif name in self._busy:
            self._again.add(name)
        else:
            asyncio.create_task(self._tick(name), name=f"job-{name}")

    async def _tick(self, name: str) -> None:
        if name in self._busy:
            return  # the interval's tick while a woken run goes on: that run is the tick
        if self._scheduler.state != STATE_RUNNING:
            # Created before a drain or a pause but started after it: a run begun now would be cancelled
            # mid-transaction by the step-down that follows. It runs at the next `resume` instead.
            self._woken.add(name)
            return
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)  # type: ignore[arg-type]
        self._busy.add(name)
        job = self._jobs[name]
        try:
            await job.run(self._clock())
            if job.next_due is not None and (due := await job.next_due(self._clock())) is not None:
                self.wake(name, due)
        except asyncio.CancelledError:
            # Shutdown or a lost lease cancels a running job; the database says what is still due next time.
            logger.info("scheduled job %s stopped mid-run", name)
        except Exception:
            logger.exception("scheduled job %s failed", name)
            if job.next_due is not None:  # a woken job does not wait for its slow interval to try again
                self.wake(name, datetime.now(self.zone) + timedelta(seconds=RETRY_AFTER_FAILURE_SECONDS))
        finally:
            self._busy.discard(name)
            self._running.discard(task)  # type: ignore[arg-type]
            if name in self._again:
                self._again.discard(name)
                self._fire(name)

    def start(self) -> None:
        self._scheduler.start()
        logger.info("scheduler started with jobs: %s", ", ".join(self.job_names) or "(none)")

    async def pause(self) -> None:
        """No more runs while this instance is not the lease holder; jobs still running are stopped now."""
        if self._scheduler.running:
            self._scheduler.pause()
        await self._cancel_running()

    async def drain(self) -> None:
        """No more runs; wait for the jobs running now to finish (a clean shutdown, before `pause` or `stop`)."""
        if self._scheduler.running:
            self._scheduler.pause()
        await asyncio.gather(*list(self._running), return_exceptions=True)

    async def stop(self) -> None:
        """Shut the scheduler down and wait until no job runs (before the database closes)."""
        self.shutdown()
        await self._cancel_running()

    async def _cancel_running(self) -> None:
        running = list(self._running)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    def resume(self) -> None:
        if self._scheduler.running:
            self._scheduler.resume()
        else:
            self.start()
        woken, self._woken = self._woken, set()
        for name in sorted(woken):
            self._fire(name)

    def shutdown(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    @property
    def running(self) -> bool:
        return self._scheduler.running
