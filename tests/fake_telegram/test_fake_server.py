"""The fake Bot API driven by python-telegram-bot's real Bot, as the bot under test will use it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiohttp import web
from telegram import (
    Bot,
    BotCommandScopeChat,
    CallbackQuery,
    Document,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.fake_telegram import FakeBotAPI
from tests.fake_telegram.limits import Limits

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    # PTB 22 warns (an error under filterwarnings=error) when RetryAfter is built without this opt-in.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


def make_bot(fake: FakeBotAPI, token: str | None = None) -> Bot:
    """A real PTB Bot pointed at the fake."""
    return Bot(token or fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url)


@pytest_asyncio.fixture
async def bot(fake_telegram: FakeBotAPI) -> AsyncIterator[Bot]:
    async with make_bot(fake_telegram) as started:
        yield started


def keyboard(*datas: str) -> InlineKeyboardMarkup:
    """One row of callback buttons."""
    return InlineKeyboardMarkup([[InlineKeyboardButton(d.title(), callback_data=d) for d in datas]])


def msg(update: Update) -> Message:
    """The update's message, which the test expects to be there."""
    assert update.message is not None
    return update.message


def query(update: Update) -> CallbackQuery:
    """The update's callback query, which the test expects to be there."""
    assert update.callback_query is not None
    return update.callback_query


def seconds(error: RetryAfter) -> float:
    """retry_after in seconds (a timedelta with PTB_TIMEDELTA=true)."""
    value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def doc(message: Message) -> Document:
    """The message's document, which the test expects to be there."""
    assert message.document is not None
    return message.document


# ----- identity, polling, offsets ---------------------------------------------------------------


async def test_get_me_and_wrong_token(fake_telegram: FakeBotAPI, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (123456, True, "monev_test_bot")
    with pytest.raises(InvalidToken):
        async with make_bot(fake_telegram, "123456:WRONG-token_abcdefghijklmnopqrstu"):
            pass


async def test_long_polling_returns_early_when_a_user_writes(fake_telegram: FakeBotAPI, bot: Bot) -> None:
    user = fake_telegram.user(1001)
    poll = asyncio.create_task(bot.get_updates(timeout=60))
    await fake_telegram.wait_for(lambda: fake_telegram.calls_of("getUpdates"))
    assert not poll.done()  # nothing to answer yet: the poll waits
    user.send_text("halo")
    async with asyncio.timeout(30):  # half the poll's timeout: it answered because of the message
        updates = await poll
    assert [msg(u).text for u in updates] == ["halo"]


async def test_long_polling_blocks_until_timeout(bot: Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=2) == ()
    assert time.monotonic() - started >= 1.9  # it held the request until the poll's timeout


async def test_offset_confirmation_drops_updates_for_good(fake_telegram: FakeBotAPI, bot: Bot) -> None:
    user = fake_telegram.user(1002)
    ids = [user.send_text(text)["update_id"] for text in ("satu", "dua", "tiga")]
    assert [u.update_id for u in await bot.get_updates()] == ids
    assert [u.update_id for u in await bot.get_updates(offset=ids[1] + 1)] == ids[2:]
    assert [u.update_id for u in await bot.get_updates()] == ids[2:]  # no offset: nothing comes back
    assert (fake_telegram.confirmed_offset, fake_telegram.pending_updates()) == (ids[1] + 1, 1)


async def test_command_entities_like_telegram(fake_telegram: FakeBotAPI, bot: Bot) -> None:
    user = fake_telegram.user(1003)
    user.send_text("/start kode-undangan")
    user.send_text("/lapor@monev_test_bot")
    user.send_text("bukan /perintah")
    updates = await bot.get_updates()
    assert [msg(u).entities[0].length if msg(u).entities else None for u in updates] == [6, 21, None]
    assert (msg(updates[0]).chat.type, msg(updates[0]).chat.id) == ("private", 1003)


async def test_overlapping_get_updates_conflict(fake_telegram: FakeBotAPI, bot: Bot) -> None:
    async with make_bot(fake_telegram) as second:
        first_poll = asyncio.create_task(bot.get_updates(timeout=5))
        await fake_telegram.wait_for(lambda: len(fake_telegram.calls_of("getUpdates")) == 1)
        second_poll = asyncio.create_task(second.get_updates(timeout=5))
        with pytest.raises(Conflict, match="terminated by other getUpdates request"):
            await first_poll
        fake_telegram.user(1004).send_text("halo")
        assert [msg(u).text for u in await second_poll] == ["halo"]


# ----- flood limits -----------------------------------------------------------------------------


async def send_all(bot: Bot, chat_ids: list[int]) -> list[BaseException | None]:
    """Send one message per chat id concurrently; the exception (or None) for each."""
    results = await asyncio.gather(
        *(bot.send_message(c, f"pesan {i}") for i, c in enumerate(chat_ids)), return_exceptions=True
    )
    return [r if isinstance(r, BaseException) else None for r in results]


def frozen() -> float:
    """The fake's flood clock standing still: no bucket refills, so a loaded machine cannot blur the limits."""
    return 0.0


async def test_global_limit_answers_429_with_retry_after(fake_telegram: FakeBotAPI, bot: Bot) -> None:
    fake_telegram.set_limits(Limits(), frozen)
    chat_ids = [fake_telegram.user(2000 + i).id for i in range(40)]
    errors = await send_all(bot, chat_ids)
    limited = [e for e in errors if isinstance(e, RetryAfter)]
    assert len(limited) == 40 - 31  # 30 per second plus the tolerance token, all at once
    assert {seconds(e) for e in limited} == {1}
    assert len(fake_telegram.rejected_429) == len(limited)
    assert len(fake_telegram.sent_messages()) == 31
    assert fake_telegram.duplicate_texts() == {}


async def test_per_chat_burst_limit(fake_telegram: FakeBotAPI, bot: Bot) -> None:
    fake_telegram.set_limits(Limits(), frozen)
    chat_id = fake_telegram.user(2100).id
    outcomes = []
    for n in range(5):
        try:
            await bot.send_message(chat_id, f"cepat {n}")
            outcomes.append("ok")
        except RetryAfter as exc:
            outcomes.append(f"429 {seconds(exc):.0f}")
    assert outcomes == ["ok"] * 4 + ["429 1"]


async def test_group_limit_is_per_minute(fake_telegram: FakeBotAPI, bot: Bot) -> None:
    fake_telegram.set_limits(Limits(), frozen)
    group = fake_telegram.group(-100200, "Grup OPD")
    for n in range(21):
        await bot.send_message(group.id, f"grup {n}")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(group.id, "satu lagi")
    assert seconds(caught.value) == 3  # 20 per minute: the next token in 3 s


async def test_limits_none_never_answers_429() -> None:
    async with FakeBotAPI(limits=None) as fake, make_bot(fake) as bot:
        chat_ids = [fake.user(2200 + i).id for i in range(40)] + [2200] * 10
        assert await send_all(bot, chat_ids) == [None] * 50
        assert fake.rejected_429 == []


# ----- fault injection --------------------------------------------------------------------------


async def test_injected_errors_map_to_ptb_exceptions(fake_telegram: FakeBotAPI, bot: Bot) -> None:
    user = fake_telegram.user(3000)
    fake_telegram.inject_error("sendMessage", retry_after=7, chat_id=user.id)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(user.id, "a")
    assert seconds(caught.value) == 7
    fake_telegram.inject_error("sendmessage", network=True)
    with pytest.raises(NetworkError):
        await bot.send_message(user.id, "b")
    with pytest.raises(BadRequest, match="(?i)chat not found"):
        await bot.send_message(999_999, "c")
    fake_telegram.block_user(user.id)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(user.id, "d")
    fake_telegram.unblock_user(user.id)
    await bot.send_message(user.id, "e")
    assert fake_telegram.texts(user.id) == ["e"]
    assert [c.params["text"] for c in fake_telegram.rejected_429] == ["a"]


async def test_lost_response_after_delivery_shows_up_as_duplicate(fake_telegram: FakeBotAPI, bot: Bot) -> None:
    user = fake_telegram.user(3001)
    fake_telegram.inject_error("sendMessage", error_code=502, deliver=True)
    with pytest.raises(NetworkError):
        await bot.send_message(user.id, "rekap")
    await bot.send_message(user.id, "rekap")  # a naive retry
    assert fake_telegram.duplicate_texts() == {user.id: ["rekap"]}


async def test_injected_raw_answers(fake_telegram: FakeBotAPI, bot: Bot) -> None:
    user = fake_telegram.user(3002)
    fake_telegram.inject_response("sendMessage", b"<html>502 Bad Gateway</html>", deliver=True)
    with pytest.raises(TelegramError, match="Invalid server response"):
        await bot.send_message(user.id, "terkirim")
    assert fake_telegram.texts(user.id) == ["terkirim"]  # processed, then the answer could not be read
    user.send_text("halo")
    fake_telegram.inject_response("getUpdates", b'{"ok": true, "result": []}')
    assert await bot.get_updates(timeout=5) == ()  # at once, although an update is waiting
    (update,) = await bot.get_updates(timeout=5)
    assert update.message is not None and update.message.text == "halo"


async def test_delayed_answers_are_processed_first(fake_telegram: FakeBotAPI, bot: Bot) -> None:
    user = fake_telegram.user(3003)
    fake_telegram.delay_answers("sendMessage", 30)
    sending = asyncio.create_task(bot.send_message(user.id, "lambat"))
    await fake_telegram.wait_for_messages(user.id, 1)  # stored while the bot still waits for the answer
    assert not sending.done()
    sending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sending
    fake_telegram.delay_answers("sendMessage", None)
    await bot.send_message(user.id, "cepat")
    assert fake_telegram.texts(user.id) == ["lambat", "cepat"]


# ----- files ------------------------------------------------------------------------------------


async def test_send_document_upload_then_resend_by_file_id(fake_telegram: FakeBotAPI, bot: Bot) -> None:
    user = fake_telegram.user(4000)
    first = await bot.send_document(user.id, PDF, filename="rekap.pdf", caption="Rekap", reply_markup=keyboard("ok"))
    document = doc(first)
    assert (document.file_name, document.mime_type, document.file_size) == (
        "rekap.pdf",
        "application/pdf",
        len(PDF),
    )
    assert first.reply_markup == keyboard("ok")
    again = await bot.send_document(user.id, document.file_id)
    assert doc(again).file_unique_id == document.file_unique_id
    assert fake_telegram.calls_of("sendDocument")[0]["document"] == {
        "upload": "rekap.pdf",
        "size": len(PDF),
        "content_type": "application/pdf",
    }
    with pytest.raises(BadRequest, match="(?i)wrong file identifier/HTTP URL specified"):
        await bot.send_document(user.id, "BQACAgUAAxkBAAI-does-not-exist")


async def test_multipart_body_is_validated(fake_telegram: FakeBotAPI) -> None:
    user = fake_telegram.user(4001)
    url = f"{fake_telegram.base_url}{fake_telegram.token}/sendDocument"
    markup = '{"inline_keyboard": [[{"text": "Ya", "callback_data": "ya"}]]}'
    async with httpx.AsyncClient() as client:
        no_chat = await client.post(url, files={"document": ("a.pdf", PDF, "application/pdf")})
        no_file = await client.post(url, data={"chat_id": str(user.id)}, files={"thumbnail": ("t.jpg", b"x")})
        ok = await client.post(
            url, data={"chat_id": str(user.id), "reply_markup": markup}, files={"document": ("a.pdf", PDF)}
        )
    assert no_chat.json()["description"] == "Bad Request: chat_id is empty"
    assert no_file.json()["description"] == "Bad Request: there is no document in the request"
    assert ok.json()["result"]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "ya"


async def test_user_document_get_file_and_download_exact_bytes(fake_telegram: FakeBotAPI, bot: Bot) -> None:
    data = os.urandom(150_000)
    fake_telegram.user(4002).send_document(data, "bukti dukung.xlsx", "application/vnd.ms-excel", caption="Bukti")
    (update,) = await bot.get_updates()
    assert (msg(update).caption, doc(msg(update)).file_size) == ("Bukti", len(data))
    file = await bot.get_file(doc(msg(update)).file_id)
    assert file.file_size == len(data)
    assert bytes(await file.download_as_bytearray()) == data


async def test_user_photo_has_increasing_sizes(fake_telegram: FakeBotAPI, bot: Bot) -> None:
    data = os.urandom(8000)
    fake_telegram.user(4003).send_photo(data, caption="foto")
    (update,) = await bot.get_updates()
    sizes = [p.file_size or 0 for p in msg(update).photo]
    assert sizes == sorted(sizes) and sizes[-1] == len(data)
    largest = await bot.get_file(msg(update).photo[-1].file_id)
    assert bytes(await largest.download_as_bytearray()) == data


async def test_throttled_download_is_slow(fake_telegram: FakeBotAPI, bot: Bot) -> None:
    data = os.urandom(30_000)
    fake_telegram.user(4004).send_document(data, "besar.pdf")
    (update,) = await bot.get_updates()
    file = await bot.get_file(doc(msg(update)).file_id)
    fake_telegram.throttle_downloads(50_000)
    started = time.monotonic()
    assert bytes(await file.download_as_bytearray()) == data
    assert time.monotonic() - started >= 0.55


async def test_album_parts_share_media_group_id(fake_telegram: FakeBotAPI, bot: Bot) -> None:
    user = fake_telegram.user(4005)
    parts = [(PDF, f"bagian{i}.pdf", "application/pdf") for i in range(3)]
    user.album(parts)
    together = await bot.get_updates()
    assert len(together) == 3 and len({msg(u).media_group_id for u in together}) == 1
    user.album(parts, separate_batches=True)
    offset = together[-1].update_id + 1
    batches = []
    for _ in range(3):
        batch = await bot.get_updates(offset=offset)
        batches.append(len(batch))
        offset = batch[-1].update_id + 1
    assert batches == [1, 1, 1]


# ----- formatting and keyboards -----------------------------------------------------------------


async def test_html_is_validated_and_turned_into_entities(fake_telegram: FakeBotAPI, bot: Bot) -> None:
    chat_id = fake_telegram.user(5000).id
    with pytest.raises(BadRequest, match='(?i)can\'t parse entities: unsupported start tag "script"'):
        await bot.send_message(chat_id, "<script>alert(1)</script>", parse_mode="HTML")
    with pytest.raises(BadRequest, match="(?i)can't parse entities"):
        await bot.send_message(chat_id, "<b>tebal <i>miring</b></i>", parse_mode="HTML")
    with pytest.raises(BadRequest, match="(?i)can't parse entities"):
        await bot.send_message(chat_id, "nilai < 5", parse_mode="HTML")
    sent = await bot.send_message(
        chat_id, "<b>Indeks</b> &lt;3 &amp; <a href='https://spbe.id'>tautan</a>", parse_mode="HTML"
    )
    assert sent.text == "Indeks <3 & tautan"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [("bold", 0, 6), ("text_link", 12, 6)]
    with pytest.raises(BadRequest, match="(?i)message is too long"):
        await bot.send_message(chat_id, "x" * 4097)


async def test_callback_data_longer_than_64_bytes_is_rejected(fake_telegram: FakeBotAPI, bot: Bot) -> None:
    chat_id = fake_telegram.user(5001).id
    with pytest.raises(BadRequest, match="(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(chat_id, "pilih", reply_markup=keyboard("é" * 33))
    await bot.send_message(chat_id, "pilih", reply_markup=keyboard("x" * 64))


async def test_press_edit_and_answer_callback(fake_telegram: FakeBotAPI, bot: Bot) -> None:
    user = fake_telegram.user(5002)
    sent = await bot.send_message(user.id, "Setujui?", reply_markup=keyboard("ya", "tidak"))
    with pytest.raises(LookupError):
        user.press("hapus-semua")
    user.press("ya")
    user.press("hapus-semua", forge=True)
    pressed, forged = await bot.get_updates()
    shown = query(pressed).message
    assert shown is not None and shown.message_id == sent.message_id
    assert (query(pressed).data, query(forged).data) == ("ya", "hapus-semua")
    await query(pressed).answer("Disetujui")
    with pytest.raises(BadRequest, match="(?i)query is too old"):
        await query(pressed).answer("lagi")
    edited = await bot.edit_message_text("Disetujui", chat_id=user.id, message_id=sent.message_id)
    assert (
        isinstance(edited, Message) and edited.reply_markup is None
    )  # no reply_markup in editMessageText removes the keyboard
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_reply_markup(chat_id=user.id, message_id=sent.message_id)
    assert [c["text"] for c in fake_telegram.answered_callbacks] == ["Disetujui"]
    assert [e["text"] for e in fake_telegram.edits] == ["Disetujui"]
    assert fake_telegram.texts(user.id) == ["Setujui?"]


async def test_group_messages_and_commands(fake_telegram: FakeBotAPI, bot: Bot) -> None:
    group = fake_telegram.group(-100300)
    group.send_text(7001, "/rekap@monev_test_bot")
    (update,) = await bot.get_updates()
    message = msg(update)
    assert message.from_user is not None and message.from_user.id == 7001
    assert (message.chat.type, message.chat.title) == ("group", "Grup OPD")
    await bot.set_my_commands([("mulai", "Mulai"), ("bantuan", "Bantuan")])
    await bot.set_my_commands([("rekap", "Rekap")], language_code="id")
    assert [c.command for c in await bot.get_my_commands()] == ["mulai", "bantuan"]
    assert fake_telegram.get_commands(language_code="id") == [{"command": "rekap", "description": "Rekap"}]
    await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()
    with pytest.raises(BadRequest, match="(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([("Mulai!", "x")])
    # A chat's own menu, kept apart from the default one; a chat the bot never met is not found.
    fake_telegram.user(7002)
    await bot.set_my_commands([("kirim", "Kirim")], scope=BotCommandScopeChat(7002))
    assert fake_telegram.get_commands("chat:7002") == [{"command": "kirim", "description": "Kirim"}]
    assert await bot.get_my_commands() == ()
    await bot.delete_my_commands(scope=BotCommandScopeChat(7002))
    assert fake_telegram.get_commands("chat:7002") == []
    with pytest.raises(BadRequest, match="(?i)chat not found"):
        await bot.set_my_commands([("kirim", "Kirim")], scope=BotCommandScopeChat(7003))


async def test_unknown_method_is_404(fake_telegram: FakeBotAPI) -> None:
    async with httpx.AsyncClient() as client:
        answer = await client.post(f"{fake_telegram.base_url}{fake_telegram.token}/sendTelepathy", json={})
    assert (answer.status_code, answer.json()) == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
    )


async def test_wait_for_messages(fake_telegram: FakeBotAPI, bot: Bot) -> None:
    chat_id = fake_telegram.user(5003).id

    async def send_later() -> None:
        await asyncio.sleep(0.1)
        await bot.send_message(chat_id, "nanti")

    sender = asyncio.create_task(send_later())
    assert [m["text"] for m in await fake_telegram.wait_for_messages(chat_id, 1, timeout=3)] == ["nanti"]
    await sender
    with pytest.raises(TimeoutError, match="wanted 2 messages"):
        await fake_telegram.wait_for_messages(chat_id, 2, timeout=0.2)


async def test_stop_releases_a_waiting_long_poll(fake_telegram: FakeBotAPI, bot: Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await fake_telegram.wait_for(lambda: fake_telegram.calls_of("getUpdates"))
    async with asyncio.timeout(15):  # half the poll's timeout: stopping did not wait for it
        await fake_telegram.stop()
    with contextlib.suppress(NetworkError):
        assert await poll == ()


async def test_ptb_application_polling_end_to_end(fake_telegram: FakeBotAPI) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        name = msg(update).chat.first_name
        await msg(update).reply_html(f"Halo <b>{name}</b>", reply_markup=keyboard("ya"))

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await query(update).answer()
        await query(update).edit_message_text(f"Pilihan: {query(update).data}")

    async def document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        data = await (await doc(msg(update)).get_file()).download_as_bytearray()
        await msg(update).reply_text(f"{len(data)} byte diterima")

    builder = Application.builder().token(fake_telegram.token).base_url(fake_telegram.base_url)
    app = builder.base_file_url(fake_telegram.base_file_url).build()
    app.add_handlers([CommandHandler("start", start), CallbackQueryHandler(pressed)])
    app.add_handler(MessageHandler(filters.Document.ALL, document))
    user = fake_telegram.user(5004, "Sari")
    async with app:
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=5)
        await app.start()
        user.send_text("/start")
        await fake_telegram.wait_for_messages(user.id, 1)
        user.press("ya")
        await fake_telegram.wait_for(lambda: fake_telegram.edits)
        user.send_document(PDF, "bukti.pdf")
        await fake_telegram.wait_for_messages(user.id, 2)
        await app.updater.stop()
        await app.stop()
    assert fake_telegram.texts(user.id) == ["Halo Sari", f"{len(PDF)} byte diterima"]
    assert [e["text"] for e in fake_telegram.edits] == ["Pilihan: ya"]
    assert len(fake_telegram.answered_callbacks) == 1 and fake_telegram.internal_errors == []


# ----- webhook ----------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[tuple[str, list[tuple[dict[str, Any], str | None]], list[int]]]:
    """A tiny webhook endpoint: (url, received (update, secret header), statuses to answer first)."""
    received: list[tuple[dict[str, Any], str | None]] = []
    statuses: list[int] = []

    async def handle(request: web.Request) -> web.Response:
        received.append((await request.json(), request.headers.get("X-Telegram-Bot-Api-Secret-Token")))
        return web.Response(status=statuses.pop(0) if statuses else 200)

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/hook", received, statuses
    finally:
        await runner.cleanup()


async def test_webhook_delivery_with_secret_and_retry(
    fake_telegram: FakeBotAPI,
    bot: Bot,
    receiver: tuple[str, list[tuple[dict[str, Any], str | None]], list[int]],
) -> None:
    url, received, statuses = receiver
    statuses.append(500)
    await bot.set_webhook(url, secret_token="rahasia_123")
    user = fake_telegram.user(6000)
    user.send_text("satu")
    user.send_text("dua")
    done: Callable[[], bool] = lambda: fake_telegram.pending_updates() == 0  # noqa: E731
    await fake_telegram.wait_for(done, timeout=5)
    assert [(u["message"]["text"], secret) for u, secret in received] == [
        ("satu", "rahasia_123"),
        ("satu", "rahasia_123"),
        ("dua", "rahasia_123"),
    ]
    assert [a.status for a in fake_telegram.webhook_attempts] == [500, 200, 200]
    assert (
        await bot.get_webhook_info()
    ).last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()
    await bot.delete_webhook()
    user.send_text("tiga")
    assert [msg(u).text for u in await bot.get_updates()] == ["tiga"]


# ----- standalone mode --------------------------------------------------------------------------


async def test_standalone_script_mode() -> None:
    command = [sys.executable, "-m", "tests.fake_telegram", "--port", "0", "--exit-on-eof"]
    pipe = asyncio.subprocess.PIPE
    proc = await asyncio.create_subprocess_exec(*command, cwd=Path(__file__).parents[2], stdin=pipe, stdout=pipe)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        settings = dict([(await proc.stdout.readline()).decode().strip().split("=", 1) for _ in range(3)])
        proc.stdin.write(b"77 /start\n")
        await proc.stdin.drain()
        bot = Bot(settings["MONEV_TELEGRAM_TOKEN"], base_url=settings["MONEV_TELEGRAM_BASE_URL"])
        async with bot:
            (update,) = await bot.get_updates(timeout=5)
            await bot.send_message(77, "Halo Budi", reply_markup=keyboard("ya"))
            assert (await proc.stdout.readline()).decode().strip() == "[to 77 @2] Halo Budi"
            assert (await proc.stdout.readline()).decode().strip() == "[1] Ya"
            proc.stdin.write(b"77 :tekan 1\n")
            await proc.stdin.drain()
            (pressed,) = await bot.get_updates(offset=update.update_id + 1, timeout=5)
            assert query(pressed).data == "ya"
        proc.stdin.close()
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
