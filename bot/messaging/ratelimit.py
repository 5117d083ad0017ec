"""The project's one rate limiter, shared by direct replies and the outbox.

Token buckets: 30 messages/s overall (starting with a burst of 20), 1/s per private chat (with a burst of 3,
which Telegram tolerates), 20/min per group. A sender waits for its chat's token first (so a busy chat never
holds up the others), then for a global token. python-telegram-bot's AIORateLimiter is not used: it has no
per-chat limit. A 429 from Telegram holds the chat's bucket for `retry_after` seconds, so every sender to that
chat waits, not only the one that was refused. The clock and the sleep are injectable so tests run on virtual time.

Two lanes share the global bucket: a direct reply (`urgent`) takes the next global token before any outbox
message that is waiting, so a person's answer does not queue behind a broadcast; the overall rate is unchanged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Limits:
    """Telegram's published limits, as buckets (rate per second, burst)."""

    global_rate: float = 30.0
    # Below Telegram's 30: requests that leave a busy event loop late can arrive together with later ones.
    global_burst: int = 20
    chat_rate: float = 1.0
    chat_burst: int = 3
    group_rate: float = 20 / 60
    group_burst: int = 20


@dataclass
class TokenBucket:
    rate: float
    capacity: float
    tokens: float
    updated: float
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def wait_time(self, now: float) -> float:
        """Seconds until one token is available (0 if one is available now); refills first."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        # The epsilon absorbs float rounding: a wait shorter than the clock's resolution would never end.
        return 0.0 if self.tokens >= 1 - 1e-9 else (1 - self.tokens) / self.rate

    def hold(self, now: float, seconds: float) -> None:
        """No token before `now + seconds`; then the bucket refills at its rate (no fresh burst at once)."""
        self.wait_time(now)
        self.tokens = min(self.tokens, 1 - seconds * self.rate)

    def is_idle(self, now: float) -> bool:
        return self.tokens + (now - self.updated) * self.rate >= self.capacity


class RateLimiter:
    """Waits until a message to `chat_id` may go out without breaking any of the limits."""

    def __init__(
        self,
        limits: Limits = Limits(),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.limits = limits
        self._clock = clock
        self._sleep = sleep
        now = clock()
        self._global = TokenBucket(limits.global_rate, limits.global_burst, limits.global_burst, now)
        self._chats: dict[str, TokenBucket] = {}
        self._urgent_lane = asyncio.Lock()
        self._urgent_waiting = 0
        self._no_urgent = asyncio.Event()
        self._no_urgent.set()

    async def acquire(self, chat_id: int | str, *, is_group: bool = False, urgent: bool = False) -> None:
        """Take one token from the chat's bucket and one from the global bucket, waiting as needed.

        `urgent` (a direct reply) goes ahead of every non-urgent sender waiting for a global token.
        """
        await self._take(self._bucket_for(str(chat_id), is_group))
        if urgent:
            await self._take_urgent()
        else:
            await self._take_behind_urgent()

    async def _take_urgent(self) -> None:
        self._urgent_waiting += 1
        self._no_urgent.clear()
        try:
            async with self._urgent_lane:
                while (wait := self._global.wait_time(self._clock())) > 0:
                    await self._sleep(wait)
                self._global.tokens -= 1
        finally:
            self._urgent_waiting -= 1
            if not self._urgent_waiting:
                self._no_urgent.set()

    async def _take_behind_urgent(self) -> None:
        bucket = self._global
        async with bucket.lock:
            while True:
                if self._urgent_waiting:
                    await self._no_urgent.wait()
                elif (wait := bucket.wait_time(self._clock())) > 0:
                    await self._sleep(wait)  # an urgent sender may take this token meanwhile: look again
                else:
                    bucket.tokens -= 1
                    return

    def retry_after(self, chat_id: int | str, seconds: float, *, is_group: bool = False) -> None:
        """Telegram refused a message to `chat_id` with 429: nothing goes to that chat for `seconds`."""
        self._bucket_for(str(chat_id), is_group).hold(self._clock(), seconds)

    async def _take(self, bucket: TokenBucket) -> None:
        async with bucket.lock:
            while (wait := bucket.wait_time(self._clock())) > 0:
                await self._sleep(wait)
            bucket.tokens -= 1

    def _bucket_for(self, chat_key: str, is_group: bool) -> TokenBucket:
        bucket = self._chats.get(chat_key)
        if bucket is None:
            if len(self._chats) > 10_000:
                self._forget_idle_chats()
            rate, burst = (
                (self.limits.group_rate, self.limits.group_burst)
                if is_group
                else (self.limits.chat_rate, self.limits.chat_burst)
            )
            bucket = self._chats[chat_key] = TokenBucket(rate, burst, burst, self._clock())
        return bucket

    def _forget_idle_chats(self) -> None:
        now = self._clock()
        for key in [k for k, b in self._chats.items() if b.is_idle(now) and not b.lock.locked()]:
            del self._chats[key]


class NoLimiter(RateLimiter):
    """For benchmarks that measure the sender's own cost with the limits lifted."""

    async def acquire(self, chat_id: int | str, *, is_group: bool = False, urgent: bool = False) -> None:
        return None

    def retry_after(self, chat_id: int | str, seconds: float, *, is_group: bool = False) -> None:
        return None
