"""Telegram's webhook route: `POST /telegram`, answered 200 only after the update is committed to the journal."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Sequence

from aiohttp import web

from bot.messaging.channel import Journal

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def webhook_routes(secret: str, journal: Journal) -> Sequence[web.RouteDef]:
    """The webhook: a wrong secret gets 403 and nothing is journaled; a failed commit 500, so Telegram retries."""

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            logger.warning("webhook call with a wrong secret refused")
            return web.Response(status=403)
        try:
            payload = json.loads(await request.read())
        except ValueError:
            return web.Response(status=400)
        if not isinstance(payload, dict) or not isinstance(payload.get("update_id"), int):
            return web.Response(status=400)
        try:
            await journal.record([payload])
        except Exception:
            # Not journaled: answer 500 so Telegram delivers the update again.
            logger.exception("could not journal a webhook update")
            return web.Response(status=500)
        return web.Response(status=200)

    return (web.post("/telegram", receive),)
