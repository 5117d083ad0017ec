"""Channel-neutral request and reply types: what every channel turns its updates into, and back."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.domain.enums import Role
from storage.filestore import FileStore, Staged

# Telegram's hard limit is 4,096 characters per message; stay below it.
MAX_MESSAGE_CHARS = 4000
# Telegram's callback_data limit, which every channel's button payloads respect.
MAX_PAYLOAD_BYTES = 64


@dataclass(frozen=True)
class Assignment:
    """One active role of the person behind a request."""

    role: Role
    opd_id: int | None = None
    opd_code: str | None = None


@dataclass(frozen=True)
class Actor:
    """The resolved sender: a person (or nobody yet) and their active assignments."""

    person_id: int | None
    display_name: str | None
    assignments: tuple[Assignment, ...] = ()

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(a.role for a in self.assignments)

    @property
    def is_registered(self) -> bool:
        return bool(self.assignments)


# A coroutine that streams the attachment's bytes into a temp file of the file store; the handler judges the staged
# file and admits it into the store (or discards it).
Fetcher = Callable[[FileStore], Awaitable[Staged]]


@dataclass(frozen=True)
class Attachment:
    """A file that came with a message; its bytes are fetched only when a handler asks."""

    kind: str  # "document" or "photo"
    file_name: str | None
    mime_type: str | None
    size: int | None
    fetch: Fetcher = field(repr=False, compare=False)
    media_group_id: str | None = None


@dataclass(frozen=True)
class Request:
    """One inbound message or button press, whatever channel it came from."""

    channel: str
    chat_id: str
    sender_id: str
    received_at: datetime
    actor: Actor | None = None  # resolved by the dispatcher unless the channel fixes it (the console)
    sender_name: str | None = None
    sender_phone: str | None = None  # WhatsApp's phone number of the sender, when it gives one
    command: str | None = None
    args: tuple[str, ...] = ()
    text: str | None = None
    payload: str | None = None
    attachments: tuple[Attachment, ...] = ()
    message_id: str | None = None
    # The platform's id of the message this one replies to (Telegram reply_to_message, WhatsApp context.id).
    reply_to: str | None = None
    update_id: str | None = None
    journal_id: int | None = None  # the inbound journal row, which makes handlers idempotent per update
    is_private: bool = True
    # For the bot: always in a private chat; in a group, a command to it, a mention of it or a reply to its message.
    addressed: bool = True

    @property
    def arg_text(self) -> str:
        return " ".join(self.args)


@dataclass(frozen=True)
class Button:
    """A button: a label people read and a payload the bot reads back (ASCII, at most 64 bytes)."""

    label: str
    payload: str
    description: str | None = None

    def __post_init__(self) -> None:
        if not self.payload.isascii() or len(self.payload.encode()) > MAX_PAYLOAD_BYTES:
            raise ValueError(f"button payload must be ASCII and at most {MAX_PAYLOAD_BYTES} bytes")


ELLIPSIS = "…"
# A button that names something with a long title (an item, a campaign) is cut to this, at a word, on every
# channel: a label that long already fills a phone's width. A channel with a lower limit cuts it again.
TITLE_LABEL_CHARS = 60


def fit_label(label: str, max_chars: int | None) -> str:
    """A button label within a channel's limit (None: no limit), cut at a word boundary where one is near.

    Telegram and the console show any label whole; WhatsApp allows 20 characters on a reply button and 24 on a
    list row, so its renderer passes those. A cut label ends in an ellipsis, which counts towards the limit.
    """
    if max_chars is None or len(label) <= max_chars:
        return label
    if max_chars < 1:
        raise ValueError("a label limit is at least one character")
    room = max_chars - len(ELLIPSIS)
    cut = label[:room]
    space = cut.rfind(" ")
    # Back to the last word boundary unless the cut already falls on one or that would drop most of the room.
    if label[room] != " " and space >= room // 2:
        cut = cut[:space]
    return (cut.rstrip(" ,;:([-") or cut) + ELLIPSIS


@dataclass(frozen=True)
class OutgoingDocument:
    """A stored file to send as a document."""

    sha256: str
    file_name: str
    caption: str | None = None


@dataclass(frozen=True)
class Reply:
    """One message: text (HTML with <b>, <i>, <code> only), optional rows of buttons or a document."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    document: OutgoingDocument | None = None


def parse_command(text: str) -> tuple[str | None, tuple[str, ...]]:
    """Split `/cmd@botname arg1 arg2` into ("cmd", ("arg1", "arg2")); plain text gives (None, ())."""
    stripped = text.strip()
    if not stripped.startswith("/") or len(stripped) < 2:
        return None, ()
    head, *rest = stripped.split()
    name = head[1:].split("@", 1)[0].lower()
    if not name or not name.replace("_", "").isalnum():
        return None, ()
    return name, tuple(rest)


# What a cut may not fall inside: a whole tag, a whole `&…;` entity (everything else is one character).
_HTML_PIECE = re.compile(r"<[^<>]*>|&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")
_TAG_NAME = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)")
_TAG = re.compile(r"<[^<>]*>")


def split_text(text: str, limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """Split a long reply below the channel's limit, at line breaks where possible, each part valid HTML.

    A cut never falls inside a tag or an entity; a span (`<b>`, `<i>`, `<code>`, ...) that a cut divides is
    closed at the end of one part and opened again at the start of the next, so Telegram accepts every part.
    """
    if len(text) <= limit:
        return [text]
    pieces = _html_pieces(text)
    parts: list[str] = []
    start, reopened = 0, list[str]()
    while start < len(pieces):
        end, next_start, open_at_cut = _longest_fit(pieces, start, reopened, limit)
        part = "".join(reopened) + "".join(pieces[start:end]) + _closing_tags(open_at_cut)
        if _TAG.sub("", part).strip():  # Telegram refuses a message with no visible text
            parts.append(part)
        start, reopened = next_start, open_at_cut
    return parts


def _html_pieces(text: str) -> list[str]:
    pieces: list[str] = []
    position = 0
    for match in _HTML_PIECE.finditer(text):
        pieces.extend(text[position : match.start()])
        pieces.append(match.group())
        position = match.end()
    pieces.extend(text[position:])
    return pieces


def _longest_fit(pieces: list[str], start: int, opened: list[str], limit: int) -> tuple[int, int, list[str]]:
    """How far a part from `start` reaches (with its reopened and closing tags), preferring the last line break.

    Returns the end of this part, where the next one starts (past the line break it ends at) and the tags open
    at the cut.
    """
    stack, length, closing = opened, sum(map(len, opened)), len(_closing_tags(opened))
    line_break: tuple[int, int, list[str]] | None = None
    index = start
    while index < len(pieces):
        piece = pieces[index]
        if piece == "\n" and index > start:
            line_break = (index, index + 1, stack)
        grown = _after_tag(stack, piece)
        grown_closing = closing if grown is stack else len(_closing_tags(grown))
        if length + len(piece) + grown_closing > limit:
            break
        stack, length, closing, index = grown, length + len(piece), grown_closing, index + 1
    else:
        return index, index, stack
    if line_break is not None:
        return line_break
    if index == start:  # not one piece fits beside the reopened tags (a tiny limit): take it, so splitting ends
        return start + 1, start + 1, _after_tag(stack, pieces[start])
    return index, index, stack


def _after_tag(stack: list[str], piece: str) -> list[str]:
    """The open tags after this piece: an opening tag is pushed, a closing tag pops its own opening tag."""
    tag = _TAG_NAME.match(piece) if piece.startswith("<") else None
    if tag is None:
        return stack
    closing, name = tag.groups()
    if not closing:
        return [*stack, piece]
    for position in range(len(stack) - 1, -1, -1):
        if _TAG_NAME.match(stack[position])[2] == name:  # type: ignore[index]
            return stack[:position] + stack[position + 1 :]
    return stack


def _closing_tags(stack: list[str]) -> str:
    return "".join(f"</{_TAG_NAME.match(tag)[2]}>" for tag in reversed(stack))  # type: ignore[index]


def local_file_fetcher(path: Path) -> Fetcher:
    """A fetcher for a file on this machine (the console's `:file`)."""

    async def fetch(store: FileStore) -> Staged:
        return await asyncio.to_thread(store.stage_file, path)

    return fetch


def reply_to_json(reply: Reply) -> dict[str, object]:
    """A reply as stored in the journal, so it can be re-sent after a crash without re-running the handler."""
    data: dict[str, object] = {"text": reply.text}
    if reply.buttons:
        data["buttons"] = [[[b.label, b.payload, b.description] for b in row] for row in reply.buttons]
    if reply.document:
        doc = reply.document
        data["document"] = [doc.sha256, doc.file_name, doc.caption]
    return data


def reply_from_json(data: dict[str, Any]) -> Reply:
    buttons = tuple(
        tuple(Button(label, payload, description) for label, payload, description in row)
        for row in data.get("buttons", [])
    )
    document = OutgoingDocument(*data["document"]) if data.get("document") else None
    return Reply(str(data["text"]), buttons=buttons, document=document)


PAGE_SIZE = 7  # CONTRACT.md: at most 7 choices a page, plus previous, next and cancel


@dataclass(frozen=True)
class Page:
    """One page of a long list of choices, and the row of paging buttons that goes under it."""

    number: int  # from 0
    count: int
    start: int
    end: int
    paging: tuple[Button, ...]


def page_of(total: int, page: int, payload_for_page: Callable[[int], str], *, labels: tuple[str, str]) -> Page:
    """Which choices page `page` shows (clamped), with "previous" and "next" buttons where they lead somewhere.

    `labels` are those two buttons' labels, from the templates (`Services.paging_labels()`).
    """
    count = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 0), count - 1)
    previous, next_ = labels
    paging = []
    if page > 0:
        paging.append(Button(previous, payload_for_page(page - 1)))
    if page < count - 1:
        paging.append(Button(next_, payload_for_page(page + 1)))
    start = page * PAGE_SIZE
    return Page(page, count, start, min(start + PAGE_SIZE, total), tuple(paging))
