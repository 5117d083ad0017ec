"""Issue 12, item 18: `make run` on a fresh clone loads the default OPD list and says what to try next."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sqlalchemy import func, select

from storage.database import Database
from storage.models import AuditEntry, Opd
from tests.terminal import clean_env, on_terminal

READY = "Tekan Ctrl-D untuk keluar"


async def test_the_first_start_on_an_empty_data_dir_loads_the_32_default_opds(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = clean_env(data_dir, MONEV_LOG_LEVEL="WARNING")
    first = on_terminal([sys.executable, "-m", "bot", "run"], ["/opd"], cwd=tmp_path, env=env, ready=READY)
    assert first.returncode == 0, first.output
    assert "monev: the OPD registry was empty: loaded the 32 OPDs of Kota Pontianak" in first.output
    # the console says what to try next, in Bahasa Indonesia, without markup
    assert "Coba ketik: /opd (daftar OPD), /undang DISKOMINFO" in first.output and "<code>" not in first.output
    assert "Daftar OPD (32 aktif, 32 belum punya penghubung)" in first.output
    assert "DISKOMINFO Diskominfo" in first.output

    db = Database(f"sqlite+aiosqlite:///{data_dir / 'monev.sqlite3'}")
    try:
        async with db.read() as session:
            assert await session.scalar(select(func.count()).select_from(Opd)) == 32
            (entry,) = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "opd_import"))).all()
            details = json.loads(entry.details or "{}")
            assert details["added"] == 32 and details["file"] == "pontianak-opd.csv"
    finally:
        await db.dispose()

    # the next start finds its OPDs and leaves them alone
    second = on_terminal([sys.executable, "-m", "bot", "run"], [], cwd=tmp_path, env=env, ready=READY)
    assert second.returncode == 0, second.output
    assert "registry was empty" not in second.output
