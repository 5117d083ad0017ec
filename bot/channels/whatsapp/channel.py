"""The WhatsApp channel: the Cloud API through pywa_async, behind the same Channel protocol as Telegram.

Inbound is webhook only: `POST /whatsapp` checks the signature over the raw body, splits the body into events
and journals them (`bot.messaging.inbound` runs the journal, as for Telegram); pywa parses each journaled event
into its own update types, which become neutral requests. pywa's own server, handlers and duplicate check are not
used: the journal is what makes an event delivered twice run once, across restarts too.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from pywa_async import WhatsApp
from pywa_async.types.templates import TemplateLanguage

from bot.channels.whatsapp import events
from bot.channels.whatsapp.convert import CHANNEL, MEDIA_TYPES, parse, to_request
from bot.channels.whatsapp.download import WhatsAppDownloader
from bot.channels.whatsapp.sender import WhatsAppSender
from bot.channels.whatsapp.templates import template_values
from bot.channels.whatsapp.transport import graph_client
from bot.channels.whatsapp.web import webhook_routes
from bot.conversation.commands import COMMANDS, Command
from bot.conversation.core import Reply, Request
from bot.conversation.envelope import DEFAULT_TEMPLATE_KEY, MENU_KIND, TEMPLATE_KEYS, Envelope
from bot.conversation.templating import Renderer
from bot.messaging.channel import ConfigurationError, Journal, JournalKey, RawEvent, Unparsable
from bot.messaging.delivery import AwaitingReply, DeliveryFailed, DeliveryRejected, Identity
from bot.messaging.ratelimit import RateLimiter
from bot.services import journal, outbox
from bot.services.journal import JournalRow
from bot.settings import Settings, WhatsAppTemplate
from storage.database import Database
from storage.filestore import FileStore

logger = logging.getLogger(__name__)

# WhatsApp has no album id: media without a caption from one person, each less than this after the one before,
# are one album (one version, one question), like a Telegram album.
ALBUM_GAP = timedelta(seconds=2)
# Free-form messages only within 24 hours of the person's last message; approved templates outside it.
WINDOW = timedelta(hours=24)


class WhatsAppChannel:
    """The WhatsApp side of the Channel protocol: the webhook, journaled events to requests, sends."""

    name = CHANNEL

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
        assert settings.whatsapp_phone_id and settings.whatsapp_token
        assert settings.whatsapp_app_secret and settings.whatsapp_verify_token  # the settings refuse less
        self.settings = settings
        self.db = db
        self.files = files
        self.renderer = renderer
        self.clock = clock
        self.commands = commands
        self.http = graph_client(settings.whatsapp_base_url)
        self.client = WhatsApp(
            phone_id=settings.whatsapp_phone_id,
            token=settings.whatsapp_token,
            session=self.http,
            app_secret=settings.whatsapp_app_secret,
            verify_token=settings.whatsapp_verify_token,
            skip_duplicate_updates=False,  # the journal drops redeliveries, across restarts too
        )
        self.sender = WhatsAppSender(self.client, limiter, renderer)
        self._uploads: dict[str, asyncio.Lock] = {}
        self.downloader = WhatsAppDownloader(self.client, max_bytes=settings.whatsapp_max_file_mb * 1024 * 1024)

    # -- start-up and shutdown -------------------------------------------------------------------------

    async def check(self) -> None:
        """Nothing to ask Meta at start: the settings already refused a WhatsApp without its app secret.

        The templates' language codes are checked against the ones WhatsApp knows, so a typo stops the start.
        """
        for template in self.settings.whatsapp_templates:
            try:
                TemplateLanguage(template.language)
            except ValueError:
                raise ConfigurationError(
                    f"MONEV_WHATSAPP_TEMPLATES: [{template.key}] WhatsApp has no language {template.language!r}"
                ) from None
        logger.info(
            "WhatsApp channel ready for phone number id %s, templates: %s",
            self.settings.whatsapp_phone_id,
            ", ".join(t.key for t in self.settings.whatsapp_templates) or "none",
        )

    def web_routes(self, journal: Journal) -> Sequence[web.RouteDef]:
        """`GET` and `POST /whatsapp`, on holder and standby alike (WhatsApp has no polling)."""
        settings = self.settings
        assert settings.whatsapp_phone_id and settings.whatsapp_app_secret and settings.whatsapp_verify_token
        return webhook_routes(
            phone_id=settings.whatsapp_phone_id,
            app_secret=settings.whatsapp_app_secret,
            verify_token=settings.whatsapp_verify_token,
            journal=journal,
        )

    async def activate(self, journal: Journal) -> Sequence[Coroutine[Any, Any, None]]:
        """Nothing to start: Meta posts to the webhook, which is set in Meta's developer console."""
        return ()

    async def close(self) -> None:
        await self.http.aclose()

    # -- inbound ---------------------------------------------------------------------------------------

    def journal_key(self, event: RawEvent) -> JournalKey:
        return events.journal_key(event)

    async def to_request(self, row: JournalRow) -> Request | None:
        """A message or choice as a request; a status is only journaled here (the outbound side applies it)."""
        assert row.payload is not None  # the journal finishes a purged row itself
        try:
            update = parse(self.client, row.payload)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as error:
            raise Unparsable(error) from error
        if update is None:
            await self.receipt(row)
            return None
        message = events.message_of(row.payload) or {}
        group = await self._album_of(row, message) if _captionless_media(message) else None
        return to_request(
            update,
            received_at=row.received_at,
            journal_id=row.id,
            fetcher_for=self.downloader.fetcher,
            media_group_id=group,
            commands=self.commands,
        )

    async def _album_of(self, row: JournalRow, message: dict[str, Any]) -> str:
        """The album this captionless media belongs to: the first of the run of such media just before it.

        Read from the journal, so a replay after a restart finds the same album. Both our receiving time and
        WhatsApp's own (whole seconds) must be close: a backlog Meta redelivers at once is not one album.
        """
        first, at, sent = message, row.received_at, _timestamp(message)
        assert row.chat_key is not None
        async with self.db.read() as session:
            # WhatsApp lets a person send up to 30 media at once: look back far enough for all of them.
            earlier = await journal.earlier_rows(session, CHANNEL, row.chat_key, row.id, limit=100)
        for previous in earlier:
            before = events.message_of(previous.payload) if previous.payload else None
            if before is None or not _captionless_media(before):
                break
            if at - previous.received_at >= ALBUM_GAP or abs(sent - _timestamp(before)) > ALBUM_GAP.total_seconds():
                break
            first, at, sent = before, previous.received_at, _timestamp(before)
        return "wa-" + hashlib.sha256(str(first["id"]).encode()).hexdigest()[:24]

    async def before_reply(self, row: JournalRow) -> None:
        """Nothing: a WhatsApp button press needs no answer of its own."""

    # -- delivery, shared by direct replies and the outbox -----------------------------------------------------

    async def send(self, chat_id: str, reply: Reply) -> None:
        """One neutral reply to a WhatsApp user (by business-scoped user id, or phone number until they write)."""
        await self._send(chat_id, reply)

    async def _send(self, chat_id: str, reply: Reply) -> str | None:
        """`send`, returning the wamid of the last message, whose statuses tell whether the reply arrived."""
        if reply.document is None:
            return await self.sender.send_reply(chat_id, reply)
        document = reply.document
        caption = document.caption or reply.text
        if reply.buttons or not self.sender.fits_caption(caption):
            # A document takes no list and 1,024 characters of caption: the file first, then the text with its buttons.
            await self._send_document(chat_id, document.sha256, document.file_name, None)
            return await self.sender.send_reply(chat_id, Reply(caption, buttons=reply.buttons))
        return await self._send_document(chat_id, document.sha256, document.file_name, caption)

    async def _send_document(self, chat_id: str, sha256: str, file_name: str, caption: str | None) -> str:
        """A stored file by its media id: uploaded once, the id reused for every recipient while it lives."""
        media_id = await self._media_id(sha256, file_name)
        try:
            return await self.sender.send_document(chat_id, media_id, file_name, caption)
        except DeliveryRejected:
            # Meta may drop a media id before its 30 days: upload again once, and send with the new id.
            media_id = await self._media_id(sha256, file_name, refused=media_id)
            return await self.sender.send_document(chat_id, media_id, file_name, caption)

    async def _media_id(self, sha256: str, file_name: str, *, refused: str | None = None) -> str:
        # One upload per file even when a broadcast sends it to many people at once.
        async with self._uploads.setdefault(sha256, asyncio.Lock()):
            async with self.db.read() as session:
                known = await outbox.live_media_id(session, sha256, self.clock())
            if known is not None and known != refused:
                return known
            media_id = await self.sender.upload(self.files.path_for(sha256), file_name)
            async with self.db.write() as session:
                await outbox.remember_media_id(session, sha256, media_id, self.clock())
            logger.info("uploaded stored file %s… to WhatsApp as media %s", sha256[:12], media_id)
            return media_id

    async def deliver(self, message: Envelope, identity: Identity) -> str | None:
        """An outbox message: free-form inside the 24-hour window, else its kind's template (see `can_deliver`).

        A kind without a template of its own sends the generic notice, and the message itself waits for the
        person's reply (`AwaitingReply`). WhatsApp has no command menu: a menu message has nothing to do here.
        """
        if message.kind == MENU_KIND:
            return None
        if _in_window(identity, self.clock()):
            return await self._send(identity.chat_id, message.render(self.renderer))
        template = self._template_for(message.whatsapp_template)
        if template is None:  # the window closed since the dispatcher chose this account: choose again later
            raise DeliveryFailed(outbox.NO_WHATSAPP_TEMPLATE)
        if template.key == DEFAULT_TEMPLATE_KEY:
            async with self.db.read() as session:
                noticed = await outbox.awaits_reply(session, identity.person_id, identity.last_inbound_at)
            if noticed:
                raise AwaitingReply("an earlier whatsapp notice is unanswered: the message waits with it")
        header = None
        if template.header_document and message.document is not None:
            document = message.document
            header = (await self._media_id(document.sha256, document.file_name), document.file_name)
        values = template_values(template, message, identity, self.settings.timezone)
        sent = await self.sender.send_template(identity.chat_id, template.name, template.language, values, header)
        if template.key == DEFAULT_TEMPLATE_KEY:
            raise AwaitingReply(f"whatsapp notice {template.name} sent; the message goes when they reply", sent)
        return sent

    def can_deliver(self, kind: str, identity: Identity, now: datetime) -> bool:
        """Within 24 hours of the person's last message anything; outside it, what has a template to go by."""
        if kind == MENU_KIND or _in_window(identity, now):
            return True
        return self._template_for(TEMPLATE_KEYS.get(kind, DEFAULT_TEMPLATE_KEY)) is not None

    def _template_for(self, key: str) -> WhatsAppTemplate | None:
        """The kind's own template, else the generic notice, else none (MONEV_WHATSAPP_TEMPLATES)."""
        return self.settings.whatsapp_template(key) or self.settings.whatsapp_template(DEFAULT_TEMPLATE_KEY)

    async def receipt(self, row: JournalRow) -> None:
        """A status webhook (sent, delivered, read, failed) applied to the outbox message it is about."""
        assert row.payload is not None
        status = events.status_of(row.payload)
        if status is None:
            return
        async with self.db.write() as session:
            await outbox.apply_receipt(session, status[0], status[1], row.received_at)


def _in_window(identity: Identity, now: datetime) -> bool:
    last = identity.last_inbound_at
    return last is not None and now - last < WINDOW


def _captionless_media(message: dict[str, Any]) -> bool:
    kind = message.get("type")
    content = message.get(kind) if isinstance(kind, str) else None
    return kind in MEDIA_TYPES and isinstance(content, dict) and not content.get("caption")


def _timestamp(message: dict[str, Any]) -> float:
    try:
        return float(message.get("timestamp", 0))
    except (TypeError, ValueError):
        return 0.0
