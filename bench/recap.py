"""Benchmark: the daily recap of 500 OPDs x 50 items x 3 versions: its text, and its chart.

    .venv/bin/python -m bench.recap [--opds 500] [--versions 3] [--runs 3]

A SQLite database seeded as `bench.export` seeds the workbook's (`bench.intake.seed_status_world`: 500 OPDs, one
open campaign of 50 items asked of every OPD, 3 versions of every item per OPD, 75,000 versions, with liaisons and
review states), then every seventh latest version returned for revision (so OPDs are behind). Then, in one
process, each run measures:

1. the text: `recap.campaign_recap` in a read unit (the campaign-wide query and its few fixed statements) and the
   rendering of `templates/rekap/rekap.txt.j2` from the envelope's plain values, as the outbox renders it;
2. the chart: `recap_chart.render_chart` of every OPD (the 40 furthest behind drawn), the PNG bytes.

The statement count of the recap is printed too (tests/test_recap.py asserts it does not grow with the OPDs).
Targets: text under 1 s, chart under 2 s (the best of the runs, wall time; the CPU time is printed beside it).
Not a test: it prints figures (and TARGET MET / TARGET MISSED) and never fails.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import matplotlib
from sqlalchemy import event, update

from bench.export import cpu_seconds, seed, verdict
from bot.app import build_app
from bot.conversation.envelope import Envelope
from bot.services import recap, recap_chart
from storage.models import ReviewState, SubmissionVersion
from tests.conftest import make_settings

TEXT_TARGET_S = 1.0
CHART_TARGET_S = 2.0


async def mixed_progress(data_dir: Path) -> int:
    """Return every seventh latest version for revision: the seed alone leaves every OPD complete."""
    app = build_app(make_settings(data_dir))
    await app.prepare()
    try:
        async with app.services.db.write() as session:
            result = await session.execute(
                update(SubmissionVersion)
                .where(SubmissionVersion.superseded_by_number.is_(None), SubmissionVersion.id % 7 == 0)
                .values(review_state=ReviewState.REVISION_REQUESTED.value)
            )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
    finally:
        await app.close()


async def measure(data_dir: Path, runs: int) -> None:
    settings = make_settings(data_dir)
    app = build_app(settings)
    await app.prepare()
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    try:
        texts: list[tuple[float, float]] = []
        charts: list[tuple[float, float]] = []
        for run in range(runs):
            now = app.now()
            started, cpu = time.perf_counter(), cpu_seconds()
            if run == 0:
                event.listen(app.services.db.engine.sync_engine, "before_cursor_execute", count)
            async with app.services.db.read() as session:
                made = await recap.campaign_recap(session, settings, 1, now)
            if run == 0:
                event.remove(app.services.db.engine.sync_engine, "before_cursor_execute", count)
            text = Envelope.of("rekap", "rekap/rekap", r=made.for_message()).render(app.services.renderer).text
            texts.append((time.perf_counter() - started, cpu_seconds() - cpu))
            started, cpu = time.perf_counter(), cpu_seconds()
            png = recap_chart.render_chart(made.title, made.chart)
            charts.append((time.perf_counter() - started, cpu_seconds() - cpu))
        print(
            f"  recap: {made.opds} OPDs, {made.required} required items, {len(made.behind)} listed + "
            f"{made.behind_more} counted; text {len(text)} characters; {len(statements)} SQL statements"
        )
        for label, figures in (("text (read + render)", texts), ("chart (matplotlib Agg)", charts)):
            print(f"  {label}: " + ", ".join(f"{wall:.3f} s wall / {cpu:.3f} s CPU" for wall, cpu in figures))
        print(f"  chart PNG: {len(png) / 1e3:.0f} kB; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        best_text, best_chart = min(w for w, _ in texts), min(w for w, _ in charts)
        print(f"{verdict(best_text < TEXT_TARGET_S)} (recap text {best_text:.3f} s; target < 1 s)")
        print(f"{verdict(best_chart < CHART_TARGET_S)} (recap chart {best_chart:.3f} s; target < 2 s)")
    finally:
        await app.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.recap", description=__doc__.split("\n\n")[0])
    parser.add_argument("--opds", type=int, default=500)
    parser.add_argument("--versions", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    print(
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"matplotlib {matplotlib.__version__}, {platform.system()} {platform.machine()}"
    )
    with tempfile.TemporaryDirectory(prefix="monev-bench-recap-") as tmp_name:
        data_dir = Path(tmp_name) / "data"
        started = time.perf_counter()
        versions, files = asyncio.run(seed(data_dir, args.opds, args.versions))
        returned = asyncio.run(mixed_progress(data_dir))
        print(
            f"recap: SQLite database of {args.opds} OPDs, one campaign of 50 items asked of every OPD, "
            f"{args.versions} versions per item per OPD: {versions} versions, {files} file rows "
            f"(seeded in {time.perf_counter() - started:.1f} s); {returned} latest versions then returned for "
            "revision, so most OPDs are behind and the list and the chart are full"
        )
        asyncio.run(measure(data_dir, args.runs))


if __name__ == "__main__":
    main()
