"""Run the fake on its own and act as users from a line-based script on stdin."""

from __future__ import annotations

import argparse
import asyncio
import mimetypes
import shlex
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .actors import FakeUser
from .limits import Limits
from .models import DEFAULT_TOKEN, flat_buttons
from .server import FakeBotAPI

USAGE = """Script lines (stdin):
  USER_ID text or /command        the user sends a message
  USER_ID :file PATH [caption]    the user sends a file as a document
  USER_ID :foto PATH [caption]    the user sends an image as a photo
  USER_ID :tekan N                the user presses button N of the bot's last message (from 1)
  :tunggu SECONDS                 wait before the next line
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
    return parser.parse_args(argv)


def say(text: str) -> None:
    """Print immediately, even when stdout is a pipe."""
    print(text, flush=True)


def describe(kind: str, message: dict[str, Any]) -> str | None:
    """How the console shows something the bot did (None: not shown)."""
    if kind not in ("sent", "edited"):
        return None
    prefix = "to" if kind == "sent" else f"edit #{message['message_id']} to"
    lines = [f"[{prefix} {message['chat']['id']}] {_body(message)}"]
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
    if not words[0].lstrip("-").isdigit():
        raise ValueError("expected 'USER_ID text', 'USER_ID :file PATH', 'USER_ID :tekan N' or ':tunggu SECONDS'")
    user_id = int(words[0])
    handle = FakeUser(fake, user_id) if user_id in fake.chats else fake.user(user_id)
    rest = line.split(maxsplit=1)[1] if len(words) > 1 else ""
    if len(words) > 1 and words[1] == ":tekan":
        handle.press_button(int(words[2]))
    elif len(words) > 1 and words[1] in (":file", ":foto"):
        _send_file(handle, words[1], words[2] if len(words) > 2 else "")
    else:
        handle.send_text(rest)


def _send_file(handle: Any, kind: str, arguments: str) -> None:
    parts = shlex.split(arguments)
    if not parts:
        raise ValueError(f"{kind} needs a PATH")
    path = Path(parts[0]).expanduser()
    caption = " ".join(parts[1:]) or None
    if kind == ":foto":
        handle.send_photo(path.read_bytes(), caption=caption)
        return
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    handle.send_document(path.read_bytes(), path.name, mime, caption=caption)


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
