"""Everything the fake Bot API remembers, and the test-facing queries over it."""

from __future__ import annotations

import asyncio
import copy
import itertools
import mimetypes
import secrets
import time
from collections import Counter
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any, TypeVar

from .actors import FakeGroup, FakeUser
from .limits import Limits, RateLimiter
from .models import (
    ApiError,
    Call,
    Fault,
    Poll,
    Queued,
    Signal,
    StoredFile,
    Webhook,
    WebhookAttempt,
    callback_datas,
)

T = TypeVar("T")
Listener = Callable[[str, dict[str, Any]], None]
JSON = dict[str, Any]

DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
}
FILE_ID_PREFIX = {"document": "BQACAgUAAxkBAAI", "photo": "AgACAgUAAxkBAAI"}
FILE_FOLDER = {"document": "documents", "photo": "photos"}
# (width, height, divisor): Telegram offers a thumbnail, a medium and the full-size photo.
PHOTO_SIZES = ((90, 68, 16), (320, 240, 4), (1280, 960, 1))


class FakeState:
    """Chats, messages, files, the update queue and every recording the tests look at."""

    def __init__(self, token: str, *, bot_username: str, limits: Limits | None) -> None:
        self.token = token
        self.bot_username = bot_username
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_user: JSON = {"id": self.bot_id, "is_bot": True, "first_name": "Monev Test Bot"}
        self.bot_user["username"] = bot_username
        self.limits = limits
        self.limiter = RateLimiter(limits) if limits else None
        self._init_recordings()
        self._init_world()

    def _init_recordings(self) -> None:
        self.calls: list[Call] = []
        self.rejected_429: list[Call] = []
        self.edits: list[JSON] = []
        self.deleted: list[tuple[int, int]] = []
        self.answered_callbacks: list[JSON] = []
        self.chat_actions: list[tuple[int, str]] = []
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.webhook_attempts: list[WebhookAttempt] = []
        self.internal_errors: list[Exception] = []
        self.confirmed_offset = 0
        self._sent: list[JSON] = []

    def _init_world(self) -> None:
        self.users: dict[int, JSON] = {}
        self.chats: dict[int, JSON] = {}
        self.blocked: set[int] = set()
        self.messages: dict[int, dict[int, JSON]] = {}
        self._last_message_id: dict[int, int] = {}
        self.pending: list[Queued] = []
        self._next_update_id = 1
        self.files: dict[str, StoredFile] = {}
        self.files_by_path: dict[str, StoredFile] = {}
        self.callback_queries: dict[str, bool] = {}
        self.faults: list[Fault] = []
        self.download_rate: int | None = None
        self.answer_delays: dict[str, float] = {}
        self.webhook: Webhook | None = None
        self.active_poll: Poll | None = None
        self.closing = False
        self._ids = itertools.count(1)
        self.updates_signal = Signal()
        self._changes = Signal()
        self._listeners: list[Listener] = []

    # ----- acting as users -------------------------------------------------------------------

    def user(
        self,
        user_id: int,
        first_name: str = "Budi",
        username: str | None = None,
        language_code: str | None = "id",
    ) -> FakeUser:
        """Register (or re-register) a user with a private chat and return a handle to act as them."""
        user: JSON = {"id": user_id, "is_bot": False, "first_name": first_name}
        chat: JSON = {"id": user_id, "first_name": first_name, "type": "private"}
        if username:
            user["username"] = chat["username"] = username
        if language_code:
            user["language_code"] = language_code
        self.users[user_id] = user
        self.chats[user_id] = chat
        return FakeUser(self, user_id)

    def group(self, chat_id: int, title: str = "Grup OPD") -> FakeGroup:
        """Register a basic group (negative id) and return a handle to post in it."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        self.chats[chat_id] = {"id": chat_id, "title": title, "type": "group"}
        return FakeGroup(self, chat_id)

    def member(self, user_id: int) -> JSON:
        """The User object for `user_id`, created on the fly for group members never seen before."""
        if user_id not in self.users:
            self.users[user_id] = {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}
        return self.users[user_id]

    def new_media_group_id(self) -> str:
        """A fresh media_group_id string, shaped like Telegram's."""
        return str(13_700_000_000_000_000 + next(self._ids))

    def incoming_message(self, chat_id: int, user_id: int, content: JSON, new_batch: bool = False) -> JSON:
        """A user posts a message; returns the queued Update."""
        message = self.new_message(self.chats[chat_id], self.member(user_id), content)
        return self.enqueue({"message": copy.deepcopy(message)}, new_batch)

    def incoming_file(
        self, chat_id: int, user_id: int, kind: str, data: bytes, extra: JSON, new_batch: bool = False
    ) -> JSON:
        """A user posts a document or photo; the bytes become downloadable."""
        content = dict(extra)
        if kind == "photo":
            content["photo"] = self.photo_sizes(data)
        else:
            stored = self.store_file(data, "document", content.pop("file_name"), content.pop("mime_type"))
            content["document"] = stored.as_document()
        return self.incoming_message(chat_id, user_id, {k: v for k, v in content.items() if v is not None}, new_batch)

    def incoming_callback(self, chat_id: int, user_id: int, data: str, message: JSON | int | None, forge: bool) -> JSON:
        """A user presses an inline button; returns the queued Update."""
        target = self._button_message(chat_id, data, message, forge)
        query_id = str(4_600_000_000_000_000_000 + next(self._ids))
        self.callback_queries[query_id] = False
        query = {
            "id": query_id,
            "from": copy.deepcopy(self.member(user_id)),
            "message": copy.deepcopy(target),
            "chat_instance": str(abs(chat_id) * 7919 + 104729),
            "data": data,
        }
        return self.enqueue({"callback_query": query})

    def _button_message(self, chat_id: int, data: str, message: JSON | int | None, forge: bool) -> JSON:
        if message is not None:
            return self._explicit_button_message(chat_id, data, message, forge)
        own = self.bot_messages(chat_id)
        for candidate in reversed(own):
            if data in callback_datas(candidate):
                return candidate
        if forge and own:
            return own[-1]
        shown = [callback_datas(m) for m in own[-3:]]
        raise LookupError(f"no bot message in chat {chat_id} has a button {data!r}; last keyboards: {shown}")

    def _explicit_button_message(self, chat_id: int, data: str, message: JSON | int, forge: bool) -> JSON:
        message_id = message if isinstance(message, int) else int(message["message_id"])
        target = self.messages.get(chat_id, {}).get(message_id)
        if target is None:
            raise LookupError(f"message {message_id} does not exist in chat {chat_id}")
        if not forge and data not in callback_datas(target):
            raise LookupError(f"message {message_id} has no button {data!r}: {callback_datas(target)}")
        return target

    def enqueue(self, payload: JSON, new_batch: bool = False) -> JSON:
        """Append an update to the pending queue and wake pollers and the webhook sender."""
        update = {"update_id": self._next_update_id, **payload}
        self._next_update_id += 1
        self.pending.append(Queued(update, new_batch))
        self.updates_signal.fire()
        self._changes.fire()
        return copy.deepcopy(update)

    def restart_update_ids(self, first: int) -> None:
        """What Telegram does after a week without updates: the next update_id is chosen anew (here: `first`)."""
        self._next_update_id = first
        self.confirmed_offset = min(self.confirmed_offset, first)

    # ----- the update queue --------------------------------------------------------------------

    def confirm(self, offset: int) -> None:
        """Apply getUpdates' offset: positive confirms ids below it, negative keeps only the last -offset."""
        if offset > 0:
            self.pending = [q for q in self.pending if q.update_id >= offset]
            self.confirmed_offset = max(self.confirmed_offset, offset)
        elif offset < 0:
            self.pending = self.pending[offset:]
            self.confirmed_offset = self.pending[0].update_id if self.pending else self._next_update_id
        self._changes.fire()

    def take_batch(self, limit: int) -> list[JSON]:
        """The next getUpdates answer, without confirming anything."""
        batch: list[JSON] = []
        for queued in self.pending:
            if len(batch) >= limit or (batch and queued.new_batch):
                break
            batch.append(copy.deepcopy(queued.update))
        return batch

    def drop_pending(self) -> None:
        """Forget all pending updates (drop_pending_updates=True)."""
        if self.pending:
            self.confirmed_offset = self.pending[-1].update_id + 1
        self.pending = []
        self._changes.fire()

    def pending_updates(self) -> int:
        """How many updates wait to be fetched or delivered."""
        return len(self.pending)

    def webhook_changed(self) -> None:
        """Hook: the webhook was set or deleted (the server restarts its sender)."""

    # ----- bot-side helpers used by the methods --------------------------------------------------

    def chat_for(self, params: JSON) -> JSON:
        """The chat named by chat_id, or the error Telegram gives for it."""
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        chat = self.chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        if chat_id in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def spend(self, chat: JSON) -> None:
        """Charge one sending call to the flood limits, or raise Telegram's 429."""
        if self.limiter is None:
            return
        retry_after = self.limiter.acquire(chat["id"], chat["type"])
        if retry_after is not None:
            raise ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)

    def new_message(self, chat: JSON, sender: JSON, content: JSON) -> JSON:
        """Create and store a message with the chat's next message_id."""
        chat_id = chat["id"]
        message_id = self._last_message_id.get(chat_id, 0) + 1
        self._last_message_id[chat_id] = message_id
        message = {
            "message_id": message_id,
            "from": copy.deepcopy(sender),
            "chat": copy.deepcopy(chat),
            "date": int(time.time()),
            **content,
        }
        self.messages.setdefault(chat_id, {})[message_id] = message
        return message

    def deliver(self, chat: JSON, content: JSON) -> JSON:
        """The bot's message is accepted: store, record and announce it."""
        message = self.new_message(chat, self.bot_user, content)
        self._sent.append(copy.deepcopy(message))
        self.notify("sent", message)
        return copy.deepcopy(message)

    def record_edit(self, message: JSON) -> JSON:
        """An edit was accepted: stamp it, record a snapshot and announce it."""
        message["edit_date"] = int(time.time())
        self.edits.append(copy.deepcopy(message))
        self.notify("edited", message)
        return copy.deepcopy(message)

    def store_file(
        self, data: bytes, kind: str, file_name: str | None = None, mime_type: str | None = None
    ) -> StoredFile:
        """Keep bytes under a new file_id and file_path."""
        number = next(self._ids)
        suffix = PurePosixPath(file_name).suffix if file_name else ".jpg" if kind == "photo" else ""
        if not suffix and mime_type:
            suffix = mimetypes.guess_extension(mime_type) or ""
        stored = StoredFile(
            file_id=f"{FILE_ID_PREFIX[kind]}{number:04d}{secrets.token_urlsafe(18)}",
            file_unique_id=f"AgAD{number:04d}{secrets.token_hex(4)}",
            data=data,
            file_path=f"{FILE_FOLDER[kind]}/file_{number}{suffix}",
            kind=kind,
            file_name=file_name,
            mime_type=mime_type,
        )
        self.files[stored.file_id] = stored
        self.files_by_path[stored.file_path] = stored
        return stored

    def photo_sizes(self, data: bytes) -> list[JSON]:
        """A PhotoSize array of increasing size whose largest entry holds the real bytes."""
        sizes = []
        for width, height, divisor in PHOTO_SIZES:
            part = data if divisor == 1 else data[: max(1, len(data) // divisor)]
            stored = self.store_file(part, "photo")
            sizes.append({**stored.as_file(), "width": width, "height": height})
        for size in sizes:
            size.pop("file_path")
        return sizes

    def take_fault(self, method: str, chat_id: Any) -> Fault | None:
        """Consume one use of the first injected fault matching this call."""
        for fault in self.faults:
            if fault.matches(method, chat_id):
                fault.times -= 1
                return fault
        return None

    def notify(self, kind: str, message: JSON) -> None:
        """Tell listeners and waiters that the bot did something."""
        for listener in list(self._listeners):
            listener(kind, copy.deepcopy(message))
        self._changes.fire()

    def record_call(self, method: str, params: JSON) -> Call:
        """Append to `calls` and wake waiters."""
        call = Call(method, params, time.monotonic())
        self.calls.append(call)
        self._changes.fire()
        return call

    # ----- test controls ---------------------------------------------------------------------

    def inject_error(
        self,
        method: str,
        *,
        error_code: int | None = None,
        description: str | None = None,
        retry_after: int | None = None,
        chat_id: int | None = None,
        times: int = 1,
        network: bool = False,
        deliver: bool = False,
    ) -> None:
        """Make the next `times` calls of `method` fail (deliver=True: process them, then fail)."""
        error = None if network else _injected_error(error_code, description, retry_after)
        self.faults.append(Fault(method.lower(), chat_id, times, error, network, deliver))

    def inject_response(
        self, method: str, body: bytes, *, chat_id: int | None = None, times: int = 1, deliver: bool = False
    ) -> None:
        """Answer the next `times` calls of `method` with HTTP 200 and exactly `body` (deliver=True: process first).

        For a broken server or proxy: `b"<html>Bad Gateway</html>"` cannot be parsed; `b'{"ok":true,"result":[]}'`
        makes getUpdates answer at once with nothing.
        """
        self.faults.append(Fault(method.lower(), chat_id, times, None, False, deliver, body))

    def clear_faults(self) -> None:
        """Drop every injected fault that has not fired yet."""
        self.faults.clear()

    def block_user(self, user_id: int) -> None:
        """Every send to this user's chat now answers 403 blocked."""
        self.blocked.add(user_id)

    def unblock_user(self, user_id: int) -> None:
        """The user un-blocked the bot."""
        self.blocked.discard(user_id)

    def delay_answers(self, method: str, seconds: float | None) -> None:
        """Process calls of `method` at once but answer them `seconds` later (None: answer at once again)."""
        if seconds is None:
            self.answer_delays.pop(method.lower(), None)
        else:
            self.answer_delays[method.lower()] = seconds

    def throttle_downloads(self, bytes_per_sec: int | None) -> None:
        """Stream file downloads at this rate (None: full speed)."""
        self.download_rate = bytes_per_sec

    def set_limits(self, limits: Limits | None, clock: Callable[[], float] = time.monotonic) -> None:
        """Replace the flood limits (fresh, full buckets); None disables them. A frozen `clock` never refills."""
        self.limits = limits
        self.limiter = RateLimiter(limits, clock) if limits else None

    def add_listener(self, listener: Listener) -> None:
        """Call listener(kind, message) for kind in sent/edited/deleted."""
        self._listeners.append(listener)

    # ----- test queries ----------------------------------------------------------------------

    def sent_messages(self, chat_id: int | None = None) -> list[JSON]:
        """Messages the bot sent (as sent, before later edits), in the order accepted."""
        return [copy.deepcopy(m) for m in self._sent if chat_id is None or m["chat"]["id"] == chat_id]

    def texts(self, chat_id: int | None = None) -> list[str]:
        """Text (or caption) of each sent message."""
        return [_body_text(m) for m in self.sent_messages(chat_id)]

    def duplicate_texts(self, chat_id: int | None = None) -> dict[int, list[str]]:
        """Per chat, the texts/captions the bot sent more than once (empty dict: no duplicates)."""
        per_chat: dict[int, Counter[str]] = {}
        for message in self.sent_messages(chat_id):
            per_chat.setdefault(message["chat"]["id"], Counter())[_body_text(message)] += 1
        duplicates = {chat: [t for t, n in counts.items() if n > 1] for chat, counts in per_chat.items()}
        return {chat: texts for chat, texts in duplicates.items() if texts}

    def bot_messages(self, chat_id: int) -> list[JSON]:
        """Current state (after edits, without deleted ones) of the bot's messages in a chat."""
        return [m for m in self.messages.get(chat_id, {}).values() if m["from"]["id"] == self.bot_id]

    def last_bot_message(self, chat_id: int) -> JSON | None:
        """Current state of the bot's latest message in a chat."""
        own = self.bot_messages(chat_id)
        return copy.deepcopy(own[-1]) if own else None

    def message(self, chat_id: int, message_id: int) -> JSON | None:
        """Current state of any message."""
        found = self.messages.get(chat_id, {}).get(message_id)
        return copy.deepcopy(found) if found else None

    def calls_of(self, method: str) -> list[JSON]:
        """Params of every recorded call of `method` (case-insensitive)."""
        return [call.params for call in self.calls if call.method.lower() == method.lower()]

    def get_commands(self, scope: str = "default", language_code: str = "") -> list[JSON]:
        """Commands stored by setMyCommands for a scope key such as 'default' or 'chat:-100'."""
        return copy.deepcopy(self.commands.get((scope, language_code), []))

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

    async def wait_for_messages(self, chat_id: int | None, count: int, timeout: float = 10.0) -> list[JSON]:
        """Wait until the bot has sent at least `count` messages to the chat; return them all."""

        def enough() -> list[JSON]:
            messages = self.sent_messages(chat_id)
            return messages if len(messages) >= count else []

        try:
            return await self.wait_for(enough, timeout)
        except TimeoutError:
            got = self.texts(chat_id)
            raise TimeoutError(
                f"chat {chat_id}: wanted {count} messages in {timeout} s, got {len(got)}: {got}"
            ) from None


def _body_text(message: JSON) -> str:
    return str(message.get("text", message.get("caption", "")))


def _injected_error(error_code: int | None, description: str | None, retry_after: int | None) -> ApiError:
    code = error_code or (429 if retry_after is not None else 500)
    if code == 429:
        retry_after = 1 if retry_after is None else retry_after
        return ApiError(429, description or f"Too Many Requests: retry after {retry_after}", retry_after)
    return ApiError(code, description or DEFAULT_DESCRIPTIONS.get(code, "Error"))
