"""Two instances, proven: two `monev run` processes in webhook mode on one PostgreSQL, behind one address.

The address is a small forwarding proxy (aiohttp, below) that sends each webhook POST to the first instance that
accepts the connection, the other one when it does not. Both instances serve `POST /telegram` and journal what
reaches them (a standby journals too, `bot/channels/telegram/web.py`); only the lease holder processes and sends.
The fake Bot API POSTs its updates to the proxy, as Telegram would to a load balancer.

The holder is killed with SIGKILL during a broadcast and uploads, or stopped with SIGSTOP and resumed after the
standby took over: the standby takes over within the lease timeout, the resumed holder's writes are refused by the
epoch fence, nothing is lost, and a message reached a chat twice only within the documented window.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import func, select, text

from storage import migrate
from storage.database import Database
from storage.models import DeliveryAttempt, Lease
from tests.conftest import truncate_all
from tests.e2e.broadcast_world import World, open_broadcast, tagged_pdf
from tests.e2e.crash_checks import (
    outbox_not_delivered,
    outside_the_window,
    sent_twice,
    settled,
    store_report,
    unanswered,
)
from tests.e2e.harness import BotProcess, bot_settings, free_port, telegram_env
from tests.fake_telegram.server import FakeBotAPI

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]

SECRET = "dua-instans_rahasia"
OPDS = {"DINKES": 13, "BPBD": 13, "DISHUB": 13, "DLH": 13}  # 52 liaisons


@dataclass
class Proxy:
    """One address in front of both instances: a POST goes to the first that accepts it (a load balancer's failover)."""

    targets: list[str]
    port: int = field(default_factory=free_port)
    answered_by: Counter[str] = field(default_factory=Counter)
    _runner: web.AppRunner | None = None
    _session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/telegram", self._forward)
        self._session = aiohttp.ClientSession()
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        body = await request.read()
        headers = {
            k: v for k, v in request.headers.items() if k.lower() in ("content-type", "x-telegram-bot-api-secret-token")
        }
        for target in self.targets:
            try:
                timeout = aiohttp.ClientTimeout(total=5)
                async with self._session.post(
                    f"{target}/telegram", data=body, headers=headers, timeout=timeout
                ) as resp:
                    await resp.read()
                    self.answered_by[target] += 1
                    return web.Response(status=resp.status)
            except (aiohttp.ClientError, TimeoutError):
                continue  # that instance is down (or stopped): the next one
        return web.Response(status=502)


@dataclass
class Pair:
    fake: FakeBotAPI
    db: Database
    world: World
    proxy: Proxy
    first: BotProcess
    second: BotProcess
    data_dir: Path

    async def holder(self) -> tuple[int | None, int]:
        return await holder_of(self.db)

    async def wait_holder(self, process: BotProcess) -> int:
        return await self.wait_holder_of(self.db, process)

    @staticmethod
    async def wait_holder_of(db: Database, process: BotProcess, timeout: float = 30) -> int:
        """Until `process` holds the lease; the lease's epoch then."""
        assert process.process is not None
        async with asyncio.timeout(timeout):
            while True:
                pid, epoch = await holder_of(db)
                if pid == process.process.pid:
                    return epoch
                await asyncio.sleep(0.02)

    @staticmethod
    async def wait_serving(port: int, timeout: float = 30) -> None:
        async with asyncio.timeout(timeout), aiohttp.ClientSession() as session:
            while True:
                try:
                    async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                        if resp.status in (200, 503):
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)


async def holder_of(db: Database) -> tuple[int | None, int]:
    """The pid of the lease holder (the instance name is host:pid:random) and the lease's epoch."""
    async with db.read() as session:
        row = (await session.execute(select(Lease.holder, Lease.epoch))).first()
    if row is None or row.holder is None:
        return None, 0
    return int(row.holder.split(":")[1]), int(row.epoch)


@pytest.fixture
async def pair(fake_telegram: FakeBotAPI, tmp_path: Path, postgres_url: str) -> AsyncIterator[Pair]:
    """On PostgreSQL: the proxy, instance one holding the lease, two as its standby, then a 52-liaison broadcast."""
    db = Database(postgres_url)
    await migrate.upgrade(db)
    await truncate_all(db)
    settings = bot_settings(fake_telegram, tmp_path, MONEV_DATABASE_URL=postgres_url)
    # Each send is answered a second late: the broadcast lasts seconds, and at a kill or a stop up to one message
    # per chat (the dispatcher serves up to 64 chats at once) has reached Telegram without its answer reaching us.
    for method in ("sendMessage", "sendDocument"):
        fake_telegram.delay_answers(method, 1.0)
    ports = [free_port(), free_port()]
    proxy = Proxy([f"http://127.0.0.1:{port}" for port in ports])
    await proxy.start()
    processes = []
    for port in ports:
        env = telegram_env(
            fake_telegram,
            tmp_path / "data",  # one data directory, as a shared volume (or object storage) would be
            MONEV_DATABASE_URL=postgres_url,
            MONEV_HTTP_PORT=str(port),
            MONEV_WEBHOOK_URL=proxy.url,
            MONEV_WEBHOOK_SECRET=SECRET,
            # Longer than the suite's usual 1.5 s: on a loaded machine a live holder must not miss its renewals.
            MONEV_LEASE_RENEW_SECONDS="0.5",
            MONEV_LEASE_TIMEOUT_SECONDS="5",
        )
        processes.append(BotProcess(env, tmp_path))
    try:
        await processes[0].start()
        await Pair.wait_holder_of(db, processes[0])
        await processes[1].start()
        await Pair.wait_serving(ports[1])
        # Queued once both run (the holder's dispatcher finds it at its next safety poll): the kill or the stop
        # below lands in the broadcast, not after it.
        world = await open_broadcast(settings, OPDS, now=datetime.now().astimezone())
        for chat in (*world.liaisons, *world.leader_chats, world.uploader_chat):
            fake_telegram.user(chat, first_name=f"Orang{chat}")
        yield Pair(fake_telegram, db, world, proxy, *processes, tmp_path / "data")
    finally:
        for process in processes:
            if process.process is not None and process.process.returncode is None:
                process.process.send_signal(signal.SIGCONT)
            await process.kill()
        await proxy.stop()
        await db.dispose()


async def stall_inside_a_transaction(db: Database, process: BotProcess, tries: int = 5) -> bool:
    """SIGSTOP `process` at a moment it has a write to the outbox open (its row locks held), found by trying.

    The worst moment to stall: its locks would hold up the instance taking over. A stop caught outside such a
    transaction is resumed and tried again after the holder renewed its lease. On a quiet machine those
    transactions last a few milliseconds and may never be caught: after `tries` the holder is stopped wherever it
    is (the takeover and the fencing are the same; that PostgreSQL ends a stalled transaction is also proved in
    tests/test_journal_and_lease.py). Returns whether the stop landed inside a transaction.
    """
    assert process.process is not None
    for _ in range(tries):
        process.process.send_signal(signal.SIGSTOP)
        await asyncio.sleep(0.3)
        async with db.read() as session:
            stalled = await session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid"
                    " WHERE a.datname = current_database() AND a.state LIKE 'idle in transaction%'"
                    " AND a.state_change < clock_timestamp() - interval '0.25 s'"
                    " AND l.relation = 'outbox_message'::regclass AND l.mode = 'RowExclusiveLock'"
                )
            )
        if stalled:
            assert (await holder_of(db))[0] == process.process.pid, "the lease expired while trying"
            return True
        process.process.send_signal(signal.SIGCONT)
        await asyncio.sleep(1.0)  # two renewals' time: the lease stays fresh between the tries
    process.process.send_signal(signal.SIGSTOP)
    return False


async def takeover(pair: Pair, epoch_before: int) -> float:
    """Seconds from now until the standby holds the lease under a new epoch."""
    started = time.monotonic()
    epoch = await pair.wait_holder(pair.second)
    assert epoch == epoch_before + 1
    return time.monotonic() - started


async def sent_once_each(db: Database) -> Counter[int]:
    """Per outbox message, how many `sent` outcomes were recorded (a fenced-off holder records none)."""
    async with db.read() as session:
        rows = (
            await session.execute(
                select(DeliveryAttempt.message_id, func.count())
                .where(DeliveryAttempt.outcome == "sent")
                .group_by(DeliveryAttempt.message_id)
            )
        ).all()
    return Counter({message_id: count for message_id, count in rows})


async def finish(pair: Pair, injected: list[dict[str, Any]], kills: int) -> dict[int, Counter[str]]:
    await settled(pair.db, pair.fake, timeout=60)
    assert await unanswered(pair.db, injected) == []
    assert await outbox_not_delivered(pair.db) == {}
    report = await store_report(pair.db, pair.data_dir / "files")
    assert (report.missing, report.orphans) == ([], [])
    assert set((await sent_once_each(pair.db)).values()) == {1}
    duplicates = sent_twice(pair.fake)
    assert outside_the_window(duplicates, kills) == {}, duplicates
    return duplicates


async def test_sigkill_of_the_holder_during_a_broadcast_and_uploads(pair: Pair) -> None:
    fake = pair.fake
    _, epoch = await pair.holder()
    await fake.wait_for(lambda: len(fake.sent_messages()) >= 5, timeout=30)
    fake.throttle_downloads(300_000)  # each upload's download takes about a second: the kill lands in it
    injected: list[dict[str, Any]] = []
    uploaders = list(pair.world.liaisons)[:3]
    for n, chat in enumerate(uploaders):
        data = tagged_pdf(f"dua-{n} ".encode() + b"x" * 300_000)
        injected.append(fake.user(chat).send_document(data, f"sk-{n}.pdf", caption="I.01"))
    await fake.wait_for(lambda: len(fake.sent_messages()) >= 30, timeout=30)
    sent_at_kill = len(fake.sent_messages())
    await pair.first.kill()
    # Sent while nobody holds the lease: the proxy finds the first instance gone and the standby journals it.
    injected.append(fake.user(uploaders[0]).send_text("/status"))
    taken = await takeover(pair, epoch)
    fake.throttle_downloads(None)

    duplicates = await finish(pair, injected, kills=1)
    for chat in uploaders:
        assert len({t for t in fake.texts(chat) if "Versi:" in t}) == 1
    assert await pair.second.terminate() == 0
    assert "Traceback" not in pair.second.stderr.decode()
    twice = sum(sum(n - 1 for n in c.values()) for c in duplicates.values())
    print(
        f"\ntwo instances, SIGKILL: takeover {taken:.2f} s after the kill (lease timeout 5 s, renewal 0.5 s); "
        f"killed after {sent_at_kill} sends; {twice} sent twice in {len(duplicates)} chats; "
        f"webhook POSTs answered {dict(pair.proxy.answered_by)}"
    )


async def test_a_stalled_holder_resumed_after_the_takeover_is_fenced_off(pair: Pair) -> None:
    fake = pair.fake
    assert pair.first.process is not None
    _, epoch = await pair.holder()
    await fake.wait_for(lambda: len(fake.sent_messages()) >= 20, timeout=30)
    inside = await stall_inside_a_transaction(pair.db, pair.first)  # a holder that stalls (a GC pause, a frozen VM)
    sent_at_stop = len(fake.sent_messages())
    # The new holder sends some of what is left before the old one wakes (all of it, when little is left).
    left = sum((await outbox_not_delivered(pair.db)).values())
    taken = await takeover(pair, epoch)
    # Whether the new holder gets on while the old one is still stopped is reported, not required: in one CI run
    # it sent nothing in 60 s (rows the stopped holder had claimed, or its locks; see the README's Reliability
    # notes). What must hold is checked after the old holder wakes: everything delivered, nothing recorded twice.
    try:
        await fake.wait_for(lambda: len(fake.sent_messages()) >= sent_at_stop + min(10, left), timeout=30)
        progressed = True
    except TimeoutError:
        progressed = False
    pair.first.process.send_signal(signal.SIGCONT)  # it wakes up believing it still holds the lease

    duplicates = await finish(pair, [], kills=1)
    # The lease stays with the new epochs (on a loaded machine it may change hands again: any later epoch will do).
    assert (await pair.holder())[1] >= epoch + 1
    assert await pair.first.terminate() == 0
    assert await pair.second.terminate() == 0
    old = pair.first.stderr.decode()
    # Its renewal was refused (the lease shows the new epoch), so it stepped down; an outbox write it attempted
    # with its old fence was refused too (nothing above was recorded twice).
    assert "lost the lease: stepping down to standby" in old or "the lease changed hands" in old, old[-3000:]
    fenced_outbox = "the lease was taken over by another instance: this one stops sending" in old
    # The new holder logged no traceback. The old one, woken up, finds the connections the server closed meanwhile:
    # SQLAlchemy's pool and asyncpg log those (with tracebacks, and asyncpg's own unretrieved futures).
    assert "Traceback" not in pair.second.stderr.decode()
    twice = sum(sum(n - 1 for n in c.values()) for c in duplicates.values())
    print(
        f"\ntwo instances, SIGSTOP: takeover {taken:.2f} s after the stop; stopped after {sent_at_stop} sends; "
        f"{twice} sent twice in {len(duplicates)} chats; stopped inside an outbox write: {inside}; "
        f"the new holder sent while the old one was stopped: {progressed}; "
        f"the resumed holder's outbox write refused: {fenced_outbox}"
    )
