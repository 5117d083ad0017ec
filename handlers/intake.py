"""Data dukung in chat: files are checked by content, collected into versions and filed to the OPD's items.

Buttons use the prefix `kir:` (read by bot.conversation.payloads.parse_batch): `kir:<batch>:<ITEM>` files a waiting
batch to an item, `kir:<batch>:p:<page>` pages the choices, `kir:<batch>:s` ends a /kirim session, `kir:<batch>:x`
cancels, `kir:<batch>:o:<OPD>` answers "which OPD?". The batch id names nothing by itself: every press is checked
against the batch's owner, the owner's current roles, the batch's state and the OPD's assigned items.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation import payloads
from bot.conversation.core import PAGE_SIZE, Attachment, Button, Reply, page_of
from bot.conversation.envelope import Envelope
from bot.conversation.handling import Context, Registry, Services
from bot.domain.enums import BatchStatus, Role
from bot.errors import DomainError
from bot.services import access, items, outbox, people, submissions, uploads
from bot.services.submissions import BatchView, Receipt, Scope
from storage.filestore import Blob, FileTooLargeError


async def receive_file(ctx: Context) -> Reply | list[Reply]:
    """A document or photo outside a guided flow: evidence from a liaison, or part of a /kirim session."""
    actor = ctx.actor
    if not actor.is_registered:
        raise DomainError("unggah/belum_terdaftar")
    attachment = ctx.request.attachments[0]
    name = uploads.clean_file_name(attachment.file_name, fallback=f"berkas-{ctx.request.message_id}")
    _check_size(ctx, attachment, name)
    async with ctx.services.db.read() as session:
        kirim = await submissions.collecting_batch(session, ctx.request.channel, ctx.request.chat_id)
    if kirim is None and access.is_staff_not_liaison(actor):
        return ctx.reply("unggah/staf_di_luar_alur")
    scopes = [] if kirim is not None else await _liaison_scopes(ctx)
    if kirim is None and not scopes:
        return await _keep_unfiled(ctx, attachment, name)
    blob = await _fetch_checked(ctx, attachment, name)
    if kirim is not None:
        try:
            count = await submissions.add_file(
                await ctx.session(),
                kirim.id,
                blob,
                name,
                attachment.kind,
                inbound_event_id=ctx.request.journal_id,
                now=ctx.now,
                part_at=ctx.request.received_at,
            )
        except submissions.BatchClosed:  # "Selesai" or the quiet time ended the session while this file downloaded
            return ctx.reply("unggah/kirim_sudah_selesai", name=name)
        buttons = [[Button(ctx.label("tombol/selesai"), f"kir:{kirim.id}:s")]]
        return ctx.reply("unggah/kirim_diterima", buttons=buttons, name=name, count=count)
    if len(scopes) > 1:
        return await _ask_opd_first(ctx, scopes, attachment, blob, name)
    return await _file_into_scope(ctx, scopes[0], attachment, blob, name)


async def _file_into_scope(
    ctx: Context, scope: Scope, attachment: Attachment, blob: Blob, name: str
) -> Reply | list[Reply]:
    """A liaison's message: filed now when the caption names an item, asked about otherwise; albums wait."""
    session = await ctx.session()
    state = await submissions.progress(session, scope)
    caption_item = _caption_item(ctx.request.text, state)
    batch_id = await _batch_for_message(ctx, scope, attachment, blob, name, caption_item)
    if attachment.media_group_id:
        return []  # the batch closes 2 s after its last part; the question or receipt comes then
    if caption_item:
        return await _file_and_receipt(ctx, batch_id, caption_item)
    await submissions.await_item(session, batch_id)
    return question(ctx.services, batch_id, state, page=0)


async def _batch_for_message(
    ctx: Context, scope: Scope | None, attachment: Attachment, blob: Blob, name: str, item_code: str | None
) -> int:
    """The batch this message's file joins: its own, or its album's (an album is one version)."""
    try:
        return await _join_batch(ctx, scope, attachment, blob, name, item_code)
    except submissions.BatchClosed:
        # The album's batch closed before this part could join it (the other instance filed it meanwhile):
        # that version stays as it is, and this part starts the album's next batch, which the job closes.
        return await _join_batch(ctx, scope, attachment, blob, name, item_code)


async def _join_batch(
    ctx: Context, scope: Scope | None, attachment: Attachment, blob: Blob, name: str, item_code: str | None
) -> int:
    session = await ctx.session()
    batch_id = await submissions.open_batch(
        session,
        scope=scope,
        channel=ctx.request.channel,
        chat_id=ctx.request.chat_id,
        person_id=_me(ctx),
        kind="album" if attachment.media_group_id else "single",
        now=ctx.now,
        media_group_id=attachment.media_group_id,
    )
    await submissions.add_file(
        session,
        batch_id,
        blob,
        name,
        attachment.kind,
        inbound_event_id=ctx.request.journal_id,
        now=ctx.now,
        item_code=item_code,
        part_at=ctx.request.received_at,
    )
    return batch_id


def _check_size(ctx: Context, attachment: Attachment, name: str) -> None:
    limit_mb = ctx.services.settings.telegram_max_file_mb
    if attachment.size is not None and attachment.size > limit_mb * 1024 * 1024:
        raise DomainError("unggah/terlalu_besar", file_name=name, size=attachment.size, limit_mb=limit_mb)


async def _fetch_checked(ctx: Context, attachment: Attachment, name: str) -> Blob:
    """Stream the file to a temp file (before the write lock), judge it by its content, then admit it."""
    try:
        staged = await attachment.fetch(ctx.services.files)
    except FileTooLargeError:
        limit_mb = ctx.services.settings.telegram_max_file_mb
        raise DomainError(
            "unggah/terlalu_besar", file_name=name, size=limit_mb * 1048576 + 1, limit_mb=limit_mb
        ) from None
    return uploads.admit_checked(ctx.services.files, staged, name)


async def _liaison_scopes(ctx: Context) -> list[Scope]:
    """The collecting campaign of each of the liaison's OPDs (OPDs with none are left out)."""
    async with ctx.services.db.read() as session:
        scopes = [await submissions.scope_for(session, code) for code in access.own_opds(ctx.actor)]
    return [scope for scope in scopes if scope is not None]


async def _ask_opd_first(
    ctx: Context, scopes: list[Scope], attachment: Attachment, blob: Blob, name: str
) -> Reply | list[Reply]:
    """A liaison of several OPDs: keep the files in a batch and ask which OPD they are for (albums: the job asks)."""
    caption = (ctx.request.text or "").split()
    # The caption's item is checked once the OPD is known (it names that OPD's items).
    item = caption[0][:16].upper() if caption else None
    batch_id = await _batch_for_message(ctx, None, attachment, blob, name, item)
    if attachment.media_group_id:
        return []
    await submissions.await_opd(await ctx.session(), batch_id)
    return opd_question(ctx.services, batch_id, [s.opd_code for s in scopes])


# The kind of the messages the upload-batches job queues in place of a reply (receipts and its questions).
UPLOAD_KIND = "tanda_terima"


def opd_question(services: Services, batch_id: int, codes: list[str]) -> Reply:
    """Which OPD are these files for? One button per OPD of the liaison, and cancel."""
    return opd_question_message(services, batch_id, codes).render(services.renderer)


def opd_question_message(services: Services, batch_id: int, codes: list[str]) -> Envelope:
    """The OPD question as a message (the upload-batches job queues it)."""
    rows = [
        (Button(services.label("tombol/opd", code=code), f"kir:{batch_id}:o:{code}"),) for code in codes[:PAGE_SIZE]
    ]
    cancel = Button(services.label("tombol/batal"), f"kir:{batch_id}:x")
    return Envelope.of(UPLOAD_KIND, "unggah/pilih_opd_tombol", buttons=(*rows, (cancel,)))


async def _keep_unfiled(ctx: Context, attachment: Attachment, name: str) -> Reply:
    """No campaign collects from this OPD yet: keep the file safely and say so."""
    blob = await _fetch_checked(ctx, attachment, name)
    received = await uploads.record_unfiled_upload(
        await ctx.session(),
        blob=blob,
        file_name=name,
        channel=ctx.request.channel,
        sender_external_id=ctx.request.sender_id,
        person_id=ctx.actor.person_id,
        inbound_event_id=ctx.request.journal_id,
        now=ctx.now,
    )
    return ctx.reply(
        "unggah/diterima_sementara", file_name=received.file_name, size=received.size, sha_prefix=received.sha256[:8]
    )


def _caption_item(caption: str | None, state: submissions.Progress) -> str | None:
    if not caption or not caption.split():
        return None
    return items.parse_item_code(caption.split()[0], [i.code for i in submissions.open_items(state)])


def _me(ctx: Context) -> int:
    """The sender's person id; the callers are reached only by registered people, anyone else is refused."""
    if ctx.actor.person_id is None:
        raise DomainError("unggah/belum_terdaftar")
    return ctx.actor.person_id


def question(services: Services, batch_id: int, state: submissions.Progress, page: int) -> Reply:
    """Which item? The OPD's open items, seven per page, with paging and cancel."""
    return question_message(services, batch_id, state, page).render(services.renderer)


def question_message(services: Services, batch_id: int, state: submissions.Progress, page: int) -> Envelope:
    """The item question as a message (the upload-batches job queues it)."""
    choices = submissions.open_items(state)
    if not choices:
        raise DomainError("unggah/tidak_ada_item_terbuka", opd=state.scope.opd_name)
    shown = page_of(len(choices), page, lambda n: f"kir:{batch_id}:p:{n}", labels=services.paging_labels())
    rows = [
        [Button(services.label("tombol/item", code=i.code, title=i.title)[:60], f"kir:{batch_id}:{i.code}", i.title)]
        for i in choices[shown.start : shown.end]
    ]
    rows.append([*shown.paging, Button(services.label("tombol/batal"), f"kir:{batch_id}:x")])
    return Envelope.of(
        UPLOAD_KIND,
        "unggah/pilih_item",
        buttons=rows,
        opd=state.scope.opd_name,
        page=shown.number + 1,
        pages=shown.count,
    )


async def _file_and_receipt(ctx: Context, batch_id: int, item_code: str) -> Reply:
    receipt = await submissions.file_batch(await ctx.session(), batch_id, item_code, acting=ctx.acting(), now=ctx.now)
    await tell_liaisons(ctx.services, receipt, ctx.now, session=await ctx.session())
    return Reply(render_receipt(ctx.services, receipt))


def render_receipt(services: Services, receipt: Receipt) -> str:
    """The receipt of a filed version (the reply to a press)."""
    return services.renderer.render("unggah/tanda_terima", r=receipt)


def receipt_message(receipt: Receipt) -> Envelope:
    """The receipt as a message (the upload-batches job queues it)."""
    return Envelope.of(UPLOAD_KIND, "unggah/tanda_terima", r=receipt)


async def tell_liaisons(services: Services, receipt: Receipt, now: datetime, *, session: AsyncSession) -> None:
    """A version filed on behalf of an OPD is announced to its liaisons."""
    if not receipt.on_behalf or receipt.duplicate:
        return
    message = Envelope.of("pemberitahuan", "unggah/atas_nama", r=receipt)
    for liaison in await people.people_with_roles(session, [Role.OPD], receipt.scope.opd_id):
        await outbox.enqueue(session, person_id=liaison, message=message, now=now)


async def kirim_button(ctx: Context) -> Reply:
    """Item choice, paging, /kirim's "Selesai", cancel: for the batch's own sender, in a role they still hold."""
    press = payloads.parse_batch(ctx.request.payload or "")
    if press is None:
        raise DomainError("umum/tombol_kedaluwarsa")
    session = await ctx.session()
    batch, actor = await submissions.load_open_batch(session, press.batch_id, ctx.actor.person_id)
    ctx = ctx.with_actor(actor)  # act, and pick OPDs, as the sender is now
    if press.verb == "cancel":
        await submissions.cancel_batch(session, batch.id)
        return ctx.reply("unggah/dibatalkan")
    if press.verb == "opd":
        return await _choose_opd(ctx, batch, press.opd_code or "")
    if batch.status == BatchStatus.AWAITING_OPD.value:
        raise DomainError("umum/tombol_kedaluwarsa")
    scope = await submissions.batch_scope(session, batch)
    state = await submissions.progress(session, scope)
    if press.verb == "page":
        return question(ctx.services, batch.id, state, press.page or 0)
    if press.verb == "done":
        if batch.item_code:
            return await _file_and_receipt(ctx, batch.id, batch.item_code)
        await submissions.await_item(session, batch.id)
        return question(ctx.services, batch.id, state, 0)
    return await _file_and_receipt(ctx, batch.id, press.item_code or "")


async def _choose_opd(ctx: Context, batch: BatchView, code: str) -> Reply:
    """The answer to "which OPD?": only one of the presser's own OPDs, once."""
    if batch.status != BatchStatus.AWAITING_OPD.value:
        raise DomainError("umum/sudah_diproses")
    access.require_own_opd(ctx.actor, code)
    session = await ctx.session()
    scope = await submissions.scope_for(session, code)
    if scope is None:
        raise DomainError("unggah/tidak_ada_kampanye", opd=code)
    await submissions.choose_scope(session, batch.id, scope)
    state = await submissions.progress(session, scope)
    item = _caption_item(batch.item_code, state)
    if item:
        return await _file_and_receipt(ctx, batch.id, item)
    await submissions.await_item(session, batch.id)
    return question(ctx.services, batch.id, state, 0)


async def kirim(ctx: Context) -> Reply:
    """`/kirim [KODE]` (a liaison) or `/kirim OPD_CODE KODE` (admin, Kasi, on behalf): collect files until Selesai."""
    route = submissions.route_kirim(ctx.actor, ctx.request.args)
    if route is None:
        return ctx.reply("unggah/cara_kirim_atas_nama")
    opd_code, item_code, on_behalf = route.opd_code, route.item_code, route.on_behalf
    session = await ctx.session()
    scope = await submissions.scope_for(session, opd_code)
    if scope is None:
        raise DomainError("unggah/tidak_ada_kampanye", opd=opd_code)
    if item_code:
        state = await submissions.progress(session, scope)
        named = items.parse_item_code(item_code, [i.code for i in state.items])
        if named is None:
            raise DomainError(
                "unggah/item_bukan_milik_opd", audit_action="forged_item", kode=item_code[:16], opd=opd_code
            )
        item_code = named
    batch_id = await submissions.open_batch(
        session,
        scope=scope,
        channel=ctx.request.channel,
        chat_id=ctx.request.chat_id,
        person_id=_me(ctx),
        kind="kirim",
        now=ctx.now,
        item_code=item_code,
        on_behalf=on_behalf,
    )
    return ctx.reply(
        "unggah/kirim_mulai",
        buttons=[[Button(ctx.label("tombol/selesai"), f"kir:{batch_id}:s")]],
        scope=scope,
        item=item_code,
        on_behalf=on_behalf,
    )


def register(registry: Registry) -> None:
    registry.attachment = receive_file
    registry.command("kirim", kirim)
    registry.button("kir", kirim_button)
