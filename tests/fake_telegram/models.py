"""Small value types shared by the fake Bot API modules."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any, NamedTuple

from .html_format import utf16_len

DEFAULT_TOKEN = "123456:TEST-token_abcdefghijklmnopqrstuv"
# "/cmd" or "/cmd@botname" at the very start, as Telegram's bot_command entity covers it.
COMMAND_RE = re.compile(r"^/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,64})?")
MENTION_RE = re.compile(r"(?<![A-Za-z0-9_])@[A-Za-z0-9_]{5,32}")


class ApiError(Exception):
    """A Bot API error answer: HTTP status = error_code, plus Telegram's description."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        """The JSON body Telegram sends for this error."""
        body: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


class Call(NamedTuple):
    """One recorded Bot API call: canonical method name, decoded params, time.monotonic()."""

    method: str
    params: dict[str, Any]
    time: float


@dataclass
class StoredFile:
    """A file the fake can hand out through getFile and the download route."""

    file_id: str
    file_unique_id: str
    data: bytes
    file_path: str
    kind: str
    file_name: str | None = None
    mime_type: str | None = None

    def as_document(self) -> dict[str, Any]:
        """The Document object for this file."""
        doc: dict[str, Any] = {"file_id": self.file_id, "file_unique_id": self.file_unique_id}
        if self.file_name:
            doc["file_name"] = self.file_name
        if self.mime_type:
            doc["mime_type"] = self.mime_type
        doc["file_size"] = len(self.data)
        return doc

    def as_file(self) -> dict[str, Any]:
        """The File object getFile returns."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_path": self.file_path,
        }


@dataclass
class Fault:
    """An injected failure waiting for a matching call."""

    method: str
    chat_id: int | None
    times: int
    error: ApiError | None
    network: bool
    deliver: bool
    body: bytes | None = None  # answer 200 with exactly these bytes (e.g. unparsable, or an empty result)

    def matches(self, method: str, chat_id: Any) -> bool:
        """True when this fault applies to a call of `method` for `chat_id`."""
        if self.times <= 0 or self.method != method.lower():
            return False
        return self.chat_id is None or self.chat_id == chat_id


@dataclass(frozen=True)
class WebhookAttempt:
    """One POST of an update to the webhook: HTTP status, or the connection error text."""

    update_id: int
    status: int | None
    error: str | None
    time: float


@dataclass
class Queued:
    """A pending update; `new_batch` forces it to start a new getUpdates answer."""

    update: dict[str, Any]
    new_batch: bool = False

    @property
    def update_id(self) -> int:
        """The update's id."""
        return int(self.update["update_id"])


@dataclass
class Poll:
    """A getUpdates call in progress; a newer call marks it superseded."""

    superseded: bool = False


class Signal:
    """A broadcast wake-up: every waiter present when `fire()` runs is released."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        """Wake everybody currently waiting."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> bool:
        """Wait for the next `fire()`; False when `timeout` seconds passed first."""
        event = self._event
        try:
            async with asyncio.timeout(max(0.0, timeout)):
                await event.wait()
        except TimeoutError:
            return False
        return True


@dataclass
class Webhook:
    """The webhook configured through setWebhook."""

    url: str
    secret_token: str | None = None
    max_connections: int = 40
    allowed_updates: list[str] | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None


def text_content(text: str) -> dict[str, Any]:
    """A text message body, with the entities Telegram adds: bot_command for a leading /command, mention per @name."""
    content: dict[str, Any] = {"text": text}
    entities = []
    match = COMMAND_RE.match(text)
    if match:
        entities.append({"offset": 0, "length": utf16_len(match.group(0)), "type": "bot_command"})
    for mention in MENTION_RE.finditer(text):  # Telegram marks every @username in a text
        if not match or mention.start() >= match.end():
            entities.append(
                {"offset": utf16_len(text[: mention.start()]), "length": utf16_len(mention.group(0)), "type": "mention"}
            )
    if entities:
        content["entities"] = entities
    return content


def button_rows(message: dict[str, Any] | None) -> list[list[dict[str, Any]]]:
    """The inline keyboard rows of a message (empty when it has none)."""
    if not message:
        return []
    return list((message.get("reply_markup") or {}).get("inline_keyboard") or [])


def flat_buttons(message: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Buttons left-to-right, top-to-bottom."""
    return [button for row in button_rows(message) for button in row]


def callback_datas(message: dict[str, Any] | None) -> list[str]:
    """All callback_data values on a message's inline keyboard."""
    return [b["callback_data"] for b in flat_buttons(message) if "callback_data" in b]
