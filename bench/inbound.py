"""Benchmark: the inbound path, as users load it, against two python-telegram-bot baselines in the same run.

    .venv/bin/python -m bench.inbound [--liaisons 300] [--seconds 15] [--idle-seconds 60] [--broadcast 1000]

The bots run as child processes; the driver (this process) serves the fake Bot API (`tests/fake_telegram`) and
plays the users: registered liaisons send `/status` and `/saya`, unregistered users `/start`. Three targets, driven
the same way:

- *monev*: the real `monev run` (`python -m bot run`) on a seeded SQLite database. With the limits lifted it is the
  same CLI entry point with the channels built on `NoLimiter` (`serve monev`), as `bench.broadcast` does in-process.
- *echo*: a bare python-telegram-bot bot (`run_polling`, 16 updates at once) that answers every text with itself.
- *journal*: the same bot committing each update to SQLite (the project's `Database`: WAL, synchronous=FULL,
  BEGIN IMMEDIATE) before it replies.

Phases: closed loop with the limits lifted (64 users each waiting for their reply before the next message):
throughput, CPU per update (the child's user+system time), peak RSS (VmHWM). Open loop with Telegram's limits in
the fake and the bot's own limiter: messages injected at a fixed rate, latency from injection to the reply (p50,
p95, p99), lost and duplicated replies. Idle: the child's CPU over `--idle-seconds` with nothing to do. Broadcast:
a campaign opened to `--broadcast` liaisons while liaisons ask `/status` once a second; the `/status` latency.

Not a test: it prints figures and the targets' verdicts (TARGET MET / TARGET MISSED) and never fails. Figures
from a shared machine are noisy: compare the ratios measured in one run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import signal
import sqlite3
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import telegram
from sqlalchemy import update

from bot.conversation.envelope import MENU_KIND
from bot.services import registry
from bot.settings import Settings
from storage import migrate
from storage.database import Database
from storage.models import OutboxMessage, Role
from tests.e2e.broadcast_world import LIAISON_BASE, open_broadcast, register_one, seed_opds
from tests.e2e.harness import bot_settings, telegram_env
from tests.fake_telegram.actors import FakeUser
from tests.fake_telegram.limits import Limits
from tests.fake_telegram.server import FakeBotAPI

ROOT = Path(__file__).resolve().parents[1]
UNREGISTERED_BASE = 800_000
CLOSED_LOOP_USERS = 64
BASELINE_CONCURRENCY = 16  # the bot's own bound on chats processed at once (bot.messaging.inbound)
TICKS = os.sysconf("SC_CLK_TCK")


# ----- the baselines (child processes) --------------------------------------------------------------------------


def serve_baseline(mode: str) -> None:
    """A plain PTB bot polling the fake: `echo` replies at once, `journal` commits the update first.

    Every update gets one message back: a text its text, a document its caption, a button press its data.
    """
    from telegram import Update
    from telegram.ext import ApplicationBuilder, CallbackQueryHandler, ContextTypes, MessageHandler, filters

    db = Database(f"sqlite+aiosqlite:///{os.environ['BENCH_DB']}") if mode == "journal" else None
    if db is not None and not os.environ.get("BENCH_JOURNAL_TURNS"):
        # The baseline as the issue measured it: its writers wait in SQLite's busy handler, not in monev's turns
        # (storage.sqlite_driver), which it does not need to be fast (BENCH_JOURNAL_TURNS=1 gives it the turns).
        from storage import sqlite_driver

        async def no_turn(_connection: Any) -> None:
            return None

        sqlite_driver.OneTripConnection.take_turn = no_turn  # type: ignore[method-assign,assignment]

    async def post_init(_app: Any) -> None:
        if db is not None:
            async with db.write() as session:
                await session.connection()
                await session.execute(
                    _text("CREATE TABLE IF NOT EXISTS inbound (id INTEGER PRIMARY KEY, update_id INT, payload TEXT)")
                )

    async def journal(update: Update) -> None:
        if db is not None:
            async with db.write() as session:
                await session.execute(
                    _text("INSERT INTO inbound (update_id, payload) VALUES (:u, :p)"),
                    {"u": update.update_id, "p": str(update.to_json())},
                )

    async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None
        await journal(update)
        await message.reply_text(message.text or message.caption or "?", do_quote=False)

    async def press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query, chat = update.callback_query, update.effective_chat
        assert query is not None and chat is not None
        await journal(update)
        await query.answer()
        await context.bot.send_message(chat.id, query.data or "?")

    application = (
        ApplicationBuilder()
        .token(os.environ["MONEV_TELEGRAM_TOKEN"])
        .base_url(os.environ["MONEV_TELEGRAM_BASE_URL"])
        .concurrent_updates(BASELINE_CONCURRENCY)
        .post_init(post_init)
        .build()
    )
    application.add_handler(MessageHandler(filters.ALL, answer))
    application.add_handler(CallbackQueryHandler(press))
    application.run_polling(poll_interval=0, timeout=25, stop_signals=(signal.SIGTERM, signal.SIGINT))


def _text(sql: str) -> Any:
    from sqlalchemy import text

    return text(sql)


def serve_monev_unlimited() -> None:
    """`monev run` exactly as the CLI runs it, with the channels' limiters lifted (Telegram's and WhatsApp's)."""
    import bot.app
    import bot.cli
    from bot.app import build_channels
    from bot.messaging.ratelimit import NoLimiter

    # build_channels makes WhatsApp's limiter (a limiter of its own, on Meta's limits) from this name.
    bot.app.RateLimiter = NoLimiter  # type: ignore[misc]
    bot.cli.build_channels = lambda app, limiter=None: build_channels(app, NoLimiter())  # type: ignore[attr-defined]
    bot.cli.main(["run"])


# ----- the driver ---------------------------------------------------------------------------------------------


@dataclass
class Pending:
    sent_at: float
    expected: int
    received: int = 0
    done: asyncio.Future[float] | None = None


@dataclass
class Replies:
    """Matches what the fake accepts to the messages injected, per chat in order."""

    expected: dict[str, int]
    accept: Callable[[dict[str, Any]], bool] = lambda _m: True
    pending: dict[int, deque[Pending]] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    duplicates: int = 0
    recording: bool = True

    def on_event(self, kind: str, message: dict[str, Any]) -> None:
        if kind != "sent" or not self.accept(message):
            return
        queue = self.pending.get(message["chat"]["id"])
        if not queue:
            self.duplicates += 1  # a reply nobody is waiting for
            return
        head = queue[0]
        head.received += 1
        if head.received == head.expected:
            queue.popleft()
            now = time.monotonic()
            if self.recording:
                self.latencies.append(now - head.sent_at)
            if head.done is not None and not head.done.done():
                head.done.set_result(now)

    def send(self, fake: FakeBotAPI, user_id: int, command: str, *, wait: bool = False) -> Pending:
        entry = Pending(time.monotonic(), self.expected.get(command, 1))
        if wait:
            entry.done = asyncio.get_running_loop().create_future()
        self.pending.setdefault(user_id, deque()).append(entry)
        _send(fake, user_id, command)
        return entry

    def outstanding(self) -> int:
        return sum(p.expected - p.received for queue in self.pending.values() for p in queue)


def _send(fake: FakeBotAPI, user_id: int, text: str) -> None:
    FakeUser(fake, user_id).send_text(text)


@dataclass
class Child:
    """One bot process; CPU and peak memory read from /proc."""

    name: str
    process: asyncio.subprocess.Process
    log: Path

    def cpu(self) -> float:
        if self.process.returncode is not None:
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}: {self.log.read_text()[-3000:]}")
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout=20)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


async def start_child(name: str, argv: Sequence[str], env: dict[str, str], log: Path, fake: FakeBotAPI) -> Child:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MONEV_")} | env
    with log.open("ab") as handle:
        process = await asyncio.create_subprocess_exec(
            sys.executable, *argv, cwd=ROOT, env=clean, stdin=asyncio.subprocess.DEVNULL, stdout=handle, stderr=handle
        )
    polls = len([c for c in fake.calls if c.method == "getUpdates"])
    async with asyncio.timeout(60):
        # Its first getUpdates is the long poll itself: waiting for a second one waited out the 25 s poll timeout.
        while len([c for c in fake.calls if c.method == "getUpdates"]) <= polls:
            if process.returncode is not None:
                raise RuntimeError(f"{name} exited: {log.read_text()[-2000:]}")
            await asyncio.sleep(0.05)
    return Child(name, process, log)


@dataclass
class World:
    settings: Settings
    env: dict[str, str]
    liaisons: list[int]
    unregistered: list[int]
    tmp: Path
    runs: int = 0

    def script(self) -> list[tuple[int, str]]:
        """Who says what, round robin: liaisons alternate /status and /saya, the unregistered say /start."""
        lines: list[tuple[int, str]] = []
        for index, user in enumerate(self.liaisons):
            lines.append((user, "/status" if index % 2 == 0 else "/saya"))
        lines += [(user, "/start") for user in self.unregistered]
        random.Random(13).shuffle(lines)
        return lines


async def seed(settings: Settings, liaisons: int) -> list[int]:
    """Liaisons registered by invite codes (their command menus counted as sent long ago), over the default OPDs."""
    now = datetime.now(settings.timezone)
    db = Database(settings.database_url)
    try:
        await migrate.upgrade(db)
        async with db.write() as session:
            cli, rows = await seed_opds(session, now)
            users = [LIAISON_BASE + 1 + n for n in range(liaisons)]
            for n, user in enumerate(users):
                await register_one(session, Role.OPD, rows[n % len(rows)].code, user, cli, now)
            await session.execute(
                update(OutboxMessage).where(OutboxMessage.kind == MENU_KIND).values(status="sent", sent_at=now)
            )
        return users
    finally:
        await db.dispose()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


@dataclass
class Figures:
    target: str
    phase: str
    updates: int = 0
    seconds: float = 0.0
    cpu: float = 0.0
    peak_mb: float = 0.0
    latencies: list[float] = field(default_factory=list)
    lost: int = 0
    duplicates: int = 0

    @property
    def rate(self) -> float:
        return self.updates / self.seconds if self.seconds else float("nan")

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.cpu / self.updates if self.updates else float("nan")

    def line(self) -> str:
        text = f"  {self.target:8s} {self.phase:18s} {self.updates:6d} updates in {self.seconds:6.1f} s"
        text += f" = {self.rate:6.1f}/s; CPU {self.cpu_ms:5.2f} ms/update; peak RSS {self.peak_mb:5.1f} MB"
        if self.latencies:
            p50, p95, p99 = (1000 * percentile(self.latencies, q) for q in (50, 95, 99))
            text += f"; latency p50 {p50:.0f} ms, p95 {p95:.0f} ms, p99 {p99:.0f} ms"
        return text + f"; lost {self.lost}, duplicated {self.duplicates}"


async def calibrate(fake: FakeBotAPI, world: World) -> dict[str, int]:
    """How many messages monev sends for each command (the baselines answer each with one)."""
    counts: dict[str, int] = {}
    for user, command in (
        (world.liaisons[0], "/status"),
        (world.liaisons[1], "/saya"),
        (world.unregistered[0], "/start"),
    ):
        before = len(fake.sent_messages(user))
        _send(fake, user, command)
        await asyncio.sleep(0.5)
        while True:  # quiet for 0.5 s: every reply is in
            seen = len(fake.sent_messages(user))
            await asyncio.sleep(0.5)
            if len(fake.sent_messages(user)) == seen:
                break
        counts[command] = len(fake.sent_messages(user)) - before
    return counts


async def closed_loop(
    fake: FakeBotAPI, child: Child, world: World, expected: dict[str, int], seconds: float
) -> Figures:
    replies = Replies(expected)
    fake.add_listener(replies.on_event)
    script = world.script()
    width = min(CLOSED_LOOP_USERS, len(script))
    lanes = [script[k::width] for k in range(width)]
    counted = 0
    stop_at = 0.0
    measuring = False

    async def lane(lines: list[tuple[int, str]]) -> None:
        nonlocal counted
        index = 0
        while time.monotonic() < stop_at or not measuring:
            user, command = lines[index % len(lines)]
            index += 1
            entry = replies.send(fake, user, command, wait=True)
            assert entry.done is not None
            try:
                await asyncio.wait_for(entry.done, timeout=30)
            except TimeoutError:
                return
            if measuring and time.monotonic() < stop_at:
                counted += 1

    stop_at = time.monotonic() + 3600
    tasks = [asyncio.create_task(lane(lines)) for lines in lanes]
    await asyncio.sleep(min(3.0, seconds / 3))  # warm-up
    cpu0, start = child.cpu(), time.monotonic()
    stop_at, measuring = start + seconds, True
    await asyncio.gather(*tasks)
    figures = Figures(child.name, "closed loop", counted, time.monotonic() - start, child.cpu() - cpu0)
    figures.peak_mb = child.peak_rss_mb()
    await asyncio.sleep(1.0)
    figures.lost, figures.duplicates = replies.outstanding(), replies.duplicates
    fake._listeners.remove(replies.on_event)  # noqa: SLF001
    return figures


async def open_loop(
    fake: FakeBotAPI,
    child: Child,
    world: World | None,
    expected: dict[str, int],
    rate: float,
    seconds: float,
    *,
    script: list[tuple[int, str]] | None = None,
    accept: Callable[[dict[str, Any]], bool] = lambda _m: True,
    settle: float = 60.0,
) -> Figures:
    replies = Replies(expected, accept)
    fake.add_listener(replies.on_event)
    lines = script if script is not None else world.script() if world else []
    cpu0, start = child.cpu(), time.monotonic()
    sent = 0
    while (elapsed := time.monotonic() - start) < seconds:
        due = int(elapsed * rate) + 1
        while sent < due:
            user, command = lines[sent % len(lines)]
            replies.send(fake, user, command)
            sent += 1
        await asyncio.sleep(max(0.0, (sent / rate) - (time.monotonic() - start)))
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(settle):
            while replies.outstanding():
                await asyncio.sleep(0.05)
    finished = time.monotonic()
    await asyncio.sleep(1.0)  # a late duplicate shows up here
    figures = Figures(child.name, f"open loop {rate:g}/s", sent, finished - start, child.cpu() - cpu0)
    figures.peak_mb, figures.latencies = child.peak_rss_mb(), replies.latencies
    figures.lost, figures.duplicates = replies.outstanding(), replies.duplicates
    fake._listeners.remove(replies.on_event)  # noqa: SLF001
    return figures


async def make_world(tmp: Path, fake: FakeBotAPI, liaisons: int, unregistered: int) -> World:
    settings = bot_settings(fake, tmp)
    users = await seed(settings, liaisons)
    env = telegram_env(fake, tmp / "data", MONEV_LOG_LEVEL="INFO")
    for key in ("MONEV_LEASE_RENEW_SECONDS", "MONEV_LEASE_TIMEOUT_SECONDS"):  # production defaults
        env.pop(key)
    strangers = [UNREGISTERED_BASE + 1 + n for n in range(unregistered)]
    return World(settings, env, users, strangers, tmp)


def register_users(fake: FakeBotAPI, world: World) -> None:
    # Each fake numbers its updates anew; the journal would take a reused id within a week for a redelivery.
    world.runs += 1
    fake.restart_update_ids(world.runs * 10_000_000)
    for user in [*world.liaisons, *world.unregistered]:
        fake.user(user, first_name=f"U{user}")


def point_at(env: dict[str, str], fake: FakeBotAPI) -> dict[str, str]:
    return env | {"MONEV_TELEGRAM_BASE_URL": fake.base_url, "MONEV_TELEGRAM_BASE_FILE_URL": fake.base_file_url}


async def lifted_phase(world: World, seconds: float) -> tuple[list[Figures], dict[str, int]]:
    results: list[Figures] = []
    expected: dict[str, int] = {}
    for target in ("monev", "echo", "journal"):
        fake = FakeBotAPI(limits=None)
        await fake.start()
        try:
            register_users(fake, world)
            env = point_at(world.env, fake) | {"BENCH_DB": str(world.tmp / f"{target}.sqlite3")}
            argv = ["-m", "bench.inbound", "serve", target]
            child = await start_child(target, argv, env, world.tmp / f"{target}-lifted.log", fake)
            try:
                counts = await calibrate(fake, world) if target == "monev" else {}
                if target == "monev":
                    expected = counts
                results.append(await closed_loop(fake, child, world, counts, seconds))
            finally:
                await child.stop()
        finally:
            await fake.stop()
    return results, expected


async def limited_phase(
    world: World, expected: dict[str, int], seconds: float, idle_seconds: float
) -> tuple[list[Figures], float | None]:
    results: list[Figures] = []
    idle: float | None = None
    for target in ("monev", "echo", "journal"):
        fake = FakeBotAPI(limits=Limits())
        await fake.start()
        try:
            register_users(fake, world)
            env = point_at(world.env, fake) | {"BENCH_DB": str(world.tmp / f"{target}.sqlite3")}
            argv = ["-m", "bot", "run"] if target == "monev" else ["-m", "bench.inbound", "serve", target]
            child = await start_child(target, argv, env, world.tmp / f"{target}-limited.log", fake)
            counts = expected if target == "monev" else {}
            try:
                for rate in (25.0, 50.0) if target == "monev" else (25.0,):
                    results.append(await open_loop(fake, child, world, counts, rate, seconds))
                if target == "monev" and idle_seconds:
                    await asyncio.sleep(5)  # the last replies' follow-ups settle
                    cpu0 = child.cpu()
                    await asyncio.sleep(idle_seconds)
                    idle = (child.cpu() - cpu0) / idle_seconds
            finally:
                await child.stop()
        finally:
            await fake.stop()
    return results, idle


async def broadcast_phase(tmp: Path, liaisons: int, rate: float) -> tuple[Figures, float, int]:
    """A broadcast to `liaisons` under Telegram's limits while liaisons ask /status; (figures, elapsed, messages)."""
    # Telegram's own limits (a per-chat burst of 3, as the bot's limiter assumes): a liaison asking /status gets
    # the broadcast's two messages and the answer close together. bench.broadcast uses the stricter fake.
    fake = FakeBotAPI(limits=Limits())
    await fake.start()
    try:
        settings = bot_settings(fake, tmp)
        per_opd: dict[str, int] = {}
        codes = [row.code for row in registry.parse_opd_file(registry.default_opd_file())][:32]
        for n in range(liaisons):
            per_opd[codes[n % len(codes)]] = per_opd.get(codes[n % len(codes)], 0) + 1
        world = await open_broadcast(settings, per_opd, now=datetime.now(settings.timezone))
        for user in [*world.liaisons, world.uploader_chat, *world.leader_chats]:
            fake.user(user)
        env = telegram_env(fake, tmp / "data")
        for key in ("MONEV_LEASE_RENEW_SECONDS", "MONEV_LEASE_TIMEOUT_SECONDS"):
            env.pop(key)
        messages = 2 * len(world.liaisons)
        received: dict[int, int] = {}
        times: list[float] = []
        finished = asyncio.Event()

        def on_broadcast(kind: str, message: dict[str, Any]) -> None:
            chat = message["chat"]["id"]
            if kind == "sent" and chat in world.liaisons and not is_status(message):
                times.append(time.monotonic())
                received[chat] = received.get(chat, 0) + 1
                if sum(received.values()) >= messages:
                    finished.set()

        fake.add_listener(on_broadcast)
        child = await start_child("monev", ["-m", "bot", "run"], env, tmp / "broadcast.log", fake)
        try:
            askers = list(world.liaisons)
            random.Random(7).shuffle(askers)
            seconds = messages / 30 * 0.9  # the broadcast's floor: ask while it runs
            script = [(user, "/status") for user in askers]
            figures = await open_loop(fake, child, None, {"/status": 1}, rate, seconds, script=script, accept=is_status)
            figures.target = "monev"
            figures.phase = f"/status {rate:g}/s in broadcast"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(finished.wait(), timeout=messages / 30 * 2 + 60)
            elapsed = times[-1] - times[0] if len(times) >= messages else float("nan")
        finally:
            await child.stop()
        print(f"  429s the fake answered during the broadcast phase: {len(fake.rejected_429)}")
        return figures, elapsed, messages
    finally:
        await fake.stop()


def is_status(message: dict[str, Any]) -> bool:
    return str(message.get("text", "")).startswith("Kelengkapan ")


def verdict(ok: bool, text: str) -> str:
    return f"{'TARGET MET' if ok else 'TARGET MISSED'} ({text})"


async def main(args: argparse.Namespace) -> None:
    print(
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"python-telegram-bot {telegram.__version__}, load average {os.getloadavg()[0]:.2f} at the start"
    )
    with tempfile.TemporaryDirectory(prefix="monev-inbound-") as name:
        tmp = Path(name)
        if args.phases & {"lifted", "limited"}:
            await run_inbound(args, tmp)
        if "broadcast" in args.phases and args.broadcast:
            await run_broadcast(args, tmp)
        if "mixed" in args.phases:
            from bench import inbound_mixed

            await inbound_mixed.mixed_phase(tmp / "mixed", inbound_mixed.QUICK if args.quick else inbound_mixed.FULL)


async def run_inbound(args: argparse.Namespace, tmp: Path) -> None:
    """The lifted and limited phases (the open loop expects the replies the closed loop's calibration counted)."""
    print(f"users: {args.liaisons} registered liaisons (/status, /saya), {args.unregistered} unregistered (/start)")
    seeding = FakeBotAPI(limits=None)
    await seeding.start()
    world = await make_world(tmp, seeding, args.liaisons, args.unregistered)
    await seeding.stop()
    lifted, expected = await lifted_phase(world, args.seconds)
    print(f"replies per command (monev): {expected}; the baselines answer every message once")
    print("limits lifted (fake without limits, monev on NoLimiter), closed loop, 64 users:")
    for figures in lifted:
        print(figures.line())
    limited, idle = await limited_phase(world, expected, args.seconds, args.idle_seconds)
    print("Telegram's limits (fake: 30/s overall, 1/s per chat with a burst of 3; monev: its own limiter):")
    for figures in limited:
        print(figures.line())
    monev, _echo, journal = lifted
    print(
        f"ratios, limits lifted: monev/journal throughput {monev.rate / journal.rate:.2f}, "
        f"CPU per update {monev.cpu_ms / journal.cpu_ms:.2f}x; monev/echo throughput {monev.rate / _echo.rate:.2f}"
    )
    at25, at50 = limited[0], limited[1]
    print(verdict(monev.rate >= 0.5 * journal.rate, "throughput >= 50% of the journaling baseline"))
    print(verdict(monev.cpu_ms <= 2 * journal.cpu_ms, "CPU per update <= 2x the journaling baseline"))
    p99 = 1000 * percentile(at25.latencies, 99)
    print(verdict(p99 < 100 and not at25.lost, f"p99 {p99:.0f} ms at 25/s offered; target < 100 ms"))
    print(verdict(not at50.lost and not at50.duplicates, "nothing lost or duplicated at 50/s offered"))
    if idle is not None:
        print(verdict(idle < 0.01, f"idle monev run: {100 * idle:.2f}% of a core over {args.idle_seconds:g} s"))


async def run_broadcast(args: argparse.Namespace, tmp: Path) -> None:
    figures, elapsed, messages = await broadcast_phase(tmp / "broadcast", args.broadcast, args.status_rate)
    print(f"broadcast to {args.broadcast} liaisons ({messages} messages; the fake with Telegram's limits):")
    print(figures.line())
    floor = messages / 30
    print(f"  broadcast: first to last message {elapsed:.1f} s; floor {floor:.1f} s; {elapsed / floor:.3f}x floor")
    p99 = 1000 * percentile(figures.latencies, 99)
    print(verdict(p99 < 1000 and not figures.lost, f"/status p99 {p99:.0f} ms during the broadcast; < 1 s"))


PHASES = ("lifted", "limited", "broadcast", "mixed")
SIZES = {"liaisons": 300, "unregistered": 100, "seconds": 15.0, "idle_seconds": 60.0, "broadcast": 1000}
QUICK_SIZES = {"liaisons": 100, "unregistered": 30, "seconds": 5.0, "idle_seconds": 10.0, "broadcast": 200}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.inbound")
    parser.add_argument("--liaisons", type=int, help="default 300 (--quick: 100)")
    parser.add_argument("--unregistered", type=int, help="default 100 (--quick: 30)")
    parser.add_argument("--seconds", type=float, help="per closed-loop and open-loop run; default 15 (--quick: 5)")
    parser.add_argument("--idle-seconds", type=float, help="default 60 (--quick: 10)")
    parser.add_argument("--broadcast", type=int, help="liaisons of the broadcast phase (0: skip); default 1000 (200)")
    parser.add_argument("--status-rate", type=float, default=2.0, help="/status per second during the broadcast")
    parser.add_argument(
        "--phases",
        default=",".join(PHASES),
        help="comma-separated, of lifted,limited,broadcast,mixed (lifted and limited run together)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="every phase smaller (mixed: 100 people, about 1,000 updates): a smoke run"
    )
    args = parser.parse_args(argv)
    for key, value in (QUICK_SIZES if args.quick else SIZES).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.phases = {phase.strip() for phase in args.phases.split(",") if phase.strip()}
    if unknown := args.phases - set(PHASES):
        parser.error(f"unknown phases: {', '.join(sorted(unknown))} (known: {', '.join(PHASES)})")
    return args


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "serve":
        if sys.argv[2] == "monev":
            sys.argv[1:] = ["run"]
            serve_monev_unlimited()
        else:
            serve_baseline(sys.argv[2])
    else:
        asyncio.run(main(parse_args()))
