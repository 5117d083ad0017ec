"""The same conversation on WhatsApp: registration, linking, commands with or without the slash, unsupported types."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.models import ChannelIdentity, Role
from tests.e2e.broadcast_world import open_broadcast
from tests.e2e.harness import code_for
from tests.e2e.whatsapp_world import say, whatsapp_bot, whatsapp_settings
from tests.fake_whatsapp import FakeWhatsAppAPI

pytestmark = pytest.mark.e2e
PEMDI = "permenpanrb-8-2026-pemdi"


def now() -> datetime:
    return datetime.now().astimezone()


async def identities(bot, channel: str = "whatsapp") -> list[tuple[int, str, str | None]]:  # type: ignore[no-untyped-def]
    async with bot.app.services.db.read() as session:
        rows = await session.execute(
            select(ChannelIdentity.person_id, ChannelIdentity.external_id, ChannelIdentity.phone)
            .where(ChannelIdentity.channel == channel)
            .order_by(ChannelIdentity.id)
        )
    return [tuple(row) for row in rows.all()]  # type: ignore[misc]


async def test_registration_by_daftar_and_status_with_or_without_the_slash(
    fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path
) -> None:
    settings = whatsapp_settings(fake_whatsapp, tmp_path)
    await open_broadcast(settings, {}, extra_opds=("DINKES",), now=now(), framework=PEMDI)
    siti = fake_whatsapp.user(wa_id="6281234567001", name="Siti Aminah")
    tanpa_nomor = fake_whatsapp.user(name="Andi")  # WhatsApp gives no phone number for him
    async with whatsapp_bot(settings) as bot:
        (refused,) = await say(fake_whatsapp, siti, "status")
        assert "hanya untuk pengguna terdaftar" in refused
        greeting, invitation, request = await say(
            fake_whatsapp, siti, f"daftar {await code_for(bot, Role.OPD, 'DINKES')}", 3
        )
        assert "Pendaftaran berhasil" in greeting and "*Penghubung OPD*" in greeting  # <b> became *bold*
        assert "Undangan Evaluasi Mandiri SPBE 2026" in invitation  # the open invitation, through the outbox
        assert siti.messages()[-2]["document"]["filename"] == "undangan.pdf"  # the signed letter, its caption the text
        assert "Permintaan data dukung" in request
        (plain,) = await say(fake_whatsapp, siti, "status")
        (slashed,) = await say(fake_whatsapp, siti, "/status")
        (free_text,) = await say(fake_whatsapp, siti, "status berkas saya bagaimana ya?")
        await say(fake_whatsapp, tanpa_nomor, f"/daftar {await code_for(bot, Role.OPD, 'DINKES')}", 1)
        rows = await identities(bot)
    assert plain == slashed and "*Kelengkapan Dinas Kesehatan Kota Pontianak*" in plain
    assert "```I.13```" in plain and "<code>" not in plain and "&amp;" not in plain
    assert free_text.startswith("Pertanyaan Bapak/Ibu sudah diteruskan")  # not a command: a question (issue 18)
    assert [(external, phone) for _, external, phone in rows] == [
        (siti.user_id, "6281234567001"),
        (tanpa_nomor.user_id, None),
    ]


async def test_a_telegram_person_links_whatsapp_with_a_person_code(
    fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path
) -> None:
    settings = whatsapp_settings(fake_whatsapp, tmp_path)
    world = await open_broadcast(settings, {"DINKES": 1}, now=now(), framework=PEMDI)
    (telegram_user,) = world.liaisons
    budi = fake_whatsapp.user(wa_id="6281234567002", name="Budi")
    async with whatsapp_bot(settings) as bot:
        async with bot.app.services.db.read() as session:
            person_id = await session.scalar(
                select(ChannelIdentity.person_id).where(ChannelIdentity.external_id == str(telegram_user))
            )
        code = await code_for(bot, None, None, link_person_id=person_id)  # type: ignore[arg-type]
        (linked,) = await say(fake_whatsapp, budi, f"daftar {code}")
        (status,) = await say(fake_whatsapp, budi, "status")
        rows = await identities(bot)
    assert linked.startswith("Akun chat ini sekarang terhubung ke akun Anda yang sudah terdaftar")
    assert "*Kelengkapan Dinas Kesehatan Kota Pontianak*" in status  # the same person, the same OPD
    assert rows == [(person_id, budi.user_id, "6281234567002")]


async def test_stickers_locations_reactions_and_voice_notes_get_a_polite_answer(
    fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path
) -> None:
    person = fake_whatsapp.user(name="Pengirim Stiker")
    async with whatsapp_bot(whatsapp_settings(fake_whatsapp, tmp_path)) as bot:
        (hello,) = await say(fake_whatsapp, person, "/help")
        events = [
            person.sticker_event(),
            person.location_event(),
            person.reaction_event(person.messages()[0]["id"]),
            person.voice_event(),
        ]
        for event in events:
            assert (await person.send(event)).status == 200
        await fake_whatsapp.wait_for_messages(person, 5, timeout=15)
        await bot.wait_idle()
    answers = person.texts()[1:]
    assert len(answers) == 4
    assert all(answer.startswith("Maaf, jenis pesan ini belum bisa saya proses") for answer in answers)
