"""`monev libur` as a real process: add, list, remove, and one-line refusals with exit code 1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def monev(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run `python -m bot` in a clean environment with its own data directory."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MONEV_")}
    clean["MONEV_DATA_DIR"] = str(cwd / "data")
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], capture_output=True, text=True, cwd=cwd, env=clean, timeout=60
    )


def rows(listing: subprocess.CompletedProcess[str]) -> dict[str, list[str]]:
    assert listing.returncode == 0, listing.stderr
    return {line.split()[0]: line.split(maxsplit=3) for line in listing.stdout.splitlines()}


def test_add_list_remove(tmp_path: Path) -> None:
    added = monev("libur", "add", "31/12/2026", "--note", "Cuti akhir tahun", cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "2026-12-31 (Thursday) is now a holiday: Cuti akhir tahun"
    cancelled = monev("libur", "remove", "17-08-2026", cwd=tmp_path)
    assert cancelled.returncode == 0, cancelled.stderr
    assert "2026-08-17 (Monday) is now a working day" in cancelled.stdout

    listed = rows(monev("libur", "list", "2026", cwd=tmp_path))
    assert listed["2026-12-31"] == ["2026-12-31", "Thu", "added", "Cuti akhir tahun"]
    assert listed["2026-08-17"] == ["2026-08-17", "Mon", "cancelled", "Hari Kemerdekaan Republik Indonesia"]
    assert listed["2026-01-01"][2] == "package"
    assert list(listed) == sorted(listed)

    removed = monev("libur", "remove", "2026-12-31", cwd=tmp_path)
    assert removed.returncode == 0, removed.stderr
    assert "no longer a holiday" in removed.stdout
    assert "2026-12-31" not in rows(monev("libur", "list", "2026", cwd=tmp_path))


def test_bad_dates_and_refused_changes_exit_1(tmp_path: Path) -> None:
    impossible = monev("libur", "add", "31-02-2026", cwd=tmp_path)
    assert impossible.returncode == 1
    assert impossible.stderr.strip() == "monev: bad date: '31-02-2026' does not exist in the calendar"
    assert monev("libur", "remove", "besok", cwd=tmp_path).returncode == 1
    assert monev("libur", "list", "20x6", cwd=tmp_path).returncode == 1
    known = monev("libur", "add", "2026-08-17", cwd=tmp_path)
    assert known.returncode == 1
    assert known.stderr.strip() == (
        "monev: Senin, 17 Agustus 2026 sudah hari libur (Hari Kemerdekaan Republik Indonesia). Tidak ada yang diubah."
    )
    ordinary = monev("libur", "remove", "2026-12-30", cwd=tmp_path)
    assert ordinary.returncode == 1 and "bukan hari libur" in ordinary.stderr
    assert len(ordinary.stderr.strip().splitlines()) == 1
