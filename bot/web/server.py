"""The web server (aiohttp): the Telegram webhook and /healthz. Always started by `monev run`."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.services import journal, lease
from storage.database import Database

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
# Journals a batch of raw updates (committed before we answer 200) and returns how many were new.
JournalUpdates = Callable[[list[dict[str, Any]]], Awaitable[int]]


class WebServer:
    """Answers 200 to Telegram only after the update is committed to the journal."""

    def __init__(
        self,
        db: Database,
        host: str,
        port: int,
        instance: str,
        is_holder: Callable[[], bool],
    ) -> None:
        self.db = db
        self.host = host
        self.port = port
        self.instance = instance
        self.is_holder = is_holder
        self.telegram_secret: str | None = None
        self.journal_telegram: JournalUpdates | None = None
        self.on_journaled: Callable[[], None] = lambda: None
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        application = web.Application(client_max_size=MAX_BODY_BYTES)
        application.router.add_post("/telegram", self._telegram)
        application.router.add_get("/healthz", self._healthz)
        return application

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self._runner.addresses:  # port 0 asks the system for a free port: report the real one
            self.port = int(self._runner.addresses[0][1])
        logger.info("web server listening on %s:%s", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _telegram(self, request: web.Request) -> web.Response:
        if self.journal_telegram is None or self.telegram_secret is None:
            return web.Response(status=404)
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(given.encode(), self.telegram_secret.encode()):
            logger.warning("webhook call with a wrong secret refused")
            return web.Response(status=403)
        try:
            payload = json.loads(await request.read())
        except ValueError:
            return web.Response(status=400)
        if not isinstance(payload, dict) or not isinstance(payload.get("update_id"), int):
            return web.Response(status=400)
        try:
            await self.journal_telegram([payload])
        except Exception:
            # Not journaled: answer 500 so Telegram delivers the update again.
            logger.exception("could not journal a webhook update")
            return web.Response(status=500)
        self.on_journaled()
        return web.Response(status=200)

    async def _healthz(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = {"instance": self.instance, "is_lease_holder": self.is_holder()}
        try:
            async with self.db.read() as session:
                body["lease_holder"] = await lease.lease_holder(session)
                health = await journal.health(session)
            body.update(database="ok", journal_backlog=health.backlog, failed_rows=health.failed)
            status = 200
        except Exception as error:
            logger.warning("health check could not reach the database: %s", type(error).__name__)
            body["database"] = "error"
            status = 503
        return web.json_response(body, status=status)
