"""`python -m tests.fake_telegram --demo`: a few registered people to try the bot with, and a sample PDF.

The demo waits for the bot to poll, mints one invite code per person with the bot's own `monev invite` (run with
this process's working directory and environment, so it writes to the bot's database), and registers each person
by sending `/start CODE` from their chat, as a Telegram deep link does.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from .actors import FakeUser
from .state import FakeState

SAMPLES = Path(__file__).parent / "samples"
CODE = re.compile(r"^([0-9A-Z]{4}(?:-[0-9A-Z]{4}){4})\s", re.MULTILINE)


@dataclass(frozen=True)
class DemoPerson:
    """Who the demo registers: a Telegram user id, a name, and the role (with its OPD) as `monev invite` takes it."""

    user_id: int
    first_name: str
    last_name: str
    role: str
    opd: str | None
    role_name: str


PEOPLE: tuple[DemoPerson, ...] = (
    DemoPerson(1001, "Rina", "Wulandari", "opd", "DISKOMINFO", "Penghubung OPD"),
    DemoPerson(1002, "Andi", "Pratama", "kasi", None, "Kasi PK&AI"),
    DemoPerson(1003, "Hendra", "Gunawan", "kabid", None, "Kabid TKPBET"),
    DemoPerson(1004, "Siti", "Rahmawati", "sekretariat", None, "Sekretariat Dinas"),
)

Mint = Callable[[DemoPerson], Awaitable[str]]


async def mint_with_cli(person: DemoPerson) -> str:
    """An invite code from `monev invite`, the trusted CLI (works before anyone is registered)."""
    args = ["invite", "--role", person.role, *(["--opd", person.opd] if person.opd else [])]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    found = CODE.search(out.decode())
    if process.returncode != 0 or found is None:
        raise RuntimeError(f"monev {' '.join(args)} failed ({process.returncode}): {err.decode().strip()}")
    return found.group(1)


async def register_people(
    fake: FakeState, say: Callable[[str], None], mint: Mint = mint_with_cli, *, wait: float = 3600
) -> list[DemoPerson]:
    """Wait for the bot, register every demo person and print who is who."""
    say("demo: waiting for the bot (start `monev run` with the three settings above)")
    await fake.wait_for(lambda: fake.calls_of("getUpdates"), timeout=wait)
    for person in PEOPLE:
        code = await mint(person)
        user = fake.user(person.user_id, first_name=person.first_name)
        fake.users[person.user_id]["last_name"] = fake.chats[person.user_id]["last_name"] = person.last_name
        await _registered(fake, user, code)
    say("demo: registered (user id, name, role):")
    for person in PEOPLE:
        opd = f" {person.opd}" if person.opd else ""
        say(f"demo:   {person.user_id}  {person.first_name} {person.last_name}  {person.role_name}{opd}")
    samples = ", ".join(sorted(path.name for path in SAMPLES.iterdir()))
    say(f"demo: sample files for :file and :foto: {samples} (from {SAMPLES})")
    return list(PEOPLE)


async def _registered(fake: FakeState, user: FakeUser, code: str, timeout: float = 30) -> None:
    before = len(fake.sent_messages(user.id))
    user.send_text(f"/start {code}")
    reply = (await fake.wait_for_messages(user.id, before + 1, timeout))[before]
    if "Pendaftaran berhasil" not in reply.get("text", ""):
        raise RuntimeError(f"user {user.id} was not registered: {reply.get('text')!r}")


def sample_or_path(text: str) -> Path:
    """A path as typed; a bare name that is not in the working directory may name a shipped sample."""
    path = Path(text).expanduser()
    if not path.exists() and path.name == text and (SAMPLES / text).is_file():
        return SAMPLES / text
    return path
