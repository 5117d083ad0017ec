"""`monev check`, `backup`, `restore` and `status` as real processes, on real files and both databases."""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import subprocess
import tarfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import event, text

from bot.services import bot_state, operations, uploads
from storage import backup, migrate
from storage.database import Database
from storage.filestore import FileStore
from tests.schema_template import seed_sqlite
from tests.test_console import monev

NOW = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


def _env(database_url: str, data_dir: Path) -> dict[str, str]:
    return {"MONEV_DATA_DIR": str(data_dir), "MONEV_DATABASE_URL": database_url}


async def _stored(database_url: str, data_dir: Path, contents: list[bytes]) -> list[str]:
    """Files stored the way uploads store them (blob first, then the row), on a migrated database."""
    store = FileStore(data_dir / "files")
    db = Database(database_url)
    try:
        names = []
        async with db.write() as session:
            for content in contents:
                blob = store.store_bytes(content)
                await uploads.register_blob(session, blob, NOW)
                names.append(blob.sha256)
        return names
    finally:
        await db.dispose()


@pytest.fixture
async def installation(database_url: str, tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A migrated, empty installation (its own data dir) on each backend, with the shipped OPD list."""
    data_dir = tmp_path / "data"
    await seed_sqlite(database_url)
    env = _env(database_url, data_dir)
    db = Database(database_url)
    try:
        if not db.is_sqlite:
            await _wipe(db)
    finally:
        await db.dispose()
    result = monev("opd", "import", "--default", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    return env, data_dir


async def _wipe(db: Database) -> None:
    """An empty PostgreSQL database: no schema at all (what a new installation starts from)."""
    async with db.engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))


async def test_check_reports_missing_damaged_and_orphan_files(
    installation: tuple[dict[str, str], Path], database_url: str, tmp_path: Path
) -> None:
    env, data_dir = installation
    kept, damaged, lost = await _stored(database_url, data_dir, [b"laporan", b"perwal 2026", b"sk tim"])
    clean = monev("check", cwd=tmp_path, env=env)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert clean.stdout == "check: ok, 3 stored file(s) match their SHA-256 and every file has its row\n"

    store = FileStore(data_dir / "files")
    store.path_for(damaged).write_bytes(b"perwal 2025")  # same size, other content
    store.path_for(lost).unlink()
    orphan = store.store_bytes(b"no row names me").sha256
    os.utime(store.path_for(orphan), (time.time() - 7200, time.time() - 7200))
    young = store.store_bytes(b"an upload still in progress").sha256

    result = monev("check", cwd=tmp_path, env=env)
    assert result.returncode == 1
    out = result.stdout
    assert out.startswith("check: FAILED, 3 stored file(s) checked: 2 missing or damaged, 1 orphan(s)\n"), out
    assert f"{damaged}  content changed (damaged)" in out and f"{lost}  missing from the store" in out
    assert f"{orphan}  no row names it" in out and young not in out and kept not in out
    assert "1 file(s) younger than an hour" in out

    cleaned = monev("check", "--clean-orphans", cwd=tmp_path, env=env)
    assert cleaned.returncode == 1 and "removed 1 orphan file(s)" in cleaned.stdout
    assert not store.path_for(orphan).exists() and store.path_for(young).exists() and store.path_for(kept).exists()


async def test_backup_then_restore_on_an_empty_installation(
    installation: tuple[dict[str, str], Path], database_url: str, tmp_path: Path
) -> None:
    env, data_dir = installation
    names = await _stored(database_url, data_dir, [b"%PDF-1.7 perwal", os.urandom(3 * 1024 * 1024)])
    archive = tmp_path / "monev.tar"
    made = monev("backup", "--out", str(archive), cwd=tmp_path, env=env)
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith(f"backup written to {archive}: the database at migration 00")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temp files left beside the archive"

    extracted = tmp_path / "extracted"
    with tarfile.open(archive) as tar:
        tar.extractall(extracted, filter="data")
        assert {f"files/{n[:2]}/{n[2:4]}/{n}" for n in names} <= set(tar.getnames())
    sums = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=extracted, capture_output=True, text=True)
    assert sums.returncode == 0 and sums.stdout.count(": OK") == len(names) + 2, sums.stdout + sums.stderr
    manifest = json.loads((extracted / "manifest.json").read_text())
    assert manifest["files"] == 2 and manifest["rows"]["opd"] == 32 and manifest["rows"]["stored_file"] == 2
    kind = "sqlite" if "sqlite" in database_url else "postgresql"
    assert manifest["migration_head"] and manifest["database"] == kind

    target_dir = tmp_path / "baru"
    target_url = f"sqlite+aiosqlite:///{target_dir / 'monev.sqlite3'}"
    if "sqlite" not in database_url:  # one PostgreSQL database per test worker: empty it to stand for a new server
        target_url = database_url
        db = Database(database_url)
        try:
            await _wipe(db)
        finally:
            await db.dispose()
    target = _env(target_url, target_dir)
    restored = monev("restore", str(archive), cwd=tmp_path, env=target)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "check: ok, 2 stored file(s) match their SHA-256" in restored.stdout
    for name in names:
        assert FileStore(target_dir / "files").verify(name) is None
    listed = monev("opd", "list", cwd=tmp_path, env=target)
    assert "DISKOMINFO" in listed.stdout

    again = monev("restore", str(archive), cwd=tmp_path, env=target)
    assert again.returncode == 1 and again.stdout == ""
    assert again.stderr.count("\n") == 1 and again.stderr.startswith("monev: refused: the file store"), again.stderr
    forced = monev("restore", "--force", str(archive), cwd=tmp_path, env=target)
    assert forced.returncode == 0 and "check: ok" in forced.stdout, forced.stdout + forced.stderr

    db_only = tmp_path / "db-only.tar"
    assert monev("backup", "--out", str(db_only), "--db-only", cwd=tmp_path, env=env).returncode == 0
    with tarfile.open(db_only) as tar:
        assert not [n for n in tar.getnames() if n.startswith("files/")]
        assert json.load(tar.extractfile("manifest.json"))["db_only"] is True  # type: ignore[arg-type]


def _archive(path: Path, members: dict[str, bytes], *, sums: dict[str, bytes] | None = None, link: str = "") -> None:
    """A hand-made archive: `members` as regular files, SHA256SUMS over `sums` (default: the members)."""
    listed = members if sums is None else sums
    lines = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in listed.items())
    with tarfile.open(path, "w") as tar:
        for name, data in {**members, "SHA256SUMS": lines.encode()}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo(link)
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info)


@pytest.mark.parametrize(
    "case",
    ["dot-dot", "absolute", "symlink", "tampered", "misnamed file", "another database kind", "not a backup"],
)
def test_restore_refuses_an_unsafe_or_damaged_archive(case: str, tmp_path: Path) -> None:
    manifest = b'{"format": 1}'
    database = b"SQLite format 3\x00" + bytes(100)
    good = {"manifest.json": manifest, "database/monev.sqlite3": database}
    archive = tmp_path / "x.tar"
    if case == "dot-dot":
        _archive(archive, {**good, "files/../../keluar.txt": b"x"})
    elif case == "absolute":
        _archive(archive, {**good, "/tmp/keluar.txt": b"x"})
    elif case == "symlink":
        _archive(archive, good, link="files/aa/bb/link")
    elif case == "misnamed file":
        _archive(archive, {**good, "files/ab/cd/" + "ab" * 32: b"not what the name says"})
    elif case == "another database kind":
        _archive(archive, {"manifest.json": manifest, "database/monev.dump": b"PGDMP"})
    elif case == "tampered":
        _archive(archive, {**good, "database/monev.sqlite3": database + b"x"}, sums=good)
    else:
        _archive(archive, {"catatan.txt": b"x"})
    result = monev("restore", str(archive), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith(("monev: refused:", "monev: cannot read")), result.stderr
    assert not (tmp_path / "keluar.txt").exists() and not (tmp_path.parent / "keluar.txt").exists()
    assert not [p for p in (tmp_path / "data" / "files").rglob("*") if p.is_file()]
    db = tmp_path / "data" / "monev.sqlite3"
    assert not db.exists() or db.read_bytes() != database


async def test_status_reads_every_figure_in_a_constant_number_of_statements(db: Database, tmp_path: Path) -> None:
    seen: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with db.read() as session:
            empty = await operations.status(session)
        small = len(seen)
        store = FileStore(tmp_path / "files")
        async with db.write() as session:
            for index in range(40):
                await uploads.register_blob(session, store.store_bytes(f"berkas {index}".encode()), NOW)
            await bot_state.remember(session, operations.REMINDER_TICK_KEY, NOW.isoformat(), NOW)
        seen.clear()
        async with db.read() as session:
            full = await operations.status(session)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    assert len(seen) == small
    assert (empty.files, full.files, full.last_reminder_tick) == (0, 40, NOW)
    assert full.file_bytes == sum(len(f"berkas {index}".encode()) for index in range(40))


async def test_a_backup_of_an_older_schema_is_migrated_up_on_restore(tmp_path: Path) -> None:
    """An archive written by an earlier version (its database one migration behind) restores at this head."""
    old = tmp_path / "lama" / "monev.sqlite3"
    old.parent.mkdir()
    db = Database(f"sqlite+aiosqlite:///{old}")
    try:
        await migrate.upgrade(db, "0018")
    finally:
        await db.dispose()
    archive = tmp_path / "lama.tar"
    manifest = {"format": backup.FORMAT, "migration_head": "0018", "database": "sqlite", "created_at": NOW.isoformat()}
    backup.write_archive(archive, snapshot=old, snapshot_member=backup.SQLITE_MEMBER, manifest=manifest, store=None)
    result = monev("restore", str(archive), cwd=tmp_path)
    assert result.returncode == 0 and "check: ok" in result.stdout, result.stdout + result.stderr
    head = ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()
    restored = sqlite3.connect(tmp_path / "data" / "monev.sqlite3")
    try:
        assert restored.execute("SELECT version_num FROM alembic_version").fetchone()[0] == head != "0018"
        assert restored.execute("SELECT count(*) FROM meeting").fetchone()[0] == 0  # 0019's table exists
    finally:
        restored.close()
