"""Benchmark: the recap workbook of 500 OPDs x 50 items x 3 versions, and an evidence package of real files.

    .venv/bin/python -m bench.export [--opds 500] [--versions 3] [--package-opds 32] [--package-kb 20]

1. Workbook. A SQLite database seeded as `bench.intake` seeds `/status` (`seed_status_world`): 500 OPDs, one open
   campaign of 50 items asked of every OPD, 3 versions of every item per OPD (75,000 versions; 30 % of them hold
   two files, so about 97,500 file rows), with liaisons, batches and review states. The blobs are rows only: the
   workbook never reads them. A **child process** (`--child`) runs `produce.build(..., RECAP, ...)` once, exactly
   as `monev export recap` does (one read unit, then openpyxl in a thread), and reports its wall time, the parts
   (the read, the writing) and its peak RSS (VmHWM, reset just before the export: the whole process,
   interpreter and imports included).
   Targets: under 10 s, under 500 MB.
2. Package. A smaller real set: 32 OPDs x 50 items, one accepted version each with one file of random bytes (20 KiB)
   really in the store. The child runs `produce.build(..., PACKAGE, ...)`; the parent then unzips the package and
   runs `sha256sum -c SHA256SUMS` on it. No target: the figures show it streams (memory stays flat).

Not a test: it prints figures (and TARGET MET / TARGET MISSED) and never fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
from sqlalchemy import select, update

from bench.intake import _status_kb, reset_peak_rss, seed_status_world
from bot.app import build_app
from bot.services.exports import produce
from bot.services.exports.data import assemble, read_export
from bot.services.exports.recap import write_recap
from storage.models import ReviewState, StoredFile, SubmissionFile, SubmissionVersion
from tests.conftest import make_settings

TIME_TARGET_S = 10.0
MEMORY_TARGET_MB = 500.0


def verdict(met: bool) -> str:
    return "TARGET MET" if met else "TARGET MISSED"


def cpu_seconds() -> float:
    """User and system CPU time of this process so far (the machine is shared: wall time includes waiting)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """The process's peak RSS: VmHWM (reset by `reset_peak_rss`), else `ru_maxrss`, in MB (10^6 bytes)."""
    try:
        return _status_kb("VmHWM") * 1024 / 1e6
    except (OSError, LookupError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # KiB on Linux


# ----- the child: one export, measured --------------------------------------------------------------------------


async def child(data_dir: Path, kind: str, out: Path) -> dict[str, Any]:
    """One export exactly as the CLI builds it, then the same again in its two parts (read; write) for the split."""
    settings = make_settings(data_dir)
    app = build_app(settings)
    await app.prepare()
    try:
        reset_peak_rss()  # the start-up (migrations) peaked higher than the export's own baseline
        before = _status_kb("VmRSS") * 1024 / 1e6
        started, cpu = time.perf_counter(), cpu_seconds()
        built = await produce.build(app.services.db, app.services.files, settings, 1, kind, out, app.now())
        elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        peak = peak_rss_mb()
        result: dict[str, Any] = {
            "seconds": elapsed,
            "cpu_seconds": cpu,
            "peak_rss_mb": peak,
            "rss_before_mb": before,
            "size": built.size,
            "files": built.files,
            "opds": built.opds,
        }
        if kind == produce.RECAP:
            cpu = cpu_seconds()
            async with app.services.db.read() as session:
                rows = await read_export(session, settings, 1, app.now())
            result["read_cpu"], cpu = cpu_seconds() - cpu, cpu_seconds()
            data = assemble(rows, app.now())
            result["assemble_cpu"], cpu = cpu_seconds() - cpu, cpu_seconds()
            write_recap(data, out.with_suffix(".again.xlsx"), settings.timezone)
            result["write_cpu"] = cpu_seconds() - cpu
        return result
    finally:
        await app.close()


def run_child(data_dir: Path, kind: str, out: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.export", "--child", kind, str(data_dir), str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# ----- the worlds -----------------------------------------------------------------------------------------------


async def seed(data_dir: Path, opds: int, versions: int, *, real_files_kb: int | None = None) -> tuple[int, int]:
    """The `/status` world of bench.intake; with `real_files_kb`, every latest version accepted and its files real."""
    settings = make_settings(data_dir)
    app = build_app(settings)
    await app.prepare()
    try:
        world = await seed_status_world(app.services.db, opds, versions, app.now())
        if real_files_kb is not None:
            await _real_files(app.services.db, app.services.files, real_files_kb * 1024, app.now())
        return world.versions, world.files
    finally:
        await app.close()


async def _real_files(db: Any, store: Any, size: int, at: Any) -> None:
    async with db.write() as session:
        await session.execute(update(SubmissionVersion).values(review_state=ReviewState.ACCEPTED.value))
        rows = (await session.execute(select(SubmissionFile.version_id, SubmissionFile.position))).all()
        for version_id, position in rows:
            blob = store.store_bytes(b"%PDF-1.7\n" + os.urandom(size) + b"\n%%EOF\n")
            session.add(StoredFile(sha256=blob.sha256, size=blob.size, created_at=at))
            await session.flush()
            await session.execute(
                update(SubmissionFile)
                .where(SubmissionFile.version_id == version_id, SubmissionFile.position == position)
                .values(sha256=blob.sha256, size=blob.size)
            )


# ----- the parent -----------------------------------------------------------------------------------------------


def workbook_bench(opds: int, versions: int) -> None:
    with tempfile.TemporaryDirectory(prefix="monev-bench-export-") as tmp_name:
        tmp = Path(tmp_name)
        started = time.perf_counter()
        version_count, file_count = asyncio.run(seed(tmp / "data", opds, versions))
        seeded = time.perf_counter() - started
        print(
            f"workbook: SQLite database of {opds} OPDs, one campaign of 50 items asked of every OPD, {versions} "
            f"versions per item per OPD: {version_count} versions, {file_count} file rows (seeded in {seeded:.1f} s)"
        )
        out = tmp / "rekap.xlsx"
        result = run_child(tmp / "data", produce.RECAP, out)
        book = openpyxl.load_workbook(out, read_only=True)
        berkas = sum(1 for row in book["Berkas"].iter_rows(min_row=5, max_col=1, values_only=True) if row[0])
        book.close()
        print(
            f"  produce.build(recap) in a child process: {result['seconds']:.2f} s wall, "
            f"{result['cpu_seconds']:.2f} s CPU; {result['size'] / 1e6:.1f} MB workbook, {result['files']} file "
            f"rows ({berkas} rows in Berkas)"
        )
        print(
            f"  again in parts, CPU: read_export {result['read_cpu']:.2f} s, assemble {result['assemble_cpu']:.2f} s, "
            f"write_recap {result['write_cpu']:.2f} s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )
        print(
            f"  peak RSS of the child (interpreter and imports included): {result['peak_rss_mb']:.0f} MB "
            f"(RSS {result['rss_before_mb']:.0f} MB when it began)"
        )
        print(f"{verdict(result['seconds'] < TIME_TARGET_S)} (workbook {result['seconds']:.2f} s wall; target < 10 s)")
        print(
            f"{verdict(result['cpu_seconds'] < TIME_TARGET_S)} (workbook {result['cpu_seconds']:.2f} s CPU, what an "
            "idle machine would take; target < 10 s)"
        )
        print(
            f"{verdict(result['peak_rss_mb'] < MEMORY_TARGET_MB)} "
            f"(peak memory {result['peak_rss_mb']:.0f} MB; target < 500 MB)"
        )


def package_bench(opds: int, kb: int) -> None:
    with tempfile.TemporaryDirectory(prefix="monev-bench-package-") as tmp_name:
        tmp = Path(tmp_name)
        version_count, file_count = asyncio.run(seed(tmp / "data", opds, 1, real_files_kb=kb))
        print(
            f"package: {opds} OPDs x 50 items, one accepted version each: {version_count} versions, {file_count} "
            f"real files of {kb} KiB in the store"
        )
        out = tmp / "paket.zip"
        result = run_child(tmp / "data", produce.PACKAGE, out)
        unzipped = tmp / "unzipped"
        with zipfile.ZipFile(out) as archive:
            entries = len(archive.namelist())
            archive.extractall(unzipped)
        checked = subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=unzipped, check=False)
        print(
            f"  produce.build(package) in a child process: {result['seconds']:.2f} s, {result['size'] / 1e6:.1f} MB "
            f"ZIP, {entries} entries ({result['files']} evidence files in both layouts); peak RSS "
            f"{result['peak_rss_mb']:.0f} MB (RSS {result['rss_before_mb']:.0f} MB when it began)"
        )
        print(f"  sha256sum -c SHA256SUMS after unzip: {'OK' if checked.returncode == 0 else 'FAILED'}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.export", description=__doc__.split("\n\n")[0])
    parser.add_argument("--opds", type=int, default=500)
    parser.add_argument("--versions", type=int, default=3)
    parser.add_argument("--package-opds", type=int, default=32)
    parser.add_argument("--package-kb", type=int, default=20)
    parser.add_argument("--child", nargs=3, metavar=("KIND", "DATA_DIR", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if args.child:
        kind, data_dir, out = args.child
        print(json.dumps(asyncio.run(child(Path(data_dir), kind, Path(out)))))
        return
    if shutil.which("sha256sum") is None:
        raise SystemExit("bench.export needs sha256sum")
    print(
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"openpyxl {openpyxl.__version__}, {platform.system()} {platform.machine()}"
    )
    started = time.perf_counter()
    workbook_bench(args.opds, args.versions)
    package_bench(args.package_opds, args.package_kb)
    print(f"total wall time: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
