"""The handler registry and the context a handler receives."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation.core import PAGE_SIZE, TITLE_LABEL_CHARS, Actor, Button, Reply, Request, fit_label
from bot.conversation.envelope import Envelope, EnvelopeButton
from bot.conversation.templating import Renderer
from bot.domain.enums import Role
from bot.errors import DomainError
from bot.services import outbox
from bot.services.audit import Acting
from bot.services.conversations import FlowState
from bot.settings import Settings
from storage.database import Database, UnitOfWork
from storage.filestore import FileStore


@dataclass(frozen=True)
class Services:
    """The long-lived parts every handler may use, built once by the composition root."""

    settings: Settings
    db: Database
    files: FileStore
    renderer: Renderer

    def label(self, template: str, /, **values: Any) -> str:
        """A button label from `templates/tombol/` (plain text; each channel shortens it to its own limit)."""
        return self.renderer.plain(template, **values)

    def paging_labels(self) -> tuple[str, str]:
        """The labels of the "previous" and "next" buttons under a long list (see bot.conversation.core.page_of)."""
        return self.label("tombol/sebelumnya"), self.label("tombol/berikutnya")


@dataclass(frozen=True)
class Context:
    """What a handler gets: the request, the services and the current time."""

    request: Request
    services: Services
    now: datetime
    uow: UnitOfWork

    @property
    def actor(self) -> Actor:
        """The sender (the dispatcher resolves it; someone unknown is an actor without a person or roles)."""
        return self.request.actor or Actor(person_id=None, display_name=None)

    def me(self, refusal: str = "umum/tombol_bukan_untuk_anda") -> int:
        """The acting person's id, for handlers only registered people reach; anyone else gets `refusal`."""
        if self.actor.person_id is None:
            raise DomainError(refusal)
        return self.actor.person_id

    def with_actor(self, actor: Actor) -> Context:
        """The same request acted by `actor` as re-read in this transaction (see identity.authorize)."""
        return replace(self, request=replace(self.request, actor=actor))

    def acting(self, role: Role | None = None) -> Acting:
        """Who is acting, for the audit log: the role used (default: the person's first) and the message."""
        actor = self.request.actor
        chosen = role or (min(actor.roles) if actor and actor.roles else None)
        return Acting(
            actor.person_id if actor else None,
            chosen.value if chosen else None,
            self.request.channel,
            self.request.message_id,
        )

    async def notify(
        self,
        person_id: int,
        template: str,
        *,
        buttons: Sequence[Sequence[Button | EnvelopeButton]] = (),
        kind: str = "pemberitahuan",
        **params: Any,
    ) -> None:
        """A message to someone else: written to the outbox in this update's transaction, rendered when it goes out.

        `params` may hold frozen views; they are stored as plain values (see bot.conversation.envelope.plain).
        """
        await self.send_later(person_id, Envelope.of(kind, template, buttons=buttons, **params))

    async def send_later(
        self, person_id: int, message: Envelope, *, campaign_id: int | None = None, opd_id: int | None = None
    ) -> None:
        """Queue a message for a person (the dispatcher delivers it after the commit)."""
        await outbox.enqueue(
            await self.session(),
            person_id=person_id,
            message=message,
            now=self.now,
            campaign_id=campaign_id,
            opd_id=opd_id,
        )

    async def session(self) -> AsyncSession:
        """The update's write transaction, begun on first use: do network I/O before asking for it."""
        return await self.uow.session()

    def reply(self, template: str, *, buttons: Sequence[Sequence[Button]] = (), **params: Any) -> Reply:
        """Render a template into a reply."""
        rows = tuple(tuple(row) for row in buttons)
        return Reply(self.services.renderer.render(template, **params), buttons=rows)

    def label(self, template: str, /, **values: Any) -> str:
        """A button label from `templates/tombol/`, e.g. `ctx.label("tombol/cabut_penghubung_lama", name=name)`."""
        return self.services.label(template, **values)

    def campaign_buttons(self, campaigns: Sequence[NamedCampaign], payload: Callable[[int], str]) -> list[list[Button]]:
        """One button per campaign ("#ID judul") on the first page: how every command asks "which kegiatan?"."""
        return [
            [Button(fit_label(self.label("tombol/kegiatan", id=c.campaign_id, title=c.title), TITLE_LABEL_CHARS),
                    payload(c.campaign_id))]
            for c in campaigns[:PAGE_SIZE]
        ]  # fmt: skip


class NamedCampaign(Protocol):
    """What a campaign choice shows on its button (the services' choice views all have it)."""

    @property
    def campaign_id(self) -> int: ...

    @property
    def title(self) -> str: ...


Handler = Callable[[Context], Awaitable[Reply | Sequence[Reply]]]
ActionHandler = Callable[[Context, dict[str, Any]], Awaitable[Reply | Sequence[Reply]]]
FlowHandler = Callable[[Context, FlowState], Awaitable[Reply | Sequence[Reply]]]


class Registry:
    """Which handler answers which command, button prefix, text or attachment."""

    def __init__(self) -> None:
        self.commands: dict[str, Handler] = {}
        self.buttons: dict[str, Handler] = {}
        self.text: Handler | None = None
        self.attachment: Handler | None = None
        self.actions: dict[str, ActionHandler] = {}
        self.action_roles: dict[str, frozenset[Role]] = {}
        self.flows: dict[str, FlowHandler] = {}
        self.cancellers: dict[str, FlowHandler] = {}

    def command(self, name: str, handler: Handler) -> None:
        if name in self.commands:
            raise ValueError(f"command /{name} registered twice")
        self.commands[name] = handler

    def action(self, kind: str, handler: ActionHandler, *, roles: Collection[Role]) -> None:
        """What a one-time action button of this kind does; its presser must hold one of `roles` at the press."""
        if kind in self.actions:
            raise ValueError(f"action {kind!r} registered twice")
        if not roles:
            raise ValueError(f"action {kind!r} needs the roles allowed to press it")
        self.actions[kind] = handler
        self.action_roles[kind] = frozenset(roles)

    def flow(self, name: str, handler: FlowHandler, *, on_cancel: FlowHandler | None = None) -> None:
        """What answers text and files while a chat is in the flow `name` (see bot.services.conversations).

        `on_cancel` answers `/batal` in that flow (after the flow has ended), when the person needs more than
        "dibatalkan": e.g. the buttons the flow had used up.
        """
        if name in self.flows:
            raise ValueError(f"flow {name!r} registered twice")
        self.flows[name] = handler
        if on_cancel is not None:
            self.cancellers[name] = on_cancel

    def button(self, prefix: str, handler: Handler) -> None:
        """Button payloads look like `prefix:rest`; the prefix picks the handler."""
        if prefix in self.buttons or ":" in prefix:
            raise ValueError(f"bad or duplicate button prefix {prefix!r}")
        self.buttons[prefix] = handler
