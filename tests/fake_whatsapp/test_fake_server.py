"""The fake Cloud API driven by pywa_async itself, through the redirecting client the bot's channel will use."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiohttp import web
from pywa import utils as pywa_utils
from pywa_async import WhatsApp, errors, handlers, types
from pywa_async.types.templates import TemplateLanguage

from tests.fake_whatsapp import FakeWhatsAppAPI, FakeWhatsAppUser, Limits, interactive_choices
from tests.fake_whatsapp.standalone import Script, describe
from tests.fake_whatsapp.transport import RedirectingTransport, redirecting_client

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(range(200))


class FrozenClock:
    """A clock that moves only when the test moves it (token buckets then never refill by themselves)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 5, 4, 1, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


@asynccontextmanager
async def pywa_client(fake: FakeWhatsAppAPI, token: str | None = None) -> AsyncIterator[WhatsApp]:
    """A real pywa_async client pointed at the fake, as the bot's channel will build it."""
    session = redirecting_client(fake.base_url)
    try:
        yield WhatsApp(
            phone_id=fake.phone_id,
            token=token or fake.token,
            session=session,
            app_secret=fake.app_secret,
            verify_token=fake.verify_token,
        )
    finally:
        await session.aclose()


@asynccontextmanager
async def started(fake: FakeWhatsAppAPI) -> AsyncIterator[FakeWhatsAppAPI]:
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest_asyncio.fixture
async def wa(fake_whatsapp: FakeWhatsAppAPI) -> AsyncIterator[WhatsApp]:
    async with pywa_client(fake_whatsapp) as client:
        yield client


@pytest.fixture
def user(fake_whatsapp: FakeWhatsAppAPI) -> FakeWhatsAppUser:
    """A user who wrote just now, so free-form messages to them are inside the 24-hour window."""
    person = fake_whatsapp.user(wa_id="6281234567001", name="Siti Aminah")
    fake_whatsapp.open_window(person)
    return person


def buttons(*titles: str) -> list[types.Button]:
    return [types.Button(title=title, callback_data=f"b:{n}") for n, title in enumerate(titles)]


def section_list(rows: int, *, title: str = "Butir", description: str | None = None) -> types.SectionList:
    items = [
        types.SectionRow(title=f"{title} {n}"[:30], callback_data=f"r:{n}", description=description)
        for n in range(rows)
    ]
    return types.SectionList(button_title="Pilih", sections=[types.Section(title="Daftar", rows=items)])


# ----- sending ---------------------------------------------------------------------------------


async def test_text_by_bsuid_and_by_phone(fake_whatsapp: FakeWhatsAppAPI, wa: WhatsApp, user: FakeWhatsAppUser) -> None:
    by_id = await wa.send_message(to=user.user_id, text="Selamat pagi, Bapak/Ibu.")
    by_phone = await wa.send_message(to=user.wa_id or "", text="Mohon unggah berkas.")
    sent = fake_whatsapp.sent_messages(user)
    assert [m["id"] for m in sent] == [by_id.id, by_phone.id]
    assert (sent[0]["recipient"], sent[1]["to"]) == (user.user_id, user.wa_id)
    assert (by_id.to, by_phone.to) == (user.user_id, user.wa_id)
    assert user.texts() == ["Selamat pagi, Bapak/Ibu.", "Mohon unggah berkas."]
    assert fake_whatsapp.versions_seen == {"v26.0"}  # pywa 4.5's Graph API version
    assert fake_whatsapp.duplicate_texts() == {}


async def test_reply_buttons_and_lists_read_back(
    fake_whatsapp: FakeWhatsAppAPI, wa: WhatsApp, user: FakeWhatsAppUser
) -> None:
    await wa.send_message(to=user.user_id, text="Pilih tindakan", buttons=buttons("Unggah", "Status", "Batal"))
    await wa.send_message(to=user.user_id, text="Pilih butir", buttons=section_list(10, description="x" * 72))
    first, second = user.messages()
    assert [b["title"] for b in interactive_choices(first)] == ["Unggah", "Status", "Batal"]
    assert len(interactive_choices(second)) == 10
    assert user.texts() == ["Pilih tindakan", "Pilih butir"]
    pressed = user.button_event(number=2)
    assert pressed.item["interactive"]["button_reply"] == {"id": "b:1", "title": "Status"}
    assert pressed.item["context"]["id"] == first["id"]
    chosen = user.list_event("r:9")
    assert chosen.item["interactive"]["list_reply"]["id"] == "r:9"
    assert chosen.item["context"]["id"] == second["id"]
    with pytest.raises(LookupError):
        user.button_event("b:9")


@pytest.mark.parametrize(
    ("send", "code"),
    [
        (lambda wa, to: wa.send_message(to=to, text="x", buttons=buttons("a", "b", "c", "d")), 131009),
        (lambda wa, to: wa.send_message(to=to, text="x", buttons=buttons("Judul yang panjangnya 21")), 131009),
        (
            lambda wa, to: wa.send_message(
                to=to, text="x", buttons=[types.Button("Satu", "same"), types.Button("Dua", "same")]
            ),
            131009,
        ),
        (lambda wa, to: wa.send_message(to=to, text="x", buttons=[types.Button("Satu", "i" * 257)]), 131009),
        (lambda wa, to: wa.send_message(to=to, text="x", buttons=section_list(11)), 131009),
        (lambda wa, to: wa.send_message(to=to, text="x", buttons=section_list(2, title="t" * 25)), 131009),
        (lambda wa, to: wa.send_message(to=to, text="x", buttons=section_list(2, description="d" * 73)), 131009),
        (lambda wa, to: wa.send_message(to=to, text="b" * 1025, buttons=buttons("Ya")), 131009),
        (lambda wa, to: wa.send_message(to=to, text="b" * 4097), 100),
    ],
    ids=[
        "four-buttons",
        "button-title-21",
        "duplicate-ids",
        "button-id-257",
        "list-11-rows",
        "row-title-25",
        "row-description-73",
        "interactive-body-1025",
        "text-4097",
    ],
)
async def test_limits_are_refused(
    fake_whatsapp: FakeWhatsAppAPI, wa: WhatsApp, user: FakeWhatsAppUser, send: Callable[..., Any], code: int
) -> None:
    with pytest.raises(errors.WhatsAppError) as caught:
        await send(wa, user.user_id)
    assert caught.value.code == code
    assert fake_whatsapp.sent_messages() == []  # refused means not sent
    assert fake_whatsapp.calls_of("messages")  # but the attempt is recorded


async def test_limits_at_their_maximum_pass(
    fake_whatsapp: FakeWhatsAppAPI, wa: WhatsApp, user: FakeWhatsAppUser
) -> None:
    await wa.send_message(to=user.user_id, text="b" * 1024, buttons=buttons("t" * 20, "Dua", "Tiga"))
    await wa.send_message(to=user.user_id, text="b" * 4096)
    assert len(user.messages()) == 2


async def test_free_form_only_inside_the_24_hour_window() -> None:
    clock = FrozenClock()
    async with started(FakeWhatsAppAPI(clock=clock)) as fake, pywa_client(fake) as client:
        fake.add_template("pengingat", "Yth. {{1}}, batas unggah {{2}}.")
        person = fake.user(name="Budi")
        with pytest.raises(errors.ReEngagementMessage):  # never wrote
            await client.send_message(to=person.user_id, text="Halo")
        fake.open_window(person)
        clock.advance(timedelta(hours=24))
        await client.send_message(to=person.user_id, text="Halo")  # 24 hours to the second: still inside
        clock.advance(timedelta(seconds=1))
        with pytest.raises(errors.ReEngagementMessage):
            await client.send_message(to=person.user_id, text="Masih di sana?")
        params = [{"type": "body", "parameters": [{"type": "text", "text": t} for t in ("Diskominfo", "5 Mei")]}]
        await client.send_template(
            to=person.user_id, name="pengingat", language=TemplateLanguage.INDONESIAN, params=params
        )
        assert person.texts() == ["Halo", "Yth. Diskominfo, batas unggah 5 Mei."]
        assert fake.templates_sent(person) == [("pengingat", ["Diskominfo", "5 Mei"])]


async def test_outside_the_window_accepted_then_failed_by_status_webhook() -> None:
    clock = FrozenClock()
    async with started(FakeWhatsAppAPI(clock=clock)) as fake, pywa_client(fake) as client:
        fake.window_failures = "status"
        receiver = await serve_receiver(fake, client)
        try:
            person = fake.user(name="Budi")
            sent = await client.send_message(to=person.user_id, text="Halo")  # no error: as the Cloud API often does
            assert person.texts() == [] and [m["id"] for m in fake.undelivered] == [sent.id]
            result = await fake.post_failed_statuses()
            assert result is not None and result.status == 200
            (status,) = receiver.bot.updates
            assert (status.id, str(status.status)) == (sent.id, "failed")
            assert isinstance(status.error, errors.ReEngagementMessage)
            assert await fake.post_failed_statuses() is None  # each failure is reported once
        finally:
            await receiver.runner.cleanup()


@pytest.mark.parametrize(
    ("name", "params", "error", "code"),
    [
        ("tidak_ada", ["a", "b"], errors.TemplateNotExists, 132001),
        ("pengingat", ["hanya satu"], errors.TemplateParamCountMismatch, 132000),
        ("pengingat", ["baris\nbaru", "b"], errors.WhatsAppError, 100),
        ("pengingat", ["tab\there", "b"], errors.WhatsAppError, 100),
        ("pengingat", ["lima     spasi", "b"], errors.WhatsAppError, 100),
    ],
    ids=["unknown-template", "param-count", "newline", "tab", "five-spaces"],
)
async def test_templates_refused(
    fake_whatsapp: FakeWhatsAppAPI,
    wa: WhatsApp,
    user: FakeWhatsAppUser,
    name: str,
    params: list[str],
    error: type[errors.WhatsAppError],
    code: int,
) -> None:
    fake_whatsapp.add_template("pengingat", "Yth. {{1}}, batas unggah {{2}}.")
    body = [{"type": "body", "parameters": [{"type": "text", "text": p} for p in params]}]
    with pytest.raises(error) as caught:
        await wa.send_template(to=user.user_id, name=name, language=TemplateLanguage.INDONESIAN, params=body)
    assert caught.value.code == code
    assert fake_whatsapp.sent_messages() == []


async def test_wrong_phone_number_id_and_raw_requests(wa: WhatsApp, user: FakeWhatsAppUser) -> None:
    with pytest.raises(errors.WhatsAppError) as wrong_sender:
        await wa.send_message(to=user.user_id, text="Halo", sender="999999999")
    assert (wrong_sender.value.code, wrong_sender.value.subcode) == (100, 33)
    with pytest.raises(errors.WhatsAppError) as no_product:
        await wa.api.send_raw_request(
            "POST", f"/{wa.phone_id}/messages", json={"recipient": user.user_id, "type": "text", "text": {"body": "x"}}
        )
    assert no_product.value.code == 100
    with pytest.raises(errors.WhatsAppError) as sticker:
        await wa.api.send_raw_request(
            "POST",
            f"/{wa.phone_id}/messages",
            json={"messaging_product": "whatsapp", "recipient": user.user_id, "type": "sticker", "sticker": {}},
        )
    assert sticker.value.code == 100  # the bot sends only what the fake knows how to check


async def test_unknown_recipient_is_not_a_whatsapp_user(fake_whatsapp: FakeWhatsAppAPI, wa: WhatsApp) -> None:
    with pytest.raises(errors.MessageUndeliverable):
        await wa.send_message(to="6289999999999", text="Halo")


# ----- media -----------------------------------------------------------------------------------


async def test_upload_send_by_id_and_download(
    fake_whatsapp: FakeWhatsAppAPI, wa: WhatsApp, user: FakeWhatsAppUser
) -> None:
    media = await wa.upload_media(media=PDF, mime_type="application/pdf", filename="surat.pdf")
    await wa.send_document(to=user.user_id, document=media.id, filename="surat.pdf", caption="Surat undangan")
    await wa.send_image(to=user.user_id, image="https://example.org/grafik.png", caption="Grafik")
    document, image = user.messages()
    assert document["document"] == {"id": media.id, "caption": "Surat undangan", "filename": "surat.pdf"}
    assert image["image"]["link"] == "https://example.org/grafik.png"
    assert user.texts() == ["Surat undangan", "Grafik"]
    upload = fake_whatsapp.calls_of("media_upload")[0]
    assert upload["file"] == {"file_name": "surat.pdf", "mime_type": "application/pdf", "size": len(PDF)}
    url = await wa.get_media_url(media.id)
    assert url.url.startswith("https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=")
    assert (url.mime_type, url.file_size) == ("application/pdf", len(PDF))
    assert await wa.get_media_bytes(url.url) == PDF


async def test_bytes_are_uploaded_per_send_a_media_id_is_not(
    fake_whatsapp: FakeWhatsAppAPI, wa: WhatsApp, user: FakeWhatsAppUser
) -> None:
    await wa.send_document(to=user.user_id, document=PDF, filename="surat.pdf", mime_type="application/pdf")
    media_id = user.messages()[0]["document"]["id"]
    await wa.send_document(to=user.user_id, document=media_id, filename="surat.pdf")
    assert len(fake_whatsapp.calls_of("media_upload")) == 1
    assert [m["document"]["id"] for m in user.messages()] == [media_id, media_id]
    assert fake_whatsapp.media[media_id].data == PDF


async def test_unknown_media_id_and_unsupported_upload_refused(wa: WhatsApp, user: FakeWhatsAppUser) -> None:
    with pytest.raises(errors.WhatsAppError) as caught:
        await wa.send_document(to=user.user_id, document="123456789", filename="x.pdf")
    assert caught.value.code == 100
    with pytest.raises(errors.MediaUploadError):
        await wa.upload_media(media=b"MZ\x90\x00", mime_type="application/x-msdownload", filename="virus.exe")
    with pytest.raises(errors.WhatsAppError) as missing:
        await wa.get_media_url("987654321")
    assert missing.value.code == 100


async def test_media_download_needs_the_token_and_expires(fake_whatsapp: FakeWhatsAppAPI, wa: WhatsApp) -> None:
    clock = FrozenClock()
    fake_whatsapp.clock = clock
    stored = fake_whatsapp.store_media(JPEG, "image/jpeg")
    url = (await wa.get_media_url(stored.media_id)).url
    async with redirecting_client(fake_whatsapp.base_url) as anonymous:
        assert (await anonymous.get(url)).status_code == 401
    assert await wa.get_media_bytes(url) == JPEG
    clock.advance(timedelta(minutes=6))  # Meta's media URLs live five minutes
    with pytest.raises(httpx.HTTPStatusError, match="404"):  # pywa lets httpx's error through here
        await wa.get_media_bytes(url)
    fresh = (await wa.get_media_url(stored.media_id)).url
    assert await wa.get_media_bytes(fresh) == JPEG


async def test_media_lookups_and_downloads_that_fail(fake_whatsapp: FakeWhatsAppAPI, wa: WhatsApp) -> None:
    stored = fake_whatsapp.store_media(PDF, "application/pdf", "sk.pdf")
    fake_whatsapp.inject_error("media_url", 2)
    with pytest.raises(errors.WhatsAppError) as lookup:
        await wa.get_media_url(stored.media_id)
    assert lookup.value.status_code == 500
    url = (await wa.get_media_url(stored.media_id)).url
    fake_whatsapp.inject_network_error("media_download")
    with pytest.raises(httpx.TransportError):
        await wa.get_media_bytes(url)
    fake_whatsapp.inject_response("media_download", b"<html>oops</html>", status=503)
    with pytest.raises(httpx.HTTPStatusError):
        await wa.get_media_bytes(url)
    assert await wa.get_media_bytes(url) == PDF  # each fault fired once
    assert len(fake_whatsapp.calls_of("media_download")) == 3


async def test_media_sent_by_a_user_is_downloadable(fake_whatsapp: FakeWhatsAppAPI, wa: WhatsApp) -> None:
    person = fake_whatsapp.user(name="Andi")
    event = person.document_event(PDF, "laporan.pdf", caption="Laporan")
    media_id = event.item["document"]["id"]
    url = await wa.get_media_url(media_id)
    streamed = [chunk async for chunk in wa.stream_media(url.url, chunk_size=1024)]
    assert len(streamed) > 1 and b"".join(streamed) == PDF  # streamed, so the bot can hash and cap it
    assert url.sha256 == fake_whatsapp.media[media_id].sha256


# ----- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (130429, errors.RateLimitHit),
        (131056, errors.TooManyMessages),
        (131047, errors.ReEngagementMessage),
        (131026, errors.MessageUndeliverable),
        (190, errors.ExpiredAccessToken),
    ],
)
async def test_injected_errors_reach_pywa_as_its_exceptions(
    fake_whatsapp: FakeWhatsAppAPI,
    wa: WhatsApp,
    user: FakeWhatsAppUser,
    code: int,
    error: type[errors.WhatsAppError],
) -> None:
    fake_whatsapp.inject_error("messages", code)
    with pytest.raises(error) as caught:
        await wa.send_message(to=user.user_id, text="Halo")
    assert caught.value.code == code
    assert caught.value.details or code == 190  # Meta's explanation travels in error_data.details
    await wa.send_message(to=user.user_id, text="Halo")  # the fault fired once
    assert user.texts() == ["Halo"]


async def test_server_error_and_answers_that_are_not_json(
    wa: WhatsApp, fake_whatsapp: FakeWhatsAppAPI, user: FakeWhatsAppUser
) -> None:
    fake_whatsapp.inject_error("messages", 2)
    with pytest.raises(errors.WhatsAppError) as caught:
        await wa.send_message(to=user.user_id, text="Halo")
    assert (caught.value.status_code, caught.value.is_transient) == (500, True)
    fake_whatsapp.inject_response("messages", b"<html>502 Bad Gateway</html>", status=502)
    with pytest.raises(errors.WhatsAppError) as bad_gateway:
        await wa.send_message(to=user.user_id, text="Halo")
    assert bad_gateway.value.code == 502  # pywa builds an error from the status when the body is not JSON
    fake_whatsapp.inject_response("messages", b"<html>ok</html>", status=200)
    with pytest.raises(json.JSONDecodeError):  # a 200 that is not JSON escapes pywa's error types
        await wa.send_message(to=user.user_id, text="Halo")
    fake_whatsapp.inject_network_error("messages")
    with pytest.raises(httpx.TransportError):
        await wa.send_message(to=user.user_id, text="Halo")
    assert user.texts() == []


async def test_faults_per_recipient_and_lost_answers(
    fake_whatsapp: FakeWhatsAppAPI, wa: WhatsApp, user: FakeWhatsAppUser
) -> None:
    other = fake_whatsapp.user(name="Rina")
    fake_whatsapp.open_window(other)
    fake_whatsapp.inject_error("messages", 131056, to=user, times=2)
    await wa.send_message(to=other.user_id, text="Untuk Rina")
    for _ in range(2):
        with pytest.raises(errors.TooManyMessages):
            await wa.send_message(to=user.wa_id or "", text="Untuk Siti")
    fake_whatsapp.inject_error("messages", 2, deliver=True)  # sent, but the answer is an error
    with pytest.raises(errors.WhatsAppError):
        await wa.send_message(to=user.user_id, text="Terkirim dua kali?")
    await wa.send_message(to=user.user_id, text="Terkirim dua kali?")
    assert other.texts() == ["Untuk Rina"]
    assert fake_whatsapp.duplicate_texts() == {user.user_id: ["Terkirim dua kali?"]}


async def test_wrong_token_is_refused(fake_whatsapp: FakeWhatsAppAPI, user: FakeWhatsAppUser) -> None:
    async with pywa_client(fake_whatsapp, token="EAAwrong") as client:
        with pytest.raises(errors.ExpiredAccessToken):
            await client.send_message(to=user.user_id, text="Halo")
        with pytest.raises(errors.ExpiredAccessToken):
            await client.upload_media(media=PDF, mime_type="application/pdf", filename="surat.pdf")
    assert fake_whatsapp.sent_messages() == [] and fake_whatsapp.media == {}


async def test_throughput_and_pair_rate_limits() -> None:
    clock = FrozenClock()
    limits = Limits(messages_per_sec=3, pair_burst=2)
    async with started(FakeWhatsAppAPI(limits=limits, clock=clock)) as fake, pywa_client(fake) as client:
        siti, rina = fake.user(name="Siti"), fake.user(name="Rina")
        fake.open_window(siti)
        fake.open_window(rina)
        for _ in range(2):
            await client.send_message(to=siti.user_id, text="Halo")
        with pytest.raises(errors.TooManyMessages):  # a third message at once to the same person
            await client.send_message(to=siti.user_id, text="Halo")
        await client.send_message(to=rina.user_id, text="Halo")
        with pytest.raises(errors.RateLimitHit):  # the number's throughput, across people
            await client.send_message(to=rina.user_id, text="Halo")
        clock.advance(timedelta(seconds=6))  # the pair limit: one message per six seconds
        await client.send_message(to=siti.user_id, text="Halo lagi")
        assert siti.texts() == ["Halo", "Halo", "Halo lagi"]


# ----- webhooks to the bot ---------------------------------------------------------------------


class Receiver:
    """A stand-in for the bot's /whatsapp: pywa's own handshake, signature check and parsing."""

    def __init__(self, wa: WhatsApp) -> None:
        self.wa = wa
        self.updates: list[Any] = []
        self.bodies: list[bytes] = []
        for handler in (
            handlers.MessageHandler,
            handlers.CallbackButtonHandler,
            handlers.CallbackSelectionHandler,
            handlers.MessageStatusHandler,
        ):
            wa.add_handlers(handler(self._collect))

    async def _collect(self, _: Any, update: Any) -> None:
        self.updates.append(update)

    async def handle(self, request: web.Request) -> web.Response:
        if request.method == "GET":
            challenge, status = await self.wa.webhook_challenge_handler(
                request.query.get("hub.verify_token"), request.query.get("hub.challenge")
            )
            return web.Response(status=status, text=challenge or "")
        raw = await request.read()
        self.bodies.append(raw)
        refused = await self.wa.webhook_update_validator(raw, request.headers.get("X-Hub-Signature-256"))
        if refused is not None:
            return web.Response(status=refused[1], text=refused[0])
        text, status = await self.wa.webhook_update_handler(raw)
        return web.Response(status=status, text=text)


class Served:
    """A running Receiver and its web server."""

    def __init__(self, bot: Receiver, runner: web.AppRunner) -> None:
        self.bot = bot
        self.runner = runner


async def serve_receiver(fake: FakeWhatsAppAPI, wa: WhatsApp) -> Served:
    """Start a Receiver on a free port and point the fake's webhooks at it."""
    bot = Receiver(wa)
    app = web.Application()
    app.router.add_route("*", "/whatsapp", bot.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    fake.webhook_url = f"http://127.0.0.1:{runner.addresses[0][1]}/whatsapp"
    return Served(bot, runner)


@pytest_asyncio.fixture
async def receiver(fake_whatsapp: FakeWhatsAppAPI, wa: WhatsApp) -> AsyncIterator[Receiver]:
    served = await serve_receiver(fake_whatsapp, wa)
    try:
        yield served.bot
    finally:
        await served.runner.cleanup()


async def test_verification_handshake(fake_whatsapp: FakeWhatsAppAPI, receiver: Receiver) -> None:
    ok = await fake_whatsapp.verify_webhook(challenge="31415")
    assert (ok.status, ok.text) == (200, "31415")
    wrong = await fake_whatsapp.verify_webhook(verify_token="salah")
    assert wrong.status == 403


async def test_signed_non_canonical_text_parses_in_pywa(fake_whatsapp: FakeWhatsAppAPI, receiver: Receiver) -> None:
    person = fake_whatsapp.user(wa_id="6281234567002", name="Désy")
    result = await person.send_text("Berkas sudah diunggah, terima kasih é")
    assert result.status == 200
    assert b"\\u00e9" in result.body and b" : " in result.body
    reserialised = json.dumps(json.loads(result.body)).encode()
    assert not pywa_utils.webhook_updates_validator(
        fake_whatsapp.app_secret, reserialised, fake_whatsapp.sign(result.body)
    )
    (message,) = receiver.updates
    assert isinstance(message, types.Message)
    assert message.text == "Berkas sudah diunggah, terima kasih é"
    assert (message.from_user.bsuid, message.from_user.wa_id, message.from_user.name) == (
        person.user_id,
        "6281234567002",
        "Désy",
    )
    assert message.metadata.phone_number_id == fake_whatsapp.phone_id
    assert fake_whatsapp.last_inbound[person.user_id] == message.timestamp


async def test_user_without_phone_number(fake_whatsapp: FakeWhatsAppAPI, receiver: Receiver, wa: WhatsApp) -> None:
    person = fake_whatsapp.user(name="Tanpa Nomor")
    await person.send_text("status")
    (message,) = receiver.updates
    assert (message.from_user.bsuid, message.from_user.wa_id) == (person.user_id, None)
    await wa.send_message(to=message.from_user.bsuid, text="Jawaban")  # the window is open now
    assert person.texts() == ["Jawaban"]


async def test_forged_replayed_missing_and_malformed_are_refused(
    fake_whatsapp: FakeWhatsAppAPI, receiver: Receiver
) -> None:
    person = fake_whatsapp.user(name="Penyerang")
    forged = await fake_whatsapp.post_events(
        [person.text_event("a")], signature=fake_whatsapp.sign(b"x", "other-secret")
    )
    missing = await fake_whatsapp.post_events([person.text_event("b")], signature=None)
    genuine = await person.send_text("c")
    replayed = await fake_whatsapp.post_raw(genuine.body, signature=fake_whatsapp.sign(b"another body"))
    malformed_body = b'{"object": "whatsapp_business_account", "entry": [}'
    malformed = await fake_whatsapp.post_raw(malformed_body, signature=fake_whatsapp.sign(malformed_body))
    assert (forged.status, missing.status, genuine.status, replayed.status, malformed.status) == (
        403,
        401,
        200,
        403,
        400,
    )
    assert [m.text for m in receiver.updates] == ["c"]


async def test_event_for_another_phone_number_id(fake_whatsapp: FakeWhatsAppAPI, receiver: Receiver) -> None:
    person = fake_whatsapp.user(name="Salah Alamat")
    result = await fake_whatsapp.post_events([person.text_event("halo")], phone_id="999999999999")
    assert result.status == 200  # correctly signed; pywa's filter_updates drops it
    assert receiver.updates == []
    assert person.user_id not in fake_whatsapp.last_inbound


async def test_button_and_list_replies_parse(fake_whatsapp: FakeWhatsAppAPI, receiver: Receiver, wa: WhatsApp) -> None:
    person = fake_whatsapp.user(name="Penghubung")
    fake_whatsapp.open_window(person)
    await wa.send_message(to=person.user_id, text="Pilih", buttons=buttons("Ya", "Tidak"))
    await wa.send_message(to=person.user_id, text="Pilih butir", buttons=section_list(3, description="Keterangan"))
    await person.press(number=2)
    await person.choose("r:1")
    pressed, chosen = receiver.updates
    assert isinstance(pressed, types.CallbackButton) and pressed.data == "b:1"
    assert isinstance(chosen, types.CallbackSelection)
    assert (chosen.data, chosen.title, chosen.description) == ("r:1", "Butir 1", "Keterangan")
    assert pressed.reply_to_message is not None and pressed.reply_to_message.id == person.messages()[0]["id"]


async def test_documents_images_and_unsupported_types_parse(
    fake_whatsapp: FakeWhatsAppAPI, receiver: Receiver, wa: WhatsApp
) -> None:
    person = fake_whatsapp.user(name="Pengunggah")
    await person.send_document(PDF, "sk-tim.pdf", caption="SK Tim")
    await person.send_image(JPEG)
    for event in (
        person.sticker_event(),
        person.location_event(),
        person.reaction_event("wamid.x"),
        person.voice_event(),
    ):
        await person.send(event)
    document, image, sticker, location, reaction, voice = receiver.updates
    assert document.document is not None and document.document.filename == "sk-tim.pdf"
    assert document.caption == "SK Tim"
    assert await wa.get_media_bytes((await wa.get_media_url(document.document.id)).url) == PDF
    assert image.image is not None and image.image.mime_type == "image/jpeg"
    assert [u.type for u in (sticker, location, reaction, voice)] == ["sticker", "location", "reaction", "audio"]
    assert voice.audio is not None and voice.audio.voice is True


async def test_one_post_with_two_messages_and_a_status(
    fake_whatsapp: FakeWhatsAppAPI, receiver: Receiver, wa: WhatsApp
) -> None:
    siti, rina = fake_whatsapp.user(name="Siti"), fake_whatsapp.user(name="Rina")
    fake_whatsapp.open_window(siti)
    sent = await wa.send_message(to=siti.user_id, text="Pengingat")
    events = [siti.text_event("satu"), rina.text_event("dua"), fake_whatsapp.status_event(sent.id, "delivered")]
    result = await fake_whatsapp.post_events(events)
    assert result.status == 200
    (entry,) = json.loads(result.body)["entry"]
    messages, statuses = (change["value"] for change in entry["changes"])
    assert [m["text"]["body"] for m in messages["messages"]] == ["satu", "dua"]
    assert [c["user_id"] for c in messages["contacts"]] == [siti.user_id, rina.user_id]
    assert [s["status"] for s in statuses["statuses"]] == ["delivered"]
    # pywa builds one update from entry[0].changes[0] and its first message: the channel must split posts itself.
    assert [u.text for u in receiver.updates] == ["satu"]


async def test_status_webhooks_for_accepted_messages(
    fake_whatsapp: FakeWhatsAppAPI, receiver: Receiver, wa: WhatsApp
) -> None:
    person = fake_whatsapp.user(wa_id="6281234567003", name="Kepala Dinas")
    fake_whatsapp.open_window(person)
    sent = await wa.send_message(to=person.user_id, text="Rekap")
    for status in ("sent", "delivered", "read"):
        await fake_whatsapp.post_status(sent.id, status)
    await fake_whatsapp.post_status(sent.id, "failed", error_code=131047)
    statuses = receiver.updates
    assert [(s.id, str(s.status)) for s in statuses] == [
        (sent.id, "sent"),
        (sent.id, "delivered"),
        (sent.id, "read"),
        (sent.id, "failed"),
    ]
    assert statuses[0].from_user.bsuid == person.user_id
    assert isinstance(statuses[-1].error, errors.ReEngagementMessage)
    with pytest.raises(LookupError):
        fake_whatsapp.status_event("wamid.unknown", "read")


async def test_mark_as_read(fake_whatsapp: FakeWhatsAppAPI, receiver: Receiver, wa: WhatsApp) -> None:
    person = fake_whatsapp.user(name="Pembaca")
    await person.send_text("halo")
    (message,) = receiver.updates
    assert (await wa.mark_message_as_read(message.id)).success is True
    assert fake_whatsapp.read_marks[0]["message_id"] == message.id
    with pytest.raises(errors.WhatsAppError):
        await wa.mark_message_as_read("wamid.tidak-ada")


async def test_post_raw_requires_a_webhook_url(fake_whatsapp: FakeWhatsAppAPI) -> None:
    with pytest.raises(RuntimeError, match="webhook_url"):
        await fake_whatsapp.post_raw(b"{}", signature=None)


async def test_redelivery_posts_the_same_bytes(fake_whatsapp: FakeWhatsAppAPI, receiver: Receiver) -> None:
    person = fake_whatsapp.user(name="Dua Kali")
    first = await person.send_text("status")
    again = await fake_whatsapp.redeliver(first)
    assert (again.status, again.body) == (200, first.body)
    assert receiver.bodies == [first.body, first.body]
    assert [m.text for m in receiver.updates] == ["status"]  # pywa's own duplicate filter; the bot's journal must too


def test_monev_settings_name_the_contract_settings(fake_whatsapp: FakeWhatsAppAPI) -> None:
    settings = fake_whatsapp.monev_settings()
    assert settings["MONEV_WHATSAPP_BASE_URL"] == fake_whatsapp.base_url
    assert set(settings) == {
        "MONEV_WHATSAPP_PHONE_ID",
        "MONEV_WHATSAPP_TOKEN",
        "MONEV_WHATSAPP_APP_SECRET",
        "MONEV_WHATSAPP_VERIFY_TOKEN",
        "MONEV_WHATSAPP_BASE_URL",
    }


async def test_standalone_script_lines(
    fake_whatsapp: FakeWhatsAppAPI, receiver: Receiver, wa: WhatsApp, tmp_path: Any
) -> None:
    script = Script(fake_whatsapp)
    shown: list[str] = []
    fake_whatsapp.add_listener(lambda _kind, message: shown.append(describe(fake_whatsapp, message)))
    await script.run_line("+6281234567004 daftar ABC123")
    siti = script.user("+6281234567004")
    await wa.send_message(to=siti.user_id, text="Pilih", buttons=buttons("Ya", "Tidak"))
    await script.run_line("+6281234567004 :tekan 1")
    (tmp_path / "sk.pdf").write_bytes(PDF)
    await script.run_line(f"+6281234567004 :file {tmp_path / 'sk.pdf'} SK Tim")
    text, pressed, document = receiver.updates
    assert (text.text, text.from_user.wa_id) == ("daftar ABC123", "6281234567004")
    assert pressed.data == "b:0"
    assert document.document.filename == "sk.pdf" and document.caption == "SK Tim"
    assert shown == [f"[to {siti.user_id}] Pilih\n    [1] Ya\n    [2] Tidak"]


# ----- the redirect ----------------------------------------------------------------------------


async def test_redirect_covers_graph_and_media_hosts_only() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.url} Host={request.headers['Host']}")
        return httpx.Response(200, json={})

    transport = RedirectingTransport("http://127.0.0.1:9999/prefix/", inner=httpx.MockTransport(answer))
    async with httpx.AsyncClient(transport=transport) as client:
        await client.get("https://graph.facebook.com/v26.0/123/messages?x=1")
        await client.get("https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1&hash=h")
        await client.get("https://example.org/grafik.png")
    assert seen == [
        "http://127.0.0.1:9999/prefix/v26.0/123/messages?x=1 Host=127.0.0.1:9999",
        "http://127.0.0.1:9999/prefix/whatsapp_business/attachments/?mid=1&hash=h Host=127.0.0.1:9999",
        "https://example.org/grafik.png Host=example.org",
    ]


async def test_the_real_base_url_is_not_redirected() -> None:
    async with redirecting_client("https://graph.facebook.com/") as client:
        assert not isinstance(client._transport, RedirectingTransport)
    with pytest.raises(ValueError, match="base URL"):
        RedirectingTransport("127.0.0.1:8082")
