"""`monev run`: the web server always; the lease decides which instance polls, processes and runs jobs.

The runtime drives the channels it is given through the Channel protocol (`bot.messaging.channel`) and knows
none of them by name: the composition root (`bot.app.build_channels`) decides which run.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Sequence
from datetime import timedelta

from bot.app import MonevApp
from bot.messaging.channel import Channel
from bot.messaging.inbound import ChannelInbound, InboundProcessor
from bot.messaging.outbox_dispatch import OutboxDispatcher
from bot.services import lease, outbox, submissions
from bot.web.server import WebServer
from jobs import (
    evidence_text,
    journal_purge,
    journal_sweep,
    meeting_reminders,
    outbox_dispatch,
    recap_tick,
    reminder_tick,
    review_digest,
    upload_batches,
)
from storage.database import uninterrupted

logger = logging.getLogger(__name__)

# A clean shutdown waits this long for sends in flight to finish and be recorded (below the 10 s a container
# runtime gives between SIGTERM and SIGKILL); what is still running then is cancelled and resumed at the next start.
SHUTDOWN_GRACE_SECONDS = 8.0
# The database's clock decides the lease; an instance whose own clock is further off than this says so.
CLOCK_SKEW_WARNING = timedelta(seconds=10)


class Runtime:
    """One running instance: lease holder (active) or hot standby."""

    def __init__(self, app: MonevApp, channels: Sequence[Channel]) -> None:
        self.app = app
        settings = app.settings
        self.instance = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.channels = tuple(channels)
        self.processor = InboundProcessor(app.dispatcher, app.now)
        # Per channel its journal, journal loop and chat queues, by the channel's name (the journal's key).
        self.inbound = {channel.name: ChannelInbound(channel, self.processor) for channel in self.channels}
        routes = [route for channel in self.channels for route in channel.web_routes(self.inbound[channel.name])]
        self.web = WebServer(
            app.services.db, settings.http_host, settings.http_port, self.instance, lambda: self.is_holder, routes
        )
        self.outbox = OutboxDispatcher(app.services, {channel.name: channel for channel in self.channels}, app.now)
        self.is_holder = False
        self.fence: lease.Fence | None = None
        self._skew_reported = False
        self._stopped = False  # stop() is final: the lease loop takes nothing back after it
        self._active_tasks: list[asyncio.Task[None]] = []
        self._register_jobs()

    def _register_jobs(self) -> None:
        """The fixed jobs of jobs/; they run only while this instance holds the lease."""
        scheduler = self.app.scheduler
        if self.inbound:
            scheduler.register(journal_sweep.job([inbound.pump for inbound in self.inbound.values()]))
        scheduler.register(journal_purge.job(self.app.services.db))
        scheduler.register(outbox_dispatch.job(self.outbox))
        scheduler.register(upload_batches.job(self.app.services))
        # What this process commits wakes its job at once; the jobs' own intervals are slow safety polls.
        db = self.app.services.db
        db.on_commit(outbox.TOPIC, lambda: scheduler.wake(outbox_dispatch.NAME))
        db.on_commit(submissions.BATCH_TOPIC, lambda: scheduler.wake(upload_batches.NAME))
        scheduler.register(review_digest.job(self.app.services.db, self.app.services.settings.review_digest_minutes))
        if self.app.services.settings.evidence_workers > 0:
            scheduler.register(evidence_text.job(self.app.services))
        scheduler.register(reminder_tick.job(self.app.services.db, self.app.services.settings))
        scheduler.register(meeting_reminders.job(self.app.services))
        scheduler.register(recap_tick.job(self.app.services))

    async def start(self) -> None:
        """Check the channel configuration, then serve HTTP (webhooks are journaled even on a standby)."""
        await self.app.remove_orphan_files()
        for channel in self.channels:
            await channel.check()
        await self.web.start()

    async def run(self) -> None:
        """Hold or wait for the lease until cancelled."""
        settings = self.app.settings
        timeout = timedelta(seconds=settings.lease_timeout_seconds)
        while not self._stopped:
            try:
                grant = await uninterrupted(self._renew(timeout))
            except Exception:
                logger.exception("could not renew the lease")
                grant = None
            if (crashed := self.failed_task()) is not None:
                raise crashed
            if self._stopped:  # stop() ran while this renewal was under way: the released lease is not taken back
                return
            if grant is not None:
                self._report_skew(grant.clock_skew)
                if grant.fence != self.fence:
                    if self.is_holder:  # taken over and back while we stalled: start afresh under the new epoch
                        logger.warning("the lease changed hands while this instance stalled: restarting processing")
                        await self._step_down()
                    await self._become_active(grant.fence)
            elif self.is_holder:
                logger.warning("lost the lease: stepping down to standby")
                await self._step_down()
            await asyncio.sleep(settings.lease_renew_seconds)

    async def _renew(self, timeout: timedelta) -> lease.Grant | None:
        async with self.app.services.db.write() as session:
            return await lease.hold_lease(session, self.instance, self.app.now(), timeout)

    def _report_skew(self, skew: timedelta) -> None:
        """Once per episode: this machine's clock is far from the database's (the times services record are ours)."""
        off = abs(skew) > CLOCK_SKEW_WARNING
        if off and not self._skew_reported:
            logger.warning(
                "this machine's clock is %.0f s off the database's: check its time synchronisation",
                skew.total_seconds(),
            )
        self._skew_reported = off

    async def _become_active(self, fence: lease.Fence) -> None:
        logger.info("instance %s holds the lease (epoch %d): processing", self.instance, fence.epoch)
        self.is_holder = True
        self.fence = fence
        self.outbox.start(fence)
        await self.outbox.recover()
        for inbound in self.inbound.values():
            name = inbound.channel.name
            inbound.queues.reopen()
            resumed = await inbound.pump.resume_all()
            if resumed:
                logger.info("resuming %d unfinished or unreplied %s journal rows", resumed, name)
            self._active_tasks.append(asyncio.create_task(inbound.pump.run(), name=f"journal-pump-{name}"))
            for number, loop in enumerate(await inbound.channel.activate(inbound)):
                self._active_tasks.append(asyncio.create_task(loop, name=f"{name}-active-{number}"))
        self.app.scheduler.resume()
        for name in (outbox_dispatch.NAME, upload_batches.NAME):  # what a previous holder left is due now
            self.app.scheduler.wake(name)

    async def _step_down(self) -> None:
        """The lease is lost (or we shut down): stop at once; whatever was in flight is fenced off or resumed."""
        self.is_holder = False
        self.fence = None
        self.outbox.fence = None
        await self.app.scheduler.pause()
        await self._cancel_active_tasks()
        for inbound in self.inbound.values():
            await inbound.queues.close()

    async def _cancel_active_tasks(self) -> None:
        for task in self._active_tasks:
            task.cancel()
        await asyncio.gather(*self._active_tasks, return_exceptions=True)
        self._active_tasks.clear()

    async def _drain(self) -> None:
        """Take no new work (polling, journal rows, outbox claims, job runs); let what is in flight finish."""
        await self._cancel_active_tasks()
        self.outbox.stop()
        waits = [self.app.scheduler.drain(), *(inbound.queues.drain() for inbound in self.inbound.values())]
        try:
            async with asyncio.timeout(SHUTDOWN_GRACE_SECONDS):
                await asyncio.gather(*waits)
        except TimeoutError:
            logger.warning(
                "shutdown: work still running after %.0f s is stopped; it is resumed at the next start",
                SHUTDOWN_GRACE_SECONDS,
            )

    def failed_task(self) -> BaseException | None:
        """A crashed active task (e.g. the token was revoked while polling)."""
        for task in self._active_tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                return task.exception()
        return None

    async def stop(self) -> None:
        """Clean shutdown: take no new work, let sends in flight finish and be recorded, give the lease up, close.

        After a SIGTERM nothing that was sent is sent again: a reply or outbox message either went out and
        was recorded before the exit, or had not been sent and goes out at the next start.
        """
        self._stopped = True
        was_holder = self.is_holder
        if was_holder:
            await self._drain()
        await self._step_down()
        if was_holder:
            try:
                async with self.app.services.db.write() as session:
                    await lease.release_lease(session, self.instance)
            except Exception:
                logger.exception("could not release the lease")
        await self.web.stop()
        for channel in self.channels:
            await channel.close()
