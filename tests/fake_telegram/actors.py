"""Handles that let a test act as a Telegram user or post in a group."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .models import flat_buttons, text_content

if TYPE_CHECKING:
    from .state import FakeState

JSON = dict[str, Any]


class FakeUser:
    """A user in a private chat with the bot (chat id == user id); every action returns the Update."""

    def __init__(self, fake: FakeState, user_id: int) -> None:
        self.fake = fake
        self.id = user_id

    @property
    def chat_id(self) -> int:
        """The private chat's id, equal to the user id."""
        return self.id

    def send_text(self, text: str) -> JSON:
        """Send a text; a leading /command gets its bot_command entity."""
        return self.fake.incoming_message(self.id, self.id, text_content(text))

    def press(self, callback_data: str, message: JSON | int | None = None, *, forge: bool = False) -> JSON:
        """Press the button with this callback_data (default: on the latest bot message showing it).

        forge=True sends the callback_data even if no such button exists (on `message`, or the
        latest bot message), to test the bot against stale or hand-made callbacks.
        """
        return self.fake.incoming_callback(self.id, self.id, callback_data, message, forge)

    def press_button(self, number: int, message: JSON | int | None = None) -> JSON:
        """Press button `number` (from 1, left-to-right, top-to-bottom) of a bot message (default: last)."""
        target = self._message(message)
        buttons = flat_buttons(target)
        if not 1 <= number <= len(buttons) or "callback_data" not in buttons[number - 1]:
            raise LookupError(f"no callback button {number} on {buttons}")
        return self.press(buttons[number - 1]["callback_data"], target)

    def buttons(self, message: JSON | int | None = None) -> list[JSON]:
        """Buttons of a bot message (default: the latest), flattened in reading order."""
        return flat_buttons(self._message(message))

    def _message(self, message: JSON | int | None) -> JSON:
        if isinstance(message, dict):
            return message
        found = self.fake.last_bot_message(self.id) if message is None else self.fake.message(self.id, message)
        if found is None:
            raise LookupError(f"no such bot message in chat {self.id}")
        return found

    def send_document(
        self,
        data: bytes,
        file_name: str,
        mime_type: str = "application/pdf",
        caption: str | None = None,
        media_group_id: str | None = None,
        *,
        new_batch: bool = False,
    ) -> JSON:
        """Send a file; its bytes become downloadable through getFile."""
        extra = {
            "file_name": file_name,
            "mime_type": mime_type,
            "caption": caption,
            "media_group_id": media_group_id,
        }
        return self.fake.incoming_file(self.id, self.id, "document", data, extra, new_batch)

    def send_photo(
        self,
        data: bytes,
        caption: str | None = None,
        media_group_id: str | None = None,
        *,
        new_batch: bool = False,
    ) -> JSON:
        """Send a photo: three PhotoSizes, the largest holding the real bytes."""
        extra = {"caption": caption, "media_group_id": media_group_id}
        return self.fake.incoming_file(self.id, self.id, "photo", data, extra, new_batch)

    def album(
        self, parts: list[tuple[bytes, str, str]], separate_batches: bool = False, caption: str | None = None
    ) -> list[JSON]:
        """Send (data, file_name, mime_type) documents as one media group; caption goes on the first part.

        separate_batches=True makes each part arrive in its own getUpdates answer.
        """
        group_id = self.fake.new_media_group_id()
        return [
            self.send_document(
                data,
                name,
                mime,
                caption if index == 0 else None,
                group_id,
                new_batch=separate_batches and index > 0,
            )
            for index, (data, name, mime) in enumerate(parts)
        ]

    def messages(self) -> list[JSON]:
        """What the bot sent to this user so far."""
        return self.fake.sent_messages(self.id)

    def last_message(self) -> JSON | None:
        """Current state of the bot's latest message to this user."""
        return self.fake.last_bot_message(self.id)


class FakeGroup:
    """A basic group chat the bot is a member of."""

    def __init__(self, fake: FakeState, chat_id: int) -> None:
        self.fake = fake
        self.id = chat_id

    @property
    def chat_id(self) -> int:
        """The group's (negative) chat id."""
        return self.id

    def send_text(self, from_user_id: int, text: str) -> JSON:
        """A member posts a text (a leading /command gets its entity)."""
        return self.fake.incoming_message(self.id, from_user_id, text_content(text))

    def press(
        self, from_user_id: int, callback_data: str, message: JSON | int | None = None, *, forge: bool = False
    ) -> JSON:
        """A member presses a button on one of the bot's messages in the group."""
        return self.fake.incoming_callback(self.id, from_user_id, callback_data, message, forge)

    def messages(self) -> list[JSON]:
        """What the bot sent to this group so far."""
        return self.fake.sent_messages(self.id)
