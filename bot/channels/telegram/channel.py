"""The Telegram channel: python-telegram-bot's Application fed by our own journal, polling and webhook.

PTB confirms polled updates before handlers run and its webhook server answers 200 before processing; both
would lose an update in a crash. So the Application is built without an Updater: updates are journaled
first (`bot.messaging.inbound` runs the journal), and turning a journaled update into a request goes through
`Application.process_update` and one catch-all handler.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import httpx
from aiohttp import web
from sqlalchemy.exc import DBAPIError
from telegram import BotCommand, BotCommandScopeChat, Update
from telegram.error import BadRequest, Conflict, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from bot.channels.telegram.convert import CHANNEL, chat_key_of, to_request
from bot.channels.telegram.download import TelegramDownloader
from bot.channels.telegram.sender import TelegramSender
from bot.channels.telegram.web import webhook_routes
from bot.conversation.commands import COMMANDS, Command
from bot.conversation.core import Reply, Request
from bot.conversation.envelope import MENU_KIND, Envelope
from bot.conversation.templating import Renderer
from bot.domain.enums import Role
from bot.messaging.channel import ConfigurationError, Journal, JournalKey, RawEvent, Unparsable
from bot.messaging.delivery import DeliveryFailed, DeliveryRejected, Identity
from bot.messaging.ratelimit import RateLimiter
from bot.services import bot_state, outbox
from bot.services.journal import JournalRow
from bot.settings import Settings
from storage.database import Database, uninterrupted
from storage.filestore import FileStore

logger = logging.getLogger(__name__)
T = TypeVar("T")

POLL_TIMEOUT = 25
# A getUpdates that answers at once with nothing (a broken or misconfigured server, a proxy) must not become
# a busy loop: empty answers are at least this far apart.
EMPTY_POLL_PAUSE = 1.0


@dataclass
class _Reading:
    """One journaled row going through PTB: what the catch-all handler made of it, or what it raised."""

    row: JournalRow
    request: Request | None = None
    error: BaseException | None = None


# The row being read; PTB awaits our handler in the worker's own task, so the value is visible there.
_reading: contextvars.ContextVar[_Reading] = contextvars.ContextVar("telegram_reading")


def _unusable_get_me(reason: str) -> str:
    # The reason is a class name or a fixed phrase: a library message could quote a URL, and the URL holds the token.
    return (
        f"MONEV_TELEGRAM_BASE_URL: getMe got no usable answer from the Bot API ({reason}); "
        "check MONEV_TELEGRAM_BASE_URL, MONEV_TELEGRAM_TOKEN and the network"
    )


class TelegramChannel:
    """The Telegram side of the Channel protocol: getMe, polling or the webhook, updates to requests, sends."""

    name = CHANNEL
    CONFLICT_RETRY_SECONDS = 10.0

    def __init__(
        self,
        settings: Settings,
        db: Database,
        files: FileStore,
        renderer: Renderer,
        limiter: RateLimiter,
        clock: Callable[[], datetime],
        commands: tuple[Command, ...] = COMMANDS,
    ) -> None:
        assert settings.telegram_token
        self.settings = settings
        self.db = db
        self.renderer = renderer
        self.clock = clock
        self.commands = commands
        self.application: Application[Any, Any, Any, Any, Any, Any] = (
            ApplicationBuilder()
            .token(settings.telegram_token)
            .base_url(settings.telegram_base_url)
            .base_file_url(settings.telegram_base_file_url)
            .local_mode(settings.telegram_local_mode)
            .updater(None)
            .build()
        )
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self.application.add_error_handler(self._on_error)
        self.bot = self.application.bot
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(30.0, read=60.0), follow_redirects=False)
        self.downloader = TelegramDownloader(
            self.bot,
            self.http,
            local_mode=settings.telegram_local_mode,
            max_bytes=settings.telegram_max_file_mb * 1024 * 1024,
        )
        self.files = files
        self.sender = TelegramSender(self.bot, limiter)
        self.username: str | None = None
        self._upload_locks: dict[str, asyncio.Lock] = {}

    # -- start-up and shutdown -------------------------------------------------------------------------

    async def check(self) -> None:
        """getMe (a wrong token is a configuration error), remember the username."""
        try:
            await self.application.initialize()
        except InvalidToken:
            raise ConfigurationError("MONEV_TELEGRAM_TOKEN: Telegram rejected the bot token") from None
        except (TelegramError, TypeError, KeyError, ValueError) as error:
            # Not a Bot API answering (a wrong base URL, a proxy's error page, a broken server): PTB cannot read
            # the getMe answer, or reports the transport failing. Either way nothing can run: say which settings.
            await self.bot.shutdown()
            raise ConfigurationError(_unusable_get_me(type(error).__name__)) from None
        if not self.bot.username:  # every real bot has one, and the deep links need it
            await self.application.shutdown()
            raise ConfigurationError(_unusable_get_me("no username in the answer"))
        self.username = self.bot.username
        async with self.db.write() as session:
            await bot_state.remember(session, bot_state.TELEGRAM_USERNAME, self.username, self.clock())
        logger.info("Telegram bot @%s ready", self.username)

    def web_routes(self, journal: Journal) -> Sequence[web.RouteDef]:
        """`POST /telegram` in webhook mode (a standby journals what reaches it too); nothing when polling."""
        if not self.settings.webhook_url:
            return ()
        assert self.settings.webhook_secret  # the settings refuse a webhook URL without its secret
        return webhook_routes(self.settings.webhook_secret, journal)

    async def activate(self, journal: Journal) -> Sequence[Coroutine[Any, Any, None]]:
        """As lease holder: publish the menu, then set the webhook or poll until this instance steps down."""
        await self.publish_commands()
        if self.settings.webhook_url:
            await self.set_webhook()
            return ()
        return (self.poll(journal),)

    async def publish_commands(self) -> None:
        """The default menu: what the unregistered see (a registered person's chat has its own, see `_set_menu`)."""
        try:
            await self.bot.set_my_commands(self._menu(frozenset()))
        except TelegramError as error:
            logger.warning("could not publish the command menu: %s", error)

    def _menu(self, roles: frozenset[Role]) -> list[BotCommand]:
        """The commands of these roles (none: everyone's), described by their one-line help."""
        # Plain text of at most 256 characters (tests/test_texts_in_templates.py keeps every help text within).
        listed = [c for c in self.commands if c.allows(roles)]
        return [BotCommand(c.name, self.renderer.plain(c.help_template)[:256]) for c in listed]

    async def _set_menu(self, chat_id: int, roles: frozenset[Role]) -> None:
        """One chat's menu: its person's commands, or back to the default once no role is left."""
        scope = BotCommandScopeChat(chat_id)
        if roles:
            commands = self._menu(roles)
            await self.sender.call(chat_id, lambda: self.bot.set_my_commands(commands, scope=scope))
        else:
            await self.sender.call(chat_id, lambda: self.bot.delete_my_commands(scope=scope))

    async def close(self) -> None:
        await self.http.aclose()
        if self.username is not None:  # initialize() succeeded
            await self.application.shutdown()

    # -- inbound ---------------------------------------------------------------------------------------

    def journal_key(self, event: RawEvent) -> JournalKey:
        """An update's key is its update_id (the polling loop and the webhook pass only updates that have one)."""
        return JournalKey(str(event["update_id"]), chat_key_of(event))

    async def poll(self, journal: Journal) -> None:
        """Long polling: journal each batch raw, then confirm it by asking for the next offset."""
        await self._call_with_retry(lambda: self.bot.delete_webhook(drop_pending_updates=False))
        loop = asyncio.get_running_loop()
        offset: int | None = None
        conflict_logged = False
        failures = journal_failures = 0
        while True:
            started = loop.time()
            try:
                updates = await self._get_raw_updates(offset)
            except Conflict:
                if not conflict_logged:
                    logger.error(
                        "409 Conflict: another process is polling this bot token or a webhook is set; "
                        "retrying every %.0f s until it stops",
                        self.CONFLICT_RETRY_SECONDS,
                    )
                    conflict_logged = True
                await asyncio.sleep(self.CONFLICT_RETRY_SECONDS)
                continue
            except InvalidToken:
                raise ConfigurationError("MONEV_TELEGRAM_TOKEN: Telegram rejected the bot token") from None
            except RetryAfter as error:
                await asyncio.sleep(_seconds(error.retry_after))
                continue
            except (NetworkError, TelegramError, KeyError) as error:  # the last two: an answer that does not parse
                failures += 1
                logger.warning("getUpdates failed (%s); retrying", type(error).__name__)
                await asyncio.sleep(min(2**failures, 30))
                continue
            failures, conflict_logged = 0, False
            journaled = _journalable(updates)
            if not journaled:
                if (waited := loop.time() - started) < EMPTY_POLL_PAUSE:
                    await asyncio.sleep(EMPTY_POLL_PAUSE - waited)
                continue
            try:
                await uninterrupted(journal.record(journaled))  # a shutdown does not cut the commit in half
            except DBAPIError as error:
                # Not journaled, so not confirmed: the next getUpdates, from the same offset, brings them again.
                journal_failures += 1
                logger.warning("could not journal %d updates (%s); asking again", len(journaled), error.orig)
                await asyncio.sleep(min(2 ** (journal_failures - 1), 30))
                continue
            journal_failures = 0
            offset = max(update["update_id"] for update in journaled) + 1

    async def _get_raw_updates(self, offset: int | None) -> list[Any]:
        """getUpdates as the raw JSON objects, parsed one by one later, in the per-chat workers.

        PTB's `get_updates` parses the whole batch before returning it: one update it cannot parse fails the
        batch, before anything is journaled, and kills the polling loop. PTB has no public call that returns
        the raw result, so this uses the one `get_updates` itself uses (same connection pool, same errors).
        """
        result = await self.bot._post(  # noqa: SLF001
            "getUpdates",
            {"offset": offset, "timeout": POLL_TIMEOUT, "allowed_updates": list(Update.ALL_TYPES)},
            read_timeout=POLL_TIMEOUT + 10,
        )
        if not isinstance(result, list):
            logger.warning("getUpdates answered something that is not a list of updates; ignored")
            return []
        return result

    async def set_webhook(self) -> None:
        assert self.settings.webhook_url and self.settings.webhook_secret
        await self._call_with_retry(
            lambda: self.bot.set_webhook(
                f"{self.settings.webhook_url}/telegram",
                secret_token=self.settings.webhook_secret,
                allowed_updates=Update.ALL_TYPES,
            )
        )

    async def _call_with_retry(self, call: Callable[[], Any]) -> None:
        for attempt in range(1, 6):
            try:
                await call()
                return
            except InvalidToken:
                raise ConfigurationError("MONEV_TELEGRAM_TOKEN: Telegram rejected the bot token") from None
            except NetworkError:
                await asyncio.sleep(attempt)
        await call()

    # -- journaled rows, read in the per-chat workers -------------------------------------------------------

    async def to_request(self, row: JournalRow) -> Request | None:
        """The update through PTB's Application: its catch-all handler makes the neutral request."""
        assert row.payload is not None  # the journal finishes a purged row itself
        try:
            update = Update.de_json(row.payload, self.bot)
        except Exception as error:  # PTB raises whatever a wrong-typed field leads to: the update does not parse
            raise Unparsable(error) from error
        reading = _Reading(row)
        token = _reading.set(reading)
        try:
            await self.application.process_update(update)
        finally:
            _reading.reset(token)
        if reading.error is not None:
            raise reading.error
        return reading.request

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The catch-all PTB handler: every update becomes a neutral request (or None: just done)."""
        reading = _reading.get()
        reading.request = to_request(
            update, received_at=reading.row.received_at, journal_id=reading.row.id, fetcher_for=self.downloader.fetcher
        )

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """process_update does not raise: a failure in our adapter code is handed back to `to_request`."""
        reading = _reading.get(None)
        if reading is not None and context.error is not None:
            reading.error = context.error
        else:
            logger.error("error while handling a Telegram update", exc_info=context.error)

    async def before_reply(self, row: JournalRow) -> None:
        """A button press is answered (the spinner stops) before its reply is sent."""
        query = (row.payload or {}).get("callback_query")
        if isinstance(query, dict) and "id" in query:
            await self.sender.answer_callback(str(query["id"]))

    # -- delivery, shared by direct replies and the outbox -----------------------------------------------------

    async def deliver(self, message: Envelope, identity: Identity) -> str | None:
        """An outbox message: rendered now, in the templates' current wording, then sent like a reply.

        A menu message sets the chat's command menu instead (nothing is sent to read). A text message returns its
        Telegram message id (kept with the outbox row, so a reply to it finds what it answers).
        """
        if message.kind == MENU_KIND:
            roles = frozenset(r for r in Role if r.value in message.menu_roles)
            await self._translated(self._set_menu(int(identity.chat_id), roles))
            return None
        reply = message.render(self.renderer)
        if reply.document is not None:
            await self._translated(self._send_document(int(identity.chat_id), reply, False))
            return None
        return await self._translated(self.sender.send_reply(int(identity.chat_id), reply, urgent=False))

    def can_deliver(self, kind: str, identity: Identity, now: datetime) -> bool:
        """Telegram delivers any message at any time (no window, no platform templates)."""
        return True

    async def send(self, chat_id: str, reply: Reply) -> None:
        """A direct reply: ahead of outbox messages in the rate limiter (a person is waiting for it)."""
        await self._send(chat_id, reply, urgent=True)

    async def _send(self, chat_id: str, reply: Reply, *, urgent: bool) -> None:
        """Send one message to a Telegram chat as HTML, translating Telegram's errors for the dispatcher."""
        if reply.document is not None:
            await self._translated(self._send_document(int(chat_id), reply, urgent))
        else:
            await self._translated(self.sender.send_reply(int(chat_id), reply, urgent=urgent))

    async def _translated(self, call: Coroutine[Any, Any, T]) -> T:
        """Await a Bot API call, turning Telegram's errors into the ones the dispatcher reads."""
        try:
            return await call
        except BadRequest as bug:
            raise DeliveryRejected(bug.message) from None
        except NetworkError as failure:
            raise DeliveryFailed(f"network error: {type(failure).__name__}") from None

    async def _send_document(self, chat_id: int, reply: Reply, urgent: bool) -> None:
        """Upload a stored file once (concurrent first sends wait for it); later sends reuse its file_id."""
        document = reply.document
        assert document is not None
        async with self._upload_locks.setdefault(document.sha256, asyncio.Lock()):
            async with self.db.read() as session:
                file_id = await outbox.platform_file_id(session, CHANNEL, document.sha256)
            if file_id is None:
                path = self.files.path_for(document.sha256)
                sent = await self.sender.upload_document(chat_id, path, reply, urgent=urgent)
                if sent is not None and sent.document is not None:
                    async with self.db.write() as session:
                        await outbox.remember_platform_file(
                            session, CHANNEL, document.sha256, sent.document.file_id, self.clock()
                        )
                return
        await self.sender.send_document(chat_id, file_id, reply, urgent=urgent)


def _journalable(updates: list[Any]) -> list[dict[str, Any]]:
    """The raw updates that can be journaled: objects with an integer update_id (their key and offset)."""
    keyed = [u for u in updates if isinstance(u, dict) and isinstance(u.get("update_id"), int)]
    if len(keyed) < len(updates):
        logger.warning("getUpdates returned %d entries without an update_id; ignored", len(updates) - len(keyed))
    return keyed


def _seconds(value: Any) -> float:
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)
