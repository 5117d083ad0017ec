"""The crash suite: `monev run` as a real process, SIGKILLed at a seeded random point of uploads (single documents
and albums), a broadcast to 52 liaisons, a reminder tick and reviews, then restarted on the same database and data
directory. After each restart: every row's file is in the store and every stored file has its row, every injected
update was answered, every outbox message was delivered, a message reached a chat twice only within the documented
window (the one in flight per chat at the kill) and a reminder point went out once.

The kill points are chosen by observing the fake Bot API (its downloads and the messages it received) and a delay
drawn from `random.Random(seed)`: nothing in the production code knows it is being tested.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from storage.database import Database
from storage.models import AuditEntry, Opd, OutboxMessage, Reminder, SubmissionFile, SubmissionReview, SubmissionVersion
from tests.e2e.broadcast_world import World, open_broadcast, tagged_pdf
from tests.e2e.crash_checks import (
    outbox_not_delivered,
    outside_the_window,
    sent_twice,
    settled,
    store_report,
    unanswered,
    unfinished,
)
from tests.e2e.harness import BotProcess, bot_settings, outbox_idle, sqlite_url, telegram_env
from tests.e2e.test_reminders import DEADLINE, OPENED, REMINDER, ClockedProcess, at
from tests.e2e.test_review import text_containing
from tests.fake_telegram.actors import FakeUser
from tests.fake_telegram.server import FakeBotAPI

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]

OPDS = ("DINKES", "BPBD", "DISHUB", "DLH")
KASI = 900_001


def big_pdf(tag: str, size: int) -> bytes:
    """A valid PDF of about `size` bytes, distinct per tag (its download takes a while when throttled)."""
    return tagged_pdf(tag.encode() + b" " + b"x" * size)


class Crash:
    """One scenario's run: the world, the two processes, what the test injected, what the checks found."""

    def __init__(self, fake: FakeBotAPI, tmp_path: Path, seed: int) -> None:
        self.fake = fake
        self.tmp_path = tmp_path
        self.data_dir = tmp_path / "data"
        self.settings = bot_settings(fake, tmp_path)
        self.env = telegram_env(fake, self.data_dir)
        self.rng = random.Random(seed)
        self.injected: list[dict[str, Any]] = []
        self.processes: list[BotProcess] = []
        self.db = Database(sqlite_url(self.data_dir))

    async def world(self, per_opd: dict[str, int], **options: Any) -> World:
        world = await open_broadcast(
            self.settings, per_opd, now=options.pop("now", datetime.now().astimezone()), **options
        )
        for chat in (*world.liaisons, *world.leader_chats, world.uploader_chat):
            self.fake.user(chat, first_name=f"Orang{chat}")
        return world

    def user(self, chat: int) -> FakeUser:
        return self.fake.user(chat)

    def inject(self, update: dict[str, Any] | list[dict[str, Any]]) -> None:
        self.injected.extend(update if isinstance(update, list) else [update])

    async def start(self, process: BotProcess | None = None) -> BotProcess:
        running = process or BotProcess(self.env, self.tmp_path)
        await running.start()
        self.processes.append(running)
        return running

    async def kill_after(
        self, process: BotProcess, trigger: Callable[[], Awaitable[object]], most: float
    ) -> dict[str, int]:
        """SIGKILL once `trigger` has happened and a seeded random delay (up to `most` seconds) has passed.

        Returns what was left unfinished at the kill (journal rows, outbox messages, albums), for the scenario to
        check that the kill did land mid-work.
        """
        await trigger()
        await asyncio.sleep(self.rng.uniform(0, most))
        await process.kill()
        left = await unfinished(self.db)
        print(f"\nkilled with unfinished work: {left}")
        return left

    async def restart_until_settled(self, process: BotProcess | None = None) -> None:
        second = await self.start(process)
        try:
            await settled(self.db, self.fake)
        finally:
            assert await second.terminate() == 0, second.stderr.decode()[-3000:]

    async def check(self, kills: int = 1) -> dict[int, Counter[str]]:
        """The suite's invariants; returns the duplicates seen (all within the window) for the figures."""
        report = await store_report(self.db, self.data_dir / "files")
        assert report.missing == [], "rows whose file is missing"
        assert report.orphans == [], "stored files no row names"
        assert not list((self.data_dir / "files" / "tmp").glob("*")), "temp files left behind"
        assert await unanswered(self.db, self.injected) == []
        assert await outbox_not_delivered(self.db) == {}
        duplicates = sent_twice(self.fake)
        assert outside_the_window(duplicates, kills) == {}, duplicates
        logs = b"".join(p.stderr for p in self.processes).decode()
        assert "Traceback" not in logs, logs[-3000:]
        print(f"\ncrash-suite duplicates: {sum(sum(n - 1 for n in c.values()) for c in duplicates.values())}")
        return duplicates

    async def close(self) -> None:
        for process in self.processes:
            await process.kill()
        await self.db.dispose()


@pytest.fixture
async def crash(request: pytest.FixtureRequest, fake_telegram: FakeBotAPI, tmp_path: Path) -> Any:
    run = Crash(fake_telegram, tmp_path, request.param)
    try:
        yield run
    finally:
        await run.close()


async def versions_by_opd(db: Database) -> dict[int, list[int]]:
    """Per OPD id, the file count of each version in number order."""
    async with db.read() as session:
        rows = (
            await session.execute(
                select(SubmissionVersion.opd_id, SubmissionVersion.number, func.count(SubmissionFile.position))
                .join(SubmissionFile, SubmissionFile.version_id == SubmissionVersion.id)
                .group_by(SubmissionVersion.id)
                .order_by(SubmissionVersion.opd_id, SubmissionVersion.number)
            )
        ).all()
    found: dict[int, list[int]] = {}
    for opd_id, _, files in rows:
        found.setdefault(opd_id, []).append(files)
    return found


@pytest.mark.parametrize("crash", [11, 12, 13], indirect=True)
async def test_sigkill_during_uploads_files_each_upload_once(crash: Crash) -> None:
    world = await crash.world({opd: 1 for opd in OPDS[:3]})
    chat_of = {opd: chat for chat, opd in world.liaisons.items()}
    single, album, twice = (crash.user(chat_of[opd]) for opd in ("DINKES", "BPBD", "DISHUB"))
    first = await crash.start()
    for chat in world.liaisons:
        await crash.fake.wait_for_messages(chat, 2, timeout=30)  # the letter and the data request
    crash.fake.throttle_downloads(1_500_000)  # each ~300 KB part takes ~0.2 s: the kill lands among them
    crash.inject(single.send_document(big_pdf("single", 300_000), "sk.pdf", caption="I.01"))
    parts = [(big_pdf(f"album-{n}", 300_000), f"lampiran-{n}.pdf", "application/pdf") for n in range(3)]
    crash.inject(album.album(parts, caption="I.01"))
    crash.inject(twice.send_document(big_pdf("first", 300_000), "perwal.pdf", caption="I.01"))
    crash.inject(twice.send_document(big_pdf("second", 300_000), "perwal-ttd.pdf", caption="I.01"))
    left = await crash.kill_after(first, lambda: crash.fake.wait_for(lambda: crash.fake.calls_of("getFile")), most=2.0)
    assert left.get("journal") or left.get("batches")
    crash.fake.throttle_downloads(None)

    await crash.restart_until_settled()
    await crash.check()
    opd_of = await opd_ids(crash.db)
    versions = await versions_by_opd(crash.db)
    assert versions == {opd_of["DINKES"]: [1], opd_of["BPBD"]: [3], opd_of["DISHUB"]: [1, 1]}
    for user, count in ((single, 1), (album, 1), (twice, 2)):
        receipts = [t for t in crash.fake.texts(user.id) if "Versi:" in t]
        assert len(set(receipts)) == count


async def opd_ids(db: Database) -> dict[str, int]:
    async with db.read() as session:
        return {code: opd_id for code, opd_id in (await session.execute(select(Opd.code, Opd.id))).all()}


@pytest.mark.parametrize("crash", [21, 22], indirect=True)
async def test_sigkill_during_a_broadcast_to_52_liaisons_delivers_every_message(crash: Crash) -> None:
    world = await crash.world({opd: 13 for opd in OPDS})
    first = await crash.start()
    expected = 2 * len(world.liaisons)  # per liaison the signed letter and the OPD's data request
    at_kill = crash.rng.randint(1, expected - 10)

    def received() -> bool:
        return len(crash.fake.sent_messages()) >= at_kill

    assert (await crash.kill_after(first, lambda: crash.fake.wait_for(received, timeout=30), most=0.05))["outbox"]
    before_restart = len(crash.fake.sent_messages())

    await crash.restart_until_settled()
    duplicates = await crash.check()
    for chat in world.liaisons:
        bodies = {m.get("caption") or m.get("text") or "" for m in crash.fake.sent_messages(chat)}
        assert len(bodies) == 2, bodies
    for reader in (*world.leader_chats, world.uploader_chat):  # the delivery report, once the broadcast is out
        assert await text_containing(crash.fake, reader, "Laporan pengiriman", timeout=5)
    twice = sum(sum(n - 1 for n in counts.values()) for counts in duplicates.values())
    print(
        f"broadcast: killed after {before_restart} of {expected} sends; {twice} sent twice, in {len(duplicates)} chats"
    )


@pytest.mark.parametrize("crash", [31, 32], indirect=True)
async def test_sigkill_during_a_reminder_tick_sends_each_point_once(crash: Crash) -> None:
    opds = ("DINKES", "BPBD", "DISHUB", "DLH", "DINSOS", "DISNAKER", "BAPENDA", "BKAD", "DPPP", "DISKOMINFO")
    world = await crash.world({opd: 1 for opd in opds}, now=OPENED, deadline=DEADLINE)
    async with crash.db.write() as session:  # the invitations went out on the day the campaign opened
        await session.execute(update(OutboxMessage).values(status="sent", sent_at=OPENED))
    first = await crash.start(ClockedProcess(crash.env, crash.tmp_path, at(date(2025, 9, 4), 9)))
    at_kill = crash.rng.randint(1, len(opds) - 1)

    def reminded() -> bool:
        return sum(REMINDER in t for t in crash.fake.texts()) >= at_kill

    assert (await crash.kill_after(first, lambda: crash.fake.wait_for(reminded, timeout=30), most=0.05))["outbox"]

    await crash.restart_until_settled(ClockedProcess(crash.env, crash.tmp_path, at(date(2025, 9, 4), 9, 30)))
    await crash.check()
    for chat in world.liaisons:
        assert len({t for t in crash.fake.texts(chat) if REMINDER in t}) == 1
    async with crash.db.read() as session:
        points = Counter((await session.scalars(select(Reminder.point).where(Reminder.state == "sent"))).all())
    assert points == Counter({"2025-09-04": len(opds)})


@pytest.mark.parametrize("crash", [41, 42], indirect=True)
async def test_sigkill_during_reviews_records_each_decision_once(crash: Crash) -> None:
    world = await crash.world({opd: 1 for opd in OPDS[:3]})
    liaisons = [crash.user(chat) for chat in world.liaisons]
    kasi = crash.user(KASI)
    first = await crash.start()
    for user in liaisons:
        await crash.fake.wait_for_messages(user.id, 2, timeout=30)
    for user in liaisons:
        before = len(crash.fake.sent_messages(user.id))
        crash.inject(user.send_document(tagged_pdf(f"v-{user.id}".encode()), f"sk-{user.id}.pdf", caption="I.01"))
        await crash.fake.wait_for_messages(user.id, before + 1, timeout=30)
    await text_containing(crash.fake, KASI, "Laporan pengiriman", timeout=30)  # before counting the Kasi's messages
    await outbox_idle(crash.db, timeout=30)

    killed_at = crash.rng.randrange(len(liaisons))
    returned = crash.rng.random() < 0.5  # the killed decision: "Minta revisi" with a reason and a note, or "Terima"
    for index in range(killed_at + 1):
        before = len(crash.fake.sent_messages(KASI))
        crash.inject(kasi.send_text("/tinjau"))
        await crash.fake.wait_for_messages(KASI, before + 2, timeout=30)  # the file, then the card with the buttons
        if index == killed_at and returned:
            crash.inject(kasi.press_button(2))
            await crash.fake.wait_for_messages(KASI, before + 3, timeout=30)
            crash.inject(kasi.press_button(2))  # "Tidak lengkap"
            await crash.fake.wait_for_messages(KASI, before + 4, timeout=30)
            crash.inject(kasi.send_text("Mohon lampirkan SK yang ditandatangani"))
        else:
            crash.inject(kasi.press_button(1))
        if index < killed_at:
            await crash.fake.wait_for(lambda n=before: len(crash.fake.sent_messages(KASI)) >= n + 3, timeout=30)
    print(f"\nreviews: killed during decision {killed_at + 1} ({'revisi' if returned else 'terima'})")
    await crash.kill_after(first, lambda: asyncio.sleep(0), most=0.6)

    await crash.restart_until_settled()
    await crash.check()
    async with crash.db.read() as session:
        decisions = Counter((await session.execute(select(SubmissionReview.version_id))).scalars().all())
        audited = Counter(
            (
                await session.execute(
                    select(AuditEntry.object_id).where(
                        AuditEntry.action.in_(["review_accepted", "review_revision_requested"])
                    )
                )
            )
            .scalars()
            .all()
        )
    assert len(decisions) == killed_at + 1 and set(decisions.values()) == {1}
    assert audited == Counter({str(v): 1 for v in decisions})
    told = [
        t
        for user in liaisons
        for t in crash.fake.texts(user.id)
        if "Data dukung diterima oleh" in t or "Data dukung perlu revisi" in t
    ]
    assert len(set(told)) == killed_at + 1
