"""Data dukung in chat: files are checked by content, collected into versions and filed to the OPD's items.

Buttons use the prefix `kir:` (read by bot.conversation.payloads.parse_batch): `kir:<batch>:<ITEM>` files a waiting
batch to an item, `kir:<batch>:p:<page>` pages the choices, `kir:<batch>:s` ends a /kirim session, `kir:<batch>:x`
cancels, `kir:<batch>:o:<OPD>` answers "which OPD?", `kir:<batch>:c:<campaign>` "which campaign?" (the OPD has
two open). The batch id names nothing by itself: every press is checked against the batch's owner, the owner's
current roles, the batch's state and the OPD's assigned items.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation import payloads
from bot.conversation.commands import EVERYONE, commands_for
from bot.conversation.core import PAGE_SIZE, TITLE_LABEL_CHARS, Attachment, Button, Reply, fit_label, page_of
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
    if access.is_observer(actor):
        return await _not_a_sender(ctx)
    attachment = ctx.request.attachments[0]
    name = uploads.clean_file_name(attachment.file_name, fallback=f"berkas-{ctx.request.message_id}")
    _check_size(ctx, attachment, name)
    async with ctx.services.db.read() as session:
        kirim = await submissions.collecting_batch(session, ctx.request.channel, ctx.request.chat_id)
    if kirim is not None:
        return await _add_to_kirim(ctx, kirim, attachment, name)
    if access.is_staff_not_liaison(actor):
        return ctx.reply("unggah/staf_di_luar_alur")
    caption = payloads.campaign_ref((ctx.request.text or "").split())
    targets = await _liaison_targets(ctx, caption.campaign_id)
    if not targets:
        if caption.campaign_id is not None:
            raise DomainError("unggah/kegiatan_tidak_dikenal", id=caption.campaign_id)
        return await _keep_unfiled(ctx, attachment, name)
    blob = await _fetch_checked(ctx, attachment, name)
    # The caption's item is checked once the OPD and campaign are known (it names that campaign's items).
    typed_item = caption.words[0][:16].upper() if caption.words else None
    if len(targets) > 1:
        return await _ask_opd_first(ctx, list(targets), attachment, blob, name, typed_item, caption.campaign_id)
    ((_, scopes),) = targets.items()
    if len(scopes) > 1:
        return await _ask_campaign_first(ctx, scopes, attachment, blob, name, typed_item)
    return await _file_into_scope(ctx, scopes[0], attachment, blob, name, typed_item)


async def _add_to_kirim(ctx: Context, kirim: BatchView, attachment: Attachment, name: str) -> Reply:
    """A file during a /kirim session joins it, unless its caption names another item than the session's."""
    other = await _other_item_named(ctx, kirim)
    if other is not None:
        return ctx.reply("unggah/kirim_item_lain", name=name, item=other, kirim_item=kirim.item_code)
    blob = await _fetch_checked(ctx, attachment, name)
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


async def _other_item_named(ctx: Context, kirim: BatchView) -> str | None:
    """The item a file's caption names when it is not the item the /kirim session collects for."""
    words = (ctx.request.text or "").split()
    if not words or not kirim.item_code or kirim.campaign_id is None:
        return None
    async with ctx.services.db.read() as session:
        codes = await submissions.campaign_item_codes(session, kirim.campaign_id)
    named = items.parse_item_code(words[0], codes)
    return named if named is not None and named != kirim.item_code else None


async def _file_into_scope(
    ctx: Context, scope: Scope, attachment: Attachment, blob: Blob, name: str, typed_item: str | None
) -> Reply | list[Reply]:
    """A liaison's message: filed now when the caption names an item, asked about otherwise; albums wait."""
    session = await ctx.session()
    state = await submissions.progress(session, scope)
    caption_item = _caption_item(typed_item, state)
    batch_id = await _batch_for_message(ctx, scope, attachment, blob, name, caption_item)
    if attachment.media_group_id:
        return []  # the batch closes 2 s after its last part; the question or receipt comes then
    if caption_item:
        return await _file_and_receipt(ctx, batch_id, caption_item)
    await submissions.await_item(session, batch_id)
    return question(ctx.services, batch_id, state, page=0, not_asked=await _not_asked(session, typed_item, state))


async def _not_asked(session: AsyncSession, typed_item: str | None, state: submissions.Progress) -> str | None:
    """The campaign's item a caption names that the OPD is not asked for (said before the item buttons)."""
    if not typed_item or items.parse_item_code(typed_item, [i.code for i in state.items]):
        return None  # no item named, or one the OPD is asked for (already accepted, so not among the buttons)
    return items.parse_item_code(typed_item, await submissions.campaign_item_codes(session, state.scope.campaign_id))


async def _batch_for_message(
    ctx: Context,
    scope: Scope | None,
    attachment: Attachment,
    blob: Blob,
    name: str,
    item_code: str | None,
    *,
    opd_id: int | None = None,
    campaign_id: int | None = None,
) -> int:
    """The batch this message's file joins: its own, or its album's (an album is one version)."""
    where = {"opd_id": opd_id, "campaign_id": campaign_id}
    try:
        return await _join_batch(ctx, scope, attachment, blob, name, item_code, **where)
    except submissions.BatchClosed:
        # The album's batch closed before this part could join it (the other instance filed it meanwhile):
        # that version stays as it is, and this part starts the album's next batch, which the job closes.
        return await _join_batch(ctx, scope, attachment, blob, name, item_code, **where)


async def _join_batch(
    ctx: Context,
    scope: Scope | None,
    attachment: Attachment,
    blob: Blob,
    name: str,
    item_code: str | None,
    *,
    opd_id: int | None = None,
    campaign_id: int | None = None,
) -> int:
    session = await ctx.session()
    batch_id = await submissions.open_batch(
        session,
        scope=scope,
        channel=ctx.request.channel,
        chat_id=ctx.request.chat_id,
        person_id=ctx.me("unggah/belum_terdaftar"),
        kind="album" if attachment.media_group_id else "single",
        now=ctx.now,
        media_group_id=attachment.media_group_id,
        opd_id=opd_id,
        campaign_id=campaign_id,
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
    limit_mb = ctx.services.settings.max_file_mb(ctx.request.channel)
    if attachment.size is not None and attachment.size > limit_mb * 1024 * 1024:
        raise DomainError("unggah/terlalu_besar", file_name=name, size=attachment.size, limit_mb=limit_mb)


async def _fetch_checked(ctx: Context, attachment: Attachment, name: str) -> Blob:
    """Stream the file to a temp file (before the write lock), judge it by its content, then admit it."""
    try:
        staged = await attachment.fetch(ctx.services.files)
    except FileTooLargeError:
        limit_mb = ctx.services.settings.max_file_mb(ctx.request.channel)
        raise DomainError(
            "unggah/terlalu_besar", file_name=name, size=limit_mb * 1048576 + 1, limit_mb=limit_mb
        ) from None
    return uploads.admit_checked(ctx.services.files, staged, name)


async def _liaison_targets(ctx: Context, campaign_id: int | None) -> dict[str, list[Scope]]:
    """Per own OPD, the campaigns its evidence may go to: the one an `#ID` names, else the open ones (or the latest).

    OPDs with none are left out; two or more OPDs, or two campaigns of one OPD, mean the sender is asked first.
    """
    targets: dict[str, list[Scope]] = {}
    async with ctx.services.db.read() as session:
        for code in access.own_opds(ctx.actor):
            if campaign_id is not None:
                named = await submissions.scope_in(session, code, campaign_id)
                scopes = [named] if named is not None else []
            else:
                scopes = await submissions.open_scopes(session, code)
            if scopes:
                targets[code] = scopes
    return targets


async def _ask_opd_first(
    ctx: Context,
    codes: list[str],
    attachment: Attachment,
    blob: Blob,
    name: str,
    typed_item: str | None,
    campaign_id: int | None,
) -> Reply | list[Reply]:
    """A liaison of several OPDs: keep the files in a batch and ask which OPD they are for (albums: the job asks)."""
    batch_id = await _batch_for_message(ctx, None, attachment, blob, name, typed_item, campaign_id=campaign_id)
    if attachment.media_group_id:
        return []
    await submissions.await_opd(await ctx.session(), batch_id)
    return opd_question(ctx.services, batch_id, codes)


async def _ask_campaign_first(
    ctx: Context, scopes: list[Scope], attachment: Attachment, blob: Blob, name: str, typed_item: str | None
) -> Reply | list[Reply]:
    """The OPD has items open in two campaigns: keep the files and ask which campaign (albums: the job asks)."""
    batch_id = await _batch_for_message(ctx, None, attachment, blob, name, typed_item, opd_id=scopes[0].opd_id)
    if attachment.media_group_id:
        return []
    await submissions.await_opd(await ctx.session(), batch_id)
    return campaign_question(ctx.services, batch_id, scopes)


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


def campaign_question(services: Services, batch_id: int, scopes: list[Scope], *, kirim: bool = False) -> Reply:
    """Which campaign are these files for? One button per open campaign of the OPD, and cancel."""
    return campaign_question_message(services, batch_id, scopes, kirim=kirim).render(services.renderer)


def campaign_question_message(
    services: Services, batch_id: int, scopes: list[Scope], *, kirim: bool = False
) -> Envelope:
    """The campaign question as a message (the upload-batches job queues it)."""
    if not scopes:  # the campaigns closed collection while the sender was being asked
        raise DomainError("unggah/kampanye_ditutup", judul="")
    rows = [
        (
            Button(
                services.label("tombol/kegiatan", id=s.campaign_id, title=s.title), f"kir:{batch_id}:c:{s.campaign_id}"
            ),
        )
        for s in scopes[:PAGE_SIZE]
    ]
    cancel = Button(services.label("tombol/batal"), f"kir:{batch_id}:x")
    return Envelope.of(
        UPLOAD_KIND,
        "unggah/pilih_kegiatan",
        buttons=(*rows, (cancel,)),
        opd=scopes[0].opd_name,
        kirim=kirim,
        example_id=scopes[-1].campaign_id,
    )


async def _not_a_sender(ctx: Context) -> Reply:
    """A head of an OPD or a Tim member sent a file: nothing is kept; they hear who sends and what they may do."""
    headed = access.own_opds(ctx.actor, {Role.KEPALA_OPD})
    liaisons = await people.liaisons_by_opd(await ctx.session()) if headed else {}
    commands = [c for c in commands_for(ctx.actor.roles) if c.roles is not EVERYONE]
    return ctx.reply(
        "unggah/bukan_pengirim",
        name=ctx.actor.display_name,
        headed={code: liaisons.get(code, []) for code in headed},
        tim=Role.TIM in ctx.actor.roles,
        commands=commands,
        helps={c.name: ctx.services.renderer.plain(c.help_template) for c in commands},
    )


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


def question(
    services: Services, batch_id: int, state: submissions.Progress, page: int, *, not_asked: str | None = None
) -> Reply:
    """Which item? The OPD's open items, seven per page, with paging and cancel."""
    return question_message(services, batch_id, state, page, not_asked=not_asked).render(services.renderer)


def question_message(
    services: Services, batch_id: int, state: submissions.Progress, page: int, *, not_asked: str | None = None
) -> Envelope:
    """The item question as a message (the upload-batches job queues it)."""
    choices = submissions.picker_order(submissions.open_items(state))
    if not choices:
        raise DomainError("unggah/tidak_ada_item_terbuka", opd=state.scope.opd_name)
    shown = page_of(len(choices), page, lambda n: f"kir:{batch_id}:p:{n}", labels=services.paging_labels())
    on_page = choices[shown.start : shown.end]
    rows = [
        [
            Button(
                fit_label(
                    services.label("tombol/item_pilihan", code=i.code, title=i.title, state=i.state), TITLE_LABEL_CHARS
                ),
                f"kir:{batch_id}:{i.code}",
                i.title,
            )
        ]
        for i in on_page
    ]
    rows.append([*shown.paging, Button(services.label("tombol/batal"), f"kir:{batch_id}:x")])
    return Envelope.of(
        UPLOAD_KIND,
        "unggah/pilih_item",
        buttons=rows,
        opd=state.scope.opd_name,
        page=shown.number + 1,
        pages=shown.count,
        not_asked=not_asked,
        example=choices[0].code,
        # What the marks on this page's buttons mean.
        marks=sorted({i.state for i in on_page} - {"belum"}),
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


async def tell_liaisons(
    services: Services, receipt: Receipt, now: datetime, *, session: AsyncSession, with_receipt: bool = False
) -> int:
    """A version filed on behalf of an OPD is announced to its liaisons (`with_receipt`: the whole receipt, when
    the uploader is at the server and reads no chat); returns how many liaisons are told."""
    if not receipt.on_behalf or receipt.duplicate:
        return 0
    template = "unggah/tanda_terima" if with_receipt else "unggah/atas_nama"
    message = Envelope.of("pemberitahuan", template, r=receipt)
    liaisons = await people.people_with_roles(session, [Role.OPD], receipt.scope.opd_id)
    for liaison in liaisons:
        await outbox.enqueue(session, person_id=liaison, message=message, now=now)
    return len(liaisons)


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
    if press.verb == "campaign":
        return await _choose_campaign(ctx, batch, press.campaign_id or 0)
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
    """The answer to "which OPD?": only one of the presser's own OPDs, once; then "which campaign?" if need be."""
    if batch.status != BatchStatus.AWAITING_OPD.value or batch.opd_id is not None:
        raise DomainError("umum/sudah_diproses")
    access.require_own_opd(ctx.actor, code)
    session = await ctx.session()
    if batch.campaign_id is not None:  # the caption named it (`#ID`)
        named = await submissions.scope_in(session, code, batch.campaign_id)
        if named is None:
            raise DomainError("unggah/kegiatan_tidak_dikenal", id=batch.campaign_id)
        scopes = [named]
    else:
        scopes = await submissions.open_scopes(session, code)
    if not scopes:
        raise DomainError("unggah/tidak_ada_kampanye", opd=code)
    if len(scopes) > 1:
        await submissions.choose_opd(session, batch.id, scopes[0].opd_id)
        return campaign_question(ctx.services, batch.id, scopes, kirim=batch.kind == "kirim")
    return await _scope_chosen(ctx, batch, scopes[0])


async def _choose_campaign(ctx: Context, batch: BatchView, campaign_id: int) -> Reply:
    """The answer to "which campaign?": one of the OPD's open campaigns, once."""
    if batch.status != BatchStatus.AWAITING_OPD.value or batch.opd_id is None:
        raise DomainError("umum/sudah_diproses")
    chosen = [s for s in await submissions.campaign_choices(await ctx.session(), batch) if s.campaign_id == campaign_id]
    if not chosen:
        raise DomainError("umum/tombol_kedaluwarsa")
    return await _scope_chosen(ctx, batch, chosen[0])


async def _scope_chosen(ctx: Context, batch: BatchView, scope: Scope) -> Reply:
    """Where the batch files is known: a /kirim session starts collecting, other files are filed or asked about."""
    session = await ctx.session()
    state = await submissions.progress(session, scope)
    if batch.kind == "kirim":
        item_code = _named_item(batch.item_code, state) if batch.item_code else None
        await submissions.choose_scope(session, batch.id, scope, item_code=item_code)
        return _kirim_started(ctx, batch.id, scope, item_code, batch.on_behalf)
    await submissions.choose_scope(session, batch.id, scope)
    item = _caption_item(batch.item_code, state)
    if item:
        return await _file_and_receipt(ctx, batch.id, item)
    await submissions.await_item(session, batch.id)
    return question(ctx.services, batch.id, state, 0, not_asked=await _not_asked(session, batch.item_code, state))


def _named_item(item_code: str, state: submissions.Progress) -> str:
    """The item `/kirim KODE` names, among those asked of the OPD; another is refused (and audited)."""
    named = items.parse_item_code(item_code, [i.code for i in state.items])
    if named is None:
        raise DomainError(
            "unggah/item_bukan_milik_opd", audit_action="forged_item", kode=item_code[:16], opd=state.scope.opd_code
        )
    return named


async def kirim(ctx: Context) -> Reply:
    """`/kirim [#ID] [KODE]` (a liaison) or `/kirim OPD_CODE [#ID] KODE` (admin, Kasi, on behalf): collect files."""
    running = await _running_kirim(ctx)
    if running is not None:
        return running
    words = payloads.campaign_ref(ctx.request.args)
    route = submissions.route_kirim(ctx.actor, words.words)
    if route is None:
        return ctx.reply("unggah/cara_kirim_atas_nama")
    opd_code, item_code, on_behalf = route.opd_code, route.item_code, route.on_behalf
    session = await ctx.session()
    if words.campaign_id is not None:
        named = await submissions.scope_in(session, opd_code, words.campaign_id)
        if named is None:
            raise DomainError("unggah/kegiatan_tidak_dikenal", id=words.campaign_id)
        scopes = [named]
    else:
        scopes = await submissions.open_scopes(session, opd_code)
    if not scopes:
        raise DomainError("unggah/tidak_ada_kampanye", opd=opd_code)
    if len(scopes) > 1:
        batch_id = await _open_kirim(
            ctx, None, item_code[:16].upper() if item_code else None, on_behalf, scopes[0].opd_id
        )
        await submissions.await_opd(session, batch_id)
        return campaign_question(ctx.services, batch_id, scopes, kirim=True)
    scope = scopes[0]
    if item_code:
        item_code = _named_item(item_code, await submissions.progress(session, scope))
    batch_id = await _open_kirim(ctx, scope, item_code, on_behalf)
    return _kirim_started(ctx, batch_id, scope, item_code, on_behalf)


async def _running_kirim(ctx: Context) -> Reply | None:
    """A /kirim session still collecting in this chat: finish or cancel it first (one session, one version)."""
    session = await ctx.session()
    current = await submissions.collecting_batch(session, ctx.request.channel, ctx.request.chat_id)
    if current is None or current.person_id != ctx.actor.person_id:
        return None
    buttons = [
        [
            Button(ctx.label("tombol/selesai"), f"kir:{current.id}:s"),
            Button(ctx.label("tombol/batal"), f"kir:{current.id}:x"),
        ]
    ]
    count = await submissions.batch_file_count(session, current.id)
    return ctx.reply("unggah/kirim_masih_berjalan", buttons=buttons, count=count, item=current.item_code)


async def _open_kirim(
    ctx: Context, scope: Scope | None, item_code: str | None, on_behalf: bool, opd_id: int | None = None
) -> int:
    return await submissions.open_batch(
        await ctx.session(),
        scope=scope,
        channel=ctx.request.channel,
        chat_id=ctx.request.chat_id,
        person_id=ctx.me("unggah/belum_terdaftar"),
        kind="kirim",
        now=ctx.now,
        item_code=item_code,
        on_behalf=on_behalf,
        opd_id=opd_id,
    )


def _kirim_started(ctx: Context, batch_id: int, scope: Scope, item_code: str | None, on_behalf: bool) -> Reply:
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
