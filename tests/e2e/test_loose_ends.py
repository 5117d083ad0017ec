"""Loose ends from the first round of use: flows left halfway are announced, and nothing is used up by /batal."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from bot.services import registry
from storage.models import Role
from tests.e2e.broadcast_world import open_broadcast
from tests.e2e.harness import RunningBot, bot_settings, registered, running_bot, say
from tests.e2e.test_campaigns_chat import import_opds, press
from tests.e2e.test_handoffs import draft_for
from tests.e2e.test_people import CODE, monev_cli
from tests.fake_telegram.server import FakeBotAPI

pytestmark = pytest.mark.e2e


async def test_a_new_plan_started_inside_the_creation_flow_asks_before_discarding(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    async with running_bot(bot_settings(fake_telegram, tmp_path)) as bot:
        await import_opds(bot)
        kasi = await registered(fake_telegram, bot, 110, Role.KASI)
        await say(fake_telegram, kasi, "/kegiatan")
        await press(fake_telegram, kasi, "Kegiatan Monev baru")
        await say(fake_telegram, kasi, "Evaluasi Mandiri SPBE 2027")
        (asked,) = await press(fake_telegram, kasi, "Kegiatan Monev baru")  # the listing's button, again
        assert "Evaluasi Mandiri SPBE 2027" in asked and "membuang jawaban" in asked, asked
        assert [b["text"] for b in kasi.buttons()] == ["Buang dan mulai baru"]
        (again,) = await press(fake_telegram, kasi, "Buang dan mulai baru")
        assert "ketik judulnya" in again.lower(), again


async def test_batal_instead_of_the_return_note_gives_the_kabid_the_decision_again(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    async with running_bot(bot_settings(fake_telegram, tmp_path)) as bot:
        await import_opds(bot)
        kasi = await registered(fake_telegram, bot, 110, Role.KASI)
        kabid = await registered(fake_telegram, bot, 120, Role.KABID)
        await draft_for(bot, ("DINKES",))
        await say(fake_telegram, kasi, "/kegiatan #1")
        await press(fake_telegram, kasi, "Ajukan ke Kabid")
        await fake_telegram.wait_for(lambda: any("Mohon disposisi" in t for t in fake_telegram.texts(kabid.id)))
        assert "catatan" in (await press(fake_telegram, kabid, "Kembalikan"))[0]
        (cancelled,) = await say(fake_telegram, kabid, "/batal")
        assert "Pengembalian dibatalkan" in cancelled and "menunggu disposisi" in cancelled, cancelled
        assert [b["text"] for b in kabid.buttons()] == ["Setujui (disposisi)", "Kembalikan dengan catatan"]
        assert "disetujui" in (await press(fake_telegram, kabid, "Setujui"))[0]


async def test_the_hand_over_buttons_are_one_decision_and_tell_namesakes_apart(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    async with running_bot(bot_settings(fake_telegram, tmp_path)) as bot:
        await import_opds(bot)
        kasi = await registered(fake_telegram, bot, 110, Role.KASI)
        first = fake_telegram.user(200, first_name="Budi")
        second = fake_telegram.user(201, first_name="Budi")  # a namesake
        for user in (first, second):
            code = CODE.findall((await say(fake_telegram, kasi, "/undang BAPENDA"))[0])[0]
            assert "Pendaftaran berhasil" in (await say(fake_telegram, user, f"/daftar {code}"))[0]
        (handover,) = await say(fake_telegram, kasi, "/serahkan BAPENDA")
        new = fake_telegram.user(202, first_name="Penerus")
        await say(fake_telegram, new, f"/daftar {CODE.findall(handover)[0]}")
        (question,) = await fake_telegram.wait_for(
            lambda: [m for m in fake_telegram.sent_messages(110) if "Cabut akses penghubung lama?" in m["text"]]
        )
        labels = [b["text"] for b in kasi.buttons(question)]
        assert labels[0].startswith("Cabut Budi (sejak ") and labels[0].endswith(", akun …200)"), labels
        assert labels[1].startswith("Cabut Budi (sejak ") and labels[1].endswith(", akun …201)"), labels
        assert labels[2] == "Biarkan semua tetap aktif"
        before = len(fake_telegram.sent_messages(110))
        kasi.press_button(3, question)  # keep everyone
        await fake_telegram.wait_for_messages(110, before + 1)
        kasi.press_button(1, question)  # a revoke button of the same decision
        (late,) = (await fake_telegram.wait_for_messages(110, before + 2))[before + 1 :]
        assert "sudah diproses" in late["text"], late["text"]
        assert "Penghubung OPD" in (await say(fake_telegram, first, "/saya"))[0]  # still a liaison


async def test_revocation_is_told_the_same_way_from_the_cli_and_an_unlocked_chat_hears_it(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    async with running_bot(bot_settings(fake_telegram, tmp_path)) as bot:
        await import_opds(bot)
        admin = await registered(fake_telegram, bot, 100, Role.ADMIN)
        liaison = await registered(fake_telegram, bot, 200, Role.OPD, "DINKES")
        (mine,) = await say(fake_telegram, liaison, "/saya")
        person_id = int(mine.split("(ID ")[1].split(")")[0])
        await monev_cli(tmp_path, "people", "revoke", str(person_id))
        (told,) = await fake_telegram.wait_for(
            lambda: [t for t in fake_telegram.texts(liaison.id) if "telah dicabut: Penghubung OPD" in t]
        )
        assert "Dinas Kesehatan" in told
        (saya,) = await say(fake_telegram, liaison, "/saya")
        assert "telah dicabut oleh operator server" in saya and "belum terdaftar" not in saya, saya

        stranger = fake_telegram.user(301, first_name="Rina")
        for _ in range(5):
            await say(fake_telegram, stranger, "/daftar 1111-1111-1111-1111-1111")
        (notice,) = await fake_telegram.wait_for(
            lambda: [m for m in fake_telegram.sent_messages(100) if "diblokir sementara" in m["text"]]
        )
        admin.press_button(1, notice)
        (unlocked,) = await fake_telegram.wait_for(
            lambda: [t for t in fake_telegram.texts(stranger.id) if "sudah dibuka oleh admin" in t]
        )
        assert "Silakan coba lagi" in unlocked
        code = CODE.findall((await say(fake_telegram, admin, "/undang tim"))[0])[0]
        assert "Pendaftaran berhasil" in (await say(fake_telegram, stranger, f"/daftar {code}"))[0]
        assert "Rina" in (await say(fake_telegram, stranger, "/saya"))[0]  # the bare person got its name


async def test_deactivating_an_opd_of_a_running_kegiatan_says_what_happens_and_asks_first(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    settings = bot_settings(fake_telegram, tmp_path)
    world = await open_broadcast(settings, {"DINKES": 1}, now=datetime.now().astimezone())
    kasi = fake_telegram.user(world.leader_chats[0], first_name="Kasi")
    for chat in [*world.liaisons, world.uploader_chat, *world.leader_chats[1:]]:
        fake_telegram.user(chat)
    async with running_bot(settings) as bot:
        await fake_telegram.wait_for_messages(kasi.id, 1, timeout=20)  # the delivery report
        await say(fake_telegram, kasi, "/opd DINKES")
        (warned,) = await press(fake_telegram, kasi, "Nonaktifkan")
        assert f"kegiatan Monev #{world.campaign_id}" in warned and "tetap tercatat" in warned, warned
        assert [b["text"] for b in kasi.buttons()] == ["Ya, nonaktifkan"]
        assert await dinkes_active(bot) is True  # nothing changed before the confirmation
        (done,) = await press(fake_telegram, kasi, "Ya, nonaktifkan")
        assert "sekarang nonaktif" in done and await dinkes_active(bot) is False


async def dinkes_active(bot: RunningBot) -> bool:
    async with bot.app.services.db.read() as session:
        return next(o.active for o in await registry.list_opds(session) if o.code == "DINKES")
