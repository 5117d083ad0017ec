"""A local fake of the Telegram Bot API for end-to-end tests of the bot."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web

from .limits import Limits
from .methods import MAX_UPLOAD, BotApiMethods, Handler
from .models import DEFAULT_TOKEN, ApiError, Call, Fault, Queued, Webhook, WebhookAttempt
from .params import BadParams, Upload, read_params
from .state import FakeState

__all__ = ["FakeBotAPI", "Limits"]

JSON = dict[str, Any]
Files = dict[str, Upload]
DEFAULT_LIMITS = Limits()  # frozen, so one shared default instance is safe
UNAUTHORIZED = ApiError(401, "Unauthorized")
NOT_FOUND = ApiError(404, "Not Found")


class FakeBotAPI(FakeState):
    """Serves the Bot API on localhost; tests act as users through `user()` and `group()`."""

    webhook_backoff = 0.05  # first retry delay after a failed webhook POST; doubles up to the cap
    webhook_backoff_cap = 1.0
    webhook_timeout = 30.0

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "monev_test_bot",
        limits: Limits | None = DEFAULT_LIMITS,
    ) -> None:
        super().__init__(token, bot_username=bot_username, limits=limits)
        methods = BotApiMethods(self)
        self._handlers: dict[str, tuple[str, Handler]] = {
            name.lower(): (name, handler) for name, handler in methods.handlers().items()
        }
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._host = "127.0.0.1"
        self._port = 0

    # ----- lifecycle ---------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on host:port (0 picks a free port)."""
        app = web.Application(client_max_size=MAX_UPLOAD + 1024 * 1024)
        app.router.add_route("*", "/file/bot{token}/{file_path:.+}", self._download)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_route("*", "/{tail:.*}", self._unknown_route)
        # handler_cancellation: a client hanging up on a long poll must not keep it alive.
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self._port = int(self._runner.addresses[0][1])
        self._host = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
        self._session = aiohttp.ClientSession()
        self.closing = False

    async def stop(self) -> None:
        """Release long polls, stop webhook delivery, close the listener and the HTTP client."""
        self.closing = True
        self.updates_signal.fire()
        await self._stop_webhook_sender()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> FakeBotAPI:
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
        """For telegram.Bot(base_url=...): PTB appends the token."""
        return f"http://{self._host}:{self._port}/bot"

    @property
    def base_file_url(self) -> str:
        """For telegram.Bot(base_file_url=...): PTB appends the token."""
        return f"http://{self._host}:{self._port}/file/bot"

    @property
    def webhook_url(self) -> str | None:
        """The url set by setWebhook, None in polling mode."""
        return self.webhook.url if self.webhook is not None else None

    # ----- HTTP: Bot API methods ---------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return _error(UNAUTHORIZED)
        try:
            params, files = await read_params(request)
        except BadParams as exc:
            return _error(ApiError(400, str(exc)))
        method = request.match_info["method"]
        name, handler = self._handlers.get(method.lower(), (method, None))
        call = self.record_call(name, _recorded(params, files))
        if handler is None:
            return _error(NOT_FOUND)
        fault = self.take_fault(name, params.get("chat_id"))
        if fault is not None and not fault.deliver:
            return self._fault_response(request, fault, call)
        response = await self._run(handler, params, files, call)
        if (delay := self.answer_delays.get(name.lower())) is not None:
            await asyncio.sleep(delay)  # processed (a message is sent) but the bot waits for the answer
        if fault is None or response.status != 200:
            return response
        return self._fault_response(request, fault, call)  # processed, but the answer is lost

    async def _run(self, handler: Handler, params: JSON, files: Files, call: Call) -> web.Response:
        try:
            result = await handler(params, files)
        except ApiError as exc:
            return self._api_error(exc, call)
        except Exception as exc:
            # A bug in the fake must not pass for Telegram flakiness: keep it where tests can see it.
            self.internal_errors.append(exc)
            return _error(ApiError(500, f"Internal Server Error: fake Bot API bug: {exc!r}"))
        return web.json_response({"ok": True, "result": result})

    def _api_error(self, exc: ApiError, call: Call) -> web.Response:
        if exc.code == 429:
            self.rejected_429.append(call)
        return _error(exc)

    def _fault_response(self, request: web.Request, fault: Fault, call: Call) -> web.Response:
        if fault.body is not None:
            return web.Response(status=200, body=fault.body, content_type="application/json")
        if fault.network or fault.error is None:
            return _drop_connection(request)
        return self._api_error(fault.error, call)

    async def _unknown_route(self, request: web.Request) -> web.Response:
        return _error(NOT_FOUND)

    # ----- HTTP: file downloads ----------------------------------------------------------------

    async def _download(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return _error(UNAUTHORIZED)
        fault = self.take_fault("download", None)
        if fault is not None:
            return _drop_connection(request) if fault.network or fault.error is None else _error(fault.error)
        stored = self.files_by_path.get(request.match_info["file_path"])
        if stored is None:
            return _error(NOT_FOUND)
        content_type = stored.mime_type or "application/octet-stream"
        if self.download_rate is None:
            return web.Response(body=stored.data, content_type=content_type)
        return await self._stream_slowly(request, stored.data, content_type, self.download_rate)

    async def _stream_slowly(
        self, request: web.Request, data: bytes, content_type: str, rate: int
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": content_type})
        response.content_length = len(data)
        await response.prepare(request)
        chunk = max(1, rate // 20)
        for start in range(0, len(data), chunk):
            if self.closing:
                break
            piece = data[start : start + chunk]
            # Sleep before writing so the client really waits len(data)/rate seconds in total.
            await asyncio.sleep(len(piece) / rate)
            await response.write(piece)
        await response.write_eof()
        return response

    # ----- webhook delivery --------------------------------------------------------------------

    def webhook_changed(self) -> None:
        """Restart the sender for the new webhook (or stop it after deleteWebhook)."""
        old = self._webhook_task
        self._webhook_task = None
        if old is not None:
            old.cancel()
        if self.webhook is not None and not self.closing:
            self._webhook_task = asyncio.get_running_loop().create_task(self._webhook_sender())

    async def _stop_webhook_sender(self) -> None:
        task, self._webhook_task = self._webhook_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _webhook_sender(self) -> None:
        """POST pending updates one at a time, in order, retrying each until a 2xx."""
        failures = 0
        while self.webhook is not None:
            if not self.pending:
                await self.updates_signal.wait(1.0)
                continue
            queued = self.pending[0]
            if await self._post_update(queued):
                self._confirm_delivered(queued)
                failures = 0
            else:
                failures += 1
                await asyncio.sleep(min(self.webhook_backoff * 2 ** (failures - 1), self.webhook_backoff_cap))

    def _confirm_delivered(self, queued: Queued) -> None:
        if queued in self.pending:
            self.pending.remove(queued)
        self.confirmed_offset = max(self.confirmed_offset, queued.update_id + 1)
        self.notify("webhook", queued.update)

    async def _post_update(self, queued: Queued) -> bool:
        hook = self.webhook
        if hook is None:
            return False
        try:
            status, reason = await self._post_json(hook, queued.update)
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = f"Connection failed: {exc.__class__.__name__}: {exc}"
            self._record_attempt(queued.update_id, None, error)
            return False
        ok = 200 <= status < 300
        self._record_attempt(
            queued.update_id, status, None if ok else f"Wrong response from the webhook: {status} {reason}"
        )
        return ok

    async def _post_json(self, hook: Webhook, update: JSON) -> tuple[int, str]:
        assert self._session is not None, "the fake is not started"
        headers = {"Content-Type": "application/json"}
        if hook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
        timeout = aiohttp.ClientTimeout(total=self.webhook_timeout)
        async with self._session.post(hook.url, data=json.dumps(update), headers=headers, timeout=timeout) as resp:
            await resp.read()
            return resp.status, resp.reason or ""

    def _record_attempt(self, update_id: int, status: int | None, error: str | None) -> None:
        self.webhook_attempts.append(WebhookAttempt(update_id, status, error, time.monotonic()))
        if error and self.webhook is not None:
            self.webhook.last_error_date = int(time.time())
            self.webhook.last_error_message = error


def _error(exc: ApiError) -> web.Response:
    return web.json_response(exc.body(), status=exc.code)


def _drop_connection(request: web.Request) -> web.Response:
    """Abort the TCP connection so the client sees a network error and no HTTP answer."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response()


def _recorded(params: JSON, files: Files) -> JSON:
    """Params as recorded in `calls`: uploads are summarized instead of carrying their bytes."""
    recorded = dict(params)
    for name, upload in files.items():
        recorded[name] = upload.summary()
    return recorded
