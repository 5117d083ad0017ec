"""The message envelope end to end: one queued message, rendered by each channel when it goes out."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import build_app, build_channels
from bot.channels.console import ConsoleChannel, to_plain_text
from bot.conversation.core import Actor, Button, Reply, reply_to_json
from bot.conversation.envelope import Envelope, EnvelopeButton, Label
from bot.runtime import Runtime
from bot.services import lease, outbox
from bot.services.campaigns import InvitationTarget
from storage.database import Database
from storage.models import ChannelIdentity, OutboxMessage, Person
from tests.e2e.harness import bot_settings
from tests.fake_telegram.server import FakeBotAPI

pytestmark = pytest.mark.e2e

TELEGRAM_USER = 8801


def invitation(now: datetime) -> InvitationTarget:
    return InvitationTarget(
        person_id=0,
        opd_id=1,
        opd_code="DINKES",
        opd_name="Dinas Kesehatan & KB",
        items=(("I.01", "Kebijakan <internal> SPBE"), ("I.02", "Rencana induk")),
        campaign_id=7,
        title="Evaluasi Mandiri SPBE 2026",
        deadline=now + timedelta(days=30),
        letter=None,
    )


async def person(db: Database, channel: str, external_id: str, name: str, now: datetime) -> int:
    async with db.write() as session:
        row = Person(display_name=name, created_at=now)
        session.add(row)
        await session.flush()
        session.add(
            ChannelIdentity(
                person_id=row.id, channel=channel, external_id=external_id, created_at=now, last_inbound_at=now
            )
        )
        return int(row.id)


async def test_one_message_goes_to_a_console_person_as_plain_text_and_to_a_telegram_person_as_html(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    settings = bot_settings(fake_telegram, tmp_path)
    fake_telegram.user(TELEGRAM_USER)
    app = build_app(settings)
    await app.prepare()
    now = app.now()
    db = app.services.db
    on_console = await person(db, "console", "operator", "Ibu Sari", now)
    out = io.StringIO()
    console = ConsoleChannel(app.dispatcher, Actor(on_console, "Ibu Sari"), "operator", out, app.now)
    # One runtime with both channels: its channels and web server, but not its lease loop (the test dispatches).
    runtime = Runtime(app, [*build_channels(app), console])
    await runtime.start()
    try:
        on_telegram = await person(db, "telegram", str(TELEGRAM_USER), "Pak Budi", now)
        target = invitation(now)
        message = Envelope.of(
            "permintaan_data",
            "kampanye/permintaan_data",
            buttons=[[EnvelopeButton(Label("tombol/setujui"), "act:tok1")], [Button("Buka rincian", "kmp:7")]],
            t=target,
        )
        async with db.write() as session:
            for person_id in (on_console, on_telegram):
                await outbox.enqueue(session, person_id=person_id, message=message, now=now)
            grant = await lease.hold_lease(session, "test", now, timedelta(seconds=30))
        assert grant is not None

        dispatcher = runtime.outbox
        assert sorted(dispatcher.channels) == ["console", "telegram"]
        dispatcher.start(grant.fence)
        assert await dispatcher.deliver_due() == 2

        html = app.services.renderer.render("kampanye/permintaan_data", t=target)  # the view, rendered directly
        assert "<b>" in html and "&amp;" in html and "&lt;internal&gt;" in html
        (sent,) = fake_telegram.sent_messages(TELEGRAM_USER)
        assert sent["text"] == to_plain_text(html)
        assert {e["type"] for e in sent["entities"]} == {"bold", "code"}
        keyboard = sent["reply_markup"]["inline_keyboard"]
        assert [[b["text"] for b in row] for row in keyboard] == [["Setujui (disposisi)"], ["Buka rincian"]]
        assert [[b["callback_data"] for b in row] for row in keyboard] == [["act:tok1"], ["kmp:7"]]

        printed = out.getvalue()
        assert printed == (f"[kepada Ibu Sari]\n{to_plain_text(html)}\n[1] Setujui (disposisi)\n[2] Buka rincian\n"), (
            printed
        )
        assert "<" not in printed.replace("<internal>", "")
        async with db.read() as session:
            rows = (await session.execute(select(OutboxMessage.channel, OutboxMessage.status))).all()
        assert sorted(rows) == [("console", "sent"), ("telegram", "sent")]
    finally:
        await runtime.stop()
        await app.close()


async def test_a_message_queued_before_the_upgrade_is_delivered_as_it_was_rendered(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    settings = bot_settings(fake_telegram, tmp_path)
    fake_telegram.user(TELEGRAM_USER)
    app = build_app(settings)
    await app.prepare()
    runtime = Runtime(app, build_channels(app))
    await runtime.start()
    try:
        now = app.now()
        db = app.services.db
        on_telegram = await person(db, "telegram", str(TELEGRAM_USER), "Pak Budi", now)
        old = Reply("<b>Pemberitahuan</b> lama &amp; tertunda", buttons=((Button("Lihat", "kmp:3"),),))
        async with db.write() as session:
            # The payload as the outbox wrote it before the envelope: the reply already rendered.
            session.add(
                OutboxMessage(
                    person_id=on_telegram,
                    kind="pemberitahuan",
                    template_key="pemberitahuan",
                    payload=json.dumps({"reply": reply_to_json(old), "params": {}}),
                    status="pending",
                    not_before=now,
                    created_at=now,
                )
            )
            grant = await lease.hold_lease(session, "test", now, timedelta(seconds=30))
        assert grant is not None
        dispatcher = runtime.outbox
        dispatcher.start(grant.fence)
        assert await dispatcher.deliver_due() == 1

        (sent,) = fake_telegram.sent_messages(TELEGRAM_USER)
        assert sent["text"] == "Pemberitahuan lama & tertunda"
        assert [e["type"] for e in sent["entities"]] == ["bold"]
        assert sent["reply_markup"]["inline_keyboard"] == [[{"text": "Lihat", "callback_data": "kmp:3"}]]
    finally:
        await runtime.stop()
        await app.close()
