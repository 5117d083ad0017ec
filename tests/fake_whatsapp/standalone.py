"""Run the fake Cloud API on its own and act as WhatsApp users from a line-based script on stdin."""

from __future__ import annotations

import argparse
import asyncio
import mimetypes
import shlex
from collections.abc import Sequence
from pathlib import Path

# The console plumbing is the Telegram fake's; only the script's verbs differ.
from tests.fake_telegram.standalone import _stdin_lines, say

from .actors import FakeWhatsAppUser, interactive_choices
from .limits import Limits
from .models import JSON, WebhookResult
from .server import FakeWhatsAppAPI

USAGE = """Script lines (stdin); NAME is any word naming a user (phone numbers start with +):
  NAME text                       the user writes a message
  NAME :file PATH [caption]       the user sends a file as a document
  NAME :foto PATH [caption]       the user sends an image
  NAME :tekan N                   the user presses reply button N of the bot's last buttons (from 1)
  NAME :pilih N                   the user picks row N of the bot's last list (from 1)
  :tunggu SECONDS                 wait before the next line
"""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.fake_whatsapp",
        description="Fake WhatsApp Cloud API for trying the bot locally.",
        epilog=USAGE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--webhook", default="http://127.0.0.1:8080/whatsapp", help="the bot's POST /whatsapp")
    parser.add_argument("--no-limits", action="store_true", help="do not enforce the Cloud API's throughput limits")
    parser.add_argument("--exit-on-eof", action="store_true", help="stop when stdin ends")
    return parser.parse_args(argv)


def describe(fake: FakeWhatsAppAPI, message: JSON) -> str:
    """How the console shows a message the bot sent."""
    kind = message.get("type", "text")
    label = "" if kind in ("text", "interactive") else f"[{kind}] "
    lines = [f"[to {message['user_id']}] {label}{fake.readable(message)}"]
    for number, choice in enumerate(interactive_choices(message), start=1):
        lines.append(f"    [{number}] {choice['title']}")
    return "\n".join(lines)


class Script:
    """Executes script lines against the fake, one user per NAME."""

    def __init__(self, fake: FakeWhatsAppAPI) -> None:
        self.fake = fake
        self.users: dict[str, FakeWhatsAppUser] = {}

    def user(self, name: str) -> FakeWhatsAppUser:
        """The user called `name` (a `+62…` name is also the user's phone number)."""
        if name not in self.users:
            phone = name.lstrip("+") if name.startswith("+") and name[1:].isdigit() else None
            self.users[name] = self.fake.user(wa_id=phone, name=name)
        return self.users[name]

    async def run_line(self, line: str) -> None:
        """Execute one script line."""
        words = line.split(maxsplit=2)
        if not words or words[0].startswith("#"):
            return
        if words[0] == ":tunggu":
            await asyncio.sleep(float(words[1]))
            return
        user = self.user(words[0])
        action = words[1] if len(words) > 1 else ""
        argument = words[2] if len(words) > 2 else ""
        if action == ":tekan":
            result = await user.press(number=int(argument))
        elif action == ":pilih":
            result = await user.choose(number=int(argument))
        elif action in (":file", ":foto"):
            result = await self._send_file(user, action, argument)
        else:
            result = await user.send_text(line.split(maxsplit=1)[1] if len(words) > 1 else "")
        if result.status != 200:
            say(f"[webhook answered {result.status}] {result.text}")

    async def _send_file(self, user: FakeWhatsAppUser, kind: str, arguments: str) -> WebhookResult:
        parts = shlex.split(arguments)
        if not parts:
            raise ValueError(f"{kind} needs a PATH")
        path = Path(parts[0]).expanduser()
        caption = " ".join(parts[1:]) or None
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if kind == ":foto":
            return await user.send_image(path.read_bytes(), mime, caption)
        return await user.send_document(path.read_bytes(), path.name, mime, caption)


async def serve(args: argparse.Namespace) -> None:
    """Start the fake, print how to point the bot at it, then follow the script."""
    fake = FakeWhatsAppAPI(limits=None if args.no_limits else Limits())
    fake.webhook_url = args.webhook
    await fake.start(args.host, args.port)
    try:
        for name, value in fake.monev_settings().items():
            say(f"{name}={value}")
        fake.add_listener(lambda _kind, message: say(describe(fake, message)))
        script = Script(fake)
        lines = _stdin_lines(asyncio.get_running_loop())
        while (line := await lines.get()) is not None:
            try:
                await script.run_line(line)
            except (ValueError, LookupError, OSError) as exc:
                say(f"[error] {line!r}: {exc}")
        if not args.exit_on_eof:
            await asyncio.Event().wait()  # serve until Ctrl-C
    finally:
        await fake.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for `python -m tests.fake_whatsapp`."""
    args = parse_args(argv)
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        pass
    return 0
