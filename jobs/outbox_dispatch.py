"""The `outbox-dispatch` job: every second the lease holder delivers what the outbox has due.

The dispatcher itself (claims, target choice, retries, the fence) lives in `bot.messaging.outbox_dispatch`; this module
only says when it runs. It runs at once when the scheduler starts, so nothing waits a second after a takeover.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

from bot.messaging.outbox_dispatch import OutboxDispatcher
from jobs.scheduler import PeriodicJob

NAME = "outbox-dispatch"
EVERY_SECONDS = 1.0


def job(dispatcher: OutboxDispatcher) -> PeriodicJob:
    """The job as the scheduler runs it."""
    return PeriodicJob(NAME, EVERY_SECONDS, partial(run, dispatcher=dispatcher), start_now=True)


async def run(now: datetime, dispatcher: OutboxDispatcher) -> None:
    """Deliver everything due now (the dispatcher reads its own clock for each claim)."""
    await dispatcher.run_once(now)
