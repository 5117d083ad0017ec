"""The `journal-sweep` job: every minute, journal rows left unfinished or unreplied are handed to the queues again.

The pump's own loop picks up new rows as they are journaled; the sweep catches the rest: rows it already passed
that are pending again after a failed attempt, and handled rows whose stored reply was not sent yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial

from bot.messaging.inbound import JournalPump
from jobs.scheduler import PeriodicJob

NAME = "journal-sweep"
EVERY_SECONDS = 60.0


def job(pumps: Sequence[JournalPump]) -> PeriodicJob:
    """The job as the scheduler runs it, over the journal of every channel (one pump each)."""
    return PeriodicJob(NAME, EVERY_SECONDS, partial(run, pumps=tuple(pumps)))


async def run(now: datetime, pumps: Sequence[JournalPump]) -> int:
    """Resubmit every unfinished or unreplied row of each channel; returns how many were handed to the queues."""
    return sum([await pump.resume_all() for pump in pumps])
