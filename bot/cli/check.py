"""`monev check [--clean-orphans]`: every stored file against its SHA-256, and the files no row names."""

from __future__ import annotations

import argparse
from typing import Any

from bot.app import MonevApp
from bot.services import operations

NAME = "check"
_SHOWN = 20  # a damaged store can have thousands of problems: the first ones and a count are enough on a terminal


def add_parser(commands: Any) -> None:
    check = commands.add_parser("check", help="verify every stored file against its SHA-256; rows vs files")
    check.add_argument(
        "--clean-orphans",
        action="store_true",
        help="delete store files no row names that are older than an hour (as `monev run` does at start-up)",
    )


async def run(app: MonevApp, args: argparse.Namespace) -> int:
    if args.clean_orphans:
        removed = await app.remove_orphan_files()
        print(f"removed {removed} orphan file(s) from the file store")
    result = await operations.check_files(app.services.db, app.services.files)
    for line in report(result):
        print(line)
    return 0 if result.clean else 1


def report(result: operations.FileCheck) -> list[str]:
    """A short report: one line when clean, else the first problems and the counts."""
    lines: list[str] = []
    if result.clean:
        lines.append(f"check: ok, {result.checked} stored file(s) match their SHA-256 and every file has its row")
    else:
        lines.append(
            f"check: FAILED, {result.checked} stored file(s) checked: {len(result.problems)} missing or damaged, "
            f"{len(result.orphans)} orphan(s)"
        )
    words = {"missing": "missing from the store", "size": "wrong size (damaged)", "sha256": "content changed (damaged)"}
    for problem in result.problems[:_SHOWN]:
        lines.append(f"  {problem.sha256}  {words[problem.problem]}")
    for orphan in result.orphans[: max(0, _SHOWN - len(result.problems))]:
        lines.append(f"  {orphan}  no row names it (orphan; `monev check --clean-orphans` removes it)")
    hidden = len(result.problems) + len(result.orphans) - _SHOWN
    if hidden > 0:
        lines.append(f"  … and {hidden} more")
    if result.recent_orphans:
        lines.append(f"  ({result.recent_orphans} file(s) younger than an hour without a row yet: uploads in progress)")
    return lines
