"""The `outbox-dispatch` job: the lease holder delivers what the outbox has due.

The dispatcher itself (claims, target choice, retries, the fence) lives in `bot.messaging.outbox_dispatch`; this module
only says when it runs: at once when the scheduler starts, whenever this process commits a queued message (the
runtime wakes it), when the next retry falls due, and every 10 s for messages queued by other processes (the CLI).
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

from bot.messaging.outbox_dispatch import OutboxDispatcher
from bot.services import outbox
from jobs.scheduler import PeriodicJob

NAME = "outbox-dispatch"
EVERY_SECONDS = 10.0


def job(dispatcher: OutboxDispatcher) -> PeriodicJob:
    """The job as the scheduler runs it."""
    return PeriodicJob(
        NAME,
        EVERY_SECONDS,
        partial(run, dispatcher=dispatcher),
        start_now=True,
        next_due=partial(next_due, dispatcher=dispatcher),
    )


async def run(now: datetime, dispatcher: OutboxDispatcher) -> None:
    """Deliver everything due now (the dispatcher reads its own clock for each claim)."""
    await dispatcher.run_once(now)


async def next_due(now: datetime, dispatcher: OutboxDispatcher) -> datetime | None:
    """When the next retry falls due (messages queued in this process wake the job themselves)."""
    async with dispatcher.db.read() as session:
        return await outbox.next_due(session, now)
