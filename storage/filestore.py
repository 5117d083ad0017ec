"""The content-addressed file store: blobs named by their SHA-256, written durably before any row names them."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import AsyncIterable, Iterable
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

_TEMP_PREFIX = ".incoming-"
CHUNK_SIZE = 1024 * 1024


@dataclass(frozen=True)
class Blob:
    """A file that is safely in the store."""

    sha256: str
    size: int
    path: Path


class FileTooLargeError(Exception):
    """The incoming stream went past the allowed size; nothing was stored."""


class FileStore:
    """Blobs live at `<root>/<aa>/<bb>/<sha256>`; a temp file is fsynced and renamed into place.

    Callers store the blob first and only then commit the row that names it, so a crash leaves at worst an
    unreferenced blob or a stray temp file (removed by `remove_stray_temp_files` at start-up), never a row
    without its file.
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

    def remove_stray_temp_files(self) -> int:
        """Delete temp files left by a crash mid-write; returns how many were removed."""
        if not self._tmp.is_dir():
            return 0
        removed = 0
        for stray in self._tmp.glob(f"{_TEMP_PREFIX}*"):
            stray.unlink(missing_ok=True)
            removed += 1
        if removed:
            logger.info("removed %d stray temp file(s) from the file store", removed)
        return removed

    def open_temp(self) -> tuple[int, Path]:
        """A new temp file inside the store (same file system, so the final rename is atomic)."""
        self._tmp.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=self._tmp)
        return fd, Path(name)

    async def store_stream(self, chunks: AsyncIterable[bytes], *, max_bytes: int | None = None) -> Blob:
        """Write an async stream of bytes into the store, hashing as it streams."""
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
            return await asyncio.to_thread(self._commit_temp, temp, digest.hexdigest(), size)
        finally:
            temp.unlink(missing_ok=True)

    def store_chunks(self, chunks: Iterable[bytes]) -> Blob:
        """The synchronous twin of `store_stream`, for local files and bytes."""
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
            return self._commit_temp(temp, digest.hexdigest(), size)
        finally:
            temp.unlink(missing_ok=True)

    def store_bytes(self, data: bytes) -> Blob:
        return self.store_chunks([data])

    def store_file(self, source: Path) -> Blob:
        """Copy a local file into the store, streaming it in chunks."""
        with source.open("rb") as handle:
            return self.store_chunks(iter(lambda: handle.read(CHUNK_SIZE), b""))

    def _commit_temp(self, temp: Path, sha256: str, size: int) -> Blob:
        final = self.path_for(sha256)
        if final.is_file():  # same content already stored: content addressing makes this a no-op
            return Blob(sha256, size, final)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temp, final)
        _fsync_dir(final.parent)
        return Blob(sha256, size, final)

    def copy_out(self, sha256: str, target: Path) -> None:
        """Copy a stored blob to a path outside the store (exports)."""
        shutil.copyfile(self.path_for(sha256), target)


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
