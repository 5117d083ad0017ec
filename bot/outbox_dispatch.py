"""The outbox dispatcher, a fixed job of the lease holder: claim due messages, deliver, record every attempt.

Each person's messages go out strictly in order, one at a time, so at most one message per chat is in flight
when the process dies; that one may be sent again after the restart. Everything recorded as sent stays sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from bot.core import Reply
from bot.delivery import Deliverer, DeliveryFailed, DeliveryRejected, Undeliverable
from bot.handling import Services
from bot.services import campaigns, outbox
from bot.services.outbox import Claimed
from storage.database import Database
from storage.models import OutboxStatus

logger = logging.getLogger(__name__)

CONCURRENT_CHATS = 64
CLAIM_BATCH = 500
MAX_RETRY_DELAY = timedelta(minutes=10)


class OutboxDispatcher:
    """Delivers what the outbox holds through the configured channels."""

    def __init__(self, services: Services, channels: Mapping[str, Deliverer], clock: Callable[[], datetime]) -> None:
        self.services = services
        self.channels = channels
        self.clock = clock
        self._bound = asyncio.Semaphore(CONCURRENT_CHATS)

    @property
    def db(self) -> Database:
        return self.services.db

    async def recover(self) -> int:
        """On becoming the lease holder: messages a dead holder left `sending` are due again."""
        async with self.db.write() as session:
            released = await outbox.release_in_flight(session)
        if released:
            logger.info("released %d outbox messages left in flight by a previous sender", released)
        return released

    async def run_once(self, now: datetime) -> None:
        """The job: deliver everything due now, then report broadcasts that have settled."""
        await self.deliver_due()

    async def deliver_due(self) -> int:
        """Deliver until nothing is due; returns how many messages were attempted."""
        delivered = 0
        while True:
            async with self.db.write() as session:
                claimed = await outbox.claim_due(session, self.clock(), CLAIM_BATCH)
            if not claimed:
                if await self._report_settled_broadcasts():
                    continue  # the reports themselves are in the outbox now
                return delivered
            await self._deliver_batch(claimed)
            delivered += len(claimed)

    async def _deliver_batch(self, claimed: list[Claimed]) -> None:
        by_person: dict[int, list[Claimed]] = {}
        for message in claimed:
            by_person.setdefault(message.person_id, []).append(message)
        async with self.db.read() as session:
            where = await outbox.targets(session, list(by_person))
        await asyncio.gather(*(self._deliver_to(pid, msgs, where.get(pid)) for pid, msgs in by_person.items()))

    async def _deliver_to(self, person_id: int, messages: list[Claimed], target: tuple[str, str] | None) -> None:
        """One person's messages in order; a message that must wait holds back the ones after it."""
        async with self._bound:
            for index, message in enumerate(messages):
                outcome = await self._deliver_one(message, target)
                if outcome == "unreachable":
                    target = None
                elif outcome == "retry":
                    async with self.db.write() as session:
                        await outbox.release(session, [m.id for m in messages[index + 1 :]])
                    return

    async def _deliver_one(self, message: Claimed, target: tuple[str, str] | None) -> str:
        now = self.clock()
        if target is None or target[0] not in self.channels:
            await self._record(message, OutboxStatus.UNREACHABLE, target, "no reachable chat account")
            return "unreachable"
        channel, chat_id = target
        try:
            await self.channels[channel].deliver(chat_id, message.reply)
        except Undeliverable as reason:
            logger.info("outbox message %s: chat %s unreachable (%s)", message.id, chat_id, reason)
            async with self.db.write() as session:
                await outbox.mark_unreachable(session, channel, chat_id, now)
                await outbox.record_outcome(
                    session,
                    message.id,
                    OutboxStatus.UNREACHABLE,
                    now=now,
                    channel=channel,
                    chat_id=chat_id,
                    error=str(reason),
                )
            return "unreachable"
        except DeliveryRejected as bug:
            logger.error("outbox message %s refused by %s: %s", message.id, channel, bug)
            await self._record(message, OutboxStatus.FAILED, target, str(bug))
            return "failed"
        except DeliveryFailed as failure:
            attempts = await self._retry(message, target, str(failure))
            logger.warning("outbox message %s: %s; retry %d scheduled", message.id, failure, attempts)
            return "retry"
        await self._record(message, OutboxStatus.SENT, target, None)
        return "sent"

    async def _record(
        self, message: Claimed, status: OutboxStatus, target: tuple[str, str] | None, error: str | None
    ) -> None:
        channel, chat_id = target if target else (None, None)
        async with self.db.write() as session:
            await outbox.record_outcome(
                session, message.id, status, now=self.clock(), channel=channel, chat_id=chat_id, error=error
            )

    async def _retry(self, message: Claimed, target: tuple[str, str], error: str) -> int:
        delay = min(timedelta(seconds=5 * 2 ** min(message.attempts, 10)), MAX_RETRY_DELAY)
        async with self.db.write() as session:
            await outbox.record_outcome(
                session,
                message.id,
                OutboxStatus.PENDING,
                now=self.clock(),
                channel=target[0],
                chat_id=target[1],
                error=error,
                retry_in=delay,
            )
        return message.attempts + 1

    async def _report_settled_broadcasts(self) -> bool:
        """When a broadcast has no message waiting any more, its uploader gets the delivery report."""
        reported = False
        async with self.db.write() as session:
            for campaign_id in await campaigns.unreported_broadcasts(session):
                if not await outbox.broadcast_settled(session, campaign_id):
                    continue
                detail = await campaigns.campaign_detail(session, campaign_id)
                delivery = await outbox.campaign_delivery(session, campaign_id)
                reached = {d.code for d in delivery}
                text = self.services.renderer.render(
                    "kampanye/laporan_kirim",
                    c=detail,
                    delivery=delivery,
                    tanpa_penghubung=[o for o in detail.opds if o.code not in reached],
                )
                uploader = await campaigns.mark_broadcast_reported(session, campaign_id, self.clock())
                if uploader is not None:
                    await outbox.enqueue(
                        session,
                        person_id=uploader,
                        kind="laporan_kirim",
                        reply=Reply(text),
                        now=self.clock(),
                        campaign_id=campaign_id,
                    )
                    reported = True
        return reported
