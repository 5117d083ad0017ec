"""The web server (aiohttp): /healthz and the routes the channels add (Telegram's webhook). Always started by
`monev run`, on the lease holder and on a standby alike."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import web

from bot.services import evidence_reading, operations
from storage.database import Database

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024


class WebServer:
    """Serves the health check and mounts what each channel contributes; it knows no channel."""

    def __init__(
        self,
        db: Database,
        host: str,
        port: int,
        instance: str,
        is_holder: Callable[[], bool],
        routes: Sequence[web.RouteDef] = (),
    ) -> None:
        self.db = db
        self.host = host
        self.port = port
        self.instance = instance
        self.is_holder = is_holder
        self.routes = tuple(routes)
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        application = web.Application(client_max_size=MAX_BODY_BYTES)
        application.router.add_get("/healthz", self._healthz)
        application.router.add_routes(self.routes)
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

    async def _healthz(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = {"instance": self.instance, "is_lease_holder": self.is_holder()}
        try:
            async with self.db.read() as session:
                state = await operations.status(session)  # the figures `monev status` prints
            body.update(
                database="ok",
                lease_holder=state.lease.holder if state.lease else None,
                lease_epoch=state.lease.epoch if state.lease else None,
                journal_backlog=state.journal_backlog,
                failed_rows=state.journal_failed,
                outbox_backlog=state.outbox_backlog,
                outbox=state.outbox,
                last_reminder_tick=state.last_reminder_tick.isoformat() if state.last_reminder_tick else None,
                last_contact={channel: moment.isoformat() for channel, moment in state.last_contact.items()},
                campaigns=state.campaigns,
                files=state.files,
                file_bytes=state.file_bytes,
            )
            # Reading scans and images needs Tesseract; without it the automatic check reads text layers only.
            ocr = await asyncio.to_thread(evidence_reading.ocr_status)
            body["ocr"] = "ok" if ocr.available else f"unavailable: {ocr.detail}"
            status = 200
        except Exception as error:
            logger.warning("health check could not reach the database: %s", type(error).__name__)
            body["database"] = "error"
            status = 503
        return web.json_response(body, status=status)
