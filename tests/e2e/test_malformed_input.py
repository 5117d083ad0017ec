"""Forged buttons and bad command arguments, from every role, through the real journaled path: never an error."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.messaging.ratelimit import Limits, RateLimiter
from bot.services import identity
from bot.services.audit import Acting
from storage.database import Database
from storage.models import InboundEvent, Role
from tests.e2e.broadcast_world import open_broadcast, register_one
from tests.e2e.harness import RunningBot, bot_settings, running_bot, say
from tests.fake_telegram.server import FakeBotAPI

pytestmark = pytest.mark.e2e

FORGED_PAYLOADS = (
    "kir:2:I.13",
    "kir:999999999999999999999:I.13",
    "kir:9223372036854775808:s",
    "kir:2147483648:s",
    "kir:-1:s",
    "kir:0:x",
    "kir:1:p:99999999999999999999999",
    "kir:1:p:-3",
    "kir:\u00b2:s",  # "²".isdigit() is True, int("²") raises
    "kir:\u0661:s",  # an Arabic-Indic digit
    "kir:1:o:",
    "kir:1:o:DINKES:lagi",
    "kir:",
    "kir",
    "kir:1",
    "kir:1:I.13:x",
    "kir:1:\u00c4\u00d6",
    "act:",
    "act:" + "A" * 33,
    "act:\u00ff\u00ff\u00ff",
    "act:../../etc/passwd",
    "act:tidakadatokennya",
    "opd:p:99999999999999999999",
    "opd:p:-1",
    "opd:p:\u00b2",
    "opd:d:",
    "opd:d:" + "Z" * 50,
    "opd:x:1",
    "opd:d:D\u0130NKES",
    "kmp:v:99999999999999999999",
    "rpt:m:999",
    "rpt:x:\u00b2",
    "rpt:p",
    "kmp:v:-1",
    "kmp:v:\u00b2",
    "kmp:ubah:abc",
    "kmp:ttd:",
    "kmp:fw:zzz",
    "kmp:opd:x",
    "kmp:zz",
    "kmp:v:1:2",
    "sts:99999999999:p:0",
    "sts:999:p:0",
    "sts:1:p:\u00b2",
    "sts:1:o:dinkes",
    "sts:1:o:ZZZZ",
    "sts:1:x:1",
    "",
    ":",
    "::::",
    "zzz:1",
    "x" * 200,
    "\u65e5\u672c\u8a9e:1",
    "\x00",
    " kir:1:s",
)
BAD_COMMANDS = (
    "/cabut 99999999999999999999",
    "/cabut 9223372036854775807",
    "/cabut -5",
    "/cabut \u00b2",
    "/cabut #",
    "/cabut 0",
    "/kampanye #99999999999999999999",
    "/kampanye #\u00b2",
    "/kampanye -1",
    "/item \u00b2",
    "/item 99999999999999999999999",
    "/status \u00b2",
    "/riwayat ZZZZ",
    "/opd \u00b2",
    "/kirim \u00b2 \u00b2",
    "/libur tambah \u00b2",
    "/libur hapus 99999-99-99",
    "/undang \u00b2 \u00b2",
    "/serahkan \u00b2",
    "/daftar \u00b2",
    "/start \u00b2",
)
# One chat per role; the liaison, Kasi, Kabid and secretary come from the opened campaign.
CHATS = {
    "unregistered": 700_009,
    "opd": 500_001,
    "kepala_opd": 700_001,
    "admin": 700_002,
    "kasi": 900_001,
    "kabid": 900_002,
    "sekretariat": 900_003,
    "tim": 700_003,
}
# Every refusal is a sentence of ours: it has one of these words (and no English or technical ones).
INDONESIAN = re.compile(
    r"\b(tidak|maaf|anda|tombol|tulis|silakan|belum|bukan|sudah|mohon|untuk|sebutkan|misalnya|ketik|dengan|yang"
    r"|cara)\b",
    re.IGNORECASE,
)
UNLIMITED = Limits(global_rate=10_000, global_burst=10_000, chat_rate=10_000, chat_burst=10_000)
TECHNICAL = ("Traceback", "Error", "Exception", "None", "assert")


async def add_other_roles(settings_url: str, at: datetime) -> None:
    db = Database(settings_url)
    try:
        async with db.write() as session:
            cli = Acting(await identity.ensure_local_person(session, "cli", "setup", at), "cli", "cli")
            await register_one(session, Role.KEPALA_OPD, "DINKES", CHATS["kepala_opd"], cli, at)
            await register_one(session, Role.ADMIN, None, CHATS["admin"], cli, at)
            await register_one(session, Role.TIM, None, CHATS["tim"], cli, at)
    finally:
        await db.dispose()


async def replies_by_row(bot: RunningBot) -> list[tuple[InboundEvent, list[str]]]:
    async with bot.app.services.db.read() as session:
        rows = (await session.scalars(select(InboundEvent).order_by(InboundEvent.id))).all()
    return [(row, [r["text"] for r in json.loads(row.replies or "[]")]) for row in rows]


async def test_malformed_buttons_and_commands_from_every_role(
    fake_telegram: FakeBotAPI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = bot_settings(fake_telegram, tmp_path)
    at = datetime.now().astimezone()
    await open_broadcast(settings, {"DINKES": 1}, now=at, framework="permenpanrb-8-2026-pemdi")
    await add_other_roles(settings.database_url, at)
    users = {role: fake_telegram.user(chat, first_name=role) for role, chat in CHATS.items()}
    # What is under test is the answer to each input, not the pacing: lift Telegram's limits on both sides, so
    # the 500-odd replies need not leave at 1/s per chat.
    fake_telegram.set_limits(None)
    async with running_bot(settings, limiter=RateLimiter(UNLIMITED)) as bot:
        for user in users.values():
            await say(fake_telegram, user, "/saya")  # a bot message for the forged presses to sit on
        await bot.wait_idle(timeout=60)
        first_row = len(await replies_by_row(bot))
        caplog.clear()
        for user in users.values():
            for payload in FORGED_PAYLOADS:
                user.press(payload, forge=True)
            for command in BAD_COMMANDS:
                user.send_text(command)
        expected = first_row + len(users) * (len(FORGED_PAYLOADS) + len(BAD_COMMANDS))
        await wait_for_rows(bot, expected)

        rows = (await replies_by_row(bot))[first_row:]
        assert len(rows) == expected - first_row
        # A row retried because a loaded SQLite stayed locked past its busy timeout is the journal doing its job
        # (and it must end answered); any other failed attempt is a handler that broke on bad input.
        failures = [
            (row.id, row.status, row.last_error)
            for row, _ in rows
            if row.status == "failed" or (row.attempts and "database is locked" not in (row.last_error or ""))
        ]
        assert failures == []
        apology = bot.app.dispatcher.apology().text
        for row, texts in rows:
            assert texts, row.payload
            for text in texts:
                assert text != apology and INDONESIAN.search(text), (row.payload, text)
                assert not any(word in text for word in TECHNICAL), (row.payload, text)
    loud = [r for r in caplog.records if r.levelno >= logging.ERROR or (r.levelno >= logging.WARNING and r.exc_info)]
    assert loud == [], [r.getMessage() for r in loud]


async def wait_for_rows(bot: RunningBot, count: int) -> None:
    """Until `count` rows are journaled and every one was answered."""
    async with asyncio.timeout(300):
        while True:
            rows = await replies_by_row(bot)
            if len(rows) >= count and all(r.status in ("replied", "failed") for r, _ in rows):
                return
            await asyncio.sleep(0.2)
