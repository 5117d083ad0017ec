"""People and access end to end: bootstrap, invites, registration, separation of duties, forged buttons."""

from __future__ import annotations

import asyncio
import csv
import os
import re
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.models import Role, RoleAssignment
from tests.e2e.harness import bot_settings, code_for, registered, running_bot, say
from tests.fake_telegram.server import FakeBotAPI

pytestmark = pytest.mark.e2e

CODE = re.compile(r"[0-9A-Z]{4}(?:-[0-9A-Z]{4}){4}")


async def monev_cli(tmp_path: Path, *args: str) -> str:
    """The real `monev` CLI against the running bot's database (the loop keeps running: the bot is live)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONEV_")}
    env["MONEV_DATA_DIR"] = str(tmp_path / "data")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    return out.decode()


async def test_bootstrap_invite_and_register_by_deep_link_and_daftar(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    async with running_bot(bot_settings(fake_telegram, tmp_path)) as bot:
        assert "added 32" in await monev_cli(tmp_path, "opd", "import", "--default")
        printed = await monev_cli(tmp_path, "invite", "--role", "admin")
        admin_code = CODE.search(printed)
        assert admin_code and f"https://t.me/{fake_telegram.bot_username}?start=" in printed

        admin = fake_telegram.user(100, first_name="Rina")
        (greeting,) = await say(fake_telegram, admin, f"/daftar {admin_code.group(0).lower()}")
        assert "Selamat bergabung sebagai Admin Diskominfo" in greeting

        (invite_reply,) = await say(fake_telegram, admin, "/undang diskominfo")
        link = re.search(r"https://t\.me/\S+\?start=([0-9A-Z]{20})", invite_reply)
        assert link and "Penghubung OPD DISKOMINFO" in invite_reply

        liaison = fake_telegram.user(200, first_name="Budi")
        (welcome,) = await say(fake_telegram, liaison, f"/start {link.group(1)}")
        assert "Penghubung OPD untuk Dinas Komunikasi dan Informatika Kota Pontianak" in welcome
        notices = await fake_telegram.wait_for_messages(100, 3)
        assert "Pendaftaran baru: Budi sebagai Penghubung OPD" in notices[-1]["text"]

        second_code = CODE.findall((await say(fake_telegram, admin, "/undang DISKOMINFO"))[0])[0]
        second = fake_telegram.user(201, first_name="Sari")
        assert "Pendaftaran berhasil" in (await say(fake_telegram, second, f"/daftar {second_code}"))[0]
        await fake_telegram.wait_for_messages(100, 5)
        (overview,) = await say(fake_telegram, admin, "/opd")
        assert "DISKOMINFO Diskominfo: Budi, Sari" in overview
        assert "belum punya penghubung" in overview
        (mine,) = await say(fake_telegram, liaison, "/saya")
        assert "Penghubung OPD — Dinas Komunikasi dan Informatika Kota Pontianak (DISKOMINFO)" in mine

        # a second Telegram account of Budi, linked by a --person code
        async with bot.app.services.db.read() as session:
            budi = await session.scalar(select(RoleAssignment.person_id).where(RoleAssignment.role == "opd"))
        link_code = CODE.search(await monev_cli(tmp_path, "invite", "--person", str(budi)))
        assert link_code
        phone = fake_telegram.user(202, first_name="Budi HP kedua")
        assert "sekarang terhubung" in (await say(fake_telegram, phone, f"/daftar {link_code.group(0)}"))[0]
        (same,) = await say(fake_telegram, phone, "/saya")
        assert f"(ID {budi})" in same and "Penghubung OPD" in same

        exported = tmp_path / "audit.csv"
        await monev_cli(tmp_path, "audit", "export", "--out", str(exported))
        actions = [row["action"] for row in csv.DictReader(exported.read_text(encoding="utf-8").splitlines())]
        assert actions.count("registration") == 3 and "identity_link" in actions
        assert actions.count("invite_issue") == 4 and "opd_import" in actions


async def test_bad_codes_and_the_attempt_limit(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    async with running_bot(bot_settings(fake_telegram, tmp_path)) as bot:
        await monev_cli(tmp_path, "opd", "import", "--default")
        admin = await registered(fake_telegram, bot, 100, Role.ADMIN)
        used = await code_for(bot, Role.TIM)
        await registered(fake_telegram, bot, 101, Role.TIM)  # burns another code; `used` is used below
        first = fake_telegram.user(300)
        assert "Pendaftaran berhasil" in (await say(fake_telegram, first, f"/daftar {used}"))[0]

        stranger = fake_telegram.user(301)
        revoked = await code_for(bot, Role.TIM)
        await monev_cli(tmp_path, "invite", "revoke", "4")
        replies = [
            (await say(fake_telegram, stranger, f"/daftar {used}"))[0],
            (await say(fake_telegram, stranger, f"/daftar {revoked}"))[0],
            (await say(fake_telegram, stranger, "/daftar 0000-0000-0000-0000-0000"))[0],
            (await say(fake_telegram, stranger, "/daftar bukan-kode"))[0],
        ]
        assert "sudah dipakai" in replies[0] and "sudah dicabut" in replies[1]
        assert "tidak dikenal" in replies[2] and "tidak dikenal" in replies[3]
        locked = (await say(fake_telegram, stranger, "/daftar 1111-1111-1111-1111-1111"))[0]
        assert "Terlalu banyak kode yang salah" in locked
        notice = await fake_telegram.wait_for(
            lambda: [m for m in fake_telegram.sent_messages(100) if "diblokir sementara" in m["text"]]
        )
        valid = await code_for(bot, Role.TIM)
        assert "Terlalu banyak" in (await say(fake_telegram, stranger, f"/daftar {valid}"))[0]
        admin.press_button(1, notice[0])
        # The stranger is told through the outbox, which is woken at once: wait for that notice before writing.
        await fake_telegram.wait_for(
            lambda: any("sudah dibuka oleh" in m["text"] for m in fake_telegram.sent_messages(stranger.id))
        )
        admin.press_button(1, notice[0])  # a second tap
        await fake_telegram.wait_for(
            lambda: any("sudah diproses" in m["text"] for m in fake_telegram.sent_messages(100))
        )
        assert "Pendaftaran berhasil" in (await say(fake_telegram, stranger, f"/daftar {valid}"))[0]


async def test_separation_of_duties_and_forged_buttons(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    async with running_bot(bot_settings(fake_telegram, tmp_path)) as bot:
        await monev_cli(tmp_path, "opd", "import", "--default")
        admin = await registered(fake_telegram, bot, 100, Role.ADMIN)
        kasi = await registered(fake_telegram, bot, 110, Role.KASI)
        kabid = await registered(fake_telegram, bot, 120, Role.KABID)
        liaison = await registered(fake_telegram, bot, 200, Role.OPD, "DINKES")
        await fake_telegram.wait_for_messages(100, 4)  # admin greeted and told of three registrations

        assert "tidak berwenang" in (await say(fake_telegram, admin, "/undang kabid"))[0]
        assert "tidak berwenang" in (await say(fake_telegram, admin, "/undang kasi"))[0]
        assert "tidak berwenang" in (await say(fake_telegram, kasi, "/undang kabid"))[0]
        assert CODE.search((await say(fake_telegram, kasi, "/undang admin"))[0])
        assert CODE.search((await say(fake_telegram, kabid, "/undang kasi"))[0])
        assert "tidak berwenang" in (await say(fake_telegram, kabid, "/undang DINKES"))[0]

        assert "tidak tersedia untuk peran Anda" in (await say(fake_telegram, liaison, "/undang DINKES"))[0]
        assert "tidak tersedia untuk peran Anda" in (await say(fake_telegram, liaison, "/serahkan DINKES"))[0]
        # the admin's OPD detail carries a one-time toggle button; the liaison forges its callback data
        (detail,) = await say(fake_telegram, admin, "/opd DINKES")
        token = admin.buttons()[0]["callback_data"]
        before = len(fake_telegram.sent_messages(200))
        liaison.press(token, forge=True)
        liaison.press("opd:d:DISKOMINFO", forge=True)
        forged = await fake_telegram.wait_for_messages(200, before + 2)
        assert "bukan untuk Anda" in forged[-2]["text"] and "bukan untuk Anda" in forged[-1]["text"]
        admin.press(token)
        await fake_telegram.wait_for(lambda: any("sekarang nonaktif" in t for t in fake_telegram.texts(100)))

        async with bot.app.services.db.read() as session:
            kasi_id = await session.scalar(select(RoleAssignment.person_id).where(RoleAssignment.role == "kasi"))
            liaison_id = await session.scalar(select(RoleAssignment.person_id).where(RoleAssignment.role == "opd"))
        assert "tidak berwenang mencabut" in (await say(fake_telegram, admin, f"/cabut {kasi_id}"))[0]
        assert "Kasi PK&AI" in (await say(fake_telegram, kasi, "/saya"))[0]
        (done,) = await say(fake_telegram, admin, f"/cabut {liaison_id}")
        assert "dicabut dan berlaku saat ini juga" in done
        await fake_telegram.wait_for(lambda: any("telah dicabut" in t for t in fake_telegram.texts(200)))
        assert "telah dicabut oleh" in (await say(fake_telegram, liaison, "/saya"))[0]

        exported = tmp_path / "audit.csv"
        await monev_cli(tmp_path, "audit", "export", "--out", str(exported))
        actions = [row["action"] for row in csv.DictReader(exported.read_text(encoding="utf-8").splitlines())]
        for expected in (
            "invite_refused",
            "command_refused",
            "forged_button",
            "opd_deactivate",
            "revoke_refused",
            "revoke",
        ):
            assert expected in actions, expected


async def test_hand_over_asks_the_issuer_about_the_old_liaison(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    async with running_bot(bot_settings(fake_telegram, tmp_path)) as bot:
        await monev_cli(tmp_path, "opd", "import", "--default")
        kasi = await registered(fake_telegram, bot, 110, Role.KASI)
        old = await registered(fake_telegram, bot, 200, Role.OPD, "BAPENDA")
        (handover,) = await say(fake_telegram, kasi, "/serahkan bapenda")
        assert "Kode undangan serah terima untuk Penghubung OPD BAPENDA" in handover
        new = fake_telegram.user(201, first_name="Penerus")
        assert "Pendaftaran berhasil" in (await say(fake_telegram, new, f"/daftar {CODE.findall(handover)[0]}"))[0]
        question = await fake_telegram.wait_for(
            lambda: [m for m in fake_telegram.sent_messages(110) if "Cabut akses penghubung lama?" in m["text"]]
        )
        labels = [b["text"] for b in kasi.buttons(question[0])]
        assert labels[0].startswith("Cabut Opd200 (sejak ") and labels[1:] == ["Biarkan semua tetap aktif"]
        kasi.press_button(1, question[0])
        await fake_telegram.wait_for(lambda: any("telah dicabut" in t for t in fake_telegram.texts(200)))
        assert "telah dicabut oleh Kasi PK&AI" in (await say(fake_telegram, old, "/saya"))[0]
        assert "Penghubung OPD" in (await say(fake_telegram, new, "/saya"))[0]
