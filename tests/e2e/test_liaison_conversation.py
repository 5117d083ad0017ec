"""The liaison's conversation as they meet it (issue 12, items 4–9): two campaigns, their own items, /batal, codes."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.services import campaigns, identity, items
from bot.services.audit import Acting
from bot.services.invites import format_code
from bot.settings import Settings
from storage.database import Database
from storage.models import AuditEntry, Role, SubmissionVersion, UploadBatch
from tests.e2e.broadcast_world import PDF, World, open_broadcast, open_with_letter, register_one, tagged_pdf
from tests.e2e.harness import bot_settings, code_for, outbox_idle, running_bot, telegram_env
from tests.fake_telegram.actors import FakeUser
from tests.fake_telegram.server import FakeBotAPI
from tests.test_console import monev

pytestmark = pytest.mark.e2e
PEMDI = "permenpanrb-8-2026-pemdi"
LIAISON = 500_001  # the DINKES liaison open_broadcast registers first
KASI = 900_001


def now() -> datetime:
    return datetime.now().astimezone()


async def next_texts(fake: FakeBotAPI, user: FakeUser, count: int, action) -> list[str]:  # type: ignore[no-untyped-def]
    before = len(fake.sent_messages(user.id))
    action()
    messages = await fake.wait_for_messages(user.id, before + count, timeout=15)
    return [m.get("text") or "" for m in messages[before:]]


async def open_second_campaign(settings: Settings, opds: list[str], *, at: datetime) -> int:
    """A second campaign asking the OPDs for two items of its own, opened (and broadcast) like the first."""
    db = Database(settings.database_url)
    try:
        async with db.write() as session:
            cli = Acting(await identity.ensure_local_person(session, "cli", "setup", at), "cli", "cli")
            kasi = await register_one(session, Role.KASI, None, 900_011, cli, at)
            kabid = await register_one(session, Role.KABID, None, 900_012, cli, at)
            secretary = await register_one(session, Role.SEKRETARIAT, None, 900_013, cli, at)
            specs = [
                items.ItemSpec(code, title, "Dokumen", True, None, tuple(opds), (), None, None, n)
                for n, (code, title) in enumerate([("B.01", "Rencana aksi"), ("B.02", "Laporan triwulan")], start=1)
            ]
            campaign_id = await open_with_letter(
                session,
                settings,
                title="Monev Triwulan IV",
                framework=None,
                specs=specs,
                opds=opds,
                deadline=at + timedelta(days=20),
                staff=(kasi, kabid, secretary),
                now=at,
            )
        return campaign_id
    finally:
        await db.dispose()


async def two_campaigns(fake: FakeBotAPI, tmp_path: Path) -> tuple[Settings, World, int, FakeUser]:
    settings = bot_settings(fake, tmp_path)
    world = await open_broadcast(settings, {"DINKES": 1}, now=now(), framework=PEMDI)
    second = await open_second_campaign(settings, ["DINKES"], at=now())
    for user_id in (world.uploader_chat, KASI, 900_002, 900_011, 900_012, 900_013):
        fake.user(user_id)
    return settings, world, second, fake.user(LIAISON, first_name="Budi")


async def test_item_4_two_open_campaigns_ask_first_and_name_the_campaign(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    settings, world, second, liaison = await two_campaigns(fake_telegram, tmp_path)
    first = world.campaign_id
    async with running_bot(settings) as bot:
        await outbox_idle(bot.app.services.db)

        # a file without a caption: which campaign first, then which item; the receipt names the campaign
        (asked,) = await next_texts(fake_telegram, liaison, 1, lambda: liaison.send_document(PDF, "sk.pdf"))
        assert "kegiatan yang mana" in asked
        labels = [b["text"] for b in liaison.buttons()]
        assert labels == [f"#{second} Monev Triwulan IV", f"#{first} Evaluasi Mandiri SPBE 2026", "Batal"]
        (which_item,) = await next_texts(fake_telegram, liaison, 1, lambda: liaison.press_button(2))
        assert "Untuk item mana" in which_item and liaison.buttons()[0]["text"].startswith("I.13")
        (receipt,) = await next_texts(fake_telegram, liaison, 1, lambda: liaison.press_button(1))
        assert f"Kegiatan: Evaluasi Mandiri SPBE 2026 (#{first})" in receipt and "Item: I.13" in receipt

        # an album without a caption: the job asks which campaign once the album is complete
        group = fake_telegram.new_media_group_id()
        before = len(fake_telegram.sent_messages(liaison.id))
        for n in range(2):
            liaison.send_document(tagged_pdf(b"album%d" % n), f"foto-{n}.pdf", media_group_id=group)
        messages = await fake_telegram.wait_for_messages(liaison.id, before + 1, timeout=15)
        assert ["kegiatan yang mana" in (m.get("text") or "") for m in messages[before:]] == [True]
        (cancelled,) = await next_texts(fake_telegram, liaison, 1, lambda: liaison.press_button(3))
        assert "Dibatalkan" in cancelled

        # a caption `#ID KODE` names the campaign: filed at once
        (named,) = await next_texts(
            fake_telegram,
            liaison,
            1,
            lambda: liaison.send_document(tagged_pdf(b"b1"), "rencana.pdf", caption=f"#{second} B.01"),
        )
        assert f"Kegiatan: Monev Triwulan IV (#{second})" in named and "Item: B.01" in named
        # an `#ID` that is not one of the OPD's campaigns files nothing
        (unknown,) = await next_texts(
            fake_telegram, liaison, 1, lambda: liaison.send_document(tagged_pdf(b"x"), "x.pdf", caption="#999 B.01")
        )
        assert "#999" in unknown and "tidak sedang meminta" in unknown

        # /kirim asks which campaign, remembers it for the session
        (kirim_asked,) = await next_texts(fake_telegram, liaison, 1, lambda: liaison.send_text("/kirim B.02"))
        assert "kegiatan yang mana" in kirim_asked
        (started,) = await next_texts(fake_telegram, liaison, 1, lambda: liaison.press_button(1))
        assert "item B.02" in started and "Selesai" in started
        await next_texts(fake_telegram, liaison, 1, lambda: liaison.send_document(tagged_pdf(b"b2"), "laporan.pdf"))
        (kirim_receipt,) = await next_texts(fake_telegram, liaison, 1, lambda: liaison.press_button(1))
        assert f"(#{second})" in kirim_receipt and "Item: B.02" in kirim_receipt and "laporan.pdf" in kirim_receipt

        # /status asks which campaign (buttons); `/status #ID` names one; both name the campaign
        (status_asked,) = await next_texts(fake_telegram, liaison, 1, lambda: liaison.send_text("/status"))
        assert "kegiatan" in status_asked and len(liaison.buttons()) == 2
        (status_first,) = await next_texts(fake_telegram, liaison, 1, lambda: liaison.press_button(2))
        assert f"Evaluasi Mandiri SPBE 2026 (#{first})" in status_first and "I.13" in status_first
        (status_second,) = await next_texts(fake_telegram, liaison, 1, lambda: liaison.send_text(f"/status #{second}"))
        assert f"Monev Triwulan IV (#{second})" in status_second and "Kelengkapan: 100%" in status_second

        # staff name the OPD and the campaign
        kasi = fake_telegram.user(KASI)
        (staff_view,) = await next_texts(fake_telegram, kasi, 1, lambda: kasi.send_text(f"/status DINKES #{first}"))
        assert f"(#{first})" in staff_view and "I.13" in staff_view and "terkirim v1" in staff_view

        # `monev kirim` for an OPD with two open campaigns must name one
        document = tmp_path / "surel.pdf"
        document.write_bytes(tagged_pdf(b"surel"))
        env = telegram_env(fake_telegram, tmp_path / "data")
        cli = ("kirim", "--opd", "DINKES", "--item", "B.01", str(document))
        unnamed = await asyncio.to_thread(monev, *cli, cwd=tmp_path, env=env)
        assert unnamed.returncode == 1 and f"#{second}, #{first}: name one with --campaign" in unnamed.stderr
        named_cli = await asyncio.to_thread(monev, *cli, "--campaign", str(second), cwd=tmp_path, env=env)
        assert named_cli.returncode == 0 and "item B.01: filed as version 2" in named_cli.stdout
        await fake_telegram.wait_for(
            lambda: any("Versi: 2" in t and "B.01" in t for t in fake_telegram.texts(liaison.id)), timeout=15
        )

        # the older campaign closes: its evidence stays reachable by `#ID`, /status goes to the open one
        async with bot.app.services.db.write() as session:
            await campaigns.close_collection(session, first, acting=Acting(None, "kabid"), now=bot.app.now())
        (history,) = await next_texts(fake_telegram, liaison, 1, lambda: liaison.send_text(f"/riwayat #{first}"))
        assert f"(#{first})" in history and "I.13 v1" in history and "sk.pdf" in history
        (staff_history,) = await next_texts(fake_telegram, kasi, 1, lambda: kasi.send_text(f"/riwayat DINKES #{first}"))
        assert "I.13 v1" in staff_history
        (only_open,) = await next_texts(fake_telegram, liaison, 1, lambda: liaison.send_text("/status"))
        assert f"(#{second})" in only_open

        async with bot.app.services.db.read() as session:
            filed = (
                (await session.execute(select(SubmissionVersion.campaign_id).order_by(SubmissionVersion.id)))
                .scalars()
                .all()
            )
            open_batches = await session.scalar(
                select(UploadBatch.id).where(UploadBatch.status.not_in(["filed", "cancelled"]))
            )
        assert filed == [first, second, second, second] and open_batches is None


async def one_campaign(fake: FakeBotAPI, tmp_path: Path) -> tuple[Settings, FakeUser]:
    settings = bot_settings(fake, tmp_path)
    world = await open_broadcast(settings, {"DINKES": 1}, now=now(), framework=PEMDI)
    for user_id in (world.uploader_chat, KASI, 900_002):
        fake.user(user_id)
    return settings, fake.user(LIAISON, first_name="Budi")


async def test_item_5_examples_are_the_opds_own_and_other_items_are_named(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    settings, liaison = await one_campaign(fake_telegram, tmp_path)
    async with running_bot(settings) as bot:
        await outbox_idle(bot.app.services.db)
        request = next(t for t in fake_telegram.texts(liaison.id) if "Permintaan data dukung" in t)
        assert "misalnya I.13)" in request and "I.01" not in request

        # a caption naming an item of the campaign that DINKES is not asked for: said before the buttons
        (asked,) = await next_texts(
            fake_telegram, liaison, 1, lambda: liaison.send_document(PDF, "a.pdf", caption="I.02 dokumen")
        )
        assert asked.startswith("Item I.02 tidak diminta dari OPD Anda.") and "Untuk item mana" in asked
        assert "misalnya I.13)" in asked and "I.01" not in asked
        (hint,) = await next_texts(fake_telegram, liaison, 1, lambda: liaison.send_text("/item"))
        assert "/item I.13" in hint

        # another OPD's code in /kirim: only their own OPD
        (other_opd,) = await next_texts(fake_telegram, liaison, 1, lambda: liaison.send_text("/kirim DISDIKBUD I.13"))
        assert "hanya dapat mengirim data dukung untuk OPD Anda sendiri (DINKES)" in other_opd

        # during `/kirim I.17` a file captioned with another item is refused with that reason, not collected
        await next_texts(fake_telegram, liaison, 1, lambda: liaison.send_text("/kirim I.17"))
        (refused,) = await next_texts(
            fake_telegram,
            liaison,
            1,
            lambda: liaison.send_document(tagged_pdf(b"18"), "untuk-18.pdf", caption="I.18 laporan"),
        )
        assert "untuk-18.pdf" in refused and "item I.18" in refused and "untuk item I.17" in refused
        (joined,) = await next_texts(
            fake_telegram, liaison, 1, lambda: liaison.send_document(tagged_pdf(b"17"), "untuk-17.pdf", caption="I.17")
        )
        assert "1 berkas sejauh ini" in joined
        (receipt,) = await next_texts(fake_telegram, liaison, 1, lambda: liaison.press_button(1))
        assert "Item: I.17" in receipt and "untuk-17.pdf" in receipt and "untuk-18.pdf" not in receipt


async def test_item_6_batal_cancels_a_kirim_and_a_second_kirim_asks_about_the_first(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    settings, liaison = await one_campaign(fake_telegram, tmp_path)
    async with running_bot(settings) as bot:
        await outbox_idle(bot.app.services.db)
        await next_texts(fake_telegram, liaison, 1, lambda: liaison.send_text("/kirim I.17"))
        for n in range(2):
            await next_texts(
                fake_telegram, liaison, 1, lambda n=n: liaison.send_document(tagged_pdf(b"%d" % n), f"b-{n}.pdf")
            )
        (still,) = await next_texts(fake_telegram, liaison, 1, lambda: liaison.send_text("/kirim I.18"))
        assert "masih berjalan (2 berkas untuk item I.17)" in still
        assert [b["text"] for b in liaison.buttons()] == ["Selesai", "Batal"]

        (cancelled,) = await next_texts(fake_telegram, liaison, 1, lambda: liaison.send_text("/batal"))
        assert "Sesi /kirim dibatalkan. 2 berkas" in cancelled and "tidak dicatat" in cancelled
        (late_file,) = await next_texts(
            fake_telegram, liaison, 1, lambda: liaison.send_document(tagged_pdf(b"late"), "late.pdf")
        )
        assert "Untuk item mana" in late_file  # no session collects any more: an ordinary file, asked about
        (nothing,) = await next_texts(fake_telegram, liaison, 1, lambda: liaison.send_text("/batal"))
        assert "1 berkas" in nothing  # that waiting file is cancelled too
        (empty,) = await next_texts(fake_telegram, liaison, 1, lambda: liaison.send_text("/batal"))
        assert "Tidak ada proses" in empty

        # the second session: "Selesai" on the question files the first, then /kirim starts anew
        await next_texts(fake_telegram, liaison, 1, lambda: liaison.send_text("/kirim I.18"))
        await next_texts(fake_telegram, liaison, 1, lambda: liaison.send_document(tagged_pdf(b"18"), "c-18.pdf"))
        await next_texts(fake_telegram, liaison, 1, lambda: liaison.send_text("/kirim I.19"))
        (receipt,) = await next_texts(fake_telegram, liaison, 1, lambda: liaison.press_button(1))
        assert "Item: I.18" in receipt and "c-18.pdf" in receipt
        (started,) = await next_texts(fake_telegram, liaison, 1, lambda: liaison.send_text("/kirim I.19"))
        assert "item I.19" in started

        async with bot.app.services.db.read() as session:
            versions = (await session.scalars(select(SubmissionVersion.number))).all()
            audited = (
                await session.scalars(select(AuditEntry.object_id).where(AuditEntry.action == "batch_cancelled"))
            ).all()
        assert versions == [1] and len(audited) == 2


async def test_item_7_a_bare_invite_code_registers(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    settings, _ = await one_campaign(fake_telegram, tmp_path)
    async with running_bot(settings) as bot:
        newcomer = fake_telegram.user(600_001, first_name="Siti")
        (unknown,) = await next_texts(fake_telegram, newcomer, 1, lambda: newcomer.send_text("selamat pagi"))
        assert "belum memahami" in unknown
        code = format_code(await code_for(bot, Role.OPD, "DISKOMINFO"))
        typed = code.lower().replace("-", " ")  # as read aloud over the phone: any case, spaces for hyphens
        replies = await next_texts(fake_telegram, newcomer, 1, lambda: newcomer.send_text(typed))
        assert "Pendaftaran berhasil" in replies[0]
        async with bot.app.services.db.read() as session:
            actor = await identity.resolve_actor(session, "telegram", str(newcomer.id))
        assert actor.roles == {Role.OPD} and [a.opd_code for a in actor.assignments] == ["DISKOMINFO"]
        # once registered, a code-shaped message is not a registration any more
        other = format_code(await code_for(bot, Role.OPD, "DINKES"))
        (again,) = await next_texts(fake_telegram, newcomer, 1, lambda: newcomer.send_text(other))
        assert "belum memahami" in again


async def test_item_8_a_liaison_of_several_opds_is_pointed_to_the_right_command(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    settings = bot_settings(fake_telegram, tmp_path)
    world = await open_broadcast(settings, {"DINKES": 1, "DISKOMINFO": 1}, now=now(), framework=PEMDI)
    for user_id in (*world.liaisons, world.uploader_chat, KASI, 900_002):
        fake_telegram.user(user_id)
    liaison = fake_telegram.user(LIAISON, first_name="Budi")
    async with running_bot(settings) as bot:
        code = await code_for(bot, Role.OPD, "DISKOMINFO")
        await next_texts(fake_telegram, liaison, 1, lambda: liaison.send_text(f"/daftar {code}"))
        # The invitations (outbox) may overtake the welcome (a direct reply): both are in before /status.
        await fake_telegram.wait_for(
            lambda: any("Pendaftaran berhasil" in (m.get("text") or "") for m in fake_telegram.sent_messages(LIAISON)),
            timeout=15,
        )
        await outbox_idle(bot.app.services.db)

        (status,) = await next_texts(fake_telegram, liaison, 1, lambda: liaison.send_text("/status"))
        assert "misalnya /status DINKES" in status and "/kirim" not in status
        (history,) = await next_texts(fake_telegram, liaison, 1, lambda: liaison.send_text("/riwayat"))
        assert "misalnya /riwayat DINKES" in history
        (kirim,) = await next_texts(fake_telegram, liaison, 1, lambda: liaison.send_text("/kirim"))
        assert "misalnya /kirim DINKES" in kirim

        await next_texts(fake_telegram, liaison, 1, lambda: liaison.send_document(PDF, "sk.pdf", caption="I.13"))
        (receipt,) = await next_texts(fake_telegram, liaison, 1, lambda: liaison.press_button(2))
        assert "Komunikasi dan Informatika" in receipt
        assert f"Ketik /status DISKOMINFO #{world.campaign_id} untuk melihatnya" in receipt
        (pointed,) = await next_texts(
            fake_telegram, liaison, 1, lambda: liaison.send_text(f"/status DISKOMINFO #{world.campaign_id}")
        )
        assert "I.13" in pointed and "terkirim v1" in pointed


async def test_item_9_a_file_above_the_limit_names_what_works_and_monev_kirim_files_it(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    env = telegram_env(fake_telegram, tmp_path / "data", MONEV_TELEGRAM_MAX_FILE_MB="1")
    settings = bot_settings(fake_telegram, tmp_path, MONEV_TELEGRAM_MAX_FILE_MB="1")
    world = await open_broadcast(settings, {"DINKES": 1}, now=now(), framework=PEMDI)
    for user_id in (world.uploader_chat, KASI, 900_002):
        fake_telegram.user(user_id)
    liaison = fake_telegram.user(LIAISON, first_name="Budi")
    large = tagged_pdf(b"x" * (1024 * 1024 + 10))
    async with running_bot(settings) as bot:
        await outbox_idle(bot.app.services.db)
        (too_large,) = await next_texts(fake_telegram, liaison, 1, lambda: liaison.send_document(large, "besar.pdf"))
        assert "terlalu besar" in too_large and "memperkecil" in too_large and "satu /kirim" in too_large
        assert "admin Diskominfo" in too_large and "tanda terimanya tetap dikirim ke chat ini" in too_large

        # Diskominfo files it from the server: one version on the OPD's behalf, the receipt reaches the liaison
        document = tmp_path / "besar.pdf"
        document.write_bytes(large)
        before = len(fake_telegram.sent_messages(liaison.id))
        filed = await asyncio.to_thread(
            monev, "kirim", "--opd", "dinkes", "--item", "18", str(document), cwd=tmp_path, env=env
        )
        assert filed.returncode == 0, filed.stderr
        assert f"DINKES (Dinas Kesehatan Kota Pontianak), campaign #{world.campaign_id}" in filed.stdout
        assert (
            "item I.18: filed as version 1 on the OPD's behalf" in filed.stdout and "liaisons told: 1" in filed.stdout
        )
        (receipt,) = [
            m.get("text") or "" for m in (await fake_telegram.wait_for_messages(liaison.id, before + 1))[before:]
        ]
        assert "Tanda terima" in receipt and "Item: I.18" in receipt and "besar.pdf" in receipt
        assert "atas nama Dinas Kesehatan" in receipt

        # the same checks as the chat: content, item, campaign; each refusal says why and exits 1
        program = tmp_path / "laporan.pdf"
        program.write_bytes(b"MZ\x90\x00" + b"\x00" * 200)
        refusals = [
            (["--item", "I.18", str(program)], "laporan.pdf"),
            (["--item", "I.02", str(document)], "I.02"),
            (["--item", "I.18", "--campaign", "999", str(document)], "campaign #999"),
            (["--item", "I.18", str(tmp_path / "tidak-ada.pdf")], "no such file"),
        ]
        for extra, named in refusals:
            refused = await asyncio.to_thread(monev, "kirim", "--opd", "DINKES", *extra, cwd=tmp_path, env=env)
            assert refused.returncode == 1 and refused.stderr.startswith("monev: ") and named in refused.stderr

        async with bot.app.services.db.read() as session:
            (version,) = (await session.scalars(select(SubmissionVersion))).all()
            entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "submission"))
        assert version.on_behalf and version.number == 1
        assert (
            entry is not None
            and entry.role == "cli"
            and entry.channel == "cli"
            and '"on_behalf": true' in (entry.details or "")
        )
