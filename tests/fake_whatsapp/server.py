"""A local fake of the WhatsApp Cloud API (Graph API) for tests of the bot's WhatsApp channel, driven by pywa."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web

from .actors import FakeWhatsAppUser
from .limits import Limits
from .models import (
    DEFAULT_APP_SECRET,
    DEFAULT_DISPLAY_PHONE,
    DEFAULT_PHONE_ID,
    DEFAULT_TOKEN,
    DEFAULT_VERIFY_TOKEN,
    DEFAULT_WABA_ID,
    JSON,
    MEDIA_PATH,
    SIGNATURE_HEADER,
    Call,
    Fault,
    GraphError,
    WebhookResult,
    known_error,
)
from .payloads import Event, build_payload, encode, sign
from .state import DEFAULT_LIMITS, MAX_UPLOAD, FakeWhatsAppState, _missing_object

__all__ = ["SIGNED", "FakeWhatsAppAPI"]

VERSION_RE = re.compile(r"^v\d+\.\d+$")
SIGNED = object()  # post_events' default signature: the right one for the body


class FakeWhatsAppAPI(FakeWhatsAppState):
    """Serves the Graph API's messaging and media endpoints on localhost; tests act as users through `user()`."""

    webhook_timeout = 30.0

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        phone_id: str = DEFAULT_PHONE_ID,
        display_phone: str = DEFAULT_DISPLAY_PHONE,
        waba_id: str = DEFAULT_WABA_ID,
        app_secret: str = DEFAULT_APP_SECRET,
        verify_token: str = DEFAULT_VERIFY_TOKEN,
        limits: Limits | None = DEFAULT_LIMITS,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(
            token,
            phone_id=phone_id,
            display_phone=display_phone,
            waba_id=waba_id,
            app_secret=app_secret,
            verify_token=verify_token,
            limits=limits,
            clock=clock,
        )
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

    async def _media_url(self, request: web.Request) -> web.StreamResponse:
        self._record("media_url", request, dict(request.query))
        refused = self._check_request(request)
        if refused is not None:
            return _error(refused)
        return await self._faulted(request, "media_url", (), lambda: self._lookup(request.match_info["media_id"]))

    async def _media_delete(self, request: web.Request) -> web.StreamResponse:
        self._record("media_delete", request, dict(request.query))
        refused = self._check_request(request)
        if refused is not None:
            return _error(refused)
        return await self._faulted(request, "media_delete", (), lambda: self._delete(request.match_info["media_id"]))

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


def _error(exc: GraphError) -> web.Response:
    return web.json_response(exc.body(), status=exc.http_status)
