"""The `recap-tick` job: on working days from MONEV_RECAP_TIME, every Kasi and Kabid gets each campaign's recap.

It covers the campaigns that collect (open) and those closed but not yet forwarded to the Tim SPBE. One `recap`
row per (campaign, day) is claimed in the same transaction that queues the messages, so the recap goes out once a
day whatever restarts happen; a restart later that day still sends it, the next day it is not sent late. The
recaps are read and their charts drawn (in a thread) before the write transaction begins.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial

from bot.conversation.handling import Services
from bot.services import recap, reminders
from bot.services.uploads import register_blob
from handlers.recap import draw_chart, queue_recap
from jobs.scheduler import PeriodicJob

logger = logging.getLogger(__name__)

NAME = "recap-tick"
EVERY_SECONDS = 60.0


def job(services: Services) -> PeriodicJob:
    """The job as the scheduler runs it."""
    return PeriodicJob(NAME, EVERY_SECONDS, partial(run, services=services), start_now=True)


async def run(now: datetime, services: Services) -> int:
    """Queue today's recaps when they are due at `now`; returns how many people were sent one."""
    settings = services.settings
    day = now.astimezone(settings.timezone).date()
    async with services.db.read() as session:
        calendar = await reminders.calendar_for(session, settings, now)
        if not recap.is_due(calendar, settings, now):
            return 0
        choices = await recap.recap_campaigns(session)
        sent = await recap.daily_claimed(session, [c.campaign_id for c in choices], day)
        made = [
            await recap.campaign_recap(session, settings, c.campaign_id, now)
            for c in choices
            if c.campaign_id not in sent
        ]
    queued = 0
    for one in made:
        chart = await draw_chart(services.files, one)
        async with services.db.write() as session:
            if not await recap.claim_daily(session, one, day, now):
                continue  # the other instance, or a tick at the same moment, sent it
            await register_blob(session, chart, now)
            recipients = await recap.daily_recipients(session)
            for person in recipients:
                await queue_recap(session, services, one, chart, person.person_id, person.roles, now)
        queued += len(recipients)
        logger.info("daily recap of campaign %d queued for %d people", one.campaign_id, len(recipients))
    return queued
