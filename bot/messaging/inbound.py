"""Journaled processing, channel-neutral: run each journaled update once, in order per chat.

Written once and used by every channel: per channel one `ChannelInbound`, whose journal loop (`JournalPump`) hands
rows to per-chat queues (`ChatQueues`); one worker per active chat processes its rows in journal order, all
workers of the channel sharing one bound. `ChannelInbound.process_row` reloads the row, runs it (retrying a failed
attempt), and sends its stored reply; `InboundProcessor` runs a row's request through the dispatcher and marks the
row done in the handler's own transaction, with the rendered replies.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation.core import Reply, Request, reply_from_json, reply_to_json
from bot.conversation.dispatch import Dispatcher
from bot.domain.enums import InboundStatus
from bot.logging_setup import request_id
from bot.messaging.channel import Channel, RawEvent, Unparsable
from bot.messaging.delivery import DeliveryFailed, DeliveryRejected, Undeliverable
from bot.services import journal
from bot.services.journal import JournalRow
from storage.database import Database, uninterrupted

logger = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 16
# How many rows a process remembers as replied (far more than are ever in flight or waiting for their mark).
SETTLED_MEMORY = 10_000
# A failed attempt is retried at once after these pauses; the minute sweep does the rest.
RETRY_BACKOFF = (0.5, 2.0)


class AlreadyHandled(Exception):
    """Another worker finished this row first; this attempt's transaction is rolled back."""


class InboundProcessor:
    """Runs one journaled request through the dispatcher, exactly once, and counts failed attempts."""

    def __init__(self, dispatcher: Dispatcher, clock: Callable[[], datetime]) -> None:
        self.dispatcher = dispatcher
        self.clock = clock

    @property
    def db(self) -> Database:
        return self.dispatcher.services.db

    async def process(self, row: JournalRow, request: Request) -> JournalRow | None:
        """The row as its handler left it (done, with its replies); None when the attempt failed or lost a race."""
        now = self.clock()
        stored: list[dict[str, Any]] = []

        async def mark_done(session: AsyncSession, replies: list[Reply]) -> None:
            stored.extend(reply_to_json(r) for r in replies)
            if not await journal.mark_done(session, row.id, stored, now):
                raise AlreadyHandled

        try:
            await self.dispatcher.run(replace(request, journal_id=row.id), now, on_done=mark_done)
        except AlreadyHandled:
            logger.info("journal row %s was already handled", row.id)
            return None
        except Exception as error:
            if is_database_busy(error):
                # Not a fault of the handler: the write lock stayed taken past the busy timeout (a loaded SQLite).
                # The attempt is counted and retried like any other; a warning, without a traceback, says so.
                logger.warning(
                    "journal row %s (%s update %s): database busy, retrying", row.id, row.channel, row.update_key
                )
            else:
                logger.exception("handling journal row %s (%s update %s) failed", row.id, row.channel, row.update_key)
            await self.record_failure(row, error)
            return None
        return replace(row, status=InboundStatus.DONE, replies=stored)

    async def finish_without_reply(self, row: JournalRow) -> JournalRow | None:
        """An update the bot does not answer (edits, membership changes): done, nothing to send."""
        async with self.db.write() as session:
            if not await journal.mark_done(session, row.id, [], self.clock()):
                return None
        return replace(row, status=InboundStatus.DONE, replies=[])

    async def mark_unparsable(self, row: JournalRow, error: BaseException) -> JournalRow:
        """An update the platform library cannot parse: failed at once, no reply, one line in the log."""
        logger.warning(
            "journal row %s (%s update %s) cannot be parsed (%s: %s); marked failed",
            row.id,
            row.channel,
            row.update_key,
            type(error).__name__,
            error,
        )
        async with self.db.write() as session:
            await journal.mark_failed(session, row.id, [], self.clock(), error=f"unparsable: {error}")
        return replace(row, status=InboundStatus.FAILED, replies=[])

    async def record_send_failure(self, row: JournalRow, error: BaseException) -> None:
        """A send whose outcome is unknown (e.g. an unparsable answer) counts as an attempt; the third gives up."""
        now = self.clock()
        reason = f"{type(error).__name__}: {error}"
        async with self.db.write() as session:
            attempts = await journal.record_failure(session, row.id, reason, now)
            if attempts >= journal.MAX_ATTEMPTS:
                logger.error("reply for journal row %s: giving up after %d attempts (%s)", row.id, attempts, reason)
                await journal.give_up_reply(session, row.id, now)
            else:
                logger.warning("reply for journal row %s not confirmed (%s); attempt %d", row.id, reason, attempts)

    async def record_failure(self, row: JournalRow, error: BaseException) -> None:
        """Count a failed attempt; after the third, give up and store the apology as the reply."""
        now = self.clock()
        async with self.db.write() as session:
            attempts = await journal.record_failure(session, row.id, f"{type(error).__name__}: {error}", now)
            if attempts >= journal.MAX_ATTEMPTS:
                logger.error("journal row %s failed %d times; giving up", row.id, attempts)
                await journal.mark_failed(session, row.id, [reply_to_json(self.dispatcher.apology())], now)


class ChatQueues:
    """One queue and one worker per active chat; rows of a chat are processed strictly in order."""

    def __init__(
        self,
        process: Callable[[JournalRow], Awaitable[None]],
        concurrency: int = DEFAULT_CONCURRENCY,
        settle: Callable[[], Awaitable[None]] | None = None,
    ):
        self._process = process
        self._bound = asyncio.Semaphore(concurrency)
        self._queues: dict[str, deque[JournalRow]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self.in_flight: set[int] = set()
        # Rows whose reply this process sent (its replied mark written or about to be): never taken again here,
        # whatever an older read of the journal says.
        self.settled: dict[int, None] = {}
        self.closing = False
        # What must be written before the queues count as idle (the replied marks).
        self._settle = settle
        self._settling: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    def submit(self, row: JournalRow) -> bool:
        """Queue a row unless it is already queued, running or sending in this process, or we are shutting down."""
        if row.id in self.in_flight or row.id in self.settled or self.closing:
            return False
        self.in_flight.add(row.id)
        self._idle.clear()
        key = row.chat_key or f"update:{row.id}"
        self._queues.setdefault(key, deque()).append(row)
        if key not in self._workers:
            self._workers[key] = asyncio.create_task(self._work(key), name=f"chat-worker-{key}")
        return True

    async def _work(self, key: str) -> None:
        queue = self._queues[key]
        try:
            while queue and not self.closing:
                row = queue[0]
                try:
                    async with self._bound:
                        if self.closing:
                            break  # shut down while waiting for a turn: the row stays journaled
                        await self._process(row)
                except Exception:
                    logger.exception("worker for chat %s failed on journal row %s", key, row.id)
                finally:
                    queue.popleft()
                    self.in_flight.discard(row.id)
        finally:
            for left in queue:  # stopped early: these stay journaled and may be submitted again later
                self.in_flight.discard(left.id)
            del self._queues[key]
            del self._workers[key]
            if not self._workers:
                self._settling = asyncio.create_task(self._settle_then_idle())

    def settle(self, row_id: int) -> None:
        """The row's reply went out in this process: it is not taken again, even from a stale read."""
        self.settled[row_id] = None
        if len(self.settled) > SETTLED_MEMORY:
            del self.settled[next(iter(self.settled))]  # the oldest: its mark was written long ago

    async def _settle_then_idle(self) -> None:
        if self._settle is not None:
            await self._settle()
        if not self._workers:
            self._idle.set()

    async def wait_idle(self) -> None:
        """Until every queued row has been processed (tests, clean shutdown)."""
        await self._idle.wait()

    def reopen(self) -> None:
        """Accept rows again (this instance holds the lease again)."""
        self.closing = False

    async def drain(self) -> None:
        """Clean shutdown: take no new rows; each chat finishes the row it is on, its reply sent and recorded.

        Rows still queued behind it stay in the journal and are resumed at the next start.
        """
        self.closing = True
        await asyncio.gather(*list(self._workers.values()), return_exceptions=True)
        if self._settle is not None:
            await self._settle()

    async def close(self) -> None:
        """Stop the workers; unfinished rows stay in the journal and are resumed on the next start."""
        workers = list(self._workers.values())
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        if self._settle is not None:
            await self._settle()  # replies that went out are recorded, also when the lease is lost


class JournalPump:
    """The lease holder's journal loop: finds journaled rows and hands them to the chat queues."""

    POLL_SECONDS = 1.0

    def __init__(self, db: Database, channel: str, queues: ChatQueues) -> None:
        self.db = db
        self.channel = channel
        self.queues = queues
        self._high_water = 0
        self._wake = asyncio.Event()
        self.running = False  # only the lease holder's loop runs; a standby journals and processes nothing

    def notify(self) -> None:
        """New rows were journaled in this process: look now rather than at the next poll."""
        self._wake.set()

    async def resume_all(self) -> int:
        """Every unfinished or unreplied row (start-up, lease takeover, and the minute sweep)."""
        async with self.db.read() as session:
            rows = await journal.rows_to_resume(session, self.channel, limit=10_000)
        submitted = sum(self.queues.submit(row) for row in rows)
        if rows:
            self._high_water = max(self._high_water, rows[-1].id)
        return submitted

    async def _new_rows(self) -> list[JournalRow]:
        async with self.db.read() as session:
            return await journal.rows_to_resume(session, self.channel, after_id=self._high_water, only_pending=True)

    def take(self, row: JournalRow) -> None:
        """A row journaled by this process, handed over as it was written (no read of the journal)."""
        self.queues.submit(row)
        self._high_water = max(self._high_water, row.id)

    async def run(self) -> None:
        """Hand new pending rows (journaled here or by a standby) to the queues as they appear."""
        self.running = True
        try:
            await self._loop()
        finally:
            self.running = False

    async def _loop(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.POLL_SECONDS)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                rows = await uninterrupted(self._new_rows())
            except Exception:
                logger.exception("journal loop could not read the journal; retrying")
                continue
            for row in rows:
                self.queues.submit(row)
                self._high_water = max(self._high_water, row.id)


class RepliedMarks:
    """Replied marks, written together: the replies of a busy moment cost one write, not one each.

    A mark is written within `WINDOW` seconds of its send, at once when the queues fall idle, and before a
    shutdown or a step-down ends. A process killed inside the window sends those replies again at the next
    start: they were never recorded as sent (the guarantee is about what was recorded).
    """

    WINDOW = 0.02
    RETRY_SECONDS = 1.0

    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock
        self._marks: dict[int, str | None] = {}
        self._lock = asyncio.Lock()
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: set[asyncio.Task[None]] = set()

    def add(self, row_id: int, error: str | None) -> None:
        self._marks[row_id] = error
        self._flush_in(self.WINDOW)

    def _flush_in(self, seconds: float) -> None:
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(seconds, self._flush_now)

    def _flush_now(self) -> None:
        self._timer = None
        task = asyncio.create_task(self.flush(), name="replied-marks")
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def flush(self) -> None:
        """Write every mark taken so far (the caller waits until they are committed)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        async with self._lock:
            if not self._marks:
                return
            marks, self._marks = self._marks, {}
            try:
                await uninterrupted(self._write(marks))
            except Exception:
                logger.exception("could not record %d replies as sent; retrying", len(marks))
                self._marks = marks | self._marks
                self._flush_in(self.RETRY_SECONDS)

    async def _write(self, marks: dict[int, str | None]) -> None:
        async with self.db.write() as session:
            await journal.mark_replied_many(session, marks, self.clock())


class ChannelInbound:
    """One channel's journaled processing: its journal, its journal loop and chat queues, and the row logic."""

    def __init__(self, channel: Channel, processor: InboundProcessor, concurrency: int = DEFAULT_CONCURRENCY) -> None:
        self.channel = channel
        self.processor = processor
        self.replied = RepliedMarks(processor.db, processor.clock)
        self.queues = ChatQueues(self.process_row, concurrency, settle=self.replied.flush)
        self.pump = JournalPump(processor.db, channel.name, self.queues)

    @property
    def db(self) -> Database:
        return self.processor.db

    async def record(self, events: Sequence[RawEvent]) -> int:
        """Commit a batch of raw events; only after this may they be acknowledged. Returns how many were new."""
        now = self.processor.clock()
        rows: list[JournalRow] = []
        async with self.db.write() as session:
            for event in events:
                key = self.channel.journal_key(event)
                row_id = await journal.record_inbound(
                    session, self.channel.name, key.update_key, key.chat_key, event, now
                )
                if row_id is not None:
                    rows.append(journal.new_row(row_id, self.channel.name, key.update_key, key.chat_key, event, now))
        if self.pump.running:  # the lease holder takes them as written; on a standby the holder's loop finds them
            for row in rows:
                self.pump.take(row)
        return len(rows)

    async def process_row(self, row: JournalRow) -> None:
        """Handle a row if it is unfinished, then send its stored reply if it is unreplied.

        The first attempt works on the row as it was handed over; the journal is read again only after a failed
        attempt (or a lost race), to retry it.
        """
        token = request_id.set(f"j{row.id}")  # every log record of this update carries its journal row
        try:
            current: JournalRow | None = row
            if row.status == InboundStatus.PENDING:
                current = await self._run(row) or await self._retry(row)
            if current is not None and current.awaits_reply:
                await self._send_replies(current)
        finally:
            request_id.reset(token)

    async def _retry(self, row: JournalRow) -> JournalRow | None:
        """After a failed attempt: retry soon, twice; the minute sweep does the rest."""
        current = await self._reload(row.id)
        for backoff in RETRY_BACKOFF:
            if current is None or current.status != InboundStatus.PENDING or self.queues.closing:
                break  # done elsewhere, given up, or shutting down (the next start retries it)
            await asyncio.sleep(backoff)
            current = await self._reload(row.id)
            if current is None or current.status != InboundStatus.PENDING:
                break
            current = await self._run(current) or await self._reload(row.id)
        return current

    async def _reload(self, row_id: int) -> JournalRow | None:
        async with self.db.read() as session:
            return await journal.load_row_by_id(session, row_id)

    async def _run(self, row: JournalRow) -> JournalRow | None:
        """One attempt; the row as it is now, or None when that is not known here (read it again)."""
        if row.payload is None:  # purged before it could run: nothing left to process
            return await self.processor.finish_without_reply(row)
        try:
            request = await self.channel.to_request(row)
        except Unparsable as unparsable:
            return await self.processor.mark_unparsable(row, unparsable.error)
        except Exception as error:  # a failure in the channel's adapter code: a failed attempt like any other
            logger.error("error while reading %s journal row %s", row.channel, row.id, exc_info=error)
            await self.processor.record_failure(row, error)
            return None
        if request is None:
            return await self.processor.finish_without_reply(row)
        return await self.processor.process(row, request)

    async def _send_replies(self, row: JournalRow) -> None:
        if row.chat_key is None:
            self._mark_replied(row, None)
            return
        await self.channel.before_reply(row)
        error: str | None = None
        try:
            for data in row.replies or []:
                await self.channel.send(row.chat_key, reply_from_json(data))
        except (Undeliverable, DeliveryRejected) as reason:
            level = logging.INFO if isinstance(reason, Undeliverable) else logging.ERROR
            logger.log(level, "reply for journal row %s not delivered: %s", row.id, reason)
            error = str(reason)
        except DeliveryFailed:
            return  # the network is down: the row stays unreplied and the sweep sends it again
        except Exception as unknown:  # e.g. an answer that cannot be parsed: the reply may have gone out
            await self.processor.record_send_failure(row, unknown)
            return  # counted: the sweep sends it again, until the third attempt gives up
        self._mark_replied(row, error)

    def _mark_replied(self, row: JournalRow, error: str | None) -> None:
        self.queues.settle(row.id)
        self.replied.add(row.id, error)


def is_database_busy(error: BaseException) -> bool:
    """SQLite's "database is locked": the busy timeout ran out while another writer held the lock."""
    return isinstance(error, OperationalError) and "database is locked" in str(error.orig)
