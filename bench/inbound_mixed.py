"""The mixed phase of `bench.inbound` (`--phases mixed`): a deadline morning on both channels.

    .venv/bin/python -m bench.inbound --phases mixed [--quick]

The world: 500 registered liaisons (Penghubung OPD) over the 32 default OPDs, every other one on WhatsApp
(registered with a WhatsApp identity: business-scoped user id and phone), the Kasi, the Kabid and the Sekretariat on
Telegram, and one open campaign asking every OPD for five items (`I.01`-`I.05`). The people were registered and
invited days before: their command menus and invitations count as sent.

Each person follows the same cycle of 20 updates, started at a different point of it (never inside an upload
flow), and never sends before the bot has answered their previous update, so every button pressed is one the bot
offered to that person:

    /status, /kirim, a document, "Selesai", the item, /status, a captioned document, /status x 4,
    /kirim, a document, "Selesai", the item, /status, a captioned document, a question, /status x 2

that is 45 % status, 20 % small uploads (10-30 KB PDFs, half filed in a /kirim session, half by the caption's
item code), 20 % button presses (Telegram callback queries, WhatsApp reply buttons and list rows) and 15 % other
text (/kirim, a free-text question, which the bot relays to the Kasi). On WhatsApp the commands are typed as words
(`status`, `kirim`).

monev is the real `python -m bot run` child with both channels: Telegram polling the fake Bot API, WhatsApp
webhooks posted by the fake Cloud API to the bot's web server. A body the bot does not answer with 200 (it did
not journal it) is posted again, as Meta does, after 1, 2, 4, 8 and 16 s. One pair of fakes serves every monev run,
so the people's chats (and the buttons in them) carry over from one run to the next. Runs, in this order:

- closed loop, limits lifted (both fakes without limits; `serve monev`, whose Telegram and WhatsApp limiters are
  both `NoLimiter`): 64 people at a time, 3,000 updates;
- open loop with the limits on (the fakes' Telegram and Cloud API limits, the bot's own limiters), in a new
  process warmed up at 10/s for 8 s first: 25/s for 40 s and 50/s for 20 s (1,000 updates each), offered to the
  people in turn;
- the maximum sustained rate: open-loop steps of 8 s at 10, 20, 30, 40, 60, 80 … updates/s. A step holds when every
  reply is in within 1 s of its end, none is lost and p99 <= 1 s; the steps stop at the first that does not hold,
  or before monev's updates pass 7,000;
- the baselines (echo, journal) get the Telegram half of the people and of the cycle (buttons as callback queries
  on their last message; they answer every update once and download nothing): a closed loop of 1,000 updates and
  25/s for 20 s (500) each.

So the run sends at most 10,000 updates (7,000 to monev, 3,000 to the baselines; the calibration's 40 aside). monev
handles about 30 of these updates a second on the 2-core machine: 10,000 to monev alone would take over 5.5 minutes
before the baselines start. `--quick`: 100 people, monev 250 closed-loop updates, a 3 s warm-up, 6 s at 25/s, 2 s
at 50/s, steps of 3 s up to 850 updates; the baselines 100 updates and 2 s at 25/s (about 1,100 updates).

Latency runs from the injection of an update to the last reply it gets (how many replies each kind of update gets
on each channel is counted first, on one person of each channel). A reply to a person with nothing outstanding is
a duplicate; an update whose replies are not all in by the end of the settle time (60 s) is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bench.inbound import Child, Figures, percentile, start_child, verdict
from bot.services import invites, items
from bot.services.audit import Acting
from bot.settings import Settings
from storage import migrate
from storage.database import Database
from storage.models import OutboxMessage, OutboxStatus, Role
from tests.e2e.broadcast_world import PDF, open_with_letter, register_one, seed_opds
from tests.e2e.harness import bot_settings, free_port, telegram_env
from tests.fake_telegram.limits import Limits
from tests.fake_telegram.models import text_content
from tests.fake_telegram.server import FakeBotAPI
from tests.fake_whatsapp import Event, FakeWhatsAppAPI, FakeWhatsAppUser, interactive_choices
from tests.fake_whatsapp import Limits as WhatsAppLimits

TELEGRAM, WHATSAPP = "telegram", "whatsapp"
CYCLE = (
    *("status", "kirim", "file", "selesai", "item", "status", "caption", "status", "status", "status"),
    *("status", "kirim", "file", "selesai", "item", "status", "caption", "question", "status", "status"),
)
IN_A_FLOW = {"file", "selesai", "item"}  # a person's cycle never starts here
ITEMS = ("I.01", "I.02", "I.03", "I.04", "I.05")
QUESTION = "Mohon info, apakah berkas kami sudah lengkap untuk tenggat besok?"
PEOPLE_BASE = 600_000  # Telegram user ids; WhatsApp people get a BSUID and a phone of the same number
STAFF = (900_001, 900_002, 900_003)  # the Kasi, the Kabid and the Sekretariat (Telegram)
LANES = 64
RATES = (10, 20, 30, 40, 60, 80, 100, 120, 150)
GRACE = 1.0  # a rate step holds when its backlog is gone this long after its end
SETTLE = 60.0
BASELINE_PRESS = "kir:0:s"
REDELIVERIES = 5  # Meta posts a webhook body again until it is answered with 200 (here after 1, 2, 4, 8, 16 s)


@dataclass(frozen=True)
class Plan:
    people: int
    closed: int  # monev's closed-loop updates
    open_seconds: tuple[float, float]  # monev at 25/s and at 50/s
    step_seconds: float
    monev_total: int  # the rate steps stop before monev's updates pass this
    baseline_closed: int  # each baseline's closed-loop updates (Telegram)
    baseline_seconds: float  # each baseline at 25/s


FULL = Plan(500, 3000, (40.0, 20.0), 8.0, 7000, 1000, 20.0)
QUICK = Plan(100, 250, (6.0, 2.0), 3.0, 850, 100, 2.0)


# ----- the world ------------------------------------------------------------------------------------------------


@dataclass
class Person:
    channel: str
    number: int
    opd: str
    position: int  # in CYCLE: the next update
    offered: dict[str, Any] | None = None  # the bot's latest message to this person with buttons
    broken: bool = False  # lost a reply: where the person's flow stands is unknown, so they stop

    @property
    def key(self) -> str:
        """The chat: the Telegram user id, or the WhatsApp business-scoped user id."""
        return str(self.number) if self.channel == TELEGRAM else f"ID.{10**21 + self.number}"

    @property
    def phone(self) -> str:
        return f"62812{self.number:07d}"

    @property
    def kind(self) -> str:
        return CYCLE[self.position % len(CYCLE)]

    def copy(self) -> Person:
        return Person(self.channel, self.number, self.opd, self.position)


def make_people(count: int, opd_codes: list[str]) -> list[Person]:
    """Half on each channel, each channel spread over every OPD, each at a different valid point of the cycle."""
    starts = [n for n, kind in enumerate(CYCLE) if kind not in IN_A_FLOW]
    return [
        Person(
            TELEGRAM if n % 2 == 0 else WHATSAPP,
            PEOPLE_BASE + 1 + n,
            opd_codes[(n // 2) % len(opd_codes)],
            starts[(n // 2) % len(starts)],
        )
        for n in range(count)
    ]


async def seed_mixed(settings: Settings, count: int) -> list[Person]:
    """The people registered by invite codes on their channel, then a campaign created, disposed, signed, opened."""
    now = datetime.now(settings.timezone)
    db = Database(settings.database_url)
    try:
        await migrate.upgrade(db)
        async with db.write() as session:
            cli, rows = await seed_opds(session, now)
            codes = [row.code for row in rows]
            people = make_people(count, codes)
            for person in people:
                await register(session, person, cli, now)
            kasi, kabid, secretary = [
                await register_one(session, role, None, chat, cli, now)
                for role, chat in zip((Role.KASI, Role.KABID, Role.SEKRETARIAT), STAFF, strict=True)
            ]
            specs = [
                items.ItemSpec(code, f"Data dukung {code}", "Dokumen", True, None, tuple(codes), (), None, None, n + 1)
                for n, code in enumerate(ITEMS)
            ]
            await open_with_letter(
                session,
                settings,
                framework=None,
                specs=specs,
                opds=codes,
                deadline=now + timedelta(days=1),
                staff=(kasi, kabid, secretary),
                now=now,
            )
            # Registered and invited days before the deadline morning: menus and invitations went out then.
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.status == OutboxStatus.PENDING.value)
                .values(status=OutboxStatus.SENT.value, sent_at=now)
            )
        return people
    finally:
        await db.dispose()


async def register(session: AsyncSession, person: Person, cli: Acting, now: datetime) -> None:
    """A liaison registered with an invite code on their own channel (WhatsApp: user id and phone)."""
    if person.channel == TELEGRAM:
        await register_one(session, Role.OPD, person.opd, person.number, cli, now)
        return
    (invite,) = await invites.issue_invites(
        session, acting=cli, role=Role.OPD, opd_code=person.opd, now=now, issuer_roles=None
    )
    result = await invites.redeem(
        session,
        code_text=invite.code,
        channel=WHATSAPP,
        external_id=person.key,
        display_name=f"opd-{person.number}",
        username=None,
        acting=Acting(None, None, WHATSAPP),
        now=now,
        phone=person.phone,
    )
    assert result.ok, result


def small_pdf(tag: str, size: int) -> bytes:
    """A distinct valid PDF of about `size` bytes: comment lines before the trailer."""
    line = f"% {tag} ".ljust(63, "x").encode() + b"\n"
    return PDF.replace(b"%%EOF", line * max(1, size // len(line)) + b"%%EOF")


# ----- matching replies -----------------------------------------------------------------------------------------


@dataclass
class Step:
    person: Person
    kind: str
    sent_at: float
    expected: int
    received: int = 0
    done: asyncio.Future[float] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


@dataclass
class Tracker:
    """Matches what the fakes accept to the updates injected: one update at most outstanding per person."""

    people: dict[str, Person]
    expected: dict[tuple[str, str], int]  # (channel, kind) -> replies; missing: 1 (the baselines)
    outstanding: dict[str, Step] = field(default_factory=dict)
    latencies: dict[str, list[float]] = field(default_factory=lambda: {TELEGRAM: [], WHATSAPP: []})
    sent: dict[str, int] = field(default_factory=lambda: {TELEGRAM: 0, WHATSAPP: 0})
    duplicates: dict[str, int] = field(default_factory=lambda: {TELEGRAM: 0, WHATSAPP: 0})
    last_done: float = 0.0  # when the latest update got its last reply
    by_kind: dict[str, list[float]] = field(default_factory=dict)  # latencies per kind of update

    def on_telegram(self, kind: str, message: dict[str, Any]) -> None:
        if kind == "sent":
            self._reply(str(message["chat"]["id"]), message, bool(message.get("reply_markup")))

    def on_whatsapp(self, kind: str, message: dict[str, Any]) -> None:
        if kind == "sent":
            self._reply(str(message["user_id"]), message, bool(interactive_choices(message)))

    def _reply(self, key: str, message: dict[str, Any], has_buttons: bool) -> None:
        person = self.people.get(key)
        if person is None:
            return  # the staff: relayed questions, delivery reports
        if has_buttons:
            person.offered = message
        step = self.outstanding.get(key)
        if step is None:
            self.duplicates[person.channel] += 1  # a reply nobody is waiting for
            return
        step.received += 1
        if step.received == step.expected:
            del self.outstanding[key]
            now = self.last_done = time.monotonic()
            self.latencies[person.channel].append(now - step.sent_at)
            self.by_kind.setdefault(step.kind, []).append(now - step.sent_at)
            step.done.set_result(now)

    def start(self, person: Person, kind: str, expected: int | None = None) -> Step:
        assert person.key not in self.outstanding, person
        expected = expected or self.expected.get((person.channel, kind), 1)
        step = Step(person, kind, time.monotonic(), expected)
        self.outstanding[person.key] = step
        self.sent[person.channel] += 1
        return step

    async def first_reply(self, step: Step) -> None:
        while not step.received:
            await asyncio.sleep(0.02)

    def lost(self) -> dict[str, int]:
        counts = {TELEGRAM: 0, WHATSAPP: 0}
        for step in self.outstanding.values():
            counts[step.person.channel] += 1
        return counts

    def reset(self) -> None:
        """Between runs: people whose replies did not come stop; the figures start again."""
        for step in self.outstanding.values():
            step.person.broken = True
        self.outstanding.clear()
        for counts in (self.sent, self.duplicates):
            counts.update({TELEGRAM: 0, WHATSAPP: 0})
        self.latencies = {TELEGRAM: [], WHATSAPP: []}
        self.last_done = 0.0
        self.by_kind = {}


# ----- the people's actions -------------------------------------------------------------------------------------


@dataclass
class Driver:
    """Sends each person's next update of the cycle as their channel's fake user would."""

    tracker: Tracker
    telegram: FakeBotAPI
    whatsapp: FakeWhatsAppAPI | None  # None: a baseline (Telegram only, buttons pressed on its last message)
    posts: set[asyncio.Task[Any]] = field(default_factory=set)
    refused: int = 0  # webhook POSTs the bot did not answer with 200 (it journals nothing then)
    uploads: int = 0
    unoffered: int = 0  # presses given up: the bot had not offered the button (the person stops)

    def send(self, person: Person, expected: int | None = None) -> Step:
        """The person's next update; `expected` replies instead of the calibrated count (calibration)."""
        kind = person.kind
        step = self.tracker.start(person, kind, expected)
        person.position += 1
        try:
            if person.channel == TELEGRAM:
                self._telegram(person, kind)
            else:
                self._whatsapp(person, kind)
        except LookupError:  # the button the cycle presses next is not in the bot's latest message with buttons
            self.tracker.outstanding.pop(person.key, None)
            self.tracker.sent[person.channel] -= 1
            self.unoffered += 1
            person.broken = True
            raise
        return step

    def _document(self, person: Person) -> tuple[bytes, str]:
        self.uploads += 1
        size = 10_000 + (self.uploads * 7919) % 20_000
        return small_pdf(f"{person.key}-{person.position}-{self.uploads}", size), f"laporan-{self.uploads}.pdf"

    def _caption(self, person: Person) -> str:
        return f"{ITEMS[(person.number + person.position) % len(ITEMS)]} Laporan"

    def _telegram(self, person: Person, kind: str) -> None:
        fake, chat = self.telegram, person.number
        if kind in ("status", "kirim"):
            fake.incoming_message(chat, chat, text_content(f"/{kind}"))
        elif kind == "question":
            fake.incoming_message(chat, chat, text_content(QUESTION))
        elif kind in ("file", "caption"):
            content, name = self._document(person)
            extra = {"file_name": name, "mime_type": "application/pdf"}
            if kind == "caption":
                extra["caption"] = self._caption(person)
            fake.incoming_file(chat, chat, "document", content, extra)
        elif self.whatsapp is None:
            fake.incoming_callback(chat, chat, BASELINE_PRESS, None, True)
        else:
            message = person.offered or {}
            data = choose(kind, [b.get("callback_data", "") for row in keyboard(message) for b in row])
            fake.incoming_callback(chat, chat, data, message, False)

    def _whatsapp(self, person: Person, kind: str) -> None:
        assert self.whatsapp is not None
        user = self.whatsapp.user(person.key, wa_id=person.phone, name=f"opd-{person.number}")
        if kind in ("status", "kirim"):
            event = user.text_event(kind)
        elif kind == "question":
            event = user.text_event(QUESTION)
        elif kind in ("file", "caption"):
            data, name = self._document(person)
            event = user.document_event(data, name, caption=self._caption(person) if kind == "caption" else None)
        else:
            event = choice_event(user, person.offered or {}, kind)
        self._post(event)

    def _post(self, event: Event) -> None:
        task = asyncio.create_task(self._deliver(event))
        self.posts.add(task)
        task.add_done_callback(self.posts.discard)

    async def _deliver(self, event: Event) -> None:
        """POST the event; a body the bot does not answer with 200 is posted again, as Meta does."""
        assert self.whatsapp is not None
        result = await self.whatsapp.post_events([event])
        for attempt in range(REDELIVERIES):
            if result.status == 200:
                return
            self.refused += 1
            await asyncio.sleep(2**attempt)
            result = await self.whatsapp.redeliver(result)
        if result.status != 200:
            self.refused += 1

    async def finish(self) -> None:
        while self.posts:
            await asyncio.gather(*list(self.posts), return_exceptions=True)


def keyboard(message: dict[str, Any]) -> list[list[dict[str, Any]]]:
    return list((message.get("reply_markup") or {}).get("inline_keyboard", []))


def choose(kind: str, payloads: Sequence[str]) -> str:
    """`selesai`: the button ending the /kirim session; `item`: the first item offered (the missing ones first)."""
    for payload in payloads:
        last = payload.rsplit(":", 1)[-1]
        if (kind == "selesai" and last == "s") or (kind == "item" and last in ITEMS):
            return payload
    raise LookupError(f"no {kind} button in {list(payloads)}")


def choice_event(user: FakeWhatsAppUser, message: dict[str, Any], kind: str) -> Event:
    """The interactive reply to `message` (its reply button or list row), built without searching the history."""
    choices = interactive_choices(message)
    wanted = choose(kind, [str(c["id"]) for c in choices])
    choice = next(c for c in choices if c["id"] == wanted)
    reply_type = "button_reply" if message["interactive"]["type"] == "button" else "list_reply"
    reply = {key: choice[key] for key in ("id", "title", "description") if key in choice}
    return user.message_event("interactive", {"type": reply_type, reply_type: reply}, str(message["id"]))


# ----- the loops ------------------------------------------------------------------------------------------------


@dataclass
class Run:
    """One run's figures, overall and per channel."""

    figures: Figures
    channels: list[str]
    backlog: int = 0  # updates outstanding GRACE seconds after the last injection
    unoffered: int = 0  # people stopped: the bot had not offered the button their cycle presses next

    @property
    def p99_ms(self) -> float:
        return 1000 * percentile(self.figures.latencies, 99)

    def show(self, per_channel: bool = True) -> None:
        print(self.figures.line())
        for line in self.channels if per_channel else ():
            print(line)


async def calibrate(driver: Driver, people: list[Person]) -> dict[tuple[str, str], int]:
    """How many messages monev sends for each kind of update on each channel: one person per channel, one cycle."""
    counts: dict[tuple[str, str], int] = {}

    async def one(person: Person) -> None:
        for _ in CYCLE:
            kind = person.kind
            step = driver.send(person, expected=1_000_000)
            await asyncio.wait_for(driver.tracker.first_reply(step), timeout=30)
            while True:  # quiet for 0.3 s: every reply is in
                seen = step.received
                await asyncio.sleep(0.3)
                if step.received == seen:
                    break
            driver.tracker.outstanding.pop(person.key)
            known = counts.setdefault((person.channel, kind), step.received)
            if known != step.received:
                raise RuntimeError(f"{person.channel} {kind}: {known} replies once, {step.received} another time")

    firsts = [next(p for p in people if p.channel == channel) for channel in (TELEGRAM, WHATSAPP)]
    await asyncio.gather(*(one(person) for person in firsts))
    await driver.finish()
    return counts


async def closed_loop(child: Child, driver: Driver, people: list[Person], count: int, phase: str) -> Run:
    """LANES people at a time, each sending their next update when the previous one is answered."""
    driver.tracker.reset()
    idle = deque(p for p in people if not p.broken)
    sent = 0
    meter = Meter(child)

    async def lane() -> None:
        nonlocal sent
        while sent < count and idle:
            person = idle.popleft()
            sent += 1
            with contextlib.suppress(LookupError, TimeoutError):
                step = driver.send(person)
                await asyncio.wait_for(asyncio.shield(step.done), timeout=30)
                idle.append(person)

    await asyncio.gather(*(lane() for _ in range(min(LANES, len(idle)))))
    return await settle(driver, phase, meter, time.monotonic(), 1.0)


async def open_loop(child: Child, driver: Driver, people: list[Person], rate: float, seconds: float, phase: str) -> Run:
    """Updates offered at `rate`, each to the next person in turn who is not waiting for a reply."""
    driver.tracker.reset()
    idle = deque(p for p in people if not p.broken)
    waiting = 0  # offered while everybody was waiting for a reply: sent as soon as somebody is free
    meter = Meter(child)
    start = meter.start

    def free(person: Person, _done: object) -> None:
        nonlocal waiting
        idle.append(person)
        if waiting:
            waiting -= 1
            offer()

    def offer() -> None:
        nonlocal waiting
        while idle:
            person = idle.popleft()
            with contextlib.suppress(LookupError):
                driver.send(person).done.add_done_callback(functools.partial(free, person))
                return
        waiting += 1

    offered = 0
    while (elapsed := time.monotonic() - start) < seconds:
        while offered < int(elapsed * rate) + 1:
            offer()
            offered += 1
        await asyncio.sleep(max(0.0, offered / rate - (time.monotonic() - start)))
    ended = time.monotonic()
    await asyncio.sleep(GRACE)
    backlog = len(driver.tracker.outstanding) + waiting
    run = await settle(driver, phase, meter, ended, SETTLE)
    run.backlog = backlog
    run.figures.lost += waiting  # never sent: everybody was still waiting for a reply
    return run


@dataclass
class Meter:
    """Taken at the start of a run: the child's CPU time, this process's (the fakes and the people), the clock."""

    child: Child
    cpu: float = 0.0
    own: float = 0.0
    start: float = 0.0

    def __post_init__(self) -> None:
        self.cpu, self.own, self.start = self.child.cpu(), time.process_time(), time.monotonic()


async def settle(driver: Driver, phase: str, meter: Meter, ended: float, timeout: float) -> Run:
    """Up to `timeout` for the replies still due, then the run's figures (what is still due then is lost)."""
    tracker, child = driver.tracker, meter.child
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            while tracker.outstanding:
                await asyncio.sleep(0.05)
    # The run lasts until its last reply (or its end, if it has none), not until the grace time is over.
    finished = time.monotonic() if tracker.outstanding else max(tracker.last_done, ended)
    await driver.finish()
    await asyncio.sleep(0.5)  # a late duplicate shows up here
    sent = sum(tracker.sent.values())
    figures = Figures(child.name, phase, sent, finished - meter.start, child.cpu() - meter.cpu)
    figures.peak_mb = child.peak_rss_mb()
    figures.latencies = [x for channel in (TELEGRAM, WHATSAPP) for x in tracker.latencies[channel]]
    lost = tracker.lost()
    figures.lost, figures.duplicates = sum(lost.values()), sum(tracker.duplicates.values())
    lines = [channel_line(channel, tracker, figures.seconds, lost[channel]) for channel in (TELEGRAM, WHATSAPP)]
    kinds = ", ".join(
        f"{kind} {1000 * percentile(values, 50):.0f}/{1000 * percentile(values, 99):.0f}"
        for kind, values in sorted(tracker.by_kind.items())
    )
    lines.append(f"    p50/p99 ms by kind of update: {kinds}")
    own = 1000 * (time.process_time() - meter.own) / sent if sent else float("nan")
    lines.append(f"    this process (the fakes and the people): CPU {own:.2f} ms/update")
    if driver.refused:
        lines.append(f"    webhook POSTs not answered with 200 (posted again, as Meta does): {driver.refused}")
        driver.refused = 0
    unoffered, driver.unoffered = driver.unoffered, 0
    if unoffered:
        lines.append(f"    PEOPLE STOPPED: the button to press next was not offered to {unoffered}")
    return Run(figures, lines, unoffered=unoffered)


def channel_line(channel: str, tracker: Tracker, seconds: float, lost: int) -> str:
    sent, latencies = tracker.sent[channel], tracker.latencies[channel]
    text = f"    {channel:8s} {sent:6d} updates = {sent / seconds if seconds else float('nan'):6.1f}/s"
    if latencies:
        p50, p95, p99 = (1000 * percentile(latencies, q) for q in (50, 95, 99))
        text += f"; latency p50 {p50:.0f} ms, p95 {p95:.0f} ms, p99 {p99:.0f} ms"
    return text + f"; lost {lost}, duplicated {tracker.duplicates[channel]}"


# ----- the phase ------------------------------------------------------------------------------------------------


@dataclass
class Stopwatch:
    """Where the phase's time goes (the whole run should stay short)."""

    last: float = field(default_factory=time.monotonic)
    parts: list[tuple[str, float]] = field(default_factory=list)

    def mark(self, name: str) -> None:
        now = time.monotonic()
        self.parts.append((name, now - self.last))
        self.last = now

    def line(self) -> str:
        total = sum(seconds for _, seconds in self.parts)
        return f"  time: {total:.0f} s: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.parts)


@dataclass
class Fakes:
    telegram: FakeBotAPI
    whatsapp: FakeWhatsAppAPI
    port: int  # the bot's web server, where the Cloud API fake posts its webhooks

    async def stop(self) -> None:
        await self.telegram.stop()
        await self.whatsapp.stop()


async def start_fakes() -> Fakes:
    telegram, whatsapp = FakeBotAPI(limits=None), FakeWhatsAppAPI(limits=None)
    await telegram.start()
    await whatsapp.start()
    port = free_port()
    whatsapp.webhook_url = f"http://127.0.0.1:{port}/whatsapp"
    telegram.restart_update_ids(90_000_000)  # apart from the other phases' ids
    return Fakes(telegram, whatsapp, port)


def meet(fakes: Fakes, people: list[Person]) -> None:
    for person in people:
        if person.channel == TELEGRAM:
            fakes.telegram.user(person.number, first_name=f"U{person.number}")
        else:
            fakes.whatsapp.user(person.key, wa_id=person.phone, name=f"opd-{person.number}")
    for chat in STAFF:
        fakes.telegram.user(chat, first_name=f"Staf{chat}")


async def start_monev(name: str, argv: list[str], env: dict[str, str], log: Path, fakes: Fakes) -> Child:
    """The child polling the Telegram fake, once its web server answers too (WhatsApp's webhooks)."""
    child = await start_child(name, argv, env, log, fakes.telegram)
    async with aiohttp.ClientSession() as session, asyncio.timeout(30):
        while True:
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"http://127.0.0.1:{fakes.port}/healthz"):
                    return child
            await asyncio.sleep(0.1)


@dataclass
class MonevRuns:
    lifted: Run
    warm: Run  # judged only in what must not be lost
    at25: Run
    at50: Run
    steps: list[tuple[float, Run, bool]]
    expected: dict[tuple[str, str], int]


async def monev_runs(
    tmp: Path, plan: Plan, people: list[Person], env: dict[str, str], fakes: Fakes, watch: Stopwatch
) -> MonevRuns:
    tracker = Tracker({p.key: p for p in people}, {})
    fakes.telegram.add_listener(tracker.on_telegram)
    fakes.whatsapp.add_listener(tracker.on_whatsapp)
    driver = Driver(tracker, fakes.telegram, fakes.whatsapp)
    argv = ["-m", "bench.inbound", "serve", "monev"]
    child = await start_monev("monev", argv, env, tmp / "monev-mixed-lifted.log", fakes)
    watch.mark("monev start")
    try:
        tracker.expected = await calibrate(driver, people)
        watch.mark("calibration")
        lifted = await closed_loop(child, driver, people, plan.closed, "mixed closed loop")
        watch.mark("closed loop")
    finally:
        await child.stop()
    fakes.telegram.set_limits(Limits())
    fakes.whatsapp.set_limits(WhatsAppLimits())
    watch.mark("monev stop")
    child = await start_monev("monev", ["-m", "bot", "run"], env, tmp / "monev-mixed-limited.log", fakes)
    watch.mark("monev start")
    try:
        # A fresh process: the baselines' open loop runs warm, after their closed loop, so this one does too.
        warm = await open_loop(child, driver, people, 10, plan.step_seconds, "mixed warm-up 10/s")
        watch.mark("warm-up")
        at25 = await open_loop(child, driver, people, 25, plan.open_seconds[0], "mixed open 25/s")
        watch.mark("25/s")
        at50 = await open_loop(child, driver, people, 50, plan.open_seconds[1], "mixed open 50/s")
        watch.mark("50/s")
        used = sum(run.figures.updates for run in (lifted, warm, at25, at50))
        steps: list[tuple[float, Run, bool]] = []
        for rate in RATES:
            if used + rate * plan.step_seconds > plan.monev_total:
                break
            run = await open_loop(child, driver, people, rate, plan.step_seconds, f"mixed step {rate}/s")
            used += run.figures.updates
            held = not run.backlog and not run.figures.lost and run.p99_ms <= 1000
            steps.append((rate, run, held))
            if not held:
                break
        watch.mark("rate steps")
    finally:
        await child.stop()
    watch.mark("monev stop")
    return MonevRuns(lifted, warm, at25, at50, steps, tracker.expected)


async def baseline_runs(
    tmp: Path, plan: Plan, people: list[Person], env: dict[str, str], watch: Stopwatch
) -> list[tuple[Run, Run]]:
    """Echo and journal on the Telegram half of the people: a closed loop, then 25/s."""
    results = []
    for target in ("echo", "journal"):
        fake = FakeBotAPI(limits=None)
        await fake.start()
        try:
            half = [p.copy() for p in people if p.channel == TELEGRAM]
            for person in half:
                fake.user(person.number, first_name=f"U{person.number}")
            tracker = Tracker({p.key: p for p in half}, {})
            fake.add_listener(tracker.on_telegram)
            driver = Driver(tracker, fake, None)
            child_env = env | {
                "MONEV_TELEGRAM_BASE_URL": fake.base_url,
                "MONEV_TELEGRAM_BASE_FILE_URL": fake.base_file_url,
                "BENCH_DB": str(tmp / f"{target}-mixed.sqlite3"),
            }
            argv = ["-m", "bench.inbound", "serve", target]
            child = await start_child(target, argv, child_env, tmp / f"{target}-mixed.log", fake)
            watch.mark(f"{target} start")
            try:
                closed = await closed_loop(child, driver, half, plan.baseline_closed, "mixed closed loop")
                fake.set_limits(Limits())
                at25 = await open_loop(child, driver, half, 25, plan.baseline_seconds, "mixed open 25/s")
                watch.mark(f"{target} runs")
            finally:
                await child.stop()
            watch.mark(f"{target} stop")
            results.append((closed, at25))
        finally:
            await fake.stop()
    return results


async def mixed_phase(tmp: Path, plan: Plan) -> None:
    """Seed the world, run monev and the two baselines, print the figures and the verdicts."""
    tmp.mkdir(parents=True, exist_ok=True)
    watch = Stopwatch()
    try:
        fakes = await start_fakes()
        try:
            settings = bot_settings(fakes.telegram, tmp)
            people = await seed_mixed(settings, plan.people)
            watch.mark("seeding")
            initial = [p.copy() for p in people]
            meet(fakes, people)
            env = telegram_env(fakes.telegram, tmp / "data", MONEV_LOG_LEVEL="INFO")
            for key in ("MONEV_LEASE_RENEW_SECONDS", "MONEV_LEASE_TIMEOUT_SECONDS"):  # production defaults
                env.pop(key)
            env |= fakes.whatsapp.monev_settings() | {"MONEV_HTTP_PORT": str(fakes.port)}
            monev = await monev_runs(tmp, plan, people, env, fakes, watch)
        finally:
            await fakes.stop()
        (echo, echo25), (journal, journal25) = await baseline_runs(tmp, plan, initial, env, watch)
    except BaseException:
        for log in sorted(tmp.glob("*.log")):
            print(f"--- the end of {log.name}:\n{log.read_text(errors='replace')[-3000:]}")
        raise
    report(plan, monev, echo, echo25, journal, journal25)
    print(watch.line())
    print_log_errors(tmp)


def print_log_errors(tmp: Path) -> None:
    """The children's ERROR records and tracebacks: a benchmark that passes over a broken handler proves nothing."""
    for log in sorted(tmp.glob("*.log")):
        lines = log.read_text(errors="replace").splitlines()
        errors = [line for line in lines if " ERROR " in line or line.startswith("Traceback")]
        print(f"  {log.name}: {len(errors)} ERROR records or tracebacks")
        for line in errors[:5]:
            print(f"    {line[:200]}")


def report(plan: Plan, monev: MonevRuns, echo: Run, echo25: Run, journal: Run, journal25: Run) -> None:
    print(f"mixed load: {plan.people} liaisons, half on Telegram, half on WhatsApp; one open campaign of 5 items")
    replies = "; ".join(
        f"{channel} " + ", ".join(f"{kind} {n}" for (c, kind), n in sorted(monev.expected.items()) if c == channel)
        for channel in (TELEGRAM, WHATSAPP)
    )
    print(f"replies per update (monev, calibrated): {replies}; the baselines answer every update once")
    print("limits lifted (fakes without limits, monev on NoLimiter for both channels), closed loop, 64 people:")
    monev.lifted.show()
    echo.show(per_channel=False)
    journal.show(per_channel=False)
    print("limits on (the fakes' Telegram and Cloud API limits, monev's own limiters), open loop:")
    monev.warm.show(per_channel=False)
    monev.at25.show()
    monev.at50.show()
    echo25.show(per_channel=False)
    journal25.show(per_channel=False)
    print(
        f"maximum sustained rate, limits on (steps of {plan.step_seconds:g} s; a step holds when nothing is "
        f"outstanding {GRACE:g} s after it, nothing is lost and p99 <= 1 s):"
    )
    best = 0.0
    for rate, run, held in monev.steps:
        run.show(per_channel=False)
        outcome = "held" if held else "did not hold"
        print(f"    {outcome}: backlog {run.backlog} after {GRACE:g} s, p99 {run.p99_ms:.0f} ms")
        best = rate if held else best
    last = monev.steps[-1][0] if monev.steps else 0
    more = f"{last:g}/s did not hold"
    if not monev.steps or monev.steps[-1][2]:
        more = f"the next step would have passed the run's {plan.monev_total:,} updates"
    print(f"  maximum sustained rate: {best:g} updates/s ({more})")
    lifted = monev.lifted.figures
    print(
        f"ratios, limits lifted: monev/journal throughput {lifted.rate / journal.figures.rate:.2f}, CPU per update "
        f"{lifted.cpu_ms / journal.figures.cpu_ms:.2f}x; monev/echo throughput {lifted.rate / echo.figures.rate:.2f}"
    )
    print(verdict(lifted.rate >= 0.5 * journal.figures.rate, "mixed: throughput >= 50% of the journaling baseline"))
    print(verdict(lifted.cpu_ms <= 2 * journal.figures.cpu_ms, "mixed: CPU per update <= 2x the journaling baseline"))
    at25, at50 = monev.at25.figures, monev.at50.figures
    p99 = monev.at25.p99_ms
    print(verdict(p99 < 100 and not at25.lost, f"mixed: p99 {p99:.0f} ms at 25/s offered; target < 100 ms"))
    print(verdict(not at50.lost and not at50.duplicates, "mixed: nothing lost or duplicated at 50/s offered"))
    runs = [monev.lifted, monev.warm, monev.at25, monev.at50, *(run for _, run, _ in monev.steps)]
    lost = sum(run.figures.lost for run in runs)
    unoffered = sum(run.unoffered for run in runs)
    total = sum(run.figures.updates for run in runs)
    print(
        verdict(
            not lost and not unoffered,
            f"mixed: nothing lost in monev's {total} updates ({lost} lost; {unoffered} buttons not offered)",
        )
    )
