"""Benchmark: a 20 MB upload through the real download path and filing; `/status` on a 500-OPD database.

    .venv/bin/python -m bench.intake [--runs 5] [--size-mb 20] [--status-runs 200]

1. Upload. A liaison sends a PDF-shaped random file of 20 MiB to the fake Bot API, which runs in a child process
   so its copy of the bytes never counts against the bot. The bot reads the update with `getUpdates` and turns
   it into a request with the real converter. It is then handled by the real `Dispatcher` and `receive_file`:
   `TelegramDownloader` (a real PTB `Bot` pointed at the fake; httpx streaming into `FileStore.stage_stream`),
   `sniff`, `progress`, then `open_batch` + `add_file` + `file_batch` in one write transaction, and the receipt.
   Targets: extra peak memory < 30 MB; time <= 1.5 x (`sha256sum FILE` + `cp FILE DEST` on the same bytes).
2. `/status`. A SQLite database with 500 OPDs that all take part in one open campaign of 50 items, each OPD with
   5 versions of every item (with their files, stored-file, batch and batch-file rows). The handler path
   (`scope_for` + `progress` + rendering `unggah/status`) is timed in one write unit, as in `status()`, and then
   through `Dispatcher.run` (actor resolution, the unit of work, `touch`). Target: median < 20 ms.

Not a test: it prints figures (and TARGET MET / TARGET MISSED) and never fails.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import logging
import os
import platform
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import telegram
from sqlalchemy import insert, text
from telegram import Bot, Update

from bot.app import MonevApp, build_app
from bot.channels.telegram.convert import to_request
from bot.channels.telegram.download import TelegramDownloader
from bot.conversation.core import Fetcher, Request, split_text
from bot.services import items, registry, submissions
from bot.services.audit import Acting
from storage.database import Database
from storage.filestore import FileStore, Staged
from storage.models import (
    BatchFile,
    BatchStatus,
    Campaign,
    CampaignItem,
    CampaignOpd,
    CampaignState,
    ChannelIdentity,
    ItemAssignment,
    Opd,
    Person,
    ReviewState,
    Role,
    RoleAssignment,
    StoredFile,
    SubmissionFile,
    SubmissionVersion,
    UploadBatch,
)
from tests.conftest import make_settings
from tests.e2e.broadcast_world import open_broadcast

ROOT = Path(__file__).resolve().parents[1]
PEMDI, SPBE = "permenpanrb-8-2026-pemdi", "permenpanrb-59-2020"
MIB = 1024 * 1024
MEMORY_TARGET_MB = 30.0
TIME_TARGET_RATIO = 1.5
STATUS_TARGET_MS = 20.0
UPLOAD_ITEM = "I.13"  # one of DINKES's items in the PermenPANRB 8/2026 set


def now() -> datetime:
    return datetime.now().astimezone()


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def verdict(met: bool) -> str:
    return "TARGET MET" if met else "TARGET MISSED"


# ----- memory ---------------------------------------------------------------------------------------------------


def _status_kb(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise LookupError(field)


def reset_peak_rss() -> bool:
    """Linux: writing 5 to clear_refs resets the peak RSS (VmHWM, and so ru_maxrss) to the current RSS."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")
        return True
    except OSError:
        return False


def max_rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


@dataclass
class RssWindow:
    """The process's peak RSS above what it held when the window opened (getrusage and /proc VmHWM)."""

    start_rss: int = 0
    start_maxrss: int = 0
    resettable: bool = False

    def open(self) -> None:
        gc.collect()
        self.resettable = reset_peak_rss()
        self.start_rss = _status_kb("VmRSS")
        self.start_maxrss = max_rss_kb()

    def extra_mb(self) -> tuple[float, float]:
        """(ru_maxrss delta, VmHWM - RSS at open), in MB (10^6 bytes)."""
        return ((max_rss_kb() - self.start_maxrss) * 1024 / 1e6, (_status_kb("VmHWM") - self.start_rss) * 1024 / 1e6)


# ----- the upload -----------------------------------------------------------------------------------------------


def write_random_pdf(path: Path, size: int) -> None:
    """A file `sniff` accepts as a PDF (header and trailer) with random bytes between, written 1 MiB at a time."""
    head, tail = b"%PDF-1.7\n", b"\n%%EOF\n"
    left = size - len(head) - len(tail)
    with path.open("wb") as out:
        out.write(head)
        while left > 0:
            chunk = os.urandom(min(MIB, left))
            out.write(chunk)
            left -= len(chunk)
        out.write(tail)


def baseline(source: Path, target: Path) -> tuple[float, float]:
    """`sha256sum FILE` then `cp FILE DEST`, timed together; plus the fsync of the copy (reported apart)."""
    started = time.perf_counter()
    subprocess.run(["sha256sum", str(source)], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cp", str(source), str(target)], check=True)
    elapsed = time.perf_counter() - started
    fd = os.open(target, os.O_RDONLY)
    try:
        started = time.perf_counter()
        os.fsync(fd)
        synced = time.perf_counter() - started
    finally:
        os.close(fd)
    target.unlink()
    return elapsed, synced


class FakeProcess:
    """`python -m tests.fake_telegram` in a child process: users act through its stdin script."""

    def __init__(self, process: asyncio.subprocess.Process, settings: dict[str, str]) -> None:
        self.process = process
        self.settings = settings
        self.output: list[str] = []

    async def send_file(self, user_id: int, path: Path, caption: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{user_id} :file {path} {caption}\n".encode())
        await self.process.stdin.drain()

    async def follow(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            self.output.append(line.decode(errors="replace").rstrip())


@asynccontextmanager
async def fake_process() -> AsyncIterator[FakeProcess]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fake_telegram",
        "--port",
        "0",
        "--no-limits",
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        settings: dict[str, str] = {}
        async with asyncio.timeout(30):
            while len(settings) < 3:
                name, _, value = (await process.stdout.readline()).decode().strip().partition("=")
                if not name:
                    raise RuntimeError("the fake Bot API did not start")
                settings[name] = value
        fake = FakeProcess(process, settings)
        reader = asyncio.create_task(fake.follow())
        try:
            yield fake
        finally:
            reader.cancel()
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                async with asyncio.timeout(10):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()


@dataclass
class UploadRun:
    seconds: float
    download_seconds: float
    baseline_seconds: float
    copy_fsync_seconds: float
    rss_extra_mb: float  # getrusage ru_maxrss delta
    hwm_extra_mb: float  # /proc VmHWM over the RSS at start
    traced_peak_mb: float  # tracemalloc, from a second upload of different bytes
    version: int


class Uploader:
    """One liaison sending files through the fake and the bot handling each one as `monev run` would."""

    def __init__(self, app: MonevApp, fake: FakeProcess, bot: Bot, downloader: TelegramDownloader, user: int) -> None:
        self.app = app
        self.fake = fake
        self.bot = bot
        self.downloader = downloader
        self.user = user
        self.offset = 0
        self.download_seconds = 0.0

    def fetcher_for(self, file_id: str) -> Fetcher:
        fetch = self.downloader.fetcher(file_id)

        async def timed(store: FileStore) -> Staged:
            started = time.perf_counter()
            try:
                return await fetch(store)
            finally:
                self.download_seconds = time.perf_counter() - started

        return timed

    async def arrive(self, path: Path) -> Request:
        """The liaison sends the file; the bot receives the update (getUpdates) and converts it."""
        await self.fake.send_file(self.user, path, f"{UPLOAD_ITEM} laporan")
        async with asyncio.timeout(60):
            while True:
                updates: tuple[Update, ...] = await self.bot.get_updates(offset=self.offset, timeout=5)
                for update in updates:
                    self.offset = update.update_id + 1
                    request = to_request(update, received_at=now(), journal_id=None, fetcher_for=self.fetcher_for)
                    if request is not None and request.attachments:
                        return request

    async def handle(self, request: Request) -> tuple[float, int]:
        started = time.perf_counter()
        replies = await self.app.dispatcher.run(request, self.app.now())
        elapsed = time.perf_counter() - started
        text_ = replies[0].text if replies else ""
        if "Tanda terima" not in text_ or "Versi: <b>" not in text_:
            raise RuntimeError(f"the upload was not filed: {text_!r} / fake: {self.fake.output[-5:]}")
        return elapsed, int(text_.split("Versi: <b>", 1)[1].split("<", 1)[0])


async def upload_bench(runs: int, size: int) -> list[UploadRun]:
    with tempfile.TemporaryDirectory(prefix="monev-bench-intake-") as tmp_name:
        tmp = Path(tmp_name)
        sources = tmp / "src"
        sources.mkdir()
        async with fake_process() as fake:
            settings = make_settings(
                tmp / "data",
                MONEV_TELEGRAM_TOKEN=fake.settings["MONEV_TELEGRAM_TOKEN"],
                MONEV_TELEGRAM_BASE_URL=fake.settings["MONEV_TELEGRAM_BASE_URL"],
                MONEV_TELEGRAM_BASE_FILE_URL=fake.settings["MONEV_TELEGRAM_BASE_FILE_URL"],
            )
            world = await open_broadcast(settings, {"DINKES": 1}, now=now(), framework=PEMDI)
            (liaison,) = world.liaisons
            app = build_app(settings)
            await app.prepare()
            bot = Bot(
                settings.telegram_token or "",
                base_url=settings.telegram_base_url,
                base_file_url=settings.telegram_base_file_url,
            )
            http = httpx.AsyncClient(timeout=httpx.Timeout(30.0, read=60.0), follow_redirects=False)
            try:
                await bot.initialize()
                downloader = TelegramDownloader(
                    bot, http, local_mode=False, max_bytes=settings.telegram_max_file_mb * MIB
                )
                uploader = Uploader(app, fake, bot, downloader, liaison)
                return await _upload_runs(uploader, sources, runs, size)
            finally:
                await http.aclose()
                await bot.shutdown()
                await app.close()


async def _upload_runs(uploader: Uploader, sources: Path, runs: int, size: int) -> list[UploadRun]:
    def new_file(name: str) -> Path:
        path = sources / f"{name}.pdf"
        write_random_pdf(path, size)
        return path

    # Warm-up: first template compile, first connections, first getFile.
    await uploader.handle(await uploader.arrive(new_file("pemanasan")))
    results = []
    window = RssWindow()
    for run in range(1, runs + 1):
        timed_file, traced_file = new_file(f"laporan-{run}"), new_file(f"laporan-{run}-b")
        base, copy_fsync = baseline(timed_file, sources / "salinan.pdf")

        request = await uploader.arrive(timed_file)
        window.open()
        seconds, version = await uploader.handle(request)
        rss_extra, hwm_extra = window.extra_mb()
        download = uploader.download_seconds

        request = await uploader.arrive(traced_file)
        gc.collect()
        tracemalloc.start()
        start_traced = tracemalloc.get_traced_memory()[0]
        await uploader.handle(request)
        traced_peak = (tracemalloc.get_traced_memory()[1] - start_traced) / 1e6
        tracemalloc.stop()

        for path in (timed_file, traced_file):
            path.unlink()
        results.append(UploadRun(seconds, download, base, copy_fsync, rss_extra, hwm_extra, traced_peak, version))
    if not window.resettable:
        print("  (peak RSS could not be reset between runs: only the first run's RSS figures are meaningful)")
    return results


def report_upload(results: list[UploadRun], size: int) -> None:
    print(
        f"upload: {size / 1e6:.1f} MB ({size / MIB:.0f} MiB) random PDF-shaped file, {len(results)} runs "
        "(+1 warm-up); fake Bot API in a child process"
    )
    for n, r in enumerate(results, start=1):
        print(
            f"  run {n}: handled {r.seconds * 1000:.0f} ms (download {r.download_seconds * 1000:.0f} ms, "
            f"rest {(r.seconds - r.download_seconds) * 1000:.0f} ms); baseline {r.baseline_seconds * 1000:.0f} ms; "
            f"ratio {r.seconds / r.baseline_seconds:.2f}; extra peak: tracemalloc {r.traced_peak_mb:.2f} MB, "
            f"ru_maxrss +{r.rss_extra_mb:.2f} MB, VmHWM +{r.hwm_extra_mb:.2f} MB; filed as version {r.version}"
        )
    seconds = median([r.seconds for r in results])
    base = median([r.baseline_seconds for r in results])
    ratio = median([r.seconds / r.baseline_seconds for r in results])
    traced = median([r.traced_peak_mb for r in results])
    rss = median([r.rss_extra_mb for r in results])
    hwm = median([r.hwm_extra_mb for r in results])
    download = median([r.download_seconds for r in results])
    copy_fsync = median([r.copy_fsync_seconds for r in results])
    highest = max(max(r.traced_peak_mb, r.rss_extra_mb, r.hwm_extra_mb) for r in results)
    print(
        f"  median handled (Dispatcher.run: download, sniff, filing, receipt): {seconds * 1000:.0f} ms, "
        f"of which download (getFile + stream + fsync + rename) {download * 1000:.0f} ms"
    )
    print(
        f"  median baseline (sha256sum + cp, one subprocess each): {base * 1000:.0f} ms; "
        f"for reference, fsync of the copy: {copy_fsync * 1000:.0f} ms"
    )
    print(f"  median ratio handled/baseline: {ratio:.2f}")
    print(
        f"  median extra peak memory: tracemalloc {traced:.2f} MB, ru_maxrss delta {rss:.2f} MB, "
        f"VmHWM delta {hwm:.2f} MB (highest of all runs: {highest:.2f} MB)"
    )
    worst = max(traced, rss, hwm)
    print(f"{verdict(worst < MEMORY_TARGET_MB)} (extra peak memory {worst:.2f} MB, the larger median; target < 30 MB)")
    print(f"{verdict(ratio <= TIME_TARGET_RATIO)} (time {ratio:.2f} x baseline; target <= {TIME_TARGET_RATIO} x)")


# ----- /status --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusWorld:
    opd_code: str
    chat: str
    liaison: int
    opds: int
    versions: int
    files: int


def fifty_items() -> list[items.ItemSpec]:
    """The 47 indicators of PermenPANRB 59/2020 and the first 3 of 8/2026, renumbered I.01-I.50."""
    chosen = [*items.framework_items(SPBE), *items.framework_items(PEMDI)[:3]]
    return [
        items.ItemSpec(
            f"I.{n:02d}", s.title, s.description, s.required, s.weight, (), s.file_kinds, s.domain, s.aspect, n
        )
        for n, s in enumerate(chosen, start=1)
    ]


def opd_rows(count: int, at: datetime) -> list[dict[str, Any]]:
    """The 67 OPDs of the shipped extended list, then UPT and sekolah units up to `count`."""
    rows = [
        {"code": r.code, "name": r.name, "short_name": r.short_name, "kind": r.kind, "active": True, "created_at": at}
        for r in registry.parse_opd_file(registry.default_opd_file(extended=True))
    ]
    n = 0
    while len(rows) < count:
        n += 1
        kind, name = ("satuan", f"UPT Puskesmas Kecamatan {n}") if n % 3 else ("lainnya", f"SMP Negeri {n} Pontianak")
        rows.append(
            {
                "code": f"UNIT_{n:03d}",
                "name": name,
                "short_name": name[:40],
                "kind": kind,
                "active": True,
                "created_at": at,
            }
        )
    return rows


async def seed_status_world(db: Database, opds: int, versions_per_item: int, at: datetime) -> StatusWorld:
    """Everything as rows through the real tables (Core bulk inserts), shaped as the services write them."""
    rng = random.Random(2026)
    specs = fifty_items()
    async with db.write() as session:

        async def put(model: Any, rows: list[dict[str, Any]]) -> None:
            # executemany compiles one INSERT from the first row's keys: every row must carry the same keys.
            assert all(row.keys() == rows[0].keys() for row in rows), model
            for start in range(0, len(rows), 20_000):
                await session.execute(insert(model.__table__), rows[start : start + 20_000])

        await put(Opd, [{"id": n, **row} for n, row in enumerate(opd_rows(opds, at), start=1)])
        staff = {"kasi": 1, "kabid": 2, "sekretariat": 3}
        await put(
            Person,
            [{"id": pid, "display_name": f"{name}-bench", "created_at": at} for name, pid in staff.items()]
            + [{"id": 100 + o, "display_name": f"Penghubung {o}", "created_at": at} for o in range(1, opds + 1)],
        )
        await put(
            ChannelIdentity,
            [
                {"person_id": 100 + o, "channel": "telegram", "external_id": str(600_000 + o), "created_at": at}
                for o in range(1, opds + 1)
            ],
        )
        await put(
            RoleAssignment,
            [{"person_id": pid, "role": name, "opd_id": None, "granted_at": at} for name, pid in staff.items()]
            + [
                {"person_id": 100 + o, "role": Role.OPD.value, "opd_id": o, "granted_at": at}
                for o in range(1, opds + 1)
            ],
        )
        letter = hashlib.sha256(b"surat undangan").hexdigest()
        await put(StoredFile, [{"sha256": letter, "size": 180_000, "created_at": at}])
        await put(
            Campaign,
            [
                {
                    "id": 1,
                    "title": "Evaluasi Mandiri SPBE 2026",
                    "framework": SPBE,
                    "state": CampaignState.OPEN.value,
                    "deadline": at + timedelta(days=30),
                    "created_at": at - timedelta(days=10),
                    "created_by_person_id": 1,
                    "submitted_by_person_id": 1,
                    "signed_letter_sha256": letter,
                    "signed_letter_name": "undangan.pdf",
                    "signed_by_person_id": 3,
                }
            ],
        )
        await put(
            CampaignItem,
            [
                {
                    "id": s.position,
                    "campaign_id": 1,
                    "code": s.code,
                    "title": s.title,
                    "description": s.description,
                    "required": s.required,
                    "weight": s.weight,
                    "file_kinds": ",".join(s.file_kinds),
                    "position": s.position,
                }
                for s in specs
            ],
        )
        await put(CampaignOpd, [{"campaign_id": 1, "opd_id": o} for o in range(1, opds + 1)])
        await put(
            ItemAssignment, [{"campaign_item_id": s.position, "opd_id": o} for s in specs for o in range(1, opds + 1)]
        )

        versions, files, stored, batches, batch_files = [], [], [], [], []
        version_id = file_number = 0
        for o in range(1, opds + 1):
            for s in specs:
                for number in range(1, versions_per_item + 1):
                    version_id += 1
                    created = at - timedelta(days=9) + timedelta(hours=number * 20 + rng.random())
                    shas = []
                    for position in range(1, (2 if rng.random() < 0.3 else 1) + 1):
                        file_number += 1
                        sha = hashlib.sha256(file_number.to_bytes(8, "big")).hexdigest()
                        size = rng.randint(40_000, 8_000_000)
                        name = f"{s.code}-v{number}-{position}.pdf"
                        shas.append(sha)
                        stored.append({"sha256": sha, "size": size, "created_at": created})
                        files.append(
                            {
                                "version_id": version_id,
                                "position": position,
                                "sha256": sha,
                                "file_name": name,
                                "size": size,
                            }
                        )
                        batch_files.append(
                            {"batch_id": version_id, "sha256": sha, "file_name": name, "size": size, "kind": "document"}
                        )
                    batches.append(
                        {
                            "id": version_id,
                            "channel": "telegram",
                            "chat_id": str(600_000 + o),
                            "person_id": 100 + o,
                            "opd_id": o,
                            "campaign_id": 1,
                            "item_code": s.code,
                            "kind": "single",
                            "status": BatchStatus.FILED.value,
                            "created_at": created,
                            "last_part_at": created,
                        }
                    )
                    latest = number == versions_per_item
                    state = (
                        rng.choice([ReviewState.SUBMITTED, ReviewState.SUBMITTED, ReviewState.ACCEPTED])
                        if latest
                        else ReviewState.REVISION_REQUESTED
                        if number == 1
                        else ReviewState.SUBMITTED
                    )
                    versions.append(
                        {
                            "id": version_id,
                            "campaign_id": 1,
                            "campaign_item_id": s.position,
                            "opd_id": o,
                            "number": number,
                            "uploaded_by_person_id": 100 + o,
                            "on_behalf": False,
                            "created_at": created,
                            "late": False,
                            "review_state": state.value,
                            "superseded_by_number": None if latest or state != ReviewState.SUBMITTED else number + 1,
                            "reviewed_by_person_id": 1 if state != ReviewState.SUBMITTED else None,
                            "files_key": hashlib.sha256("\n".join(sorted(shas)).encode()).hexdigest(),
                        }
                    )
        await put(StoredFile, stored)
        await put(UploadBatch, batches)
        await put(BatchFile, batch_files)
        await put(SubmissionVersion, versions)
        await put(SubmissionFile, files)
    async with db.write() as session:
        await session.execute(text("ANALYZE"))
    dinkes = next(n for n, row in enumerate(opd_rows(opds, at), start=1) if row["code"] == "DINKES")
    return StatusWorld("DINKES", str(600_000 + dinkes), 100 + dinkes, opds, len(versions), len(files))


async def timed(runs: int, call: Callable[[], Awaitable[object]]) -> list[float]:
    for _ in range(10):
        await call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def status_bench(runs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="monev-bench-status-") as tmp_name:
        settings = make_settings(Path(tmp_name) / "data")
        app = build_app(settings)
        await app.prepare()
        try:
            started = time.perf_counter()
            world = await seed_status_world(app.services.db, 500, 5, app.now())
            seeded = time.perf_counter() - started
            size_mb = (settings.data_dir / "monev.sqlite3").stat().st_size / 1e6
            print(
                f"/status: SQLite database of {world.opds} OPDs, one open campaign of 50 items assigned to every "
                f"OPD, 5 versions per item per OPD: {world.versions} versions, {world.files} files "
                f"({size_mb:.0f} MB, seeded in {seeded:.1f} s); measured OPD {world.opd_code}"
            )
            await _status_runs(app, world, runs)
            await _filing_in_large_db(app, world)
        finally:
            await app.close()


async def _status_runs(app: MonevApp, world: StatusWorld, runs: int) -> None:
    services = app.services
    rendered: list[str] = []

    async def handler_path() -> None:
        async with services.db.write() as session:  # the handler's unit of work (ctx.session())
            scope = await submissions.scope_for(session, world.opd_code)
            assert scope is not None
            state = await submissions.progress(session, scope)
            # The next reminder's line is the handler's (`handlers.progress._next`); the dispatcher path has it.
            rendered[:] = [services.renderer.render("unggah/status", p=state, pengingat=None)]

    request = Request(
        channel="telegram",
        chat_id=world.chat,
        sender_id=world.chat,
        received_at=app.now(),
        command="status",
        text="/status",
        message_id="1",
    )

    async def dispatched() -> None:
        (reply,) = await app.dispatcher.run(request, app.now())
        assert "Kelengkapan" in reply.text, reply.text

    direct = await timed(runs, handler_path)
    through = await timed(runs, dispatched)
    text_ = rendered[0]
    print(
        f"  reply: {len(text_)} characters, {text_.count(' v5')} items showing v5, sent as "
        f"{len(split_text(text_))} Telegram message(s) (split at {4000} characters)"
    )
    print(
        f"  scope_for + progress + render (one write unit, {runs} runs): median {median(direct):.2f} ms, "
        f"p95 {percentile(direct, 0.95):.2f} ms"
    )
    print(
        f"  Dispatcher.run(/status) (actor, unit of work, touch; {runs} runs): median {median(through):.2f} ms, "
        f"p95 {percentile(through, 0.95):.2f} ms"
    )
    print(
        f"{verdict(median(direct) < STATUS_TARGET_MS)} (handler path median {median(direct):.2f} ms; "
        f"target < {STATUS_TARGET_MS:.0f} ms)"
    )
    print(
        f"{verdict(median(through) < STATUS_TARGET_MS)} (through the dispatcher, median {median(through):.2f} ms; "
        f"target < {STATUS_TARGET_MS:.0f} ms)"
    )


async def _filing_in_large_db(app: MonevApp, world: StatusWorld, runs: int = 30) -> None:
    """Extra: the same database, filing a small upload for the measured OPD (services only, no download)."""
    services = app.services
    blobs = [
        services.files.store_bytes(b"%PDF-1.7\n% bench " + str(n).encode() + b"\n%%EOF\n") for n in range(runs + 5)
    ]
    acting = Acting(world.liaison, Role.OPD.value, "telegram")
    async with services.db.read() as session:  # an accepted item is locked until /buka: file to the others
        scope = await submissions.scope_for(session, world.opd_code)
        assert scope is not None
        open_items = [i.code for i in (await submissions.progress(session, scope)).items if i.state != "diterima"]
    samples = []
    for n, blob in enumerate(blobs):
        started = time.perf_counter()
        async with services.db.write() as session:
            scope = await submissions.scope_for(session, world.opd_code)
            assert scope is not None
            batch = await submissions.open_batch(
                session,
                scope=scope,
                channel="telegram",
                chat_id=world.chat,
                person_id=world.liaison,
                kind="single",
                now=app.now(),
            )
            await submissions.add_file(
                session, batch, blob, f"bukti-{n}.pdf", "document", inbound_event_id=None, now=app.now()
            )
            await submissions.file_batch(session, batch, open_items[n % len(open_items)], acting=acting, now=app.now())
        if n >= 5:
            samples.append((time.perf_counter() - started) * 1000)
    async with services.db.read() as session:
        plan = (
            await session.execute(
                text("EXPLAIN QUERY PLAN SELECT count(*) FROM batch_file WHERE batch_file.batch_id = 1")
            )
        ).all()
    print(
        f"  extra: filing a small upload there (scope_for + open_batch + add_file + file_batch, {len(samples)} runs): "
        f"median {median(samples):.2f} ms, p95 {percentile(samples, 0.95):.2f} ms; "
        f"batch_file by batch_id: {'; '.join(str(row[-1]) for row in plan)}"
    )


# ----- main -----------------------------------------------------------------------------------------------------


async def main(runs: int, size_mb: int, status_runs: int) -> None:
    print(
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"python-telegram-bot {telegram.__version__}, httpx {httpx.__version__}, {platform.system()} "
        f"{platform.machine()}; temp dir {tempfile.gettempdir()} on {_filesystem(Path(tempfile.gettempdir()))}"
    )
    started = time.perf_counter()
    results = await upload_bench(runs, size_mb * MIB)
    report_upload(results, size_mb * MIB)
    await status_bench(status_runs)
    print(f"total wall time: {time.perf_counter() - started:.1f} s")


def _filesystem(path: Path) -> str:
    best, kind = "", "?"
    try:
        with open("/proc/mounts", encoding="utf-8") as mounts:
            for line in mounts:
                _, point, fs, *_ = line.split()
                if str(path.resolve()).startswith(point) and len(point) > len(best):
                    best, kind = point, fs
    except OSError:
        pass
    return kind


def cli() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.intake", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="measured uploads (default 5, plus one warm-up)")
    parser.add_argument("--size-mb", type=int, default=20, help="upload size in MiB (default 20, the Bot API limit)")
    parser.add_argument("--status-runs", type=int, default=200, help="timed /status calls per path (default 200)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if shutil.which("sha256sum") is None or shutil.which("cp") is None:
        raise SystemExit("bench.intake needs sha256sum and cp for its baseline")
    asyncio.run(main(args.runs, args.size_mb, args.status_runs))


if __name__ == "__main__":
    cli()
