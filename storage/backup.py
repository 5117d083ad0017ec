"""Backup archives: a consistent database snapshot, the stored files and `SHA256SUMS`, in one plain tar.

Layout: `manifest.json`, `database/monev.sqlite3` (SQLite's online backup API) or `database/monev.dump`
(`pg_dump -Fc`), `files/<aa>/<bb>/<sha256>` (the file store's own layout), and `SHA256SUMS` last, in the format
`sha256sum -c` reads. The database is snapshotted first and the files copied after: stored files are immutable and
written before the row that names them commits, so every file the snapshot names is already in the store.
A restored archive is untrusted input: members are checked (no absolute path, no `..`, regular files only) and
every checksum verified before anything is written.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from sqlalchemy.engine import make_url

from storage.filestore import CHUNK_SIZE, FileStore

MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
SQLITE_MEMBER = "database/monev.sqlite3"
DUMP_MEMBER = "database/monev.dump"
FORMAT = 1


class BackupError(Exception):
    """The backup or restore cannot go on; the message is one line for the operator."""


@dataclass(frozen=True)
class Archived:
    path: Path
    files: int
    bytes: int


def database_kind(url: str) -> str:
    return "sqlite" if make_url(url).get_backend_name() == "sqlite" else "postgresql"


def sqlite_path(url: str) -> Path:
    return Path(str(make_url(url).database))


def _pg_env(url: str) -> dict[str, str]:
    """libpq's variables for the URL: the password never goes on a command line (ps shows those)."""
    parsed = make_url(url)
    env = {**os.environ, "PGDATABASE": str(parsed.database or "")}
    for variable, value in (
        ("PGHOST", parsed.host),
        ("PGPORT", parsed.port),
        ("PGUSER", parsed.username),
        ("PGPASSWORD", parsed.password),
    ):
        if value is not None:
            env[variable] = str(value)
    return env


def _run_pg(command: list[str], url: str) -> None:
    try:
        result = subprocess.run(command, env=_pg_env(url), capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise BackupError(f"{command[0]} is not installed (Debian: apt-get install postgresql-client)") from None
    if result.returncode != 0:
        first = (result.stderr.strip().splitlines() or ["no message"])[0]
        password = make_url(url).password
        raise BackupError(f"{command[0]} failed: {first.replace(str(password), '***') if password else first}")


def snapshot_database(url: str, target: Path) -> None:
    """A consistent copy of the database at one moment, while `monev run` keeps writing."""
    if database_kind(url) == "postgresql":
        _run_pg(["pg_dump", "--format=custom", "--no-owner", "--file", str(target)], url)
        return
    source = sqlite3.connect(f"file:{sqlite_path(url)}?mode=ro", uri=True)
    copy = sqlite3.connect(target)
    try:
        with copy:
            source.backup(copy)  # one step: the copy is the database as one read transaction saw it
    finally:
        copy.close()
        source.close()


def snapshot_facts(snapshot: Path) -> tuple[str | None, dict[str, int], set[str]]:
    """A SQLite snapshot's migration head, row counts and the stored files it names."""
    connection = sqlite3.connect(f"file:{snapshot}?mode=ro", uri=True)
    try:
        head = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        counts = {
            table: int(connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])  # noqa: S608 fixed names
            for table in ("person", "opd", "campaign", "submission_version", "stored_file")
        }
        named = {row[0] for row in connection.execute("SELECT sha256 FROM stored_file")}
    finally:
        connection.close()
    return (head[0] if head else None), counts, named


class _Hashing:
    """A reader that hashes what tarfile copies out of it, so each file is read once."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        chunk = self.handle.read(size)
        self.digest.update(chunk)
        return chunk


def write_archive(
    out: Path, *, snapshot: Path, snapshot_member: str, manifest: dict[str, Any], store: FileStore | None
) -> Archived:
    """Write the tar to a temp name beside `out`, fsync it and rename it into place (no half archive under `out`)."""
    fd, temp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent)
    temp = Path(temp_name)
    sums: list[tuple[str, str]] = []
    files = size = 0
    try:
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            _add_file(tar, snapshot, snapshot_member, sums)
            if store is not None:
                for blob in store.blobs():
                    relative = blob.relative_to(store.root).as_posix()
                    try:
                        size += _add_file(tar, blob, f"files/{relative}", sums)
                    except FileNotFoundError:  # an orphan swept meanwhile: no row of the snapshot names it
                        continue
                    files += 1
            manifest = {**manifest, "files": files, "file_bytes": size}
            _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode(), sums)
            listing = "".join(f"{digest}  {name}\n" for digest, name in sums).encode()
            _add_bytes(tar, SUMS, listing, None)
            tar.close()
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(temp, out)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return Archived(out, files, size)


def _add_file(tar: tarfile.TarFile, path: Path, name: str, sums: list[tuple[str, str]]) -> int:
    with path.open("rb") as handle:
        info = tar.gettarinfo(fileobj=handle, arcname=name)
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mode = 0o644
        reader = _Hashing(handle)
        tar.addfile(info, reader)  # type: ignore[arg-type]  # tarfile only calls read()
    sums.append((reader.digest.hexdigest(), name))
    return info.size


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, sums: list[tuple[str, str]] | None) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
    tar.addfile(info, io.BytesIO(data))
    if sums is not None:
        sums.append((hashlib.sha256(data).hexdigest(), name))


@dataclass(frozen=True)
class Verified:
    """An archive whose members are safe names and whose every checksum matches."""

    manifest: dict[str, Any]
    database_member: str
    files: tuple[str, ...]  # the store's relative paths


def _safe(member: tarfile.TarInfo) -> str:
    path = PurePosixPath(member.name)
    if member.name.startswith(("/", "\\")) or path.is_absolute() or ".." in path.parts or "\\" in member.name:
        raise BackupError(f"refused: the archive holds an unsafe path {member.name!r}")
    if not (member.isfile() or member.isdir()):
        raise BackupError(f"refused: the archive holds {member.name!r}, which is not a regular file")
    return path.as_posix()


def verify_archive(archive: Path) -> Verified:
    """Check every member's name and every checksum in SHA256SUMS, streaming; nothing is written."""
    try:
        with tarfile.open(archive, mode="r:") as tar:
            members = {_safe(m): m for m in tar.getmembers()}
            files = {name: member for name, member in members.items() if member.isfile()}
            if SUMS not in files or MANIFEST not in files:
                raise BackupError(f"refused: {archive} is not a monev backup (no {SUMS} or {MANIFEST})")
            listed = _read_sums(tar, files[SUMS])
            unlisted = set(files) - set(listed) - {SUMS}
            if unlisted:
                raise BackupError(f"refused: {len(unlisted)} member(s) are not in {SUMS}, e.g. {min(unlisted)}")
            for name, expected in listed.items():
                if name not in files:
                    raise BackupError(f"refused: {SUMS} lists {name}, which the archive does not hold")
                if _digest(tar, files[name]) != expected:
                    raise BackupError(f"refused: {name} does not match its checksum in {SUMS}")
            manifest = json.loads(_read(tar, files[MANIFEST]))
    except (tarfile.TarError, OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BackupError(f"cannot read {archive} as a monev backup ({error})") from None
    database = next((n for n in (SQLITE_MEMBER, DUMP_MEMBER) if n in files), None)
    if database is None:
        raise BackupError(f"refused: {archive} holds no database snapshot")
    stored = tuple(name.removeprefix("files/") for name in files if name.startswith("files/"))
    for relative in stored:  # content-addressed: the name is the checksum, and in the store's own layout
        sha256 = PurePosixPath(relative).name
        if relative != f"{sha256[:2]}/{sha256[2:4]}/{sha256}" or listed[f"files/{relative}"] != sha256:
            raise BackupError(f"refused: files/{relative} is not stored under its own SHA-256")
    return Verified(manifest, database, stored)


def check_kind(verified: Verified, url: str) -> None:
    """Refuse a snapshot of the other database kind (a pg_dump cannot become a SQLite file), before any change."""
    kind = "sqlite" if verified.database_member == SQLITE_MEMBER else "postgresql"
    if kind != database_kind(url):
        raise BackupError(f"refused: the backup holds a {kind} database and MONEV_DATABASE_URL is {database_kind(url)}")


def _read_sums(tar: tarfile.TarFile, member: tarfile.TarInfo) -> dict[str, str]:
    listed: dict[str, str] = {}
    for line in _read(tar, member).decode().splitlines():
        digest, _, name = line.partition("  ")
        if len(digest) != 64 or not name:
            raise BackupError(f"refused: {SUMS} has a malformed line")
        listed[name] = digest
    return listed


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo, limit: int = 16 * 1024 * 1024) -> bytes:
    if member.size > limit:
        raise BackupError(f"refused: {member.name} is too large")
    handle = tar.extractfile(member)
    assert handle is not None
    return handle.read()


def _chunks(tar: tarfile.TarFile, name: str) -> Iterator[bytes]:
    handle = tar.extractfile(name)
    if handle is None:
        raise BackupError(f"refused: {name} is not a regular file")
    yield from iter(lambda: handle.read(CHUNK_SIZE), b"")


def _digest(tar: tarfile.TarFile, member: tarfile.TarInfo) -> str:
    digest = hashlib.sha256()
    for chunk in _chunks(tar, member.name):
        digest.update(chunk)
    return digest.hexdigest()


def restore_database(archive: Path, verified: Verified, url: str) -> None:
    """Replace the database by the archive's snapshot (the caller checked it may)."""
    check_kind(verified, url)
    if verified.database_member == SQLITE_MEMBER:
        target = sqlite_path(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(prefix=".restore-", dir=target.parent)
        with os.fdopen(fd, "wb") as out, tarfile.open(archive, mode="r:") as tar:
            for chunk in _chunks(tar, verified.database_member):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        for stale in (Path(f"{target}-wal"), Path(f"{target}-shm"), Path(f"{target}-journal")):
            stale.unlink(missing_ok=True)
        os.replace(temp_name, target)
        return
    with tempfile.TemporaryDirectory(prefix="monev-restore-") as scratch:
        dump = Path(scratch) / "monev.dump"
        with dump.open("wb") as out, tarfile.open(archive, mode="r:") as tar:
            for chunk in _chunks(tar, verified.database_member):
                out.write(chunk)
        command = ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--dbname", _dbname(url)]
        _run_pg([*command, str(dump)], url)


def _dbname(url: str) -> str:
    return str(make_url(url).database or "")


def restore_files(archive: Path, verified: Verified, store: FileStore) -> int:
    """Put every archived file into the store through its usual stage-and-admit path; returns how many."""
    with tarfile.open(archive, mode="r:") as tar:
        for relative in verified.files:
            staged = store.stage_chunks(_chunks(tar, f"files/{relative}"))
            if store.path_for(staged.sha256) != store.root / relative:
                store.discard(staged)
                raise BackupError(f"refused: files/{relative} is not stored under its own SHA-256")
            store.admit(staged)
    return len(verified.files)
