"""The composition root: builds every long-lived part from the settings. Production and tests both call it."""

from __future__ import annotations

import getpass
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TextIO
from zoneinfo import ZoneInfo

from bot.channels.console import ConsoleChannel
from bot.conversation.dispatch import Dispatcher
from bot.conversation.handling import Registry, Services
from bot.conversation.templating import Renderer
from bot.domain.enums import Role
from bot.messaging.channel import Channel as ChannelProtocol
from bot.messaging.ratelimit import RateLimiter
from bot.services import identity, uploads
from bot.settings import Settings
from handlers import build_registry
from jobs.scheduler import SchedulerHost
from storage import migrate
from storage.database import Database
from storage.filestore import FileStore

logger = logging.getLogger(__name__)


@dataclass
class MonevApp:
    """Everything one process needs, wired once."""

    services: Services
    registry: Registry
    dispatcher: Dispatcher
    scheduler: SchedulerHost
    # Where every part of the process reads the time (the runtime, the journal processor, the channels, the
    # jobs); tests pass a clock they can move instead of waiting for a deadline.
    clock: Callable[[], datetime] = field(repr=False)

    @property
    def settings(self) -> Settings:
        return self.services.settings

    def now(self) -> datetime:
        """The current time in the city's zone (services take it as a parameter)."""
        return self.clock()

    async def prepare(self) -> None:
        """Migrate the schema and remove temp files a crashed process left."""
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        await migrate.upgrade(self.services.db)
        self.services.files.remove_stray_temp_files()

    async def remove_orphan_files(self) -> int:
        """Store files no row names (`monev run` at start-up only: every CLI command runs `prepare`).

        They are left by a transaction that rolled back after its file was admitted, or by a crash between the
        two. Only those older than an hour go, so another instance's upload in progress stays.
        """
        async with self.services.db.read() as session:
            referenced = await uploads.referenced_files(session)
        return self.services.files.remove_orphans(referenced)  # ages are mtimes: the file system clock judges them

    async def close(self) -> None:
        await self.scheduler.stop()
        await self.services.db.dispose()

    async def console(self, role: Role, opd_code: str | None, out: TextIO) -> ConsoleChannel:
        """A console channel acting as the console person of this unix user, role and OPD, holding only that role.

        Its messages (a notice to a console admin, the Kabid's summary) wait for the person's next session: the
        shell prints them after each line (`ConsoleChannel.show_waiting`).
        """
        unix_user = getpass.getuser()
        now = self.now()
        opd = opd_code.upper() if opd_code else None
        name = self.services.renderer.plain("konsol/nama_orang", role=role.value, opd=opd)
        async with self.services.db.write() as session:
            actor = await identity.ensure_console_person(session, unix_user, role, opd, name, now)
        external_id = identity.console_external_id(unix_user, role, opd)
        return ConsoleChannel(self.dispatcher, actor, unix_user, out, self.now, identity_id=external_id)


def build_channels(app: MonevApp, limiter: RateLimiter | None = None) -> list[ChannelProtocol]:
    """The channels `monev run` runs, from the settings: Telegram when MONEV_TELEGRAM_TOKEN is set, WhatsApp when
    MONEV_WHATSAPP_* are.

    The runtime, the journal and the outbox take the channels from this list.
    `limiter` is shared by every Telegram send of the process (direct replies and the outbox alike); WhatsApp has
    limits of its own (MONEV_WHATSAPP_MPS and the per-person pair rate), so a limiter of its own.
    """
    # The channel libraries (python-telegram-bot, pywa, aiohttp) are imported here, not at the top: the other
    # CLI commands never build a channel, and importing them was most of each command's start-up.
    from bot.channels.telegram.channel import TelegramChannel
    from bot.channels.whatsapp.channel import WhatsAppChannel
    from bot.channels.whatsapp.sender import whatsapp_limits

    settings, services = app.settings, app.services
    limiter = limiter or RateLimiter()
    channels: list[ChannelProtocol] = []
    if settings.telegram_token:
        channels.append(TelegramChannel(settings, services.db, services.files, services.renderer, limiter, app.now))
    if settings.whatsapp_token:
        whatsapp_limiter = RateLimiter(whatsapp_limits(settings.whatsapp_mps))
        channels.append(
            WhatsAppChannel(settings, services.db, services.files, services.renderer, whatsapp_limiter, app.now)
        )
    return channels


def zoned_clock(zone: ZoneInfo, clock: Callable[[], datetime] | None = None) -> Callable[[], datetime]:
    """The real time (or `clock`'s) in `zone`; a naive time is refused, as everywhere else."""

    def now() -> datetime:
        if clock is None:
            return datetime.now(zone)
        current = clock()
        if current.tzinfo is None:
            raise ValueError("the clock must return timezone-aware times")
        return current.astimezone(zone)

    return now


def idle_transaction_timeout(settings: Settings) -> float:
    """How long PostgreSQL lets one of our transactions wait for us: twice the lease timeout, at least 10 s.

    Past the lease timeout a stalled holder has lost the lease anyway; its open transaction must not outlive that
    for long, or its row locks hold up the instance that took over (a handler downloads before it opens its
    transaction, so a healthy transaction never waits this long for its process).
    """
    return max(2 * settings.lease_timeout_seconds, 10.0)


def build_app(settings: Settings, clock: Callable[[], datetime] | None = None) -> MonevApp:
    """Wire the services, handlers, dispatcher and scheduler for one process; `clock` defaults to the real time."""
    services = Services(
        settings=settings,
        db=Database(settings.database_url, idle_transaction_timeout=idle_transaction_timeout(settings)),
        files=FileStore(settings.files_dir),
        renderer=Renderer(settings.timezone),
    )
    registry = build_registry()
    now = zoned_clock(settings.timezone, clock)
    return MonevApp(
        services=services,
        registry=registry,
        dispatcher=Dispatcher(services, registry),
        scheduler=SchedulerHost(settings.timezone, now),  # jobs ask "what is due now?" at the process's time
        clock=now,
    )
