"""The content-addressed file store writes durably and cleans up after crashes."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.filestore import FileStore, FileTooLargeError


def test_bytes_are_stored_under_their_hash(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "files")
    data = b"%PDF-1.7 data dukung"
    blob = store.store_bytes(data)
    assert blob.sha256 == hashlib.sha256(data).hexdigest()
    assert blob.size == len(data)
    assert blob.path == tmp_path / "files" / blob.sha256[:2] / blob.sha256[2:4] / blob.sha256
    assert blob.path.read_bytes() == data
    assert store.store_bytes(data) == blob  # the same content is stored once


async def test_streams_are_hashed_while_written(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "files")
    chunks = [b"a" * 1000, b"b" * 2000, b"c"]

    async def stream() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    blob = await store.store_stream(stream())
    assert blob.sha256 == hashlib.sha256(b"".join(chunks)).hexdigest()
    assert blob.path.read_bytes() == b"".join(chunks)
    assert list((tmp_path / "files" / "tmp").iterdir()) == []


async def test_an_oversize_stream_leaves_nothing_behind(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "files")

    async def stream() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 100

    with pytest.raises(FileTooLargeError):
        await store.store_stream(stream(), max_bytes=500)
    assert list((tmp_path / "files" / "tmp").iterdir()) == []
    assert [p for p in (tmp_path / "files").rglob("*") if p.is_file()] == []


def test_stray_temp_files_are_removed_at_start_up(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "files")
    fd, temp = store.open_temp()
    with open(fd, "wb") as handle:
        handle.write(b"half a download")
    kept = store.store_bytes(b"complete")
    assert store.remove_stray_temp_files() == 1
    assert not temp.exists()
    assert kept.path.exists()


def test_hash_names_are_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        FileStore(tmp_path).path_for("../../etc/passwd")
