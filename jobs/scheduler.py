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
from datetime import datetime
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler

logger = logging.getLogger(__name__)

# What a run returns (a job may count what it did, for its tests) is not the scheduler's concern.
JobFunction = Callable[[datetime], Awaitable[object]]


@dataclass(frozen=True)
class PeriodicJob:
    """A fixed job: a stable name, how often it runs, and what it does at a given moment."""

    name: str
    every_seconds: float
    run: JobFunction
    start_now: bool = False  # first run when the scheduler starts, not one interval later


class SchedulerHost:
    """Owns the scheduler; only `monev run` (the lease holder) starts it."""

    def __init__(self, zone: ZoneInfo, clock: Callable[[], datetime] | None = None) -> None:
        self.zone = zone
        # The time each run is given; the composition root passes the process's clock.
        self._clock: Callable[[], datetime] = clock or (lambda: datetime.now(zone))
        self._scheduler = AsyncIOScheduler(timezone=zone)
        self._jobs: dict[str, PeriodicJob] = {}
        self._running: set[asyncio.Task[None]] = set()

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

    async def _tick(self, name: str) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)  # type: ignore[arg-type]
        try:
            await self._jobs[name].run(self._clock())
        except asyncio.CancelledError:
            # Shutdown or a lost lease cancels a running job; the database says what is still due next time.
            logger.info("scheduled job %s stopped mid-run", name)
        except Exception:
            logger.exception("scheduled job %s failed", name)
        finally:
            self._running.discard(task)  # type: ignore[arg-type]

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

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    @property
    def running(self) -> bool:
        return self._scheduler.running
