"""Between roles (SOP steps 0–2): each hand-off tells the next person, and a plan that asks nothing is refused."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.cli.support import cli_acting
from bot.services import campaigns, items
from bot.services.audit import Acting
from storage.models import Role
from tests.e2e.harness import RunningBot, bot_settings, registered, running_bot, say
from tests.e2e.test_campaigns_chat import PDF, import_opds, press, send_file
from tests.fake_telegram.server import FakeBotAPI

pytestmark = pytest.mark.e2e


async def draft_for(bot: RunningBot, opds: tuple[str, ...]) -> int:
    """A draft with one item asked of `opds`, as the creation flow leaves it."""
    spec = items.ItemSpec("I.01", "Kebijakan internal SPBE", "SK", True, None, opds, (), None, None, 1)
    async with bot.app.services.db.write() as session:
        return await campaigns.create_campaign(
            session,
            title="Evaluasi Mandiri SPBE 2026",
            framework=None,
            items=[spec],
            deadline=bot.app.now() + timedelta(days=30),
            opd_codes=opds,
            acting=await cli_acting(bot.app),
            now=bot.app.now(),
        )


async def test_approval_asks_the_letter_uploaders_and_a_return_runs_step_0_again(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    async with running_bot(bot_settings(fake_telegram, tmp_path)) as bot:
        await import_opds(bot)
        kasi = await registered(fake_telegram, bot, 110, Role.KASI)
        kabid = await registered(fake_telegram, bot, 120, Role.KABID)
        secretary = await registered(fake_telegram, bot, 130, Role.SEKRETARIAT)
        admin = await registered(fake_telegram, bot, 140, Role.ADMIN)
        liaison = await registered(fake_telegram, bot, 150, Role.OPD, "DINKES")
        await draft_for(bot, ("DINKES",))

        await say(fake_telegram, kasi, "/kampanye #1")
        await press(fake_telegram, kasi, "Ajukan ke Kabid")
        await fake_telegram.wait_for(lambda: any("Mohon disposisi" in t for t in fake_telegram.texts(kabid.id)))
        await press(fake_telegram, kabid, "Kembalikan")
        await say(fake_telegram, kabid, "Tambahkan kecamatan")
        # The Kasi is told first (through the outbox); then the Kasi's own question is answered.
        await fake_telegram.wait_for(lambda: any("Kabid mengembalikan" in t for t in fake_telegram.texts(kasi.id)))
        (shown,) = await say(fake_telegram, kasi, "/kampanye #1")
        assert "⏳ Langkah 0" in shown and "⏳ Langkah 1" not in shown, shown  # the Kasi's step runs again

        await press(fake_telegram, kasi, "Ajukan ke Kabid")
        await fake_telegram.wait_for(
            lambda: len([t for t in fake_telegram.texts(kabid.id) if "Mohon disposisi" in t]) == 2
        )
        await press(fake_telegram, kabid, "Setujui")
        for uploader in (secretary, admin):  # both may upload the signed letter: both are told, with the button
            (notice,) = await fake_telegram.wait_for(
                lambda uploader=uploader: [t for t in fake_telegram.texts(uploader.id) if "Mohon unggah" in t]
            )
            assert "Kabid Kabid120 telah menyetujui" in notice and "2 hari kerja" in notice
            assert [b["text"] for b in uploader.buttons()] == ["Unggah surat bertanda tangan"]
        assert not any("Mohon unggah" in t for t in fake_telegram.texts(kabid.id))
        assert not any("Mohon unggah" in t for t in fake_telegram.texts(liaison.id))

        # the notice's button starts the letter flow, and the broadcast follows
        assert "ditandatangani" in (await press(fake_telegram, secretary, "Unggah surat bertanda tangan"))[0]
        assert "Kirim undangan" in await send_file(fake_telegram, secretary, PDF, "surat-ttd.pdf")
        await press(fake_telegram, secretary, "Kirim undangan")
        for reader in (secretary, kasi, kabid):  # the uploader, the Kasi and the Kabid get the delivery report
            await fake_telegram.wait_for(
                lambda reader=reader: [t for t in fake_telegram.texts(reader.id) if "Laporan pengiriman" in t],
                timeout=20,
            )
        assert not any("Laporan pengiriman" in t for t in fake_telegram.texts(admin.id))


async def test_a_plan_that_asks_an_opd_for_nothing_is_refused(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    async with running_bot(bot_settings(fake_telegram, tmp_path)) as bot:
        await import_opds(bot)
        kasi = await registered(fake_telegram, bot, 110, Role.KASI)
        kabid = await registered(fake_telegram, bot, 120, Role.KABID)

        # at creation: BPBD answers none of the framework's items
        await say(fake_telegram, kasi, "/kampanye")
        await press(fake_telegram, kasi, "Kegiatan Monev baru")
        await say(fake_telegram, kasi, "Evaluasi Mandiri SPBE 2026")
        await press(fake_telegram, kasi, "PermenPANRB 8/2026")
        await say(fake_telegram, kasi, "29-05-2027")
        (refused,) = await say(fake_telegram, kasi, "DINKES BPBD")
        assert "BPBD tidak diminta item apa pun" in refused and "DINKES" not in refused, refused
        assert "draf surat" in (await say(fake_telegram, kasi, "DINKES"))[0]  # still at the question; DINKES is fine
        await say(fake_telegram, kasi, "/batal")

        # at "Ajukan ke Kabid": an edit took DISHUB's only item away
        campaign_id = await draft_for(bot, ("DINKES", "DISHUB"))
        async with bot.app.services.db.write() as session:
            acting = Acting((await cli_acting(bot.app)).person_id, None, "cli")
            await campaigns.assign_item(session, campaign_id, "I.01", ["DINKES"], acting=acting, now=bot.app.now())
        await say(fake_telegram, kasi, f"/kampanye #{campaign_id}")
        (refused,) = await press(fake_telegram, kasi, "Ajukan ke Kabid")
        assert "DISHUB tidak diminta item apa pun" in refused and "hapus KODE_OPD" in refused, refused
        assert not any("Mohon disposisi" in t for t in fake_telegram.texts(kabid.id))

        await say(fake_telegram, kasi, f"/kampanye #{campaign_id}")
        await press(fake_telegram, kasi, "Ubah penugasan item")
        assert "Dikeluarkan dari rencana: DISHUB" in (await say(fake_telegram, kasi, "hapus DISHUB"))[0]
        await say(fake_telegram, kasi, "selesai")
        await press(fake_telegram, kasi, "Ajukan ke Kabid")
        (summary,) = await fake_telegram.wait_for(
            lambda: [t for t in fake_telegram.texts(kabid.id) if "Mohon disposisi" in t]
        )
        assert "1 item untuk 1 OPD" in summary and "I.01 Kebijakan internal SPBE (1 OPD)" in summary, summary
        assert "DINKES: 1 item" in summary and "DISHUB" not in summary
