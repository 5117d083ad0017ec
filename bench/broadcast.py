"""Benchmark: a campaign broadcast through the real Runtime and python-telegram-bot against the fake Bot API.

    .venv/bin/python -m bench.broadcast [--liaisons 1000] [--opds 32]

1. Limited: the fake enforces Telegram's limits (30 messages/s overall) with a per-chat burst of 1, stricter
   than the bot's own rate limiter (burst 3), so "no 429" is not the limiter agreeing with itself.
   Target: everything delivered once, no 429 reaching the failure path, elapsed ≤ 1.10 × (messages ÷ 30 s).
2. Unlimited: no limits on either side; the dispatcher's own cost per message, against plain PTB
   `Bot.send_message` calls at the same concurrency in the same process.

Not a test: it prints figures (and TARGET MET / TARGET MISSED) and never fails.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import logging
import os
import platform
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import telegram
from sqlalchemy import func, select
from telegram import Bot
from telegram.constants import ParseMode

from bot.app import MonevApp, build_app, build_channels
from bot.messaging.outbox_dispatch import CLAIM_BATCH, CONCURRENT_CHATS
from bot.messaging.ratelimit import Limits, NoLimiter, RateLimiter
from bot.runtime import Runtime
from bot.services import registry
from bot.settings import Settings
from storage.models import DeliveryAttempt, OutboxMessage
from tests.e2e.broadcast_world import World, open_broadcast
from tests.e2e.harness import bot_settings, outbox_idle
from tests.fake_telegram.limits import STRICT_PER_CHAT
from tests.fake_telegram.server import FakeBotAPI

TARGET_RATIO = 1.10
GLOBAL_RATE = 30.0  # Telegram's (and the fake's) messages per second overall
GLOBAL_BURST = Limits().global_burst  # the bot's global bucket starts full: these go at once
PER_LIAISON = 2  # the signed letter (a document), then the data request


class SkippedTicks(logging.Filter):
    """Drops and counts APScheduler's "skipped: maximum number of running instances reached" warnings."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if "maximum number of running instances" in record.getMessage():
            self.count += 1
            return False
        return True


SKIPPED_TICKS = SkippedTicks()


@dataclass
class Tracker:
    """Follows what the fake accepts, to stop the clock the moment every liaison holds both messages."""

    liaisons: set[int]
    uploader: int
    per_chat: Counter[int] = field(default_factory=Counter)
    complete: int = 0
    done_at: float | None = None
    first_tick_at: float | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    report: asyncio.Event = field(default_factory=asyncio.Event)

    def on_event(self, kind: str, message: dict[str, Any]) -> None:
        if kind != "sent":
            return
        chat = message["chat"]["id"]
        self.per_chat[chat] += 1
        if chat == self.uploader:
            self.report.set()
        elif chat in self.liaisons and self.per_chat[chat] == PER_LIAISON:
            self.complete += 1
            if self.complete == len(self.liaisons):
                self.done_at = time.monotonic()
                self.done.set()


@dataclass
class RunResult:
    liaisons: int
    messages: int  # queued for the liaisons
    delivered: int  # accepted by the fake, liaisons and uploader together
    liaisons_complete: int
    extra_per_chat: int
    duplicate_chats: int
    out_of_order: int
    rejected_429: int
    statuses: dict[str, int]
    attempts: int
    elapsed: float | None  # lease held → every liaison holds both messages
    first_tick: float | None  # lease held → the outbox job's first run
    texts: dict[int, list[str]]  # what each liaison received, for the baseline
    skipped_ticks: int


def spread(liaisons: int, opds: int) -> dict[str, int]:
    """`liaisons` spread as evenly as possible over the first `opds` OPDs of the shipped list."""
    with registry.default_opd_file().open(encoding="utf-8", newline="") as handle:
        codes = [row["code"] for row in csv.DictReader(handle)][:opds]
    base, rest = divmod(liaisons, len(codes))
    return {code: base + (index < rest) for index, code in enumerate(codes)}


@asynccontextmanager
async def runtime_for(settings: Settings, limiter: RateLimiter | None) -> AsyncIterator[tuple[MonevApp, Runtime]]:
    """What tests/e2e/harness.py `running_bot` does, with the limiter chosen here; yields once the lease is held."""
    app = build_app(settings)
    await app.prepare()
    runtime = Runtime(app, build_channels(app, limiter))
    await runtime.start()
    task = asyncio.create_task(runtime.run())
    try:
        async with asyncio.timeout(10):
            while not runtime.is_holder:
                await asyncio.sleep(0.002)
        yield app, runtime
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await runtime.stop()
        await app.close()


async def settle(app: MonevApp, timeout: float) -> None:
    """Let the outbox finish (the benchmark reports what is left rather than failing)."""
    with contextlib.suppress(TimeoutError):
        await outbox_idle(app.services.db, timeout)


async def broadcast(liaisons: int, opds: int, *, limited: bool) -> RunResult:
    fake = FakeBotAPI(limits=STRICT_PER_CHAT) if limited else FakeBotAPI(limits=None)
    await fake.start()
    try:
        with tempfile.TemporaryDirectory(prefix="monev-bench-") as tmp:
            settings = bot_settings(fake, Path(tmp))
            world = await open_broadcast(settings, spread(liaisons, opds), now=datetime.now(settings.timezone))
            return await _run(fake, settings, world, limited)
    finally:
        await fake.stop()


async def _run(fake: FakeBotAPI, settings: Settings, world: World, limited: bool) -> RunResult:
    for user_id in [*world.liaisons, world.uploader_chat, *world.leader_chats]:  # the report goes to all three
        fake.user(user_id)
    tracker = Tracker(set(world.liaisons), world.uploader_chat)
    fake.add_listener(tracker.on_event)
    messages = PER_LIAISON * len(world.liaisons)
    skipped_before = SKIPPED_TICKS.count
    floor = messages / GLOBAL_RATE
    async with runtime_for(settings, None if limited else NoLimiter()) as (app, runtime):
        leased_at = time.monotonic()
        dispatcher = runtime.outbox
        deliver_due = dispatcher.deliver_due

        async def timed_deliver_due() -> int:  # the job calls it through the instance: note its first run
            if tracker.first_tick_at is None:
                tracker.first_tick_at = time.monotonic()
            return await deliver_due()

        dispatcher.deliver_due = timed_deliver_due  # type: ignore[method-assign]
        try:
            await asyncio.wait_for(tracker.done.wait(), timeout=2 * floor + 60)
            await asyncio.wait_for(tracker.report.wait(), timeout=30)
        except TimeoutError:
            print(f"  (timed out: {tracker.complete} of {len(world.liaisons)} liaisons hold both messages)")
        await settle(app, timeout=10)
        async with app.services.db.read() as session:
            statuses = dict(
                (await session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))).all()
            )
            attempts = await session.scalar(select(func.count()).select_from(DeliveryAttempt)) or 0
    sent = fake.sent_messages()
    by_chat: dict[int, list[dict[str, Any]]] = {}
    for message in sent:
        by_chat.setdefault(message["chat"]["id"], []).append(message)
    readers = (world.uploader_chat, *world.leader_chats)  # the uploader, the Kasi and the Kabid read the report
    expected = {chat: PER_LIAISON for chat in world.liaisons} | {chat: 1 for chat in readers}
    extra = sum(max(0, len(by_chat.get(chat, [])) - n) for chat, n in expected.items())
    out_of_order = sum(
        1 for chat in world.liaisons if ["document" in m for m in by_chat.get(chat, [])][:PER_LIAISON] != [True, False]
    )
    return RunResult(
        liaisons=len(world.liaisons),
        messages=messages,
        delivered=len(sent),
        liaisons_complete=tracker.complete,
        extra_per_chat=extra,
        duplicate_chats=len(fake.duplicate_texts()),
        out_of_order=out_of_order,
        rejected_429=len(fake.rejected_429),
        statuses=statuses,
        attempts=attempts,
        elapsed=None if tracker.done_at is None else tracker.done_at - leased_at,
        first_tick=None if tracker.first_tick_at is None else tracker.first_tick_at - leased_at,
        texts={chat: [_body(m) for m in by_chat.get(chat, [])] for chat in world.liaisons},
        skipped_ticks=SKIPPED_TICKS.count - skipped_before,
    )


def _body(message: dict[str, Any]) -> str:
    return str(message.get("caption") or message.get("text") or "")


async def plain_ptb(texts: dict[int, list[str]]) -> tuple[int, float]:
    """The same messages as plain `Bot.send_message` calls: 64 chats at once, one message after another per chat."""
    fake = FakeBotAPI(limits=None)
    await fake.start()
    try:
        for chat in texts:
            fake.user(chat)
        bound = asyncio.Semaphore(CONCURRENT_CHATS)
        async with Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url) as bot:

            async def one_chat(chat: int, bodies: list[str]) -> None:
                async with bound:
                    for body in bodies:
                        await bot.send_message(chat, body, parse_mode=ParseMode.HTML)

            started = time.monotonic()
            await asyncio.gather(*(one_chat(chat, bodies) for chat, bodies in texts.items()))
            elapsed = time.monotonic() - started
        return len(fake.sent_messages()), elapsed
    finally:
        await fake.stop()


def common_lines(result: RunResult) -> None:
    others = {k: v for k, v in result.statuses.items() if k != "sent"}
    print(f"  liaisons holding both messages: {result.liaisons_complete} of {result.liaisons}")
    print(f"  messages delivered: {result.delivered} ({result.messages} to liaisons + 3 delivery reports)")
    print(
        f"  duplicates: {result.extra_per_chat} extra messages per chat count, "
        f"{result.duplicate_chats} chats in duplicate_texts(); out of order: {result.out_of_order}"
    )
    print(f"  429s seen by the bot: {result.rejected_429}")
    print(
        f"  outbox rows: {sum(result.statuses.values())}, not sent: {sum(others.values())} {others or ''}".rstrip()
        + f"; delivery attempts recorded: {result.attempts}"
    )
    if result.first_tick is not None:
        print(f"  first outbox run: {result.first_tick:.2f} s after the lease (the job runs every 1 s)")
    print(f"  scheduler ticks skipped while the job ran (APScheduler warnings, not printed): {result.skipped_ticks}")


async def main(liaisons: int, opds: int) -> None:
    print(
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"python-telegram-bot {telegram.__version__}, {platform.system()} {platform.machine()}"
    )
    print(
        f"broadcast: {liaisons} liaisons over {min(opds, 32)} OPDs, {PER_LIAISON} messages each; "
        f"dispatcher claims {CLAIM_BATCH}, {CONCURRENT_CHATS} chats at once"
    )

    strict = STRICT_PER_CHAT
    print(
        f"limited run (fake enforces {strict.global_per_sec:g}/s overall and {strict.per_chat_per_sec:g}/s per chat "
        f"with a burst of {strict.per_chat_burst} (+{strict.tolerance} for jitter); the bot's own rate limiter, "
        f"per-chat burst {Limits().chat_burst}):"
    )
    limited = await broadcast(liaisons, opds, limited=True)
    common_lines(limited)
    floor = limited.messages / GLOBAL_RATE
    burst_floor = max(0, limited.messages - GLOBAL_BURST) / GLOBAL_RATE
    if limited.elapsed is None:
        print("  elapsed: did not finish")
        print("TARGET MISSED (not every liaison was reached)")
    else:
        ratio = limited.elapsed / floor
        print(f"  elapsed (lease held -> every liaison holds both): {limited.elapsed:.2f} s")
        print(f"  floor ({limited.messages} / 30 per s): {floor:.2f} s; ratio elapsed/floor: {ratio:.3f}")
        if limited.first_tick is not None:
            sending = limited.elapsed - limited.first_tick
            print(
                f"  of which sending (first outbox run -> every liaison holds both): {sending:.2f} s, "
                f"{sending / floor:.3f} x floor"
            )
        print(
            f"  burst floor (({limited.messages} - {GLOBAL_BURST} sent at once) / 30 per s): {burst_floor:.2f} s "
            f"= {burst_floor / floor:.3f} x floor (the bucket starts full: elapsed/floor can be < 1)"
        )
        clean = (
            limited.liaisons_complete == limited.liaisons
            and limited.extra_per_chat == 0
            and limited.rejected_429 == 0
            and set(limited.statuses) == {"sent"}
        )
        verdict = "TARGET MET" if ratio <= TARGET_RATIO and clean else "TARGET MISSED"
        print(f"{verdict} (ratio {ratio:.3f}, target <= {TARGET_RATIO:.2f}; all delivered once, no 429: {clean})")

    print("unlimited run (no limits in the fake, NoLimiter in the bot):")
    unlimited = await broadcast(liaisons, opds, limited=False)
    common_lines(unlimited)
    if unlimited.elapsed is None or unlimited.first_tick is None:
        print("  elapsed: did not finish")
        return
    work = unlimited.elapsed - unlimited.first_tick
    print(f"  elapsed (lease held -> every liaison holds both): {unlimited.elapsed:.2f} s")
    print(
        f"  dispatcher (first outbox run -> every liaison holds both): {work:.2f} s, "
        f"{unlimited.messages / work:.0f} messages/s, {1000 * work / unlimited.messages:.2f} ms per message"
    )
    sent, raw = await plain_ptb(unlimited.texts)
    print(
        f"  plain PTB send_message, same texts, {CONCURRENT_CHATS} chats at once: {sent} messages in {raw:.2f} s, "
        f"{sent / raw:.0f} messages/s, {1000 * raw / sent:.2f} ms per message"
    )
    print(f"  dispatcher / plain PTB: {work / raw:.2f}x")


def cli() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.broadcast", description=__doc__.split("\n\n")[0])
    parser.add_argument("--liaisons", type=int, default=1000, help="liaisons to reach (default 1000)")
    parser.add_argument("--opds", type=int, default=32, help="spread over the first N of the 32 default OPDs")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    # APScheduler warns once a second that the outbox job is still running ("skipped: maximum number of running
    # instances reached"): expected during a long broadcast, so counted instead of printed.
    logging.getLogger("apscheduler.scheduler").addFilter(SKIPPED_TICKS)
    asyncio.run(main(max(1, args.liaisons), max(1, min(args.opds, 32))))


if __name__ == "__main__":
    cli()
