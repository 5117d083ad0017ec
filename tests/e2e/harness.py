"""Run the real bot (composition root, Runtime, python-telegram-bot) against the fake Bot API."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from bot.app import MonevApp, build_app, build_channels
from bot.cli.support import cli_acting
from bot.messaging.channel import Channel
from bot.messaging.ratelimit import RateLimiter
from bot.runtime import Runtime
from bot.services import invites
from bot.settings import Settings
from storage.database import Database
from storage.models import InboundEvent, OutboxMessage, OutboxStatus, Role
from tests.conftest import make_settings
from tests.fake_telegram.actors import FakeUser
from tests.fake_telegram.server import FakeBotAPI
from tests.schema_template import seed_sqlite

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class ExpectedLog:
    """Records a test provokes on purpose: one logger (exact name) and a pattern its message must match."""

    logger: str
    pattern: re.Pattern[str]
    matched: int = field(default=0)

    def allows(self, record: logging.LogRecord) -> bool:
        return record.name == self.logger and self.pattern.search(record.getMessage()) is not None


@dataclass
class LogExpectations:
    """The `expect_log` fixture: what the e2e error guard lets through, and checks did happen."""

    expected: list[ExpectedLog] = field(default_factory=list)

    def __call__(self, logger: str, pattern: str) -> None:
        """Allow ERROR records of `logger` whose message matches `pattern`; at least one must be logged."""
        self.expected.append(ExpectedLog(logger, re.compile(pattern)))

    def unexpected(self, records: list[logging.LogRecord]) -> list[logging.LogRecord]:
        """The records no expectation allows; counts the matches of each expectation."""
        left: list[logging.LogRecord] = []
        for record in records:
            allowing = [e for e in self.expected if e.allows(record)]
            for expectation in allowing:
                expectation.matched += 1
            if not allowing:
                left.append(record)
        return left


def telegram_env(fake: FakeBotAPI, data_dir: Path, **extra: str) -> dict[str, str]:
    """The settings that point the bot at the fake server, with a fast lease for tests."""
    return {
        "MONEV_DATA_DIR": str(data_dir),
        "MONEV_TELEGRAM_TOKEN": fake.token,
        "MONEV_TELEGRAM_BASE_URL": fake.base_url,
        "MONEV_TELEGRAM_BASE_FILE_URL": fake.base_file_url,
        "MONEV_HTTP_PORT": "0",
        "MONEV_LEASE_RENEW_SECONDS": "0.2",
        "MONEV_LEASE_TIMEOUT_SECONDS": "1.5",
        # The automatic check of evidence and the daily recap (from 16:00 WIB on the real clock) send messages of
        # their own; only the tests about them turn them on.
        "MONEV_EVIDENCE_WORKERS": "0",
        "MONEV_RECAP_TIME": "off",
        **extra,
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RunningBot:
    app: MonevApp
    runtime: Runtime
    task: asyncio.Task[None]

    async def wait_idle(self, timeout: float = 10) -> None:
        """Until the journal has nothing unfinished or unreplied."""
        async with asyncio.timeout(timeout):
            while True:
                rows = await journal_rows(self.app.services.db)
                if rows and all(r.status in ("replied", "failed") and r.replied_at for r in rows):
                    return
                await asyncio.sleep(0.05)


class MovableClock:
    """The real time plus an offset a test moves forward, e.g. past a deadline, instead of waiting for it."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, by: timedelta) -> None:
        self.offset += by


@asynccontextmanager
async def running_bot(
    settings: Settings,
    clock: Callable[[], datetime] | None = None,
    limiter: RateLimiter | None = None,
    channels: Callable[[MonevApp], Awaitable[Sequence[Channel]]] | None = None,
) -> AsyncIterator[RunningBot]:
    """`monev run` in this process: lease, journal loop, polling or webhook, web server; on `clock` if given.

    The channels are the configured ones (`build_channels`, as `monev run` builds them) unless `channels` builds
    others from the app.
    """
    await seed_sqlite(settings.database_url)
    app = build_app(settings, clock)
    await app.prepare()
    runtime = Runtime(app, await channels(app) if channels else build_channels(app, limiter))
    await runtime.start()
    task = asyncio.create_task(runtime.run())
    try:
        async with asyncio.timeout(10):
            while not runtime.is_holder:
                await asyncio.sleep(0.02)
        yield RunningBot(app, runtime, task)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await runtime.stop()
        await app.close()


def bot_settings(fake: FakeBotAPI, tmp_path: Path, **extra: str) -> Settings:
    env = telegram_env(fake, tmp_path / "data", **extra)
    data_dir = env.pop("MONEV_DATA_DIR")
    return make_settings(Path(data_dir), **env)


async def outbox_idle(db: Database, timeout: float = 10) -> None:
    """Until nothing is pending or being sent (a message can reach the fake a moment before it is marked)."""
    async with asyncio.timeout(timeout):
        while True:
            async with db.read() as session:
                waiting = await session.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.status.in_([OutboxStatus.PENDING.value, OutboxStatus.SENDING.value]))
                )
            if not waiting:
                return
            await asyncio.sleep(0.05)


async def journal_rows(db: Database) -> list[InboundEvent]:
    async with db.read() as session:
        return list((await session.scalars(select(InboundEvent).order_by(InboundEvent.id))).all())


async def run_cli(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, str, str]:
    """The real `monev` CLI in the environment `BotProcess` gives `monev run`: exit code, stdout, stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env=BotProcess(env, cwd).env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    return process.returncode or 0, out.decode(), err.decode()


class BotProcess:
    """`monev run` as a real subprocess, to be killed with SIGKILL."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MONEV_")} | env
        self.cwd = cwd
        self.process: asyncio.subprocess.Process | None = None
        self.stderr = b""

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            cwd=self.cwd,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )

    async def kill(self) -> None:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self._collect()

    async def terminate(self) -> int:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await self._collect()

    async def _collect(self) -> int:
        assert self.process is not None
        _, err = await asyncio.wait_for(self.process.communicate(), timeout=20)
        self.stderr += err
        return self.process.returncode if self.process.returncode is not None else -1


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite+aiosqlite:///{data_dir / 'monev.sqlite3'}"


async def code_for(bot: RunningBot, role: Role, opd: str | None = None, **options: object) -> str:
    """A code minted the way the trusted CLI does it (in-process, for speed)."""
    acting = await cli_acting(bot.app)
    async with bot.app.services.db.write() as session:
        (invite,) = await invites.issue_invites(
            session, acting=acting, role=role, opd_code=opd, now=bot.app.now(), issuer_roles=None, **options
        )
    return invite.code


async def say(fake: FakeBotAPI, user: FakeUser, text: str, replies: int = 1) -> list[str]:
    before = len(fake.sent_messages(user.id))
    user.send_text(text)
    messages = await fake.wait_for_messages(user.id, before + replies)
    return [m["text"] for m in messages[before:]]


async def registered(fake: FakeBotAPI, bot: RunningBot, user_id: int, role: Role, opd: str | None = None) -> FakeUser:
    user = fake.user(user_id, first_name=f"{role.value.title()}{user_id}")
    (greeting,) = await say(fake, user, f"/daftar {await code_for(bot, role, opd)}")
    assert "Pendaftaran berhasil" in greeting
    return user
