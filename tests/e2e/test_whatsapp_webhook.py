"""The WhatsApp webhook end to end: the handshake, signatures over the raw body, one journal row per event."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

from bot.app import build_app, build_channels
from bot.runtime import Runtime
from tests.e2e.harness import LogExpectations, journal_rows
from tests.e2e.whatsapp_world import say, whatsapp_bot, whatsapp_settings
from tests.fake_whatsapp import FakeWhatsAppAPI

pytestmark = pytest.mark.e2e


async def test_handshake_echoes_the_challenge_only_for_the_verify_token(
    fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path
) -> None:
    async with whatsapp_bot(whatsapp_settings(fake_whatsapp, tmp_path)):
        ok = await fake_whatsapp.verify_webhook(challenge="31415")
        wrong = await fake_whatsapp.verify_webhook(verify_token="salah", challenge="27182")
        unsubscribe = await fake_whatsapp.verify_webhook(mode="unsubscribe", challenge="16180")
    assert (ok.status, ok.text) == (200, "31415")
    assert (wrong.status, unsubscribe.status) == (403, 403)
    assert "27182" not in wrong.text


async def test_forged_replayed_and_malformed_posts_are_refused_and_nothing_is_journaled(
    fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path
) -> None:
    person = fake_whatsapp.user(name="Penyerang")
    async with whatsapp_bot(whatsapp_settings(fake_whatsapp, tmp_path)) as bot:
        missing = await fake_whatsapp.post_events([person.text_event("/help")], signature=None)
        wrong = await fake_whatsapp.post_events(
            [person.text_event("/help")], signature=fake_whatsapp.sign(b"x", "rahasia-lain")
        )
        garbage = await fake_whatsapp.post_events([person.text_event("/help")], signature="sha256=bukan-hex")
        genuine = await fake_whatsapp.post_events([person.text_event("/saya")])
        await fake_whatsapp.wait_for_messages(person, 1, timeout=15)
        # The genuine body again, signed for another body: a replay with a signature of its own is refused.
        replayed = await fake_whatsapp.post_raw(genuine.body, signature=fake_whatsapp.sign(b"another body"))
        malformed_body = b'{"object": "whatsapp_business_account", "entry": [}'
        malformed = await fake_whatsapp.post_raw(malformed_body, signature=fake_whatsapp.sign(malformed_body))
        rows = await journal_rows(bot.app.services.db)
    assert (missing.status, wrong.status, garbage.status, genuine.status) == (401, 403, 403, 200)
    assert (replayed.status, malformed.status) == (403, 400)
    assert b"\\u" in genuine.body or b" : " in genuine.body  # the fake signs non-canonical JSON
    assert [(r.channel, r.update_key.split(":")[0]) for r in rows] == [("whatsapp", "m")]
    assert len(person.texts()) == 1  # only the genuine message was answered


async def test_a_post_with_two_messages_and_a_status_is_three_journal_rows(
    fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path
) -> None:
    siti, rina = fake_whatsapp.user(name="Siti Aminah"), fake_whatsapp.user(name="Rina")
    async with whatsapp_bot(whatsapp_settings(fake_whatsapp, tmp_path)) as bot:
        (first,) = await say(fake_whatsapp, siti, "/help")
        sent_id = siti.messages()[0]["id"]
        one, two = siti.text_event("/saya"), rina.text_event("/saya")
        result = await fake_whatsapp.post_events([one, two, fake_whatsapp.status_event(sent_id, "delivered")])
        assert result.status == 200
        await fake_whatsapp.wait_for_messages(rina, 1, timeout=15)
        await fake_whatsapp.wait_for_messages(siti, 2, timeout=15)
        await bot.wait_idle()
        rows = await journal_rows(bot.app.services.db)
    assert "Perintah" in first
    keys = [r.update_key for r in rows]
    assert keys[1:] == [f"m:{one.id}", f"m:{two.id}", f"s:{sent_id}:delivered"]
    assert [r.chat_key for r in rows[1:]] == [siti.user_id, rina.user_id, None]
    status_row = rows[-1]
    assert status_row.status == "replied" and status_row.payload is not None
    assert json.loads(status_row.payload)["entry"][0]["changes"][0]["value"]["statuses"][0]["status"] == "delivered"


async def test_a_duplicate_delivery_is_processed_once_also_after_a_restart(
    fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path
) -> None:
    person = fake_whatsapp.user(wa_id="6281234567009", name="Dedi")
    settings = whatsapp_settings(fake_whatsapp, tmp_path)
    async with whatsapp_bot(settings) as bot:
        await say(fake_whatsapp, person, "/saya")
        first = fake_whatsapp.webhook_posts[-1]
        again = await fake_whatsapp.redeliver(first)
        assert again.status == 200
        await bot.wait_idle()
        assert len(person.texts()) == 1
    async with whatsapp_bot(settings) as bot:  # a new process on the same database
        assert (await fake_whatsapp.redeliver(first)).status == 200
        await say(fake_whatsapp, person, "/help")  # processed after the redelivery, in the same chat's order
        await bot.wait_idle()
        rows = await journal_rows(bot.app.services.db)
    assert len(person.texts()) == 2
    assert len(rows) == 2


async def test_events_for_another_phone_number_id_are_ignored(
    fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    person = fake_whatsapp.user(name="Salah Alamat")
    async with whatsapp_bot(whatsapp_settings(fake_whatsapp, tmp_path)) as bot:
        result = await fake_whatsapp.post_events([person.text_event("/help")], phone_id="999999999999")
        rows = await journal_rows(bot.app.services.db)
    assert result.status == 200  # correctly signed: Meta must not retry it
    assert rows == [] and person.texts() == []
    assert any("another phone number id" in r.getMessage() for r in caplog.records)


async def test_a_signed_event_pywa_cannot_read_is_marked_failed_without_a_reply(
    fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path
) -> None:
    person = fake_whatsapp.user(name="Rusak")
    broken = person.text_event("/help")
    del broken.item["type"]  # every message has one; pywa cannot build a message without it
    async with whatsapp_bot(whatsapp_settings(fake_whatsapp, tmp_path)) as bot:
        assert (await fake_whatsapp.post_events([broken])).status == 200
        (await_reply,) = await say(fake_whatsapp, person, "/saya")  # the chat goes on
        await bot.wait_idle()
        rows = await journal_rows(bot.app.services.db)
    assert [r.status for r in rows] == ["failed", "replied"]
    assert rows[0].last_error is not None and rows[0].last_error.startswith("unparsable")
    assert person.texts() == [await_reply]


async def test_a_standby_journals_what_reaches_it_and_the_lease_holder_answers(
    fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path
) -> None:
    person = fake_whatsapp.user(name="Lewat Cadangan")
    # Not a takeover test: a lease that survives a loaded machine's pauses (the 1.5 s one once lapsed in a full run).
    slow_lease = {"MONEV_LEASE_RENEW_SECONDS": "0.5", "MONEV_LEASE_TIMEOUT_SECONDS": "15"}
    holder_settings = whatsapp_settings(fake_whatsapp, tmp_path, **slow_lease)
    async with whatsapp_bot(holder_settings) as holder:
        standby_settings = whatsapp_settings(fake_whatsapp, tmp_path, **slow_lease)  # same database; Meta posts here
        standby_app = build_app(standby_settings)
        await standby_app.prepare()
        standby = Runtime(standby_app, build_channels(standby_app))
        await standby.start()
        standby_task = asyncio.create_task(standby.run())
        try:
            (answer,) = await say(fake_whatsapp, person, "/help")
            await holder.wait_idle()
            assert holder.runtime.is_holder and not standby.is_holder
        finally:
            standby_task.cancel()
            await asyncio.gather(standby_task, return_exceptions=True)
            await standby.stop()
            await standby_app.close()
    assert fake_whatsapp.webhook_url == f"http://127.0.0.1:{standby_settings.http_port}/whatsapp"
    assert "Perintah" in answer and len(person.texts()) == 1


async def test_a_body_that_cannot_be_journaled_is_refused_then_taken_when_meta_posts_it_again(
    fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path, expect_log: LogExpectations
) -> None:
    # The counterpart of Telegram's poll asked for again: another process holds SQLite's write lock past the busy
    # timeout, the webhook answers 500 (nothing journaled, nothing acknowledged), and Meta's retry is answered.
    expect_log("bot.channels.whatsapp.web", "could not journal a WhatsApp webhook body")
    settings = whatsapp_settings(
        fake_whatsapp, tmp_path, MONEV_LEASE_RENEW_SECONDS="2", MONEV_LEASE_TIMEOUT_SECONDS="60"
    )
    person = fake_whatsapp.user(name="Saat Sibuk")
    async with whatsapp_bot(settings) as bot:
        await say(fake_whatsapp, person, "/help")  # the bot is up, its start-up jobs done
        await bot.wait_idle()
        await bot.app.scheduler.pause()  # the jobs would fail on the lock too: the webhook is what this is about
        other_process = sqlite3.connect(settings.database_url.split(":///", 1)[1], isolation_level=None)
        other_process.execute("BEGIN IMMEDIATE")
        try:
            refused = await person.send_text("/saya")
        finally:
            other_process.execute("ROLLBACK")
            other_process.close()
            bot.app.scheduler.resume()
        assert refused.status == 500
        assert len(person.texts()) == 1
        assert (await fake_whatsapp.redeliver(refused)).status == 200
        await fake_whatsapp.wait_for_messages(person, 2, timeout=15)
        await bot.wait_idle()
        rows = await journal_rows(bot.app.services.db)
    assert [r.status for r in rows] == ["replied", "replied"]  # journaled once, when it could be
    assert len(person.texts()) == 2
