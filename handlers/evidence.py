"""`/cari KATA… [#ID]`: staff and the Tim SPBE search the text of a campaign's evidence (scans included).

Each hit names the OPD, item, version and file with a snippet, the matched words in bold; its button sends that
version's files (the `berkas:` button of `/riwayat`, which checks the presser again). Pages turn with one-time
action buttons, so the words searched never travel in callback data.
"""

from __future__ import annotations

from typing import Any

from bot.conversation import payloads
from bot.conversation.commands import STAFF
from bot.conversation.core import Button, Reply
from bot.conversation.handling import Context, Registry
from bot.domain.enums import Role
from bot.services import actions, evidence, overview

SEARCHERS = STAFF | {Role.TIM}
PAGE_ACTION = "cari_halaman"


async def cari(ctx: Context) -> Reply:
    """Search the running campaign (or the one `#ID` names) for every word typed."""
    ref = payloads.campaign_ref(ctx.request.args)
    words = evidence.query_words(ref.words)
    if not words:
        return ctx.reply("cari/cara")
    campaign_id = ref.campaign_id
    if campaign_id is None:
        running = await overview.collecting_campaigns(await ctx.session())
        if not running:
            return ctx.reply("unggah/tidak_ada_kegiatan_berjalan")
        if len(running) > 1:
            return ctx.reply("cari/pilih_kegiatan", kegiatan=running, kata=" ".join(words))
        campaign_id = running[0].campaign_id
    return await _page(ctx, campaign_id, words, 0)


async def page_action(ctx: Context, params: dict[str, Any]) -> Reply:
    """ "Sebelumnya" / "Berikutnya" under a page of hits."""
    words = evidence.query_words([str(w) for w in params["words"]])
    return await _page(ctx, int(params["campaign"]), words, int(params["page"]))


async def _page(ctx: Context, campaign_id: int, words: tuple[str, ...], page: int) -> Reply:
    session = await ctx.session()
    found = await evidence.search(session, campaign_id, words, page=page)
    if not found.hits:
        return ctx.reply("cari/tidak_ditemukan", kata=" ".join(words), id=campaign_id)
    rows = [
        [
            Button(
                ctx.label("tombol/buka_berkas", code=f"{hit.opd_code} {hit.item_code}", number=hit.number),
                f"berkas:{campaign_id}:{hit.opd_code}:{hit.item_code}:{hit.number}",
            )
        ]
        for hit in found.hits
    ]
    person_id = ctx.actor.person_id
    assert person_id is not None  # the command table lets only registered staff and the Tim search
    paging = []
    turns = (("tombol/sebelumnya", page - 1, page > 0), ("tombol/berikutnya", page + 1, found.more))
    for label, target, shown in turns:
        if shown:
            paging.append(
                await actions.action_button(
                    session,
                    ctx.label(label),
                    kind=PAGE_ACTION,
                    person_id=person_id,
                    now=ctx.now,
                    campaign=campaign_id,
                    words=list(words),
                    page=target,
                )  # fmt: skip
            )
    if paging:
        rows.append(paging)
    start = page * evidence.SEARCH_PAGE
    return ctx.reply("cari/hasil", buttons=rows, hasil=found, kata=" ".join(words), id=campaign_id, mulai=start)


def register(registry_: Registry) -> None:
    registry_.command("cari", cari)
    registry_.action(PAGE_ACTION, page_action, roles=SEARCHERS)
