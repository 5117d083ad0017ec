"""Review in chat, through the real transport: `/tinjau` shows the files and the buttons, the liaisons are told,
a returned item reads "perlu revisi" until a new version, an accepted item is locked until `/buka`, and two
reviewers on one queue never see the same version."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import pytest

from bot.settings import Settings
from storage.models import Role
from tests.e2e.broadcast_world import PDF, World, open_broadcast, tagged_pdf
from tests.e2e.harness import bot_settings, outbox_idle, registered, running_bot
from tests.e2e.test_intake import next_texts
from tests.fake_telegram.actors import FakeUser
from tests.fake_telegram.server import FakeBotAPI

pytestmark = pytest.mark.e2e


async def dinkes_world(fake: FakeBotAPI, tmp_path: Path) -> tuple[Settings, World, FakeUser, FakeUser]:
    """An open campaign for DINKES with its liaison Budi and the Kasi Andi (the Kabid and the uploader exist too)."""
    settings = bot_settings(fake, tmp_path)
    world = await open_broadcast(settings, {"DINKES": 1}, now=datetime.now().astimezone())
    (chat,) = world.liaisons
    budi = fake.user(chat, first_name="Budi")
    kasi = fake.user(900_001, first_name="Andi")
    for other in (900_002, world.uploader_chat):
        fake.user(other)
    return settings, world, budi, kasi


async def test_return_with_a_note_then_a_new_version_then_accept_then_locked_until_reopened(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    settings, world, budi, kasi = await dinkes_world(fake_telegram, tmp_path)
    async with running_bot(settings) as bot:
        await fake_telegram.wait_for_messages(budi.id, 2, timeout=15)
        await fake_telegram.wait_for_messages(kasi.id, 1, timeout=15)
        (receipt,) = await next_texts(fake_telegram, budi, 1, lambda: budi.send_document(PDF, "sk.pdf", caption="I.01"))
        assert "Versi: 1" in receipt

        # The Kasi's queue: the file as a document, then the card with the expected evidence and the buttons.
        before = len(fake_telegram.sent_messages(kasi.id))
        kasi.send_text("/tinjau")
        shown = (await fake_telegram.wait_for_messages(kasi.id, before + 2, timeout=15))[before:]
        assert shown[0].get("document") and shown[0].get("caption") == "sk.pdf"
        card = shown[1]["text"]
        assert "Dinas Kesehatan" in card and "I.01" in card and "Versi 1" in card and "Yang diminta: SK" in card
        assert [b["text"] for b in kasi.buttons()] == ["Terima", "Minta revisi"]

        # "Minta revisi": a reason button, then the typed note; Budi reads both at once.
        (ask,) = await next_texts(fake_telegram, kasi, 1, lambda: kasi.press_button(2))
        assert "catatan" in ask and "Tidak lengkap" in [b["text"] for b in kasi.buttons()]
        (noted,) = await next_texts(fake_telegram, kasi, 1, lambda: kasi.press_button(2))
        assert "tidak lengkap" in noted
        kasi_before = len(fake_telegram.sent_messages(kasi.id))
        told = await next_texts(
            fake_telegram, budi, 1, lambda: kasi.send_text("Mohon lampirkan SK yang ditandatangani")
        )
        (returned,) = [
            m["text"] for m in (await fake_telegram.wait_for_messages(kasi.id, kasi_before + 1, timeout=15))[-1:]
        ]
        assert "dikembalikan untuk revisi" in returned
        assert "perlu revisi" in told[0] and "Mohon lampirkan SK yang ditandatangani" in told[0]
        assert "Alasan: tidak lengkap" in told[0]
        (status,) = await next_texts(fake_telegram, budi, 1, lambda: budi.send_text("/status"))
        assert "perlu revisi" in status.lower()

        # The old card's other button changes nothing.
        card_message = shown[1]
        (again,) = await next_texts(fake_telegram, kasi, 1, lambda: kasi.press_button(1, card_message))
        assert "sudah ditinjau" in again

        # A new version, then accept: Budi is told, and the item is locked.
        (v2,) = await next_texts(
            fake_telegram, budi, 1, lambda: budi.send_document(tagged_pdf(b"v2"), "sk-ttd.pdf", caption="I.01")
        )
        assert "Versi: 2" in v2
        (status,) = await next_texts(fake_telegram, budi, 1, lambda: budi.send_text("/status"))
        assert "perlu revisi" not in status.lower()
        before = len(fake_telegram.sent_messages(kasi.id))
        kasi.send_text("/tinjau")
        shown = (await fake_telegram.wait_for_messages(kasi.id, before + 2, timeout=15))[before:]
        assert shown[0].get("caption") == "sk-ttd.pdf" and "Versi 2" in shown[1]["text"]
        kasi_before = len(fake_telegram.sent_messages(kasi.id))
        (accepted,) = await next_texts(fake_telegram, budi, 1, lambda: kasi.press_button(1))
        assert "diterima" in accepted
        await fake_telegram.wait_for_messages(kasi.id, kasi_before + 1, timeout=15)
        empty = (await next_texts(fake_telegram, kasi, 1, lambda: kasi.send_text("/tinjau")))[-1]
        assert "Tidak ada data dukung yang menunggu" in empty

        (locked,) = await next_texts(
            fake_telegram, budi, 1, lambda: budi.send_document(tagged_pdf(b"v3"), "sk-baru.pdf", caption="I.01")
        )
        assert "sudah" in locked and "diterima" in locked and "membuka kembali" in locked

        # /buka by the Kasi: Budi is told and may send a new version.
        kasi_before = len(fake_telegram.sent_messages(kasi.id))
        (opened,) = await next_texts(fake_telegram, budi, 1, lambda: kasi.send_text("/buka DINKES I.01 SK diganti"))
        assert "dibuka kembali" in opened and "SK diganti" in opened
        await fake_telegram.wait_for_messages(kasi.id, kasi_before + 1, timeout=15)
        (v3,) = await next_texts(
            fake_telegram, budi, 1, lambda: budi.send_document(tagged_pdf(b"v3"), "sk-baru.pdf", caption="I.01")
        )
        assert "Versi: 3" in v3

        # A liaison cannot review; /buka of an item not accepted changes nothing.
        (refused,) = await next_texts(fake_telegram, budi, 1, lambda: budi.send_text("/tinjau"))
        assert "tidak tersedia" in refused
        admin = await registered(fake_telegram, bot, 7201, Role.ADMIN)
        (not_accepted,) = await next_texts(fake_telegram, admin, 1, lambda: admin.send_text("/buka DINKES I.01 salah"))
        assert "belum diterima" in not_accepted


async def test_two_reviewers_on_one_queue_never_review_the_same_version(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    settings = bot_settings(fake_telegram, tmp_path)
    world = await open_broadcast(settings, {"DINKES": 1, "BPBD": 1}, now=datetime.now().astimezone())
    by_opd = {opd: chat for chat, opd in world.liaisons.items()}
    users = {opd: fake_telegram.user(chat) for opd, chat in by_opd.items()}
    kasi = fake_telegram.user(900_001)
    for other in (900_002, world.uploader_chat):
        fake_telegram.user(other)
    async with running_bot(settings) as bot:
        await fake_telegram.wait_for_messages(kasi.id, 1, timeout=15)
        for opd, user in users.items():
            await fake_telegram.wait_for_messages(user.id, 2, timeout=15)
            await next_texts(
                fake_telegram,
                user,
                1,
                lambda u=user, o=opd: u.send_document(tagged_pdf(o.encode()), f"{o}.pdf", caption="I.01"),
            )
        admin = await registered(fake_telegram, bot, 7202, Role.ADMIN)
        seen: dict[int, str] = {}
        cards: dict[int, dict] = {}
        for reviewer in (kasi, admin):
            before = len(fake_telegram.sent_messages(reviewer.id))
            reviewer.send_text("/tinjau")
            shown = (await fake_telegram.wait_for_messages(reviewer.id, before + 2, timeout=15))[before:]
            seen[reviewer.id] = shown[0]["caption"]
            cards[reviewer.id] = shown[1]
        assert sorted(seen.values()) == ["BPBD.pdf", "DINKES.pdf"]
        # A third reviewer finds nothing free; each of the two decides their own version.
        third = await registered(fake_telegram, bot, 7203, Role.KASI)
        (nothing,) = await next_texts(fake_telegram, third, 1, lambda: third.send_text("/tinjau"))
        assert "Tidak ada data dukung yang menunggu" in nothing
        for reviewer in (kasi, admin):
            reviewer.press(reviewer.buttons(cards[reviewer.id])[0]["callback_data"], cards[reviewer.id])
            done = await text_containing(fake_telegram, reviewer.id, "Penghubung OPD sudah diberi tahu")
            names = {"BPBD.pdf": "Bencana", "DINKES.pdf": "Kesehatan"}
            assert "diterima" in done and names[seen[reviewer.id]] in done


async def text_containing(fake: FakeBotAPI, chat: int, part: str, timeout: float = 15) -> str:
    """The newest message to `chat` containing `part`, waiting for it (notices may arrive in between)."""
    async with asyncio.timeout(timeout):
        while True:
            found = [m.get("text") or "" for m in fake.sent_messages(chat) if part in (m.get("text") or "")]
            if found:
                return found[-1]
            await asyncio.sleep(0.05)


async def test_several_uploads_make_one_digest_whose_button_opens_the_queue(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    settings = bot_settings(fake_telegram, tmp_path)
    world = await open_broadcast(settings, {"DINKES": 1}, now=datetime.now().astimezone())
    (chat,) = world.liaisons
    budi = fake_telegram.user(chat)
    kasi = fake_telegram.user(900_001)
    kabid = fake_telegram.user(900_002)
    fake_telegram.user(world.uploader_chat)
    async with running_bot(settings) as bot:
        await fake_telegram.wait_for_messages(budi.id, 2, timeout=15)
        await fake_telegram.wait_for_messages(kasi.id, 1, timeout=15)
        for n in range(3):
            await next_texts(
                fake_telegram,
                budi,
                1,
                lambda n=n: budi.send_document(tagged_pdf(b"%d" % n), f"sk-{n}.pdf", caption="I.01"),
            )
        before = {u.id: len(fake_telegram.sent_messages(u.id)) for u in (kasi, kabid)}
        now = datetime.now().astimezone()
        await bot.app.scheduler.run_now("review-digest", now)
        await bot.app.scheduler.run_now("review-digest", now)  # the period has not passed: nothing more
        digest = await text_containing(fake_telegram, kasi.id, "menunggu tinjauan")
        await outbox_idle(bot.app.services.db)
        assert len(fake_telegram.sent_messages(kasi.id)) == before[kasi.id] + 1
        assert len(fake_telegram.sent_messages(kabid.id)) == before[kabid.id]  # the Kabid does not review
        # versions 1 and 2 were replaced by version 3: one version waits
        assert "Evaluasi Mandiri SPBE 2026" in digest and "1 menunggu" in digest
        assert [b["text"] for b in kasi.buttons()] == [f"Tinjau kegiatan #{world.campaign_id}"]
        shown = await next_texts(fake_telegram, kasi, 2, lambda: kasi.press_button(1))
        assert "Versi 3" in shown[1]


async def test_staff_open_the_files_of_any_version_from_riwayat_and_status(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    settings, world, budi, kasi = await dinkes_world(fake_telegram, tmp_path)
    async with running_bot(settings):
        await fake_telegram.wait_for_messages(budi.id, 2, timeout=15)
        await fake_telegram.wait_for_messages(kasi.id, 1, timeout=15)
        await next_texts(
            fake_telegram, budi, 1, lambda: budi.send_document(tagged_pdf(b"v1"), "sk.pdf", caption="I.01")
        )
        await next_texts(
            fake_telegram, budi, 1, lambda: budi.send_document(tagged_pdf(b"v2"), "sk-2.pdf", caption="I.01")
        )

        (history,) = await next_texts(fake_telegram, kasi, 1, lambda: kasi.send_text("/riwayat DINKES"))
        assert "v2" in history and [b["text"] for b in kasi.buttons()] == ["Berkas I.01 v2", "Berkas I.01 v1"]
        before = len(fake_telegram.sent_messages(kasi.id))
        kasi.press_button(2)  # the first version's files, sent back as documents
        (sent,) = (await fake_telegram.wait_for_messages(kasi.id, before + 1, timeout=15))[before:]
        assert sent["document"]["file_name"] == "sk.pdf"

        (status,) = await next_texts(fake_telegram, kasi, 1, lambda: kasi.send_text("/status DINKES"))
        assert [b["text"] for b in kasi.buttons()] == ["Berkas I.01 v2"]  # the latest version of each item
        before = len(fake_telegram.sent_messages(kasi.id))
        kasi.press_button(1)
        (sent,) = (await fake_telegram.wait_for_messages(kasi.id, before + 1, timeout=15))[before:]
        assert sent["document"]["file_name"] == "sk-2.pdf"

        # The liaison sees no such button, and a forged one is refused.
        (own,) = await next_texts(fake_telegram, budi, 1, lambda: budi.send_text("/riwayat"))
        assert budi.buttons() == []
        (refused,) = await next_texts(
            fake_telegram, budi, 1, lambda: budi.press(f"berkas:{world.campaign_id}:DINKES:I.01:1", forge=True)
        )
        assert "bukan untuk Anda" in refused
