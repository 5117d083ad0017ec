"""The neutral dispatcher: routes a request to its handler, checks roles, and owns the error path."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from bot.commands import COMMANDS, Command, find_command
from bot.core import Reply, Request
from bot.errors import DomainError
from bot.handling import Context, Handler, Registry, Services
from bot.services import identity

logger = logging.getLogger(__name__)

MAX_INBOUND_TEXT = 4096


class Dispatcher:
    """Turns one request into the replies to send; never raises for a person's input."""

    def __init__(self, services: Services, registry: Registry, commands: Sequence[Command] = COMMANDS) -> None:
        self.services = services
        self.registry = registry
        self.commands = commands

    async def handle(self, request: Request, now: datetime) -> list[Reply]:
        """Answer a request; domain errors become their message, anything else an apology (and a log line)."""
        renderer = self.services.renderer
        try:
            if request.actor is None:
                async with self.services.db.read() as session:
                    actor = await identity.resolve_actor(session, request.channel, request.sender_id)
                request = replace(request, actor=actor)
            return _as_list(await self._route(Context(request, self.services, now)))
        except DomainError as refusal:
            return [Reply(renderer.render(refusal.template, **refusal.params))]
        except Exception:
            logger.exception(
                "handler failed for %s update %s (chat %s)", request.channel, request.update_id, request.chat_id
            )
            return [Reply(renderer.render("umum/maaf_galat"))]

    async def _route(self, ctx: Context) -> Reply | Sequence[Reply]:
        request = ctx.request
        if not request.is_private:
            return ctx.reply("umum/hanya_pribadi")
        if request.payload is not None:
            return await self._route_button(ctx, request.payload)
        if request.command is not None:
            return await self._route_command(ctx, request.command)
        if request.attachments:
            return await self._call(self.registry.attachment, ctx, "umum/tidak_didukung")
        if request.text is None:
            return ctx.reply("umum/tidak_didukung")
        if not request.text.strip():
            return ctx.reply("umum/pesan_kosong")
        if len(request.text) > MAX_INBOUND_TEXT:
            return ctx.reply("umum/pesan_terlalu_panjang", length=len(request.text), limit=MAX_INBOUND_TEXT)
        return await self._call(self.registry.text, ctx, "umum/tidak_mengerti")

    async def _route_command(self, ctx: Context, name: str) -> Reply | Sequence[Reply]:
        command = find_command(name, self.commands)
        handler = self.registry.commands.get(command.name) if command else None
        if command is None or handler is None:
            return ctx.reply("umum/perintah_tidak_dikenal", name=name[:40])
        assert ctx.request.actor is not None
        if not command.allows(ctx.request.actor.roles):
            logger.info("refused /%s for person %s", command.name, ctx.request.actor.person_id)
            return ctx.reply("umum/tidak_berwenang", name=command.name)
        return await handler(ctx)

    async def _route_button(self, ctx: Context, payload: str) -> Reply | Sequence[Reply]:
        handler = self.registry.buttons.get(payload.split(":", 1)[0])
        return await self._call(handler, ctx, "umum/tombol_kedaluwarsa")

    @staticmethod
    async def _call(handler: Handler | None, ctx: Context, fallback: str) -> Reply | Sequence[Reply]:
        return await handler(ctx) if handler else ctx.reply(fallback)


def _as_list(result: Reply | Sequence[Reply]) -> list[Reply]:
    return [result] if isinstance(result, Reply) else list(result)
