"""The neutral dispatcher: routes a request to its handler, checks roles, and owns the error path."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation import payloads
from bot.conversation.commands import COMMANDS, Command, find_command
from bot.conversation.core import Reply, Request
from bot.conversation.handling import Context, Handler, Registry, Services
from bot.errors import DomainError
from bot.services import actions, audit, conversations, groups, identity
from bot.services.conversations import FlowState
from storage.database import UnitOfWork

logger = logging.getLogger(__name__)

MAX_INBOUND_TEXT = 4096

# Called inside the handler's own transaction with the rendered replies (the journal marks its row done).
OnDone = Callable[[AsyncSession, list[Reply]], Awaitable[None]]


class Dispatcher:
    """Turns one request into the replies to send."""

    def __init__(self, services: Services, registry: Registry, commands: Sequence[Command] = COMMANDS) -> None:
        self.services = services
        self.registry = registry
        self.commands = commands

    async def run(self, request: Request, now: datetime, on_done: OnDone | None = None) -> list[Reply]:
        """Handle a request in one unit of work; a domain error rolls it back and becomes its message.

        Anything unexpected propagates, so the caller can count the failed attempt (the journal) or apologise.
        """
        if request.actor is None:
            # A read of its own: the write transaction must not start before the handler's network I/O.
            async with self.services.db.read(one_statement=True) as session:
                actor = await identity.resolve_actor(session, request.channel, request.sender_id, request.sender_phone)
            request = replace(request, actor=actor)
        # One write transaction either way: a domain error undoes the handler's writes (back to a savepoint) and
        # records the refusal and the journal's mark in the same transaction.
        async with UnitOfWork(self.services.db, undoable=True) as uow:
            try:
                result = await self._route(Context(request, self.services, now, uow))
            except DomainError as refusal:
                await uow.undo()
                replies = [Reply(self.services.renderer.render(refusal.template, **refusal.params))]
                if refusal.audit_action:
                    await _audit_refusal(await uow.session(), request, refusal, now)
                if on_done is not None:
                    await on_done(await uow.session(), replies)
                return replies
            replies = [result] if isinstance(result, Reply) else list(result)
            if request.actor is not None and request.actor.person_id is not None:
                await identity.touch(
                    await uow.session(), request.channel, request.sender_id, now, phone=request.sender_phone
                )
            if on_done is not None:
                await on_done(await uow.session(), replies)
        return replies

    async def handle(self, request: Request, now: datetime) -> list[Reply]:
        """`run` for channels without a journal (the console): unexpected errors become an apology."""
        try:
            return await self.run(request, now)
        except Exception:
            logger.exception("handler failed for %s message %s", request.channel, request.message_id)
            return [self.apology()]

    def apology(self) -> Reply:
        return Reply(self.services.renderer.render("umum/maaf_galat"))

    async def _route(self, ctx: Context) -> Reply | Sequence[Reply]:
        request = ctx.request
        if not request.is_private:
            return await _in_group(ctx)
        if request.payload is not None:
            prefix = request.payload.partition(":")[0]
            if prefix == actions.PREFIX:
                return await self._run_action(ctx, request.payload)
            return await _call(self.registry.buttons.get(prefix), ctx, "umum/tombol_kedaluwarsa")
        if request.command is not None:
            return await self._route_command(ctx, request.command)
        flow = await self._flow_of(request)
        if flow is not None and flow.flow in self.registry.flows:
            return await self.registry.flows[flow.flow](ctx, flow)
        if request.attachments:
            return await _call(self.registry.attachment, ctx, "umum/tidak_didukung")
        if request.text is None:
            return ctx.reply("umum/tidak_didukung")
        if not request.text.strip():
            return ctx.reply("umum/pesan_kosong")
        if len(request.text) > MAX_INBOUND_TEXT:
            return ctx.reply("umum/pesan_terlalu_panjang", length=len(request.text), limit=MAX_INBOUND_TEXT)
        return await _call(self.registry.text, ctx, "umum/tidak_mengerti")

    async def _flow_of(self, request: Request) -> FlowState | None:
        # A read of its own, like the actor: a flow may download a file before it takes the write lock.
        async with self.services.db.read() as session:
            return await conversations.current(session, request.channel, request.chat_id)

    async def _route_command(self, ctx: Context, name: str) -> Reply | Sequence[Reply]:
        command = find_command(name, self.commands)
        handler = self.registry.commands.get(command.name) if command else None
        if command is None or handler is None:
            return ctx.reply("umum/perintah_tidak_dikenal", name=name[:40])
        actor = ctx.actor
        if not command.allows(actor.roles):
            logger.info("refused /%s for person %s", command.name, actor.person_id)
            await audit.record(
                await ctx.session(),
                ctx.acting(),
                "command_refused",
                ctx.now,
                object_type="command",
                object_id=command.name,
                args=list(ctx.request.args)[:5],
                chat=ctx.request.chat_id,
            )
            return ctx.reply("umum/tidak_berwenang", name=command.name, registered=actor.is_registered)
        return await handler(ctx)

    async def _run_action(self, ctx: Context, data: str) -> Reply | Sequence[Reply]:
        """A one-time action button: taken once, by its one person while they hold its role, then handled."""
        press = payloads.parse_action(data)
        if press is None:
            logger.info("unreadable action button from %s chat %s", ctx.request.channel, ctx.request.chat_id)
            raise DomainError("umum/tombol_kedaluwarsa")
        taken = await actions.take_action(
            await ctx.session(), press.token, ctx.actor.person_id, ctx.now, self.registry.action_roles
        )
        # The handler acts as the person is now (roles re-read in this transaction), not as they were resolved.
        return await self.registry.actions[taken.kind](ctx.with_actor(taken.actor), taken.params)


async def _audit_refusal(session: AsyncSession, request: Request, refusal: DomainError, now: datetime) -> None:
    actor = request.actor
    role = min(actor.roles).value if actor and actor.roles else None
    details = {k: v for k, v in refusal.params.items() if isinstance(v, str | int)}
    await audit.record(
        session,
        audit.Acting(actor.person_id if actor else None, role, request.channel, request.message_id),
        refusal.audit_action or "refused",
        now,
        object_type="chat",
        object_id=request.chat_id,
        **details,
    )


async def _in_group(ctx: Context) -> list[Reply]:
    """In a group only what is addressed to the bot is answered, with the hint to write privately, once an hour."""
    request = ctx.request
    if not request.addressed:
        return []
    if not await groups.take_hint(await ctx.session(), request.channel, request.chat_id, request.sender_id, ctx.now):
        return []
    return [ctx.reply("umum/hanya_pribadi")]


async def _call(handler: Handler | None, ctx: Context, fallback: str) -> Reply | Sequence[Reply]:
    return await handler(ctx) if handler else ctx.reply(fallback)
