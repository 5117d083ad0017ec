"""The `reminder-tick` job: every few minutes, and once at start-up, "which reminders are due now?".

The service decides everything from the database (the schedule points, what is recorded, what owes), so a run
after a restart or a long pause sends a point still in its window once, and records a missed one as skipped.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial

from bot.services import bot_state, operations, reminders
from bot.settings import Settings
from jobs.scheduler import PeriodicJob
from storage.database import Database

logger = logging.getLogger(__name__)

NAME = "reminder-tick"
EVERY_SECONDS = 300.0


def job(db: Database, settings: Settings) -> PeriodicJob:
    """The job as the scheduler runs it."""
    return PeriodicJob(NAME, EVERY_SECONDS, partial(run, db=db, settings=settings), start_now=True)


async def run(now: datetime, db: Database, settings: Settings) -> reminders.Tick:
    """Queue the reminders due at `now` (record and outbox rows in one transaction); what it did."""
    async with db.write() as session:
        tick = await reminders.send_due_reminders(session, settings, now)
        # `monev status` and /healthz show when the tick last ran: a silent scheduler is visible there.
        await bot_state.remember(session, operations.REMINDER_TICK_KEY, now.isoformat(), now)
    if tick.sent or tick.skipped or tick.expired:
        logger.info(
            "reminder tick: %d reminders queued, %d points skipped, %d messages expired",
            len(tick.sent),
            tick.skipped,
            tick.expired,
        )
    return tick
