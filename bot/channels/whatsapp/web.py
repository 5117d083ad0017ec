"""`GET /whatsapp` (Meta's verification handshake) and `POST /whatsapp` (signed webhook bodies, journaled)."""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Sequence

from aiohttp import web
from pywa import utils as pywa_utils

from bot.channels.whatsapp.events import split_body
from bot.messaging.channel import Journal

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature-256"
PATH = "/whatsapp"
_SIGNATURE = re.compile(r"sha256=[0-9a-f]{64}")
# Meta's bodies are small; a megabyte leaves room for a large batch and refuses anything meant to exhaust memory.
MAX_BODY_BYTES = 1024 * 1024


def webhook_routes(*, phone_id: str, app_secret: str, verify_token: str, journal: Journal) -> Sequence[web.RouteDef]:
    """The handshake and the webhook; a body is journaled only when its signature over the raw bytes is right."""

    async def verify(request: web.Request) -> web.Response:
        given = request.query.get("hub.verify_token", "")
        challenge = request.query.get("hub.challenge", "")
        if request.query.get("hub.mode") != "subscribe" or not hmac.compare_digest(
            given.encode(), verify_token.encode()
        ):
            logger.warning("WhatsApp webhook verification with a wrong verify token refused")
            return web.Response(status=403)
        logger.info("WhatsApp webhook verified by Meta")
        return web.Response(text=challenge)

    async def receive(request: web.Request) -> web.Response:
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return web.Response(status=413)
        body = await request.read()
        signature = request.headers.get(SIGNATURE_HEADER, "")
        # The HMAC is over the bytes as sent: Meta's JSON is not canonical, so re-serialising would break it.
        if not _SIGNATURE.fullmatch(signature) or not pywa_utils.webhook_updates_validator(app_secret, body, signature):
            logger.warning("WhatsApp webhook POST with a missing or wrong signature refused")
            return web.Response(status=403 if signature else 401)
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            logger.warning("WhatsApp webhook POST that is not JSON refused")
            return web.Response(status=400)
        split = split_body(payload, phone_id)
        if split.foreign:
            logger.info("WhatsApp webhook: %d event(s) for another phone number id ignored", split.foreign)
        if split.skipped:
            logger.info("WhatsApp webhook: %d change(s) or event(s) the bot does not handle ignored", split.skipped)
        if split.events:
            try:
                await journal.record(split.events)
            except Exception:
                # Not journaled: answer 500 so Meta delivers the body again.
                logger.exception("could not journal a WhatsApp webhook body")
                return web.Response(status=500)
        return web.Response(status=200)

    return (web.get(PATH, verify), web.post(PATH, receive))
