"""The outbox dispatcher, a fixed job of the lease holder: claim due messages, deliver, record every attempt.

Each person's messages go out strictly in order, one at a time, so at most one message per chat is in flight
when the process dies; that one may be sent again after the restart. Everything recorded as sent stays sent.
Every claim and outcome is fenced by the lease epoch this instance holds: once a standby has taken over, the
first refused write stops this dispatcher, so a stalled holder sends at most the message it had in flight
per chat. A clean shutdown (`stop`) lets the messages in flight finish and be recorded, and claims no more.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from bot.conversation.envelope import Envelope
from bot.conversation.handling import Services
from bot.domain.enums import OutboxStatus
from bot.messaging.delivery import (
    AwaitingReply,
    Deliverer,
    DeliveryFailed,
    DeliveryRejected,
    Identity,
    Undeliverable,
)
from bot.services import announcements, broadcast, campaigns, lease, outbox
from bot.services.lease import Fence
from bot.services.outbox import Claimed
from storage.database import Database

logger = logging.getLogger(__name__)

CONCURRENT_CHATS = 64
CLAIM_BATCH = 500
MAX_RETRY_DELAY = timedelta(minutes=10)
# An attempt that ended in something other than a known platform answer (e.g. an answer that cannot be
# parsed: the message may have gone out) is retried, but only this many times in all.
MAX_UNCERTAIN_ATTEMPTS = 3


class Fenced(Exception):
    """The lease was taken over since this dispatcher's fence was granted: stop sending."""


class OutboxDispatcher:
    """Delivers what the outbox holds through the configured channels."""

    def __init__(self, services: Services, channels: Mapping[str, Deliverer], clock: Callable[[], datetime]) -> None:
        self.services = services
        self.channels = channels
        self.clock = clock
        self._bound = asyncio.Semaphore(CONCURRENT_CHATS)
        # Set by the runtime while this instance holds the lease; without it nothing is claimed.
        self.fence: Fence | None = None
        self._stopping = False

    @property
    def db(self) -> Database:
        return self.services.db

    def start(self, fence: Fence) -> None:
        """This instance now holds the lease under `fence`."""
        self.fence = fence
        self._stopping = False

    def stop(self) -> None:
        """Claim nothing more; each chat's message in flight still finishes and is recorded."""
        self._stopping = True

    async def recover(self) -> int:
        """On becoming the lease holder: messages a dead holder left `sending` are due again."""
        assert self.fence is not None
        async with self.db.write() as session:
            released = await outbox.release_in_flight(session, self.fence)
        if released:
            logger.info("released %d outbox messages left in flight by a previous sender", released)
        return released

    async def run_once(self, now: datetime) -> None:
        """The job: deliver everything due now, then report broadcasts that have settled."""
        await self.deliver_due()

    async def deliver_due(self) -> int:
        """Deliver until nothing is due; returns how many messages were attempted."""
        delivered = 0
        while (fence := self.fence) is not None and not self._stopping:
            async with self.db.write() as session:
                claimed = await outbox.claim_due(session, self.clock(), fence, list(self.channels), CLAIM_BATCH)
            if not claimed:
                if await self._report_settled_broadcasts(fence):
                    continue  # the reports themselves are in the outbox now
                return delivered
            delivered += len(claimed)
            try:
                await self._deliver_batch(claimed, fence)
            except Fenced:
                logger.warning("the lease was taken over by another instance: this one stops sending")
                return delivered
        return delivered

    async def _deliver_batch(self, claimed: list[Claimed], fence: Fence) -> None:
        by_person: dict[int, list[Claimed]] = {}
        for message in claimed:
            by_person.setdefault(message.person_id, []).append(message)
        async with self.db.read() as session:
            where = await outbox.targets(session, list(by_person), list(self.channels))
        results = await asyncio.gather(
            *(self._deliver_to(pid, msgs, where.get(pid, []), fence) for pid, msgs in by_person.items()),
            return_exceptions=True,
        )
        for result in results:  # every chat finished its message in flight before we look
            if isinstance(result, BaseException):
                raise result

    async def _deliver_to(
        self, person_id: int, messages: list[Claimed], candidates: list[Identity], fence: Fence
    ) -> None:
        """One person's messages in order; a message that must wait holds back the ones after it."""
        async with self._bound:
            for index, message in enumerate(messages):
                target = self._choose(message, candidates)
                if self._stopping or self.fence != fence:
                    outcome = "stop"  # shutting down, or another chat found the lease taken over
                else:
                    try:
                        outcome = await self._deliver_one(message, target, fence, candidates)
                    except Fenced:
                        if self.fence == fence:
                            self.fence = None  # every other chat stops before its next message
                        raise
                if outcome == "unreachable" and target is not None:
                    candidates = [c for c in candidates if c != target]  # the chat answered so: not again
                elif outcome in ("retry", "stop"):
                    start = index + 1 if outcome == "retry" else index
                    async with self.db.write() as session:
                        await outbox.release(session, [m.id for m in messages[start:]], fence)
                    return

    def _choose(self, message: Claimed, candidates: list[Identity]) -> Identity | None:
        """The first candidate (most recently active first) whose channel runs here and can deliver it now.

        A message that names its chat (a command menu) goes to that chat only, even once the person is purged.
        """
        envelope: Envelope = message.envelope
        if (chat := envelope.chat) is not None:
            return Identity(chat[0], chat[1], message.person_id, None, None) if chat[0] in self.channels else None
        now = self.clock()
        for identity in candidates:
            channel = self.channels.get(identity.channel)
            if channel is not None and channel.can_deliver(envelope.kind, identity, now):
                return identity
        return None

    async def _deliver_one(
        self, message: Claimed, target: Identity | None, fence: Fence, candidates: list[Identity]
    ) -> str:
        if target is None:
            await self._record(message, OutboxStatus.UNREACHABLE, target, _why_unreachable(candidates), fence)
            return "unreachable"
        channel = target.channel
        try:
            platform_id = await self.channels[channel].deliver(message.envelope, target)  # rendered there, once
        except AwaitingReply as notice:
            logger.info("outbox message %s: %s", message.id, notice)
            await self._record(
                message, OutboxStatus.AWAITING_REPLY, target, str(notice), fence, platform_id=notice.platform_message_id
            )
            return "sent"
        except Undeliverable as reason:
            logger.info("outbox message %s: chat %s unreachable (%s)", message.id, target.chat_id, reason)
            await self._record(
                message, OutboxStatus.UNREACHABLE, target, str(reason), fence, chat_answered_unreachable=True
            )
            return "unreachable"
        except DeliveryRejected as bug:
            logger.error("outbox message %s refused by %s: %s", message.id, channel, bug)
            await self._record(message, OutboxStatus.FAILED, target, str(bug), fence)
            return "failed"
        except DeliveryFailed as failure:
            attempts = await self._retry(message, target, str(failure), fence, failure.retry_after)
            logger.warning("outbox message %s: %s; retry %d scheduled", message.id, failure, attempts)
            return "retry"
        except Exception as unknown:  # e.g. an answer that cannot be parsed: it may have gone out
            return await self._uncertain(message, target, unknown, fence)
        await self._record(message, OutboxStatus.SENT, target, None, fence, platform_id=platform_id)
        return "sent"

    async def _uncertain(self, message: Claimed, target: Identity, error: Exception, fence: Fence) -> str:
        """Count an attempt whose outcome we cannot tell; after the third, the message is failed."""
        reason = f"{type(error).__name__}: {error}"
        if message.attempts + 1 >= MAX_UNCERTAIN_ATTEMPTS:
            logger.error(
                "outbox message %s: giving up after %d attempts (%s)", message.id, message.attempts + 1, reason
            )
            await self._record(message, OutboxStatus.FAILED, target, reason, fence)
            return "failed"
        attempts = await self._retry(message, target, reason, fence)
        logger.warning("outbox message %s: %s; retry %d scheduled", message.id, reason, attempts)
        return "retry"

    async def _record(
        self,
        message: Claimed,
        status: OutboxStatus,
        target: Identity | None,
        error: str | None,
        fence: Fence,
        *,
        chat_answered_unreachable: bool = False,
        platform_id: str | None = None,
    ) -> None:
        channel, chat_id = (target.channel, target.chat_id) if target else (None, None)
        now = self.clock()
        async with self.db.write() as session:
            recorded = await outbox.record_outcome(
                session,
                message.id,
                status,
                fence=fence,
                now=now,
                channel=channel,
                chat_id=chat_id,
                error=error,
                platform_message_id=platform_id,
            )
            # Only when the channel itself answered so is the person's account marked unreachable.
            if recorded and chat_answered_unreachable and channel and chat_id:
                await outbox.mark_unreachable(session, channel, chat_id, now)
        if not recorded:
            raise Fenced

    async def _retry(
        self, message: Claimed, target: Identity, error: str, fence: Fence, at_least: float | None = None
    ) -> int:
        delay = min(timedelta(seconds=5 * 2 ** min(message.attempts, 10)), MAX_RETRY_DELAY)
        if at_least is not None:  # the platform said how long to wait (a rate limit)
            delay = max(delay, timedelta(seconds=at_least))
        async with self.db.write() as session:
            recorded = await outbox.record_outcome(
                session,
                message.id,
                OutboxStatus.PENDING,
                fence=fence,
                now=self.clock(),
                channel=target.channel,
                chat_id=target.chat_id,
                error=error,
                retry_in=delay,
            )
        if not recorded:
            raise Fenced
        return message.attempts + 1

    async def _report_settled_broadcasts(self, fence: Fence) -> bool:
        """When a broadcast or an announcement has no message waiting any more, its readers get the delivery report."""
        reported = False
        async with self.db.write() as session:
            if not await lease.still_holds(session, fence):
                return False
            for campaign_id in await campaigns.unreported_broadcasts(session):
                reported |= await broadcast.report_if_settled(session, campaign_id, self.clock())
            reported |= await announcements.report_settled(session, self.clock())
        return reported


def _why_unreachable(candidates: list[Identity]) -> str:
    """What the delivery report reads: a WhatsApp account was there, but outside its window with no template."""
    if any(c.channel == "whatsapp" for c in candidates):
        return outbox.NO_WHATSAPP_TEMPLATE
    return "no reachable chat account"
