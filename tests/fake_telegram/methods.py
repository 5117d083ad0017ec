"""The Bot API methods the fake implements, with Telegram's validation and error texts."""

from __future__ import annotations

import asyncio
import copy
import mimetypes
import re
from collections.abc import Awaitable, Callable
from typing import Any

from .html_format import HTMLEntityError, parse_html
from .models import ApiError, Poll, StoredFile, Webhook
from .params import Upload
from .state import FakeState

JSON = dict[str, Any]
Files = dict[str, Upload]
Handler = Callable[[JSON, Files], Awaitable[Any]]

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_UPLOAD = 50 * 1024 * 1024
MAX_DOWNLOAD = 20 * 1024 * 1024
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
)
CONFLICT_POLL = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
BUTTON_KINDS = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
COMMAND_NAME_RE = re.compile(r"^[a-z0-9_]{1,32}$")
SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def bad(description: str) -> ApiError:
    """A 400 with Telegram's 'Bad Request: ' prefix."""
    return ApiError(400, f"Bad Request: {description}")


class BotApiMethods:
    """Bot API method handlers over a FakeState; each raises ApiError for Telegram's error answers."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    def handlers(self) -> dict[str, Handler]:
        """Canonical method name -> handler."""
        return {
            "getMe": self.get_me,
            "getUpdates": self.get_updates,
            "setWebhook": self.set_webhook,
            "deleteWebhook": self.delete_webhook,
            "getWebhookInfo": self.get_webhook_info,
            "sendMessage": self.send_message,
            "editMessageText": self.edit_message_text,
            "editMessageCaption": self.edit_message_caption,
            "editMessageReplyMarkup": self.edit_message_reply_markup,
            "deleteMessage": self.delete_message,
            "answerCallbackQuery": self.answer_callback_query,
            "sendDocument": self.send_document,
            "sendPhoto": self.send_photo,
            "getFile": self.get_file,
            "sendChatAction": self.send_chat_action,
            "getChat": self.get_chat,
            "setMyCommands": self.set_my_commands,
            "getMyCommands": self.get_my_commands,
            "deleteMyCommands": self.delete_my_commands,
        }

    # ----- identity and updates ---------------------------------------------------------------

    async def get_me(self, params: JSON, files: Files) -> JSON:
        """The bot's own User, with the getMe-only capability flags."""
        return {
            **self.state.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def get_updates(self, params: JSON, files: Files) -> list[JSON]:
        """Offset confirmation, then long polling for up to `timeout` seconds."""
        state = self.state
        if state.webhook is not None:
            raise ApiError(409, CONFLICT_WEBHOOK)
        state.confirm(_int(params, "offset", 0))
        limit = min(max(_int(params, "limit", 100), 1), 100)
        poll = self._begin_poll()
        try:
            return await self._poll(poll, limit, max(_int(params, "timeout", 0), 0))
        finally:
            if state.active_poll is poll:
                state.active_poll = None

    def _begin_poll(self) -> Poll:
        # Telegram lets only one getUpdates run at a time: the newer one terminates the older.
        if self.state.active_poll is not None:
            self.state.active_poll.superseded = True
            self.state.updates_signal.fire()
        self.state.active_poll = Poll()
        return self.state.active_poll

    async def _poll(self, poll: Poll, limit: int, timeout: float) -> list[JSON]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if poll.superseded:
                raise ApiError(409, CONFLICT_POLL)
            if self.state.webhook is not None:
                raise ApiError(409, CONFLICT_WEBHOOK)
            batch = self.state.take_batch(limit)
            remaining = deadline - loop.time()
            if batch or self.state.closing or remaining <= 0:
                return batch
            await self.state.updates_signal.wait(remaining)

    async def set_webhook(self, params: JSON, files: Files) -> bool:
        """Switch to webhook delivery (an empty url means deleteWebhook)."""
        url = str(params.get("url") or "")
        if not url:
            return await self.delete_webhook(params, files)
        if not url.startswith(("http://", "https://")):
            raise bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not SECRET_RE.match(str(secret)):
            raise bad("secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self.state.drop_pending()
        self.state.webhook = Webhook(
            url=url,
            secret_token=secret,
            max_connections=_int(params, "max_connections", 40),
            allowed_updates=params.get("allowed_updates"),
        )
        self.state.webhook_changed()
        self.state.updates_signal.fire()  # a waiting getUpdates now answers 409
        return True

    async def delete_webhook(self, params: JSON, files: Files) -> bool:
        """Back to getUpdates; optionally drop what is pending."""
        if params.get("drop_pending_updates"):
            self.state.drop_pending()
        if self.state.webhook is not None:
            self.state.webhook = None
            self.state.webhook_changed()
        return True

    async def get_webhook_info(self, params: JSON, files: Files) -> JSON:
        """WebhookInfo; url is empty in polling mode."""
        hook = self.state.webhook
        info: JSON = {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(self.state.pending),
        }
        if hook is None:
            return info
        info.update(url=hook.url, max_connections=hook.max_connections)
        if hook.allowed_updates is not None:
            info["allowed_updates"] = hook.allowed_updates
        if hook.last_error_date is not None:
            info.update(last_error_date=hook.last_error_date, last_error_message=hook.last_error_message)
        return info

    # ----- sending ----------------------------------------------------------------------------

    async def send_message(self, params: JSON, files: Files) -> JSON:
        """Text message with HTML validation, length and keyboard checks, then the flood limits."""
        chat = self.state.chat_for(params)
        content = self._text_content(params)
        markup = self._inline_markup(params)
        reply = self._reply_to(chat, params)
        self.state.spend(chat)
        return self.state.deliver(chat, {**content, **reply, **markup})

    async def send_document(self, params: JSON, files: Files) -> JSON:
        """A document: a new multipart upload or an existing document file_id."""
        chat = self.state.chat_for(params)
        stored = self._document_input(params, files)
        content = {"document": stored.as_document(), **self._caption(params)}
        markup = self._inline_markup(params)
        reply = self._reply_to(chat, params)
        self.state.spend(chat)
        return self.state.deliver(chat, {**content, **reply, **markup})

    async def send_photo(self, params: JSON, files: Files) -> JSON:
        """A photo: a new upload (three sizes) or an existing photo file_id."""
        chat = self.state.chat_for(params)
        source = self._pick_input(params, files, "photo")
        caption = self._caption(params)
        markup = self._inline_markup(params)
        reply = self._reply_to(chat, params)
        self.state.spend(chat)
        if isinstance(source, Upload):
            sizes = self.state.photo_sizes(source.data)
        else:
            sizes = [_photo_size(source)]
        return self.state.deliver(chat, {"photo": sizes, **caption, **reply, **markup})

    def _text_content(self, params: JSON) -> JSON:
        text, entities = self._formatted(params.get("text"), params.get("parse_mode"), params.get("entities"))
        if not text.strip():
            raise bad("message text is empty")
        if len(text) > MAX_TEXT:
            raise bad("message is too long")
        return {"text": text, **({"entities": entities} if entities else {})}

    def _caption(self, params: JSON) -> JSON:
        if params.get("caption") in (None, ""):
            return {}
        text, entities = self._formatted(params["caption"], params.get("parse_mode"), params.get("caption_entities"))
        if len(text) > MAX_CAPTION:
            raise bad("message caption is too long")
        return {"caption": text, **({"caption_entities": entities} if entities else {})}

    @staticmethod
    def _formatted(text: Any, parse_mode: Any, entities: Any) -> tuple[str, list[JSON]]:
        text = "" if text is None else str(text)
        if str(parse_mode or "").lower() == "html":
            try:
                return parse_html(text)
            except HTMLEntityError as exc:
                raise bad(f"can't parse entities: {exc}") from None
        # Markdown modes are passed through unchecked; explicit entities are kept as given.
        return text, list(entities) if isinstance(entities, list) else []

    @staticmethod
    def _inline_markup(params: JSON) -> JSON:
        """{"reply_markup": ...} for an inline keyboard, {} for none or a reply keyboard."""
        markup = params.get("reply_markup")
        if markup is None:
            return {}
        if not isinstance(markup, dict):
            raise bad("can't parse reply keyboard markup JSON object")
        keyboard = markup.get("inline_keyboard")
        if keyboard is None:
            if {"keyboard", "remove_keyboard", "force_reply"} & markup.keys():
                return {}  # reply keyboards are not part of the returned Message
            raise bad("can't parse reply keyboard markup JSON object")
        _check_keyboard(keyboard)
        return {"reply_markup": {"inline_keyboard": keyboard}} if any(keyboard) else {}

    def _reply_to(self, chat: JSON, params: JSON) -> JSON:
        reply = params.get("reply_parameters")
        message_id = reply.get("message_id") if isinstance(reply, dict) else params.get("reply_to_message_id")
        if message_id is None:
            return {}
        original = self.state.messages.get(chat["id"], {}).get(message_id)
        if original is not None:
            return {"reply_to_message": {k: v for k, v in original.items() if k != "reply_to_message"}}
        options = reply if isinstance(reply, dict) else params
        if options.get("allow_sending_without_reply"):
            return {}
        raise bad("message to be replied not found")

    def _document_input(self, params: JSON, files: Files) -> StoredFile:
        source = self._pick_input(params, files, "document")
        if isinstance(source, StoredFile):
            return source
        mime = mimetypes.guess_type(source.filename)[0] or source.content_type
        return self.state.store_file(source.data, "document", source.filename, mime)

    def _pick_input(self, params: JSON, files: Files, field: str) -> Upload | StoredFile:
        """The uploaded part for `field` (direct or attach://), else the existing file its file_id names."""
        value = params.get(field)
        upload = files.get(field)
        if isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value.removeprefix("attach://"))
            if upload is None:
                raise bad(f"file {value} not found in the request")
        if upload is not None:
            return _checked_upload(upload)
        if value is None or value == "":
            raise bad(f"there is no {field} in the request")
        stored = self.state.files.get(value) if isinstance(value, str) else None
        if stored is None:
            raise bad("wrong file identifier/HTTP URL specified")
        if stored.kind != field:
            raise bad(f"can't use file of type {stored.kind.title()} as {field.title()}")
        return stored

    # ----- editing ----------------------------------------------------------------------------

    async def edit_message_text(self, params: JSON, files: Files) -> JSON:
        """New text (and keyboard: omitting reply_markup removes it, as in Telegram)."""
        chat, message = self._editable(params)
        if "text" not in message:
            raise bad("there is no text in the message to edit")
        content = self._text_content(params)
        new = {
            "text": content["text"],
            "entities": content.get("entities", []),
            **self._inline_markup(params),
        }
        return self._apply_edit(chat, message, new, ("text", "entities", "reply_markup"))

    async def edit_message_caption(self, params: JSON, files: Files) -> JSON:
        """New caption of a media message."""
        chat, message = self._editable(params)
        if "text" in message:
            raise bad("there is no caption in the message to edit")
        caption = self._caption(params)
        new = {"caption": caption.get("caption"), "caption_entities": caption.get("caption_entities", [])}
        new.update(self._inline_markup(params))
        return self._apply_edit(chat, message, new, ("caption", "caption_entities", "reply_markup"))

    async def edit_message_reply_markup(self, params: JSON, files: Files) -> JSON:
        """New inline keyboard (none given: the keyboard is removed)."""
        chat, message = self._editable(params)
        return self._apply_edit(chat, message, self._inline_markup(params), ("reply_markup",))

    def _editable(self, params: JSON) -> tuple[JSON, JSON]:
        if params.get("inline_message_id"):
            raise bad("inline messages are not supported by the fake Bot API")
        chat = self.state.chat_for(params)
        message_id = params.get("message_id")
        if not isinstance(message_id, int):
            raise bad("message identifier is not specified")
        message = self.state.messages.get(chat["id"], {}).get(message_id)
        if message is None:
            raise bad("message to edit not found")
        if message["from"]["id"] != self.state.bot_id:
            raise bad("message can't be edited")
        return chat, message

    def _apply_edit(self, chat: JSON, message: JSON, new: JSON, fields: tuple[str, ...]) -> JSON:
        def empty(value: Any) -> bool:
            return value in (None, [], "")

        changed = [
            name
            for name in fields
            if not (empty(new.get(name)) and empty(message.get(name))) and new.get(name) != message.get(name)
        ]
        if not changed:
            raise bad(NOT_MODIFIED.removeprefix("Bad Request: "))
        self.state.spend(chat)
        for name in fields:
            if empty(new.get(name)):
                message.pop(name, None)
            else:
                message[name] = copy.deepcopy(new[name])
        return self.state.record_edit(message)

    async def delete_message(self, params: JSON, files: Files) -> bool:
        """Remove a message from the chat."""
        chat = self.state.chat_for(params)
        removed = self.state.messages.get(chat["id"], {}).pop(_int(params, "message_id", 0), None)
        if removed is None:
            raise bad("message to delete not found")
        self.state.deleted.append((chat["id"], removed["message_id"]))
        self.state.notify("deleted", removed)
        return True

    # ----- callbacks, files, misc -------------------------------------------------------------

    async def answer_callback_query(self, params: JSON, files: Files) -> bool:
        """Answer a callback query once; unknown or already answered ids are rejected."""
        query_id = str(params.get("callback_query_id") or "")
        if self.state.callback_queries.get(query_id, True):
            raise bad("query is too old and response timeout expired or query ID is invalid")
        if len(str(params.get("text") or "")) > 200:
            raise bad("MESSAGE_TOO_LONG")
        self.state.callback_queries[query_id] = True
        self.state.answered_callbacks.append(dict(params))
        self.state.notify("answered", dict(params))
        return True

    async def get_file(self, params: JSON, files: Files) -> JSON:
        """File object with a file_path for the download route."""
        stored = self.state.files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise bad("invalid file_id")
        if len(stored.data) > MAX_DOWNLOAD:
            raise bad("file is too big")
        return stored.as_file()

    async def send_chat_action(self, params: JSON, files: Files) -> bool:
        """Record a chat action such as 'typing'."""
        chat = self.state.chat_for(params)
        action = str(params.get("action") or "")
        if action not in CHAT_ACTIONS:
            raise bad("wrong parameter action in request")
        self.state.chat_actions.append((chat["id"], action))
        return True

    async def get_chat(self, params: JSON, files: Files) -> JSON:
        """ChatFullInfo for a known chat."""
        chat = self.state.chat_for(params)
        return {**chat, "accent_color_id": 0, "max_reaction_count": 11}

    async def set_my_commands(self, params: JSON, files: Files) -> bool:
        """Store the command list for a scope and language."""
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad("can't parse commands JSON object")
        for command in commands:
            _check_command(command)
        self._check_scope_chat(params.get("scope"))
        key = (_scope_key(params.get("scope")), str(params.get("language_code") or ""))
        if commands:
            self.state.commands[key] = [{"command": c["command"], "description": c["description"]} for c in commands]
        else:
            self.state.commands.pop(key, None)
        return True

    async def get_my_commands(self, params: JSON, files: Files) -> list[JSON]:
        """Commands for exactly this scope and language (no fallback, like the API)."""
        key = (_scope_key(params.get("scope")), str(params.get("language_code") or ""))
        return copy.deepcopy(self.state.commands.get(key, []))

    async def delete_my_commands(self, params: JSON, files: Files) -> bool:
        """Forget the commands of a scope and language."""
        self._check_scope_chat(params.get("scope"))
        key = (_scope_key(params.get("scope")), str(params.get("language_code") or ""))
        self.state.commands.pop(key, None)
        return True

    def _check_scope_chat(self, scope: Any) -> None:
        """A chat scope (one person's menu) names a chat the bot knows, or Telegram answers 'chat not found'."""
        if isinstance(scope, dict) and "chat_id" in scope:
            self.state.chat_for({"chat_id": scope["chat_id"]})


def _int(params: JSON, name: str, default: int) -> int:
    value = params.get(name, default)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad(f"invalid {name} specified") from None


def _checked_upload(upload: Upload) -> Upload:
    if not upload.data:
        raise bad("file must be non-empty")
    if len(upload.data) > MAX_UPLOAD:
        raise ApiError(413, "Request Entity Too Large")
    return upload


def _photo_size(stored: StoredFile) -> JSON:
    size = {key: value for key, value in stored.as_file().items() if key != "file_path"}
    return {**size, "width": 1280, "height": 960}


def _check_keyboard(keyboard: Any) -> None:
    if not isinstance(keyboard, list) or not all(isinstance(row, list) for row in keyboard):
        raise bad("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
    for button in (b for row in keyboard for b in row):
        if not isinstance(button, dict) or not isinstance(button.get("text"), str):
            raise bad("can't parse inline keyboard button: Text must be a String")
        if "callback_data" in button:
            data = button["callback_data"]
            if not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA:
                raise bad("BUTTON_DATA_INVALID")
        elif not any(kind in button for kind in BUTTON_KINDS):
            raise bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")


def _check_command(command: Any) -> None:
    if not isinstance(command, dict) or not COMMAND_NAME_RE.match(str(command.get("command", ""))):
        raise bad("BOT_COMMAND_INVALID")
    description = str(command.get("description", ""))
    if not 1 <= len(description.strip()) <= 256:
        raise bad("BOT_COMMAND_DESCRIPTION_INVALID")


def _scope_key(scope: Any) -> str:
    """'default', 'all_private_chats', 'chat:<id>', 'chat_member:<chat>:<user>', ..."""
    if not isinstance(scope, dict):
        return "default"
    parts = [str(scope.get("type", "default"))]
    parts += [str(scope[name]) for name in ("chat_id", "user_id") if name in scope]
    return ":".join(parts)
