"""Turn a Bot API HTTP request (query, JSON, urlencoded or multipart) into typed parameters."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import BodyPartReader, web

# Fields whose form value is a JSON-serialized object (PTB and Telegram clients send them that way).
JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "commands",
        "scope",
        "allowed_updates",
        "media",
        "link_preview_options",
        "reply_parameters",
    }
)
INT_FIELDS = frozenset(
    {
        "chat_id",
        "from_chat_id",
        "message_id",
        "offset",
        "limit",
        "timeout",
        "max_connections",
        "reply_to_message_id",
        "message_thread_id",
        "cache_time",
        "user_id",
    }
)
BOOL_FIELDS = frozenset(
    {
        "drop_pending_updates",
        "show_alert",
        "disable_notification",
        "protect_content",
        "disable_web_page_preview",
        "disable_content_type_detection",
        "allow_sending_without_reply",
    }
)


class BadParams(ValueError):
    """The request body cannot be understood; str(error) is the Bot API description."""


@dataclass(frozen=True)
class Upload:
    """One uploaded multipart file part."""

    filename: str
    content_type: str
    data: bytes

    def summary(self) -> dict[str, Any]:
        """What gets recorded in `calls` instead of the raw bytes."""
        return {"upload": self.filename, "size": len(self.data), "content_type": self.content_type}


def coerce(name: str, value: Any) -> Any:
    """Give a string form value the type the Bot API documents for that field."""
    if not isinstance(value, str):
        return value
    if name in JSON_FIELDS:
        try:
            return json.loads(value)
        except ValueError:
            raise BadParams(f"Bad Request: can't parse {name} JSON object") from None
    if name in INT_FIELDS:
        try:
            return int(value)
        except ValueError:
            return value  # e.g. chat_id "@channel"; the method decides whether that is valid
    if name in BOOL_FIELDS:
        return value.strip().lower() in ("true", "1")
    return value


async def read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, Upload]]:
    """Parse query string and body; uploaded files come back separately."""
    params: dict[str, Any] = dict(request.query)
    files: dict[str, Upload] = {}
    if request.content_type == "application/json":
        params.update(await _read_json(request))
    elif request.content_type == "multipart/form-data":
        await _read_multipart(request, params, files)
    elif request.can_read_body:
        form = await request.post()
        params.update({key: value for key, value in form.items() if isinstance(value, str)})
    return {key: coerce(key, value) for key, value in params.items()}, files


async def _read_json(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise BadParams("Bad Request: can't parse JSON encoded parameters") from None
    if not isinstance(body, dict):
        raise BadParams("Bad Request: JSON parameters must be an object")
    return body


async def _read_multipart(request: web.Request, params: dict[str, Any], files: dict[str, Upload]) -> None:
    try:
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader) or not part.name:
                raise BadParams("Bad Request: invalid multipart part")
            data = bytes(await part.read(decode=True))
            if part.filename is None:
                params[part.name] = data.decode(part.get_charset("utf-8"))
            else:
                content_type = part.headers.get("Content-Type", "application/octet-stream")
                files[part.name] = Upload(part.filename, content_type, data)
    except (ValueError, AssertionError, RuntimeError) as exc:
        if isinstance(exc, BadParams):
            raise
        raise BadParams(f"Bad Request: can't parse multipart body: {exc}") from None
