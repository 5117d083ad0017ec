"""Logging, configured once at the entry point, with secrets and phone numbers masked in every record."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from contextvars import ContextVar

# The inbound update being handled (`j<journal row id>`), so every record it causes can be found together.
# Set by the inbound path around one row's handling; asyncio tasks and worker threads started there inherit it.
request_id: ContextVar[str | None] = ContextVar("monev_request_id", default=None)

# A Bot API URL embeds the token as `bot<digits>:<secret>`; mask it wherever it appears.
_BOT_TOKEN = re.compile(r"bot\d+:[A-Za-z0-9_-]+")
_BARE_TOKEN = re.compile(r"\b\d{6,}:[A-Za-z0-9_-]{20,}\b")
# Indonesian mobile numbers (+62 8xx, 62 8xx, 08xx) with optional separators.
_PHONE = re.compile(r"(?<![\w+])(\+?62|0)[\s-]?8\d(?:[\s-]?\d){6,10}\b")


def mask(text: str, secrets: Iterable[str] = ()) -> str:
    """Hide bot tokens, configured secrets and phone numbers in a piece of text."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _BOT_TOKEN.sub("bot<token>", text)
    text = _BARE_TOKEN.sub("<token>", text)
    return _PHONE.sub(lambda m: _mask_phone(m.group(0)), text)


def _mask_phone(number: str) -> str:
    """`62812****7890`: the first five digits (country and operator) and the last four, enough to tell apart."""
    digits = re.sub(r"\D", "", number)
    return f"{digits[:5]}****{digits[-4:]}"


class RequestIdFilter(logging.Filter):
    """Stamps each record with the request id of the update being handled (`-` outside any)."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = request_id.get()
        record.request_id = current or "-"
        record.request_tag = f" [{current}]" if current else ""
        return True


class SecretMaskingFilter(logging.Filter):
    """Rewrites each record's final message so no secret survives, whatever the arguments were."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask(record.getMessage(), self._secrets)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text, self._secrets)
        return True


class InvalidJsonAnswerFilter(logging.Filter):
    """One line for a Bot API answer that is not JSON (a proxy's error page, a wrong base URL).

    python-telegram-bot logs it with the JSON decoder's traceback and the whole body, then raises
    TelegramError("Invalid server response"), which our caller reports; the start of the body is enough here.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "telegram.request.BaseRequest" and str(record.msg).startswith("Can not load invalid JSON"):
            body = str(record.args[0]) if isinstance(record.args, tuple) and record.args else ""
            record.msg, record.args = "the Bot API answered with something that is not JSON: %r", (body[:200],)
            record.exc_info, record.exc_text = None, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, str | None] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        current = getattr(record, "request_id", "-")
        payload["request_id"] = None if current == "-" else current
        if record.exc_text:
            payload["exc"] = record.exc_text
        return json.dumps(payload, ensure_ascii=False)


def configure_logging(level: str = "INFO", fmt: str = "text", secrets: Iterable[str] = ()) -> None:
    """Install one stderr handler with the masking filter; quiet the libraries that log URLs."""
    handler = logging.StreamHandler()
    handler.addFilter(InvalidJsonAnswerFilter())
    handler.addFilter(SecretMaskingFilter(secrets))
    handler.addFilter(RequestIdFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s%(request_tag)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # httpx logs every request URL at INFO, and a Bot API URL contains the token.
    for noisy in ("httpx", "httpcore", "aiosqlite", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # A long outbox run makes APScheduler skip the overlapping ticks, which it reports as a warning each second.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
