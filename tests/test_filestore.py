"""The content-addressed file store writes durably and cleans up after crashes."""

from __future__ import annotations

import hashlib
import io
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import MonevApp
from bot.services import registry, uploads
from bot.services.audit import Acting
from storage.filestore import FileStore, FileTooLargeError
from storage.models import Role


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
    # a download of a process still running on this machine (our parent process stands in for the bot)
    in_progress = temp.with_name(temp.name.replace(f"-{os.getpid()}-", f"-{os.getppid()}-"))
    in_progress.write_bytes(b"still arriving")
    # another machine's temp files: gone only once older than an hour
    other_old, other_young = temp.with_name(".incoming-lain-1-a"), temp.with_name(".incoming-lain-1-b")
    other_old.write_bytes(b"lama")
    other_young.write_bytes(b"baru")
    os.utime(other_old, (time.time() - 3700, time.time() - 3700))
    kept = store.store_bytes(b"complete")
    assert store.remove_stray_temp_files() == 2
    assert not temp.exists() and not other_old.exists()
    assert kept.path.exists() and in_progress.exists() and other_young.exists()


def test_hash_names_are_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        FileStore(tmp_path).path_for("../../etc/passwd")


def test_a_staged_file_is_outside_the_store_until_admitted(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "files")
    staged = store.stage_chunks([b"%PDF-1.7 ", b"bukti"])
    assert staged.sha256 == hashlib.sha256(b"%PDF-1.7 bukti").hexdigest() and staged.size == 14
    assert not store.exists(staged.sha256) and staged.path.parent == tmp_path / "files" / "tmp"
    blob = store.admit(staged)
    assert blob.path.read_bytes() == b"%PDF-1.7 bukti" and not staged.path.exists()
    store.discard(staged)  # after admitting: nothing left to delete, and the blob stays
    assert blob.path.exists()

    refused = store.stage_chunks([b"MZ program"])
    store.discard(refused)
    assert not refused.path.exists() and not store.exists(refused.sha256)
    assert list((tmp_path / "files" / "tmp").iterdir()) == []


def test_admitting_content_already_stored_freshens_it(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "files")
    blob = store.store_bytes(b"sama")
    os.utime(blob.path, (1_000_000, 1_000_000))
    again = store.admit(store.stage_chunks([b"sama"]))
    assert again == blob and blob.path.stat().st_mtime > 1_000_000
    assert list((tmp_path / "files" / "tmp").iterdir()) == []


def test_the_sweep_removes_old_orphans_only(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "files")
    named, old, young = (store.store_bytes(data) for data in (b"dinamai", b"yatim lama", b"yatim baru"))
    hour_and_a_bit_ago = time.time() - 3700
    for blob in (named, old):
        os.utime(blob.path, (hour_and_a_bit_ago, hour_and_a_bit_ago))
    assert store.remove_orphans({named.sha256}) == 1
    assert named.path.exists() and young.path.exists() and not old.path.exists()
    # the young orphan goes too once it is old, judged by the clock given
    assert store.remove_orphans({named.sha256}, now=time.time() + 3601) == 1
    assert not young.path.exists() and named.path.exists()


async def test_start_up_sweeps_files_no_row_names(app: MonevApp) -> None:
    files, now = app.services.files, app.now()
    named, old, young = (files.store_bytes(data) for data in (b"%PDF dinamai", b"%PDF yatim lama", b"%PDF yatim baru"))
    async with app.services.db.write() as session:
        await uploads.register_blob(session, named, now)
    hour_and_a_bit_ago = time.time() - 3700
    for blob in (named, old):
        os.utime(blob.path, (hour_and_a_bit_ago, hour_and_a_bit_ago))
    await app.remove_orphan_files()  # what `monev run` does at start-up (Runtime.start)
    assert named.path.exists() and young.path.exists() and not old.path.exists()
    async with app.services.db.read() as session:
        assert await uploads.referenced_files(session) == {named.sha256}


async def test_files_refused_in_the_console_leave_nothing_in_the_store(app: MonevApp, tmp_path: Path) -> None:
    async with app.services.db.write() as session:
        acting = Acting(None, "cli", "cli")
        rows = registry.parse_opd_file(registry.default_opd_file())
        await registry.import_opds(session, rows, acting=acting, now=app.now())
    out = io.StringIO()
    console = await app.console(Role.OPD, "DINKES", out)
    pdf = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
    refused = {
        "program.pdf": (b"MZ\x90\x00" + bytes(100), "berisi program atau skrip"),
        "surat.pdf": (pdf + b"PK\x05\x06" + bytes(18), "berisi PDF yang disambung dengan data lain"),
        "surat.exe": (pdf, "bernama .exe, tetapi isinya sebenarnya PDF"),
        "kosong.pdf": (b"", "kosong (0 byte)"),
    }
    for name, (data, _) in refused.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "bukti.pdf").write_bytes(pdf)
    blobs = lambda: {p for p in app.services.files.root.rglob("*") if p.is_file()}  # noqa: E731
    before = blobs()
    await console.run(io.StringIO("".join(f":file {tmp_path / name}\n" for name in refused)))
    assert blobs() == before, out.getvalue()
    assert all(f"Berkas {name} {reason}" in out.getvalue() for name, (_, reason) in refused.items()), out.getvalue()
    await console.run(io.StringIO(f":file {tmp_path / 'bukti.pdf'}\n"))
    assert len(blobs() - before) == 1 and "Berkas diterima dan disimpan" in out.getvalue(), out.getvalue()
