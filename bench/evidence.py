"""Benchmark of the automatic check of evidence (issue 22). It asserts nothing; each part prints TARGET MET/MISSED.

1. Extraction: a 20-page text PDF, and OCR of one scanned A4 page at 300 dpi, each read the way the job reads
   (a child process with its limits), median of a few runs; the in-process reading time beside it.
2. Quality: every check's precision and recall on the generated corpus (`tests/evidence_corpus.py`), for text
   PDFs and DOCX, and for scans (PNG and scanned PDFs at 200-300 dpi, noise, slight rotation) with screenshots.
3. Search: `/cari` over 75,000 short texts (500 OPDs x 50 items x 3 versions) in SQLite FTS5, through the service
   and through the dispatcher, median and p95.
4. `/status` p99 through the dispatcher while the job reads 20 scanned pages, against its idle p99 (same run).

    .venv/bin/python -m bench.evidence            # everything, a few minutes on 2 cores
    .venv/bin/python -m bench.evidence --quick    # fewer runs
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import random
import sqlite3
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import insert, select, text

from bench.intake import median, percentile, seed_status_world, timed, verdict
from bot.app import build_app
from bot.conversation.core import Request
from bot.domain.enums import Role
from bot.services import evidence, identity
from bot.services.evidence_checks import check_document, check_screenshot, shipped_rules
from bot.services.evidence_reading import Limits, read_file, read_in_child
from jobs import evidence_text
from storage.models import EvidenceText, SubmissionFile
from tests import evidence_corpus as corpus
from tests.conftest import make_settings
from tests.test_evidence import NOW, file, open_campaign

PDF_TARGET_S, OCR_TARGET_S, SEARCH_TARGET_MS, STATUS_RATIO = 1.0, 5.0, 200.0, 1.5
TEXT_TARGET, SCAN_TARGET = (0.9, 0.8), (0.8, 0.7)
LIMITS = Limits(120, 1024)


# --- 1. extraction ---------------------------------------------------------------------------------------------


async def extraction(runs: int) -> None:
    lines = [*corpus.samples()[0].lines] * 20  # 23 lines on each of 20 pages
    with tempfile.TemporaryDirectory(prefix="monev-bench-read-") as tmp:
        pdf, scan = Path(tmp) / "20-halaman.pdf", Path(tmp) / "pindaian-300dpi.pdf"
        pdf.write_bytes(corpus.text_pdf(lines, pages=20))
        scan.write_bytes(corpus.scanned_pdf(corpus.samples()[0].lines, dpi=300, seed=1))
        cases = (("20-page text PDF", pdf, PDF_TARGET_S), ("OCR, 1 A4 page at 300 dpi", scan, OCR_TARGET_S))
        for label, path, target in cases:
            child, inside = [], []
            for _ in range(runs):
                started = time.perf_counter()
                result = await read_in_child(path, LIMITS, ocr=True)
                child.append(time.perf_counter() - started)
                started = time.perf_counter()
                read_file(path, ocr=True)
                inside.append(time.perf_counter() - started)
            print(
                f"  {label}: {result.state}, method {result.method}, {result.pages} pages, "
                f"{len(result.body)} characters, OCR confidence {result.ocr_confidence}"
            )
            print(
                f"    in a child process (as the job reads): median {median(child):.2f} s, max {max(child):.2f} s; "
                f"in process: median {median(inside):.2f} s"
            )
            print(f"{verdict(median(child) < target)} ({label}: {median(child):.2f} s; target < {target:g} s)")


# --- 2. quality ------------------------------------------------------------------------------------------------


def quality() -> None:
    rules = shipped_rules()
    checks = corpus.CHECKS
    with tempfile.TemporaryDirectory(prefix="monev-bench-quality-") as tmp:
        path = Path(tmp) / "sample"
        for group, forms, (p_target, r_target) in (
            ("text PDFs and DOCX", ["pdf", "docx"], TEXT_TARGET),
            ("scans and screenshots", ["scan", "scan-pdf"], SCAN_TARGET),
        ):
            counts: dict[str, Counter[str]] = {check: Counter() for check in checks}
            files = unreadable = 0
            for name, profile, content, expected in corpus.corpus(forms):
                if name.endswith(".png") and group.startswith("text"):
                    continue
                files += 1
                path.write_bytes(content)
                read = read_file(path, ocr=True)
                if read.state != "read":
                    unreadable += 1
                    fired: set[str] = set()
                elif read.screenshot:
                    fired = {f.check for f in check_screenshot(read.body, rules)}
                else:
                    found = check_document(read.body, rules.profiles[profile], corpus.CAMPAIGN_YEAR, rules)
                    fired = {f.check for f in found}
                for check in checks:
                    positive, flagged = check in expected, check in fired
                    outcome = ("tp" if flagged else "fn") if positive else ("fp" if flagged else "tn")
                    counts[check][outcome] += 1
            print(f"  {group}: {files} files ({unreadable} unreadable)")
            met = True
            for check in checks:
                c = counts[check]
                precision = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0
                recall = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0
                positives = c["tp"] + c["fn"]
                if positives == 0:
                    print(f"    {check:16} no positives in this group (fired falsely {c['fp']} times)")
                    met = met and c["fp"] == 0
                    continue
                met = met and precision >= p_target and recall >= r_target
                print(
                    f"    {check:16} precision {precision:.2f}  recall {recall:.2f}  "
                    f"(tp {c['tp']}, fp {c['fp']}, fn {c['fn']}, positives {positives})"
                )
            print(f"{verdict(met)} ({group}: every check precision >= {p_target}, recall >= {r_target})")


# --- 3. search -------------------------------------------------------------------------------------------------

VOCABULARY = (
    "arsitektur peta rencana layanan aplikasi data informasi infrastruktur keamanan audit manajemen risiko "
    "perubahan pengetahuan aset teknologi sumber daya manusia tata kelola kebijakan internal perangkat daerah "
    "kota pontianak dinas badan kecamatan kelurahan sekretariat bidang seksi laporan notulen undangan dokumentasi "
    "rapat koordinasi reviu evaluasi tindak lanjut rekomendasi integrasi interoperabilitas pusat jaringan intra "
    "sistem penghubung portal publik pengaduan perizinan kepegawaian keuangan perencanaan penganggaran pengadaan"
).split()


def short_text(rng: random.Random, n: int) -> str:
    words = [rng.choice(VOCABULARY) for _ in range(rng.randint(30, 60))]
    words.insert(rng.randrange(len(words)), f"dokumen{n % 997}")  # a word in about one text of 997
    return " ".join(words)


async def search(runs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="monev-bench-search-") as tmp:
        settings = make_settings(Path(tmp) / "data")
        app = build_app(settings)
        await app.prepare()
        try:
            started = time.perf_counter()
            world = await seed_status_world(app.services.db, 500, 3, app.now())
            async with app.services.db.read() as session:
                first_files = (
                    await session.execute(select(SubmissionFile.sha256).where(SubmissionFile.position == 1))
                ).all()
            rng = random.Random(22)
            rows = [(sha, short_text(rng, n)) for n, (sha,) in enumerate(first_files)]
            async with app.services.db.write() as session:
                await session.execute(
                    insert(EvidenceText),
                    [
                        {"sha256": sha, "state": "read", "method": "pdf", "pages": 1, "body": body, "screenshot": False,
                         "attempts": 1, "started_at": NOW, "read_at": NOW, "signature": None}
                        for sha, body in rows
                    ],
                )  # fmt: skip
            database = settings.data_dir / "monev.sqlite3"
            with sqlite3.connect(database) as raw:
                raw.executemany("INSERT INTO evidence_search (sha256, body) VALUES (?, ?)", rows)
                raw.execute("INSERT INTO evidence_search (evidence_search) VALUES ('optimize')")
            print(
                f"  {len(rows)} texts indexed ({world.opds} OPDs x 50 items x 3 versions; 30-60 words each), "
                f"seeded in {time.perf_counter() - started:.1f} s, database {database.stat().st_size / 1e6:.0f} MB"
            )
            async with app.services.db.write() as session:
                admin = await identity.ensure_local_person(session, "telegram", "990001", app.now())
                await identity.ensure_assignment(session, admin, Role.ADMIN, None, app.now())
                await session.execute(text("ANALYZE"))
            worst = 0.0
            for words in (("interoperabilitas",), ("dokumen42",), ("arsitektur", "rekomendasi"), ("zzzz",)):

                async def service(words: tuple[str, ...] = words) -> None:
                    async with app.services.db.read() as session:
                        await evidence.search(session, 1, words)

                request = Request(
                    channel="telegram", chat_id="990001", sender_id="990001", received_at=app.now(),
                    command="cari", args=words, text="/cari " + " ".join(words), message_id="1",
                )  # fmt: skip

                async def dispatched(request: Request = request) -> None:
                    await app.dispatcher.run(request, app.now())

                direct = await timed(runs, service)
                through = await timed(runs, dispatched)
                async with app.services.db.read() as session:
                    hits = await evidence.search(session, 1, words)
                worst = max(worst, median(through))
                print(
                    f"    /cari {' '.join(words):28} {len(hits.hits)} hits on page 1 (more: {hits.more}); service "
                    f"median {median(direct):.1f} ms p95 {percentile(direct, 0.95):.1f} ms; dispatcher median "
                    f"{median(through):.1f} ms p95 {percentile(through, 0.95):.1f} ms"
                )
            print(f"{verdict(worst < SEARCH_TARGET_MS)} (/cari worst median {worst:.1f} ms; target < 200 ms)")
        finally:
            await app.close()


# --- 4. /status while scans are read ---------------------------------------------------------------------------


async def status_during_ocr(runs: int, pages: int = 20) -> None:
    with tempfile.TemporaryDirectory(prefix="monev-bench-status-") as tmp:
        settings = make_settings(Path(tmp) / "data")
        app = build_app(settings)
        await app.prepare()
        try:
            dinkes, _, budi, _ = await open_campaign(app)
            request = Request(
                channel="telegram", chat_id="501", sender_id="501", received_at=app.now(), command="status",
                text="/status", message_id="1",
            )  # fmt: skip

            async def status() -> None:
                (reply,) = await app.dispatcher.run(request, app.now())
                assert "Kelengkapan" in reply.text, reply.text

            async def sampled(until: Callable[[int], bool]) -> list[float]:
                samples: list[float] = []
                while not until(len(samples)):
                    begun = time.perf_counter()
                    await status()
                    samples.append((time.perf_counter() - begun) * 1000)
                    await asyncio.sleep(0.01)  # a person's pace is far slower; this keeps sampling all along
                return samples

            await timed(10, status)  # warm
            idle = await sampled(lambda count: count >= runs)
            lines = corpus.samples()[0].lines
            for n in range(pages):
                scan = corpus.png_bytes(corpus.scan_image((*lines, f"Lampiran {n}"), dpi=300, seed=n), dpi=300)
                await file(app, dinkes, budi, [(f"pindaian-{n}.png", scan)], "A.01")
            job = asyncio.create_task(_read_everything(app))
            started = time.perf_counter()
            busy = await sampled(lambda _: job.done())
            read = await job
            elapsed = time.perf_counter() - started
            ratio = percentile(busy, 0.99) / percentile(idle, 0.99)
            print(
                f"  idle: {len(idle)} runs, median {median(idle):.2f} ms, p99 {percentile(idle, 0.99):.2f} ms; "
                f"while {read} scanned pages were read ({settings.evidence_workers} worker, {elapsed:.1f} s): "
                f"{len(busy)} runs, median {median(busy):.2f} ms, p99 {percentile(busy, 0.99):.2f} ms"
            )
            print(f"{verdict(ratio <= STATUS_RATIO)} (/status p99 busy/idle {ratio:.2f}; target <= {STATUS_RATIO})")
        finally:
            await app.close()


async def _read_everything(app: object) -> int:
    total = 0
    while True:
        read = await evidence_text.run(NOW, app.services)  # type: ignore[attr-defined]
        if not read:
            return total
        total += read


PARTS = ("extraction", "quality", "search", "status")


async def main(quick: bool, parts: tuple[str, ...]) -> None:
    print(f"machine: {platform.machine()}, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}")
    if "extraction" in parts:
        print("1. extraction")
        await extraction(2 if quick else 5)
    if "quality" in parts:
        print("2. quality on the generated corpus")
        quality()
    if "search" in parts:
        print("3. search")
        await search(20 if quick else 100)
    if "status" in parts:
        print("4. /status during OCR")
        await status_during_ocr(100 if quick else 300, pages=8 if quick else 20)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer runs")
    parser.add_argument("--only", choices=PARTS, action="append", help="run only this part (repeatable)")
    args = parser.parse_args()
    asyncio.run(main(args.quick, tuple(args.only or PARTS)))


if __name__ == "__main__":
    cli()
