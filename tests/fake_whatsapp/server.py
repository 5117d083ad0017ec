"""A local fake of the WhatsApp Cloud API (Graph API) for tests of the bot's WhatsApp channel, driven by pywa."""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import itertools
import json
import re
import secrets
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Literal, TypeVar

import aiohttp
from aiohttp import web

from tests.fake_telegram.limits import TokenBucket
from tests.fake_telegram.models import Signal

from .actors import FakeWhatsAppUser
from .limits import Limits, TemplateSpec, template_params, validate_message
from .models import (
    DEFAULT_APP_SECRET,
    DEFAULT_DISPLAY_PHONE,
    DEFAULT_PHONE_ID,
    DEFAULT_TOKEN,
    DEFAULT_VERIFY_TOKEN,
    DEFAULT_WABA_ID,
    JSON,
    MEDIA_HOST,
    MEDIA_PATH,
    SIGNATURE_HEADER,
    Call,
    Fault,
    GraphError,
    StoredMedia,
    WebhookResult,
    known_error,
)
from .payloads import Event, build_payload, encode, sign

__all__ = ["FakeWhatsAppAPI"]

T = TypeVar("T")
Listener = Callable[[str, JSON], None]
WINDOW = timedelta(hours=24)
MEDIA_URL_LIFETIME = timedelta(minutes=5)  # Meta's media URLs expire after five minutes
MAX_UPLOAD = 100 * 1024 * 1024
UPLOAD_TYPES = {
    "image": (5 * 1024 * 1024, ("image/jpeg", "image/png")),
    "document": (
        MAX_UPLOAD,
        (
            "application/pdf",
            "text/plain",
            "application/msword",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.ms-excel",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.ms-powerpoint",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ),
    ),
    "audio": (16 * 1024 * 1024, ("audio/ogg", "audio/mpeg", "audio/aac", "audio/mp4")),
    "sticker": (500 * 1024, ("image/webp",)),
}
VERSION_RE = re.compile(r"^v\d+\.\d+$")
SIGNED = object()  # post_events' default signature: the right one for the body


class FakeWhatsAppAPI:
    """Serves the Graph API's messaging and media endpoints on localhost; tests act as users through `user()`."""

    webhook_timeout = 30.0
    # "refuse": a free-form message outside the 24-hour window is answered with error 131047 at once.
    # "status": accepted like the real Cloud API mostly does, then failed through a status webhook
    # (`post_failed_statuses()`); the bot must handle both.
    window_failures: Literal["refuse", "status"] = "refuse"

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        phone_id: str = DEFAULT_PHONE_ID,
        display_phone: str = DEFAULT_DISPLAY_PHONE,
        waba_id: str = DEFAULT_WABA_ID,
        app_secret: str = DEFAULT_APP_SECRET,
        verify_token: str = DEFAULT_VERIFY_TOKEN,
        limits: Limits | None = Limits(),  # noqa: B008 - frozen, so one shared default is safe
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.token = token
        self.phone_id = phone_id
        self.display_phone = display_phone
        self.waba_id = waba_id
        self.app_secret = app_secret
        self.verify_token = verify_token
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.webhook_url: str | None = None  # the bot's POST /whatsapp, set by the test
        self.templates: dict[tuple[str, str], TemplateSpec] = {}
        self.users: dict[str, FakeWhatsAppUser] = {}
        self.last_inbound: dict[str, datetime] = {}  # user_id -> time of the user's latest message
        self.media: dict[str, StoredMedia] = {}
        self.calls: list[Call] = []
        self.read_marks: list[JSON] = []  # bodies of accepted mark-as-read calls
        self.webhook_posts: list[WebhookResult] = []
        self.versions_seen: set[str] = set()
        self.internal_errors: list[Exception] = []
        self.faults: list[Fault] = []
        self._sent: list[JSON] = []
        self.undelivered: list[JSON] = []  # accepted outside the window under window_failures="status"
        self._failures_reported: set[str] = set()
        self._listeners: list[Listener] = []
        self._inbound_ids: set[str] = set()
        self._ids = itertools.count(1)
        self._changes = Signal()
        self.set_limits(limits)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._host = "127.0.0.1"
        self._port = 0

    # ----- lifecycle ---------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on host:port (0 picks a free port)."""
        app = web.Application(client_max_size=MAX_UPLOAD + 1024 * 1024)
        app.router.add_get(MEDIA_PATH, self._download)
        app.router.add_post("/{version}/{phone_id}/messages", self._messages)
        app.router.add_post("/{version}/{phone_id}/media", self._upload)
        app.router.add_get("/{version}/{media_id}", self._media_url)
        app.router.add_delete("/{version}/{media_id}", self._media_delete)
        app.router.add_route("*", "/{tail:.*}", self._unknown_route)
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self._port = int(self._runner.addresses[0][1])
        self._host = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
        self._session = aiohttp.ClientSession()

    async def stop(self) -> None:
        """Close the listener and the webhook client."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> FakeWhatsAppAPI:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """The TCP port actually bound."""
        return self._port

    @property
    def base_url(self) -> str:
        """What MONEV_WHATSAPP_BASE_URL is set to: Graph API and media requests are redirected here."""
        return f"http://{self._host}:{self._port}"

    def monev_settings(self) -> dict[str, str]:
        """The bot's WhatsApp settings (CONTRACT.md) for talking to this fake."""
        return {
            "MONEV_WHATSAPP_PHONE_ID": self.phone_id,
            "MONEV_WHATSAPP_TOKEN": self.token,
            "MONEV_WHATSAPP_APP_SECRET": self.app_secret,
            "MONEV_WHATSAPP_VERIFY_TOKEN": self.verify_token,
            "MONEV_WHATSAPP_BASE_URL": self.base_url,
        }

    # ----- the world ---------------------------------------------------------------------------

    def user(
        self, user_id: str | None = None, *, wa_id: str | None = None, name: str = "Pengguna Uji"
    ) -> FakeWhatsAppUser:
        """A WhatsApp user (created on first use); user_id defaults to a new Indonesian BSUID like `ID.1…`."""
        user_id = user_id or f"ID.{1_000_000_000_000_000_000 + next(self._ids)}"
        if user_id not in self.users:
            self.users[user_id] = FakeWhatsAppUser(self, user_id, wa_id, name)
        return self.users[user_id]

    def add_template(self, name: str, body: str, language: str = "id") -> TemplateSpec:
        """Approve a template: `body` with `{{1}}`… placeholders; sends of unknown templates are refused."""
        spec = TemplateSpec(name, language, body)
        self.templates[(name, language)] = spec
        return spec

    def open_window(self, user: FakeWhatsAppUser, at: datetime | None = None) -> None:
        """Record an inbound message from `user` at `at` (default now) without posting one."""
        self.last_inbound[user.user_id] = at or self.clock()

    def set_limits(self, limits: Limits | None) -> None:
        """Replace the throughput limits (fresh, full buckets); None disables them. Buckets refill on `clock`."""
        self.limits = limits
        self._pair_buckets: dict[str, TokenBucket] = {}
        self._global_bucket = (
            TokenBucket(limits.messages_per_sec, limits.messages_per_sec, self._seconds) if limits else None
        )

    def new_message_id(self) -> str:
        """A fresh wamid."""
        raw = f"{next(self._ids):06d}{secrets.token_hex(8).upper()}".encode()
        return "wamid." + base64.b64encode(b"HBgNNjI4MTIzNDU2Nzg5FQIAEhg" + raw).decode()

    def store_media(self, data: bytes, mime_type: str, file_name: str | None = None) -> StoredMedia:
        """Keep bytes under a new numeric media id (as Meta's media ids are)."""
        media_id = str(1_500_000_000_000_000 + next(self._ids) * 7919)
        stored = StoredMedia(media_id, data, mime_type, hashlib.sha256(data).hexdigest(), file_name)
        self.media[media_id] = stored
        return stored

    def _seconds(self) -> float:
        return self.clock().timestamp()

    # ----- test controls -----------------------------------------------------------------------

    def inject_error(
        self,
        kind: str = "messages",
        code: int = 2,
        *,
        to: FakeWhatsAppUser | str | None = None,
        times: int = 1,
        details: str | None = None,
        http_status: int | None = None,
        deliver: bool = False,
    ) -> None:
        """The next `times` requests of `kind` (to `to`, if given) answer Meta's error `code`.

        Kinds: messages (sends), read (mark as read), media_upload, media_url, media_download, media_delete.
        deliver=True: the message is sent first, then the answer is lost to the error.
        """
        error = known_error(code, details)
        if http_status is not None:
            error.http_status = http_status
        self.faults.append(Fault(kind, _recipient(to), times, error, deliver=deliver))

    def inject_response(
        self, kind: str, body: bytes, *, status: int = 200, to: FakeWhatsAppUser | str | None = None, times: int = 1
    ) -> None:
        """Answer the next `times` requests of `kind` with exactly `body` and `status` (a broken proxy, say)."""
        self.faults.append(Fault(kind, _recipient(to), times, None, body, status))

    def inject_network_error(self, kind: str, *, to: FakeWhatsAppUser | str | None = None, times: int = 1) -> None:
        """Drop the connection of the next `times` requests of `kind` without an answer."""
        self.faults.append(Fault(kind, _recipient(to), times, None))

    def clear_faults(self) -> None:
        """Drop every injected fault that has not fired yet."""
        self.faults.clear()

    def add_listener(self, listener: Listener) -> None:
        """Call listener("sent", message) for every message the fake accepts."""
        self._listeners.append(listener)

    # ----- webhooks to the bot -----------------------------------------------------------------

    def sign(self, body: bytes, app_secret: str | None = None) -> str:
        """The X-Hub-Signature-256 value for `body` (with another app secret to forge one)."""
        return sign(body, app_secret or self.app_secret)

    def payload(self, events: list[Event], *, phone_id: str | None = None, separate_entries: bool = False) -> JSON:
        """The webhook body for `events` (phone_id: pretend they were for another business number)."""
        return build_payload(
            events,
            waba_id=self.waba_id,
            phone_id=phone_id or self.phone_id,
            display_phone=self.display_phone,
            separate_entries=separate_entries,
        )

    async def post_events(
        self,
        events: list[Event],
        *,
        signature: Any = SIGNED,
        phone_id: str | None = None,
        separate_entries: bool = False,
        canonical: bool = False,
    ) -> WebhookResult:
        """POST the events in one body; signature: SIGNED (right), None (no header) or the header's value."""
        body = encode(self.payload(events, phone_id=phone_id, separate_entries=separate_entries), canonical=canonical)
        if signature is SIGNED and phone_id in (None, self.phone_id):
            # Only what reaches the bot as the real Meta would send it opens the user's 24-hour window.
            for event in events:
                if event.kind == "message":
                    self._inbound_ids.add(event.id)
                    user_id = str(event.contact["user_id"])
                    self.last_inbound[user_id] = datetime.fromtimestamp(int(event.item["timestamp"]), UTC)
        return await self.post_raw(body, signature=self.sign(body) if signature is SIGNED else signature)

    async def redeliver(self, result: WebhookResult) -> WebhookResult:
        """POST an earlier body again, correctly signed: Meta retries what was not answered 200 in time."""
        return await self.post_raw(result.body, signature=self.sign(result.body))

    async def post_raw(self, body: bytes, *, signature: str | None) -> WebhookResult:
        """POST exactly `body` with this X-Hub-Signature-256 (None: no header): replays, malformed JSON…"""
        assert self._session is not None, "the fake is not started"
        if self.webhook_url is None:
            raise RuntimeError("set fake.webhook_url to the bot's POST /whatsapp first")
        headers = {"Content-Type": "application/json", "User-Agent": "facebookexternalua"}
        if signature is not None:
            headers[SIGNATURE_HEADER] = signature
        timeout = aiohttp.ClientTimeout(total=self.webhook_timeout)
        async with self._session.post(self.webhook_url, data=body, headers=headers, timeout=timeout) as resp:
            result = WebhookResult(resp.status, await resp.text(), body)
        self.webhook_posts.append(result)
        self._changes.fire()
        return result

    async def verify_webhook(
        self, verify_token: str | None = None, challenge: str = "1158201444", mode: str = "subscribe"
    ) -> WebhookResult:
        """The GET handshake Meta makes when the webhook is configured; the bot must echo the challenge."""
        assert self._session is not None, "the fake is not started"
        if self.webhook_url is None:
            raise RuntimeError("set fake.webhook_url to the bot's /whatsapp first")
        params = {"hub.mode": mode, "hub.verify_token": verify_token or self.verify_token, "hub.challenge": challenge}
        async with self._session.get(self.webhook_url, params=params) as resp:
            return WebhookResult(resp.status, await resp.text(), b"")

    def status_event(self, message_id: str, status: str, *, error_code: int | None = None) -> Event:
        """A status (sent, delivered, read, failed) of a message the fake accepted."""
        sent = next((m for m in self._sent + self.undelivered if m["id"] == message_id), None)
        if sent is None:
            raise LookupError(f"the fake never accepted a message {message_id}")
        user = self.users[sent["user_id"]]
        item: JSON = {"id": message_id, "status": status, "timestamp": str(int(self.clock().timestamp()))}
        if user.wa_id:
            item["recipient_id"] = user.wa_id
        item["recipient_user_id"] = user.user_id
        if status == "failed":
            item["errors"] = [known_error(error_code or 131026).status_error()]
        else:
            category = "marketing" if sent.get("type") == "template" else "service"
            item["conversation"] = {"id": secrets.token_hex(16), "origin": {"type": category}}
            item["pricing"] = {"billable": category != "service", "pricing_model": "PMP", "category": category}
        return Event("status", user.contact(), item)

    async def post_status(self, message_id: str, status: str, *, error_code: int | None = None) -> WebhookResult:
        """POST one status webhook for a message the fake accepted."""
        return await self.post_events([self.status_event(message_id, status, error_code=error_code)])

    async def post_failed_statuses(self) -> WebhookResult | None:
        """POST, in one body, a failed status (131047) for each undelivered message not reported yet."""
        pending = [m for m in self.undelivered if m["id"] not in self._failures_reported]
        if not pending:
            return None
        self._failures_reported.update(m["id"] for m in pending)
        return await self.post_events([self.status_event(m["id"], "failed", error_code=131047) for m in pending])

    # ----- HTTP: messages ----------------------------------------------------------------------

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            self._record("messages", request, {})
            return _error(known_error(100, "Request body must be a JSON object"))
        kind = "read" if body.get("status") == "read" else "messages"
        self._record(kind, request, body)
        refused = self._check_request(request) or self._check_phone(request)
        if refused is not None:
            return _error(refused)
        recipients = tuple(str(body[k]) for k in ("to", "recipient") if body.get(k))
        return await self._faulted(
            request, kind, recipients, lambda: self._send(body) if kind == "messages" else self._mark_read(body)
        )

    def _send(self, body: JSON) -> JSON:
        validate_message(body, lambda media_id: media_id in self.media, self.templates)
        user = self._recipient_user(body)
        outside = body.get("type") != "template" and not self._in_window(user)
        if outside and self.window_failures == "refuse":
            raise known_error(131047)
        self._spend(user)
        message_id = self.new_message_id()
        record = {**copy.deepcopy(body), "id": message_id, "user_id": user.user_id, "timestamp": self.clock()}
        if outside:
            self.undelivered.append(record)
        else:
            self._sent.append(record)
            for listener in list(self._listeners):
                listener("sent", copy.deepcopy(record))
        if body.get("to"):
            contact = {"input": str(body["to"]), "wa_id": user.wa_id}
        else:
            contact = {"input": str(body["recipient"]), "user_id": user.user_id}
        message: JSON = {"id": message_id}
        if body.get("type") == "template":
            message["message_status"] = "accepted"
        return {"messaging_product": "whatsapp", "contacts": [contact], "messages": [message]}

    def _in_window(self, user: FakeWhatsAppUser) -> bool:
        last = self.last_inbound.get(user.user_id)
        return last is not None and self.clock() - last <= WINDOW

    def _recipient_user(self, body: JSON) -> FakeWhatsAppUser:
        if body.get("recipient"):
            user = self.users.get(str(body["recipient"]))
        else:
            digits = re.sub(r"\D", "", str(body.get("to")))
            user = next((u for u in self.users.values() if u.wa_id == digits), None)
        if user is None:
            raise known_error(131026)
        return user

    def _spend(self, user: FakeWhatsAppUser) -> None:
        if self.limits is None or self._global_bucket is None:
            return
        pair = self._pair_buckets.get(user.user_id)
        if pair is None:
            pair = TokenBucket(self.limits.pair_burst, self.limits.pair_per_sec, self._seconds)
            self._pair_buckets[user.user_id] = pair
        if self._global_bucket.wait_time() > 0:
            raise known_error(130429)
        if pair.wait_time() > 0:
            raise known_error(131056)
        self._global_bucket.take()
        pair.take()

    def _mark_read(self, body: JSON) -> JSON:
        if body.get("messaging_product") != "whatsapp":
            raise known_error(100, "The parameter messaging_product is required.")
        if str(body.get("message_id")) not in self._inbound_ids:
            raise known_error(100, f"Invalid message_id {body.get('message_id')!r}")
        self.read_marks.append(copy.deepcopy(body))
        return {"success": True}

    # ----- HTTP: media -------------------------------------------------------------------------

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        refused = self._check_request(request) or self._check_phone(request)
        fields: dict[str, str] = {}
        upload: tuple[bytes, str | None, str] | None = None
        if refused is None:
            try:
                reader = await request.multipart()
                while (part := await reader.next()) is not None:
                    if not isinstance(part, aiohttp.BodyPartReader):
                        continue
                    if part.filename is not None:
                        data = await part.read(decode=False)
                        upload = (bytes(data), part.filename, part.headers.get("Content-Type", ""))
                    elif part.name:
                        fields[part.name] = await part.text()
            except (AssertionError, ValueError, aiohttp.ClientError):
                refused = known_error(100, "Request must be multipart/form-data")
        summary: JSON = dict(fields)
        if upload is not None:
            summary["file"] = {"file_name": upload[1], "mime_type": upload[2], "size": len(upload[0])}
        self._record("media_upload", request, summary)
        if refused is not None:
            return _error(refused)
        return await self._faulted(request, "media_upload", (), lambda: self._store_upload(fields, upload))

    def _store_upload(self, fields: dict[str, str], upload: tuple[bytes, str | None, str] | None) -> JSON:
        if fields.get("messaging_product") != "whatsapp":
            raise known_error(100, "The parameter messaging_product is required.")
        if upload is None:
            raise known_error(100, "The parameter file is required.")
        data, file_name, part_type = upload
        mime = (fields.get("type") or part_type).split(";")[0].strip()
        category = next((c for c, (_, types) in UPLOAD_TYPES.items() if mime in types), None)
        if category is None:
            raise known_error(131053, f"Unsupported file type {mime}")
        if len(data) > UPLOAD_TYPES[category][0]:
            raise known_error(131053, f"File size {len(data)} is over the {category} limit")
        return {"id": self.store_media(data, mime, file_name).media_id}

    async def _media_url(self, request: web.Request) -> web.StreamResponse:
        self._record("media_url", request, dict(request.query))
        refused = self._check_request(request)
        if refused is not None:
            return _error(refused)
        return await self._faulted(request, "media_url", (), lambda: self._lookup(request.match_info["media_id"]))

    def _lookup(self, media_id: str) -> JSON:
        stored = self.media.get(media_id)
        if stored is None:
            raise _missing_object(media_id, "get")
        token = secrets.token_urlsafe(24)
        stored.url_tokens.add(token)
        expires = int((self.clock() + MEDIA_URL_LIFETIME).timestamp())
        url = f"https://{MEDIA_HOST}{MEDIA_PATH}?mid={media_id}&ext={expires}&hash={token}"
        return {
            "messaging_product": "whatsapp",
            "url": url,
            "mime_type": stored.mime_type,
            "sha256": stored.sha256,
            "file_size": len(stored.data),
            "id": media_id,
        }

    async def _media_delete(self, request: web.Request) -> web.StreamResponse:
        self._record("media_delete", request, dict(request.query))
        refused = self._check_request(request)
        if refused is not None:
            return _error(refused)
        return await self._faulted(request, "media_delete", (), lambda: self._delete(request.match_info["media_id"]))

    def _delete(self, media_id: str) -> JSON:
        if self.media.pop(media_id, None) is None:
            raise _missing_object(media_id, "delete")
        return {"success": True}

    async def _download(self, request: web.Request) -> web.StreamResponse:
        self._record("media_download", request, dict(request.query))
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.Response(status=401, text="Unauthorized")
        fault = self._take_fault("media_download", ())
        if fault is not None:
            return self._fault_response(request, fault)
        stored = self.media.get(request.query.get("mid", ""))
        token = request.query.get("hash", "")
        try:
            expires = datetime.fromtimestamp(int(request.query.get("ext", "0")), UTC)
        except ValueError:
            expires = datetime.fromtimestamp(0, UTC)
        if stored is None or token not in stored.url_tokens or self.clock() > expires:
            return web.Response(status=404, text="Not Found")
        headers = {"Content-Type": stored.mime_type}
        if stored.file_name:
            headers["Content-Disposition"] = f'attachment; filename="{stored.file_name}"'
        return web.Response(body=stored.data, headers=headers)

    # ----- HTTP plumbing -----------------------------------------------------------------------

    async def _unknown_route(self, request: web.Request) -> web.Response:
        self._record("unknown", request, {})
        return _error(GraphError(400, 2500, "Unknown path components: " + request.path, error_type="OAuthException"))

    def _check_request(self, request: web.Request) -> GraphError | None:
        version = request.match_info.get("version", "")
        if not VERSION_RE.match(version):
            return GraphError(400, 2500, f"Unknown path components: /{version}")
        self.versions_seen.add(version)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return known_error(190)
        return None

    def _check_phone(self, request: web.Request) -> GraphError | None:
        phone_id = request.match_info["phone_id"]
        return None if phone_id == self.phone_id else _missing_object(phone_id, "post")

    async def _faulted(
        self, request: web.Request, kind: str, recipients: tuple[str, ...], handler: Callable[[], JSON]
    ) -> web.StreamResponse:
        fault = self._take_fault(kind, recipients)
        if fault is not None and not fault.deliver:
            return self._fault_response(request, fault)
        try:
            result = handler()
        except GraphError as exc:
            return _error(exc)
        except Exception as exc:
            # A bug in the fake must not pass for a Cloud API refusal: keep it where tests can see it.
            self.internal_errors.append(exc)
            return _error(GraphError(500, 1, f"fake Graph API bug: {exc!r}"))
        finally:
            self._changes.fire()
        if fault is not None:
            return self._fault_response(request, fault)
        return web.json_response(result)

    def _take_fault(self, kind: str, recipients: tuple[str, ...]) -> Fault | None:
        for fault in self.faults:
            if fault.matches(kind, recipients):
                fault.times -= 1
                return fault
        return None

    def _fault_response(self, request: web.Request, fault: Fault) -> web.Response:
        if fault.body is not None:
            return web.Response(status=fault.http_status, body=fault.body, content_type="text/html")
        if fault.error is None:
            if request.transport is not None:
                request.transport.abort()
            return web.Response()
        return _error(fault.error)

    def _record(self, kind: str, request: web.Request, body: JSON) -> None:
        self.calls.append(Call(kind, request.path, copy.deepcopy(body), self.clock()))
        self._changes.fire()

    # ----- test queries ----------------------------------------------------------------------

    def sent_messages(self, user: FakeWhatsAppUser | str | None = None) -> list[JSON]:
        """Messages the fake accepted (the JSON bodies plus `id`, `user_id`, `timestamp`), in order."""
        user_id = _user_id(user)
        return [copy.deepcopy(m) for m in self._sent if user_id is None or m["user_id"] == user_id]

    def texts(self, user: FakeWhatsAppUser | str | None = None) -> list[str]:
        """What each accepted message reads as: text, interactive body, caption or the rendered template."""
        return [self.readable(m) for m in self.sent_messages(user)]

    def readable(self, message: JSON) -> str:
        """The text a user reads in one sent message."""
        kind = message.get("type", "text")
        content = message.get(kind) or {}
        if kind == "text":
            return str(content.get("body", ""))
        if kind == "interactive":
            return str((content.get("body") or {}).get("text", ""))
        if kind == "template":
            key = (str(content.get("name")), str((content.get("language") or {}).get("code")))
            spec = self.templates.get(key)
            params = template_params(content)
            return spec.render(params) if spec else f"[{content.get('name')}] " + " | ".join(params)
        return str(content.get("caption", ""))

    def templates_sent(self, user: FakeWhatsAppUser | str | None = None) -> list[tuple[str, list[str]]]:
        """(template name, body parameters) of each template message, in order."""
        return [
            (m["template"]["name"], template_params(m["template"]))
            for m in self.sent_messages(user)
            if m.get("type") == "template"
        ]

    def duplicate_texts(self, user: FakeWhatsAppUser | str | None = None) -> dict[str, list[str]]:
        """Per user_id, the texts the bot sent more than once (empty dict: nothing was sent twice)."""
        per_user: dict[str, Counter[str]] = {}
        for message in self.sent_messages(user):
            per_user.setdefault(message["user_id"], Counter())[self.readable(message)] += 1
        repeated = {u: [t for t, n in counts.items() if n > 1] for u, counts in per_user.items()}
        return {u: texts for u, texts in repeated.items() if texts}

    def calls_of(self, kind: str) -> list[JSON]:
        """Bodies of every recorded request of `kind` (messages, read, media_upload, media_url, …)."""
        return [call.body for call in self.calls if call.kind == kind]

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 10.0) -> T:
        """Wait until predicate() is truthy and return its value; TimeoutError otherwise."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (result := predicate()):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout} s")
            # Short waits also catch conditions on state outside the fake (e.g. the bot's database).
            await self._changes.wait(min(remaining, 0.05))
        return result

    async def wait_for_messages(self, user: FakeWhatsAppUser, count: int, timeout: float = 10.0) -> list[JSON]:
        """Wait until the bot has sent `user` at least `count` messages; return them all."""

        def enough() -> list[JSON]:
            messages = self.sent_messages(user)
            return messages if len(messages) >= count else []

        try:
            return await self.wait_for(enough, timeout)
        except TimeoutError:
            got = self.texts(user)
            raise TimeoutError(f"{user}: wanted {count} messages in {timeout} s, got {len(got)}: {got}") from None


def _error(exc: GraphError) -> web.Response:
    return web.json_response(exc.body(), status=exc.http_status)


def _missing_object(object_id: str, verb: str) -> GraphError:
    return GraphError(
        400,
        100,
        f"Unsupported {verb} request. Object with ID '{object_id}' does not exist, cannot be loaded due to missing"
        " permissions, or does not support this operation.",
        subcode=33,
        error_type="GraphMethodException",
    )


def _user_id(user: FakeWhatsAppUser | str | None) -> str | None:
    return user.user_id if isinstance(user, FakeWhatsAppUser) else user


def _recipient(to: FakeWhatsAppUser | str | None) -> tuple[str, ...]:
    # A user's fault matches sends addressed to any of the user's ids (BSUID or phone number).
    if isinstance(to, FakeWhatsAppUser):
        return tuple(i for i in (to.user_id, to.wa_id) if i)
    return (to,) if to else ()
