"""The `journal-purge` job: once a day, old raw payloads in the journal and long-expired button tokens go.

The journal rows themselves stay (their status and times are the record); only the raw payload of a finished row
older than 30 days, which holds what a person wrote, is nulled. Button tokens are deleted 30 days after they expired.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial

from bot.services import actions, journal
from jobs.scheduler import PeriodicJob
from storage.database import Database

logger = logging.getLogger(__name__)

NAME = "journal-purge"
EVERY_SECONDS = 24 * 60 * 60.0


def job(db: Database) -> PeriodicJob:
    """The job as the scheduler runs it."""
    return PeriodicJob(NAME, EVERY_SECONDS, partial(run, db=db))


async def run(now: datetime, db: Database) -> None:
    """Purge, in one transaction, what is past its keeping time at `now`."""
    async with db.write() as session:
        purged = await journal.purge_old_payloads(session, now)
        expired = await actions.purge_expired_actions(session, now)
    if purged:
        logger.info("nulled the payloads of %d journal rows older than 30 days", purged)
    if expired:
        logger.info("deleted %d button tokens that expired over 30 days ago", expired)
