"""The project rate limiter on a virtual clock: exact send times, no real waiting."""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Awaitable
from itertools import count

import pytest

from bot.messaging.ratelimit import Limits, RateLimiter

START = 1_000.0


class VirtualTime:
    """A monotonic clock and a sleep that only move when every task is waiting on this clock.

    `run` drives the tasks: it lets them run until each is done or asleep here, then wakes the earliest sleeper
    at exactly its wake time. Nothing waits in real time.
    """

    def __init__(self) -> None:
        self.now = START
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = count()
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._order), wake))
        await wake

    async def run(self, *work: Awaitable[object]) -> None:
        tasks = [asyncio.ensure_future(w) for w in work]
        while True:
            for _ in range(50):  # asyncio.Lock hand-overs take a few loop turns; these are not real waits
                await asyncio.sleep(0)
            if all(task.done() for task in tasks):
                for task in tasks:
                    task.result()
                return
            assert self._sleepers, "deadlock: tasks wait on something other than the clock"
            at, _, wake = heapq.heappop(self._sleepers)
            self.now = max(self.now, at)
            wake.set_result(None)


def limiter_on(clock: VirtualTime, limits: Limits | None = None) -> RateLimiter:
    return RateLimiter(limits or Limits(), clock=clock.monotonic, sleep=clock.sleep)


async def send_times(
    clock: VirtualTime, limiter: RateLimiter, chats: list[int], *, is_group: bool = False
) -> list[list[float]]:
    """Acquire once per entry of `chats` (in this order, each chat's messages one after another, chats at once)."""
    stamps: dict[int, list[float]] = {}

    async def one_chat(chat: int, messages: int) -> None:
        for _ in range(messages):
            await limiter.acquire(chat, is_group=is_group)
            stamps.setdefault(chat, []).append(round(clock.now - START, 6))

    await clock.run(*(one_chat(chat, chats.count(chat)) for chat in dict.fromkeys(chats)))
    return [stamps[chat] for chat in dict.fromkeys(chats)]


async def test_a_private_chat_gets_a_burst_of_3_then_one_message_per_second() -> None:
    clock = VirtualTime()
    (stamps,) = await send_times(clock, limiter_on(clock), [42] * 7)
    assert stamps == [0, 0, 0, 1, 2, 3, 4]


async def test_a_chat_that_was_quiet_has_its_burst_again() -> None:
    clock = VirtualTime()
    limiter = limiter_on(clock)
    await send_times(clock, limiter, [42] * 4)
    clock.now += 10  # ten quiet seconds refill the bucket, but never beyond the burst
    (stamps,) = await send_times(clock, limiter, [42] * 4)
    assert stamps == [11, 11, 11, 12]


async def test_the_global_bucket_lets_20_go_at_once_then_30_per_second() -> None:
    clock = VirtualTime()
    stamps = await send_times(clock, limiter_on(clock), list(range(1, 51)))  # 50 chats, one message each
    firsts = sorted(s for (s,) in stamps)
    assert firsts[:20] == [0] * 20
    assert firsts[20:] == [round(n / 30, 6) for n in range(1, 31)]


async def test_a_group_gets_20_at_once_then_20_per_minute() -> None:
    clock = VirtualTime()
    (stamps,) = await send_times(clock, limiter_on(clock), [-100] * 23, is_group=True)
    assert stamps == [0] * 20 + [3, 6, 9]


async def test_a_busy_chat_does_not_hold_up_another() -> None:
    clock = VirtualTime()
    busy, other = await send_times(clock, limiter_on(clock), [1, 1, 1, 1, 1, 2])
    assert busy == [0, 0, 0, 1, 2]
    assert other == [0]


async def test_retry_after_holds_the_chat_then_its_rate_resumes() -> None:
    clock = VirtualTime()
    limiter = limiter_on(clock)
    await send_times(clock, limiter, [7])
    limiter.retry_after(7, 5.0)  # Telegram answered 429 with retry_after=5 for chat 7
    held, other = await send_times(clock, limiter, [7, 7, 7, 8])
    assert held == [5, 6, 7]  # nothing before the 5 s are up, then one per second: no new burst right away
    assert other == [0]  # another chat is not held


async def test_retry_after_of_a_group_holds_the_group() -> None:
    clock = VirtualTime()
    limiter = limiter_on(clock)
    limiter.retry_after(-100, 2.5, is_group=True)
    (stamps,) = await send_times(clock, limiter, [-100, -100], is_group=True)
    assert stamps == [2.5, 5.5]


async def test_waits_are_slept_on_the_injected_sleep() -> None:
    clock = VirtualTime()
    await send_times(clock, limiter_on(clock, Limits(chat_rate=4.0, chat_burst=1)), [9, 9, 9])
    assert clock.sleeps == [pytest.approx(0.25), pytest.approx(0.25)]


async def test_a_direct_reply_takes_the_next_global_token_ahead_of_queued_outbox_messages() -> None:
    clock = VirtualTime()
    limiter = limiter_on(clock, Limits(global_rate=1.0, global_burst=1))
    order: list[str] = []

    async def outbox(chat: int) -> None:
        await limiter.acquire(chat)
        order.append(f"outbox {chat}")

    async def reply_later() -> None:
        await clock.sleep(0.5)  # the broadcast's messages are already waiting for the global bucket
        await limiter.acquire(99, urgent=True)
        order.append("reply 99")

    await clock.run(*(outbox(chat) for chat in range(1, 6)), reply_later())
    # The first message took the burst; the reply takes the next token, the broadcast goes on after it.
    assert order == ["outbox 1", "reply 99", "outbox 2", "outbox 3", "outbox 4", "outbox 5"]
    assert clock.now - START == 5.0  # one token per second overall, the reply included: the limit holds
