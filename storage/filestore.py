"""The content-addressed file store: blobs named by their SHA-256, written durably before any row names them.

An upload is first *staged*: streamed into a temp file inside the store, hashed and fsynced. Only once it has been
judged acceptable is it *admitted* (renamed into place); a refused one is discarded, so refused content never
reaches the store. `remove_orphans` sweeps what a rolled-back transaction or a crash still leaves behind.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import shutil
import socket
import tempfile
import time
from collections.abc import AsyncIterable, Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

_TEMP_PREFIX = ".incoming-"
# Temp files are named `.incoming-<host>-<pid>-<random>`, so a start-up can tell a crash's leftovers from a live
# process's download.
_HOST = "".join(c for c in socket.gethostname() if c.isascii() and c.isalnum())[:32] or "host"
CHUNK_SIZE = 1024 * 1024
# A blob younger than this may belong to a transaction that has not committed yet (here or on another instance).
ORPHAN_MIN_AGE_SECONDS = 3600.0


@dataclass(frozen=True)
class Blob:
    """A file that is safely in the store."""

    sha256: str
    size: int
    path: Path


@dataclass(frozen=True)
class Staged:
    """A file fully written and fsynced to a temp file in the store, not yet admitted into it."""

    sha256: str
    size: int
    path: Path


class FileTooLargeError(Exception):
    """The incoming stream went past the allowed size; nothing was stored."""


class FileStore:
    """Blobs live at `<root>/<aa>/<bb>/<sha256>`; a temp file is fsynced and renamed into place.

    Callers stage and judge a file, admit it, and only then commit the row that names it, so a crash leaves at worst
    an unreferenced blob (removed by `remove_orphans` an hour later) or a stray temp file (removed by
    `remove_stray_temp_files` at start-up), never a row without its file.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._tmp = root / "tmp"

    def path_for(self, sha256: str) -> Path:
        """Where the blob with this hash lives (whether or not it exists)."""
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError("not a SHA-256 hex digest")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def remove_stray_temp_files(self, *, now: float | None = None, min_age: float = ORPHAN_MIN_AGE_SECONDS) -> int:
        """Delete temp files left by a crash mid-write; returns how many were removed.

        Every `monev` command starts up, possibly while the bot runs: a temp file of a process still alive on this
        machine is a download in progress and stays. Others' (another machine's) go only once older than `min_age`.
        """
        if not self._tmp.is_dir():
            return 0
        moment = time.time() if now is None else now
        removed = 0
        for stray in self._tmp.glob(f"{_TEMP_PREFIX}*"):
            try:
                if _in_progress(stray.name) or (
                    _owner(stray.name) is None and moment - stray.stat().st_mtime < min_age
                ):
                    continue
                stray.unlink()
            except FileNotFoundError:
                continue
            removed += 1
        if removed:
            logger.info("removed %d stray temp file(s) from the file store", removed)
        return removed

    def open_temp(self) -> tuple[int, Path]:
        """A new temp file inside the store (same file system, so the final rename is atomic)."""
        self._tmp.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f"{_TEMP_PREFIX}{_HOST}-{os.getpid()}-", dir=self._tmp)
        return fd, Path(name)

    async def stage_stream(self, chunks: AsyncIterable[bytes], *, max_bytes: int | None = None) -> Staged:
        """Write an async stream of bytes to a temp file in the store, hashing as it streams."""
        fd, temp = self.open_temp()
        digest = hashlib.sha256()
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise FileTooLargeError(f"stream exceeded {max_bytes} bytes")
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                await asyncio.to_thread(os.fsync, out.fileno())
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return Staged(digest.hexdigest(), size, temp)

    def stage_chunks(self, chunks: Iterable[bytes]) -> Staged:
        """The synchronous twin of `stage_stream`, for local files and bytes."""
        fd, temp = self.open_temp()
        digest = hashlib.sha256()
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    size += len(chunk)
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return Staged(digest.hexdigest(), size, temp)

    def stage_file(self, source: Path) -> Staged:
        """Copy a local file into a temp file in the store, streaming it in chunks."""
        with source.open("rb") as handle:
            return self.stage_chunks(iter(lambda: handle.read(CHUNK_SIZE), b""))

    def admit(self, staged: Staged) -> Blob:
        """Move a judged file into the store; the caller then commits the row that names it."""
        final = self.path_for(staged.sha256)
        try:
            # Same content already stored: content addressing makes this a no-op, but freshen its time so a
            # start-up sweep (on another instance) does not take it for an old orphan before our row commits.
            os.utime(final)
        except PermissionError:  # stored by another user (a CLI run as root): still there, leave its time
            staged.path.unlink(missing_ok=True)
        except FileNotFoundError:
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged.path, final)
            _fsync_dir(final.parent)
        else:
            staged.path.unlink(missing_ok=True)
        return Blob(staged.sha256, staged.size, final)

    def discard(self, staged: Staged) -> None:
        """Delete a staged file (refused, or already admitted: then there is nothing left to delete)."""
        staged.path.unlink(missing_ok=True)

    async def store_stream(self, chunks: AsyncIterable[bytes], *, max_bytes: int | None = None) -> Blob:
        """Stage and admit at once, for content that needs no judging (the bot's own exports, tests)."""
        return self.admit(await self.stage_stream(chunks, max_bytes=max_bytes))

    def store_chunks(self, chunks: Iterable[bytes]) -> Blob:
        return self.admit(self.stage_chunks(chunks))

    def store_bytes(self, data: bytes) -> Blob:
        return self.store_chunks([data])

    def store_file(self, source: Path) -> Blob:
        """Copy a local file into the store, streaming it in chunks."""
        with source.open("rb") as handle:
            return self.store_chunks(iter(lambda: handle.read(CHUNK_SIZE), b""))

    def remove_orphans(
        self, referenced: Collection[str], *, now: float | None = None, min_age: float = ORPHAN_MIN_AGE_SECONDS
    ) -> int:
        """Delete blobs no row names that are older than `min_age` seconds; returns how many were removed.

        `now` is a POSIX time (the file system's clock: blob ages are mtimes). Young blobs are kept: their row may
        still be on its way to a commit.
        """
        moment = time.time() if now is None else now
        removed = 0
        for blob in self.blobs():
            if blob.name in referenced:
                continue
            try:
                if moment - blob.stat().st_mtime < min_age:
                    continue
                blob.unlink()
            except FileNotFoundError:
                continue
            removed += 1
        if removed:
            logger.info("removed %d file(s) no row names from the file store", removed)
        return removed

    def blobs(self) -> Iterator[Path]:
        """Every blob in the store (not the temp files, not anything else someone put there), one at a time."""
        for blob in self.root.glob("[0-9a-f][0-9a-f]/[0-9a-f][0-9a-f]/*"):
            if _is_blob_path(self, blob):
                yield blob

    def verify(self, sha256: str, size: int | None = None) -> str | None:
        """Why the stored blob is not what its row says ("missing", "size", "sha256"), or None when it is.

        Streams the file in chunks: memory stays constant whatever its size.
        """
        path = self.path_for(sha256)
        try:
            if size is not None and path.stat().st_size != size:
                return "size"
            digest = hashlib.sha256()
            with path.open("rb") as handle:
                for chunk in iter(lambda: handle.read(CHUNK_SIZE), b""):
                    digest.update(chunk)
        except FileNotFoundError:
            return "missing"
        return None if digest.hexdigest() == sha256 else "sha256"

    def copy_out(self, sha256: str, target: Path) -> None:
        """Copy a stored blob to a path outside the store (exports)."""
        shutil.copyfile(self.path_for(sha256), target)


def _is_blob_path(store: FileStore, path: Path) -> bool:
    """Whether a path is where the store keeps a blob (not some other file someone put there)."""
    try:
        return store.path_for(path.name) == path and path.is_file()
    except ValueError:
        return False


def _owner(name: str) -> int | None:
    """The process id of this machine that wrote a temp file, or None (another machine, or an older name)."""
    host, _, rest = name.removeprefix(_TEMP_PREFIX).partition("-")
    pid, dash, _ = rest.partition("-")
    return int(pid) if host == _HOST and dash and pid.isdigit() else None


def _in_progress(name: str) -> bool:
    """Whether the temp file's writer, another process of this machine, still runs (a crash's writer is gone)."""
    pid = _owner(name)
    if pid is None or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, another user's
    return True


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
