"""Run the fake on its own and act as users from a line-based script on stdin."""

from __future__ import annotations

import argparse
import asyncio
import mimetypes
import shlex
import sys
import threading
from collections.abc import Sequence
from typing import Any

from .actors import FakeGroup, FakeUser
from .demo import register_people, sample_or_path
from .limits import Limits
from .models import DEFAULT_TOKEN, flat_buttons
from .server import FakeBotAPI

USAGE = """Script lines (stdin):
  USER_ID text or /command                 the user sends a message
  USER_ID :file PATH [caption]             the user sends a file as a document
  USER_ID :foto PATH [caption]             the user sends a JPEG as a photo; any other image goes as a document
                                           under its own name (Telegram turns every photo into a JPEG, and the
                                           bot judges a file by its content, so a PNG "photo" would be misnamed)
  USER_ID :album PATH PATH... [-- caption] the user sends files as one album (a media group)
  USER_ID :tekan N [@M]                    press button N (from 1) of the bot's last message, or of message M
  USER_ID :tekan LABEL                     press the button whose label starts with LABEL (latest message first)
  GROUP_ID USER_ID text or /command        a member posts in a group (GROUP_ID is negative, e.g. -100)
  :tunggu SECONDS                          wait before the next line
The bot's messages print as [to CHAT @M] text, M being the message's number, with the buttons numbered below.
With --demo, a bare file name that is not in the working directory names a shipped sample (laporan.pdf).
"""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.fake_telegram",
        description="Fake Telegram Bot API for trying the bot locally.",
        epilog=USAGE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--no-limits", action="store_true", help="do not enforce Telegram's flood limits")
    parser.add_argument("--exit-on-eof", action="store_true", help="stop when stdin ends")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="once the bot polls, register a few people (with `monev invite`, in this directory) and print who is who",
    )
    return parser.parse_args(argv)


def say(text: str) -> None:
    """Print immediately, even when stdout is a pipe."""
    print(text, flush=True)


def describe(kind: str, message: dict[str, Any]) -> str | None:
    """How the console shows something the bot did (None: not shown)."""
    if kind not in ("sent", "edited"):
        return None
    prefix = "to" if kind == "sent" else "edit to"
    lines = [f"[{prefix} {message['chat']['id']} @{message['message_id']}] {_body(message)}"]
    for number, button in enumerate(flat_buttons(message), start=1):
        target = "" if "callback_data" in button else f" ({button.get('url', 'not a callback button')})"
        lines.append(f"    [{number}] {button['text']}{target}")
    return "\n".join(lines)


def _body(message: dict[str, Any]) -> str:
    if "text" in message:
        return str(message["text"])
    caption = message.get("caption", "")
    if "document" in message:
        doc = message["document"]
        return f"[document {doc.get('file_name', '?')}, {doc.get('file_size', 0)} bytes] {caption}".rstrip()
    if "photo" in message:
        return f"[photo] {caption}".rstrip()
    return "[message]"


async def run_line(fake: FakeBotAPI, line: str) -> None:
    """Execute one script line."""
    words = line.split(maxsplit=2)
    if not words or words[0].startswith("#"):
        return
    if words[0] == ":tunggu":
        await asyncio.sleep(float(words[1]))
        return
    if not _is_number(words[0]):
        raise ValueError("expected 'USER_ID text', 'USER_ID :file PATH', 'USER_ID :tekan N' or ':tunggu SECONDS'")
    if int(words[0]) < 0:
        _group_line(fake, int(words[0]), line.split(maxsplit=1)[1] if len(words) > 1 else "")
        return
    user_id = int(words[0])
    handle = FakeUser(fake, user_id) if user_id in fake.chats else fake.user(user_id)
    rest = line.split(maxsplit=1)[1] if len(words) > 1 else ""
    if len(words) > 1 and words[1] == ":tekan":
        _press(handle, words[2] if len(words) > 2 else "")
    elif len(words) > 1 and words[1] in (":file", ":foto", ":album"):
        _send_files(handle, words[1], words[2] if len(words) > 2 else "")
    else:
        handle.send_text(rest)


def _is_number(word: str) -> bool:
    return word.removeprefix("-").isdigit()


def _group_line(fake: FakeBotAPI, group_id: int, rest: str) -> None:
    member, _, text = rest.partition(" ")
    if not _is_number(member) or int(member) <= 0 or not text.strip():
        raise ValueError("a group line is 'GROUP_ID USER_ID text', e.g. '-100 1001 /status'")
    group = FakeGroup(fake, group_id) if group_id in fake.chats else fake.group(group_id)
    group.send_text(int(member), text)


def _press(handle: FakeUser, arguments: str) -> None:
    """`N`, `N @M` (button N of message M) or a label's first words."""
    words = arguments.split()
    if not words:
        raise ValueError(":tekan needs a button number or label")
    if words[0].isdigit() and (len(words) == 1 or (len(words) == 2 and words[1].startswith("@"))):
        message = int(words[1][1:]) if len(words) == 2 else None
        handle.press_button(int(words[0]), message)
        return
    label = arguments.strip().casefold()
    for message in reversed(handle.fake.bot_messages(handle.id)):
        for button in flat_buttons(message):
            if "callback_data" in button and str(button["text"]).casefold().startswith(label):
                handle.press(button["callback_data"], message)
                return
    raise LookupError(f"no button labelled {arguments.strip()!r} in chat {handle.id}")


def _send_files(handle: FakeUser, kind: str, arguments: str) -> None:
    parts = shlex.split(arguments)
    if kind == ":album":
        cut = parts.index("--") if "--" in parts else len(parts)
        paths, caption_words = parts[:cut], parts[cut + 1 :]
        if len(paths) < 2:
            raise ValueError(":album needs at least two PATHs")
        files = [_read(path) for path in paths]
        handle.album([(data, name, mime) for data, name, mime in files], caption=" ".join(caption_words) or None)
        return
    if not parts:
        raise ValueError(f"{kind} needs a PATH")
    data, name, mime = _read(parts[0])
    caption = " ".join(parts[1:]) or None
    if kind == ":foto" and mime == "image/jpeg":
        handle.send_photo(data, caption=caption)
        return
    if kind == ":foto":
        say(f"[info] {name} is not a JPEG: sent as a document named {name}, as Telegram would not keep it a photo")
    handle.send_document(data, name, mime, caption=caption)


def _read(text: str) -> tuple[bytes, str, str]:
    """Bytes, file name and MIME type of a file named in a script line."""
    path = sample_or_path(text)
    return path.read_bytes(), path.name, mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def _stdin_lines(loop: asyncio.AbstractEventLoop) -> asyncio.Queue[str | None]:
    """Feed stdin lines into a queue from a daemon thread (works for ttys, pipes and files)."""
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def pump() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(queue.put_nowait, line.rstrip("\n"))
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=pump, name="stdin-script", daemon=True).start()
    return queue


async def serve(args: argparse.Namespace) -> None:
    """Start the fake, print how to point the bot at it, then follow the script."""
    fake = FakeBotAPI(args.token, limits=None if args.no_limits else Limits())
    await fake.start(args.host, args.port)
    try:
        say(f"MONEV_TELEGRAM_TOKEN={fake.token}")
        say(f"MONEV_TELEGRAM_BASE_URL={fake.base_url}")
        say(f"MONEV_TELEGRAM_BASE_FILE_URL={fake.base_file_url}")
        fake.add_listener(lambda kind, message: _show(describe(kind, message)))
        if args.demo:
            await register_people(fake, say)
        await _follow_script(fake, _stdin_lines(asyncio.get_running_loop()))
        if not args.exit_on_eof:
            await asyncio.Event().wait()  # serve until Ctrl-C
    finally:
        await fake.stop()


def _show(text: str | None) -> None:
    if text is not None:
        say(text)


async def _follow_script(fake: FakeBotAPI, lines: asyncio.Queue[str | None]) -> None:
    while (line := await lines.get()) is not None:
        try:
            await run_line(fake, line)
        except (ValueError, LookupError, OSError) as exc:
            say(f"[error] {line!r}: {exc}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for `python -m tests.fake_telegram`."""
    args = parse_args(argv)
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        pass
    return 0
