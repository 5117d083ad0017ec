"""Reading one stored file's text: PDF text layers (pypdfium2), DOCX (python-docx), XLSX (openpyxl), and OCR of
images and of PDF pages without text (Tesseract with the Indonesian model, called as a program).

Reading runs in a child process of its own (`python -m bot.services.evidence_reading PATH`, started by
`read_in_child`) with a memory and CPU limit and a lower priority: a decompression bomb, a 2,000-page PDF or a
crashing library then costs that child, never the bot. The child prints one JSON object; anything it cannot read
is answered with a reason in Bahasa Indonesia ("tidak dapat dibaca otomatis"), not an exception.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import functools
import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

MAX_PAGES = 500  # a PDF with more pages is not read at all (a 2,000-page file is no single piece of evidence)
MAX_OCR_PAGES = 20  # pages without a text layer read by OCR, from the first
OCR_DPI = 300
MAX_IMAGE_PIXELS = 60_000_000  # an A4 page at 600 dpi is 35 million; Pillow's bomb guard refuses beyond
MAX_ZIP_BYTES = 100 * 1024 * 1024  # a DOCX or XLSX that unpacks to more is a zip bomb, not a document
MAX_TEXT_CHARS = 200_000
MAX_CELLS = 200_000
MIN_TEXT_CHARS_PER_PAGE = 20  # below this a PDF page is taken for a scan
OCR_LANGUAGE = "ind"
SHINGLE_WORDS = 5
SIGNATURE_SIZE = 64

_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*", b"GIF8", b"BM", b"RIFF")


@dataclass(frozen=True)
class ReadText:
    """What reading one file gave: its text, or why there is none."""

    state: str  # read, unreadable
    method: str | None = None
    pages: int | None = None
    ocr_confidence: int | None = None
    reason: str | None = None
    body: str = ""
    screenshot: bool = False


class Unreadable(Exception):
    """The file cannot be read automatically; the message is the reason, in Bahasa Indonesia."""


@dataclass(frozen=True)
class OcrStatus:
    available: bool
    detail: str  # for the log and /healthz


@functools.cache
def ocr_status() -> OcrStatus:
    """Whether Tesseract with the Indonesian model is installed (checked once per process)."""
    program = shutil.which("tesseract")
    if program is None:
        return OcrStatus(False, "tesseract is not installed (apt-get install tesseract-ocr tesseract-ocr-ind)")
    try:
        listed = subprocess.run([program, "--list-langs"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return OcrStatus(False, f"tesseract does not run: {type(error).__name__}")
    if OCR_LANGUAGE not in listed.stdout.split():
        return OcrStatus(False, "tesseract has no Indonesian model (apt-get install tesseract-ocr-ind)")
    return OcrStatus(True, "tesseract with the Indonesian model")


def read_file(path: Path, *, ocr: bool) -> ReadText:
    """Read one file by what its content is (never by its name, which the sender chose)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
        if head.startswith(b"%PDF"):
            return _read_pdf(path, ocr=ocr)
        if head.startswith(b"PK\x03\x04"):
            return _read_office(path)
        if head.startswith(_IMAGE_MAGIC):
            return _read_image(path, ocr=ocr)
        raise Unreadable("jenis berkas tidak dikenali untuk dibaca otomatis")
    except Unreadable as refusal:
        return ReadText("unreadable", reason=str(refusal)[:300])
    except MemoryError:
        return ReadText("unreadable", reason="berkas memerlukan memori melebihi batas pembacaan")


def _limited(text: str) -> str:
    return text[:MAX_TEXT_CHARS]


# --- PDF -----------------------------------------------------------------------------------------------------


def _read_pdf(path: Path, *, ocr: bool) -> ReadText:
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as error:
        if "password" in str(error).lower():
            raise Unreadable("berkas PDF terkunci dengan kata sandi") from None
        raise Unreadable("berkas PDF rusak atau tidak lengkap") from None
    try:
        count = len(document)
        if count > MAX_PAGES:
            raise Unreadable(f"berkas PDF terlalu banyak halamannya ({count} halaman; batas {MAX_PAGES})")
        texts: list[str] = []
        confidences: list[int] = []
        ocr_pages = 0
        for index in range(count):
            page = document[index]
            textpage = page.get_textpage()
            text = textpage.get_text_bounded().replace("\r\n", "\n").replace("\r", "\n")
            textpage.close()
            if len(text.strip()) < MIN_TEXT_CHARS_PER_PAGE and ocr and ocr_pages < MAX_OCR_PAGES:
                bitmap = page.render(scale=OCR_DPI / 72, grayscale=True)
                image = bitmap.to_pil()
                recognized, confidence = _ocr(image)
                ocr_pages += 1
                if recognized.strip():
                    text = recognized
                    confidences.append(confidence)
            page.close()
            texts.append(text)
    finally:
        document.close()
    body = _limited("\n\f".join(texts))
    method = "pdf+ocr" if confidences else "pdf"
    if not body.strip():
        reason = "halaman PDF tidak berisi teks" + ("" if ocr else " dan pembacaan gambar (OCR) tidak tersedia")
        return ReadText("unreadable", method=method, pages=count, reason=reason)
    return ReadText("read", method, count, _mean(confidences), None, body)


def _mean(values: list[int]) -> int | None:
    return round(sum(values) / len(values)) if values else None


# --- DOCX, XLSX ----------------------------------------------------------------------------------------------


def _read_office(path: Path) -> ReadText:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise Unreadable("berkas arsip (DOCX/XLSX) rusak") from None
    with archive:
        members = archive.infolist()
        if sum(m.file_size for m in members) > MAX_ZIP_BYTES:
            raise Unreadable("isi berkas terlalu besar setelah dibuka (lebih dari 100 MB)")
        names = {m.filename for m in members}
        for member in members:
            if member.filename.endswith((".xml", ".rels")) and _declares_entities(archive, member):
                # No Office file needs a DTD; entity declarations are how a billion-laughs file explodes.
                raise Unreadable("berkas berisi deklarasi entitas XML yang tidak diizinkan")
    if "word/document.xml" in names:
        return _read_docx(path)
    if "xl/workbook.xml" in names:
        return _read_xlsx(path)
    raise Unreadable("berkas arsip ini bukan DOCX atau XLSX")


def _declares_entities(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> bool:
    with archive.open(member) as handle:
        head = handle.read(4096)
    return b"<!DOCTYPE" in head or b"<!ENTITY" in head


def _read_docx(path: Path) -> ReadText:
    import docx

    try:
        document = docx.Document(str(path))
    except Exception as error:  # python-docx raises many kinds for a damaged package
        raise Unreadable("berkas DOCX rusak") from error
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            lines.append(" | ".join(cell.text for cell in row.cells))
    for section in document.sections:
        lines.extend(p.text for p in section.footer.paragraphs)
    body = _limited("\n".join(lines))
    if not body.strip():
        raise Unreadable("berkas DOCX tidak berisi teks")
    return ReadText("read", "docx", None, None, None, body)


def _read_xlsx(path: Path) -> ReadText:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a damaged workbook
        raise Unreadable("berkas XLSX rusak") from error
    out = io.StringIO()
    writer = csv.writer(out, delimiter=" ")
    cells = 0
    try:
        for sheet in workbook.worksheets:
            for row in sheet.iter_rows(values_only=True):
                values = [str(v) for v in row if v is not None]
                cells += len(row)
                if values:
                    writer.writerow(values)
                if cells > MAX_CELLS or out.tell() > MAX_TEXT_CHARS:
                    break
    finally:
        workbook.close()
    return ReadText("read", "xlsx", len(workbook.worksheets), None, None, _limited(out.getvalue()))


# --- images and OCR ------------------------------------------------------------------------------------------


def _read_image(path: Path, *, ocr: bool) -> ReadText:
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        # Pillow warns between the limit and twice it, and refuses beyond: both are refusals here.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as opened:
                width, height = opened.size
                if not ocr:
                    return ReadText(
                        "unreadable",
                        method="ocr",
                        pages=1,
                        reason="pembacaan gambar (OCR) tidak tersedia di server",
                        screenshot=_screen_shaped(width, height),
                    )
                opened.load()
                image = opened.convert("L")
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            limit = MAX_IMAGE_PIXELS // 1_000_000
            raise Unreadable(f"gambar terlalu besar untuk dibaca (lebih dari {limit} juta piksel)") from None
        except (OSError, SyntaxError, ValueError):
            raise Unreadable("berkas gambar rusak") from None
    text, confidence = _ocr(image)
    screenshot = _screen_shaped(width, height)
    if not text.strip():
        return ReadText("unreadable", "ocr", 1, confidence, "tidak ada teks yang terbaca pada gambar", "", screenshot)
    return ReadText("read", "ocr", 1, confidence, None, _limited(text), screenshot)


def _screen_shaped(width: int, height: int) -> bool:
    """A screenshot, not a scanned page: anything but a portrait sheet (A4 is 1.41, F4 1.56 tall)."""
    ratio = height / max(width, 1)
    return not 1.3 <= ratio <= 1.65


def _ocr(image: object) -> tuple[str, int]:
    """Tesseract's text of one image, lines kept, and its mean word confidence."""
    from PIL import Image

    assert isinstance(image, Image.Image)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    # One thread: the bot has two cores; bounded concurrency is the job's business, not Tesseract's.
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    done = subprocess.run(
        ["tesseract", "stdin", "stdout", "-l", OCR_LANGUAGE, "--dpi", str(OCR_DPI), "tsv"],
        input=buffer.getvalue(),
        capture_output=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise Unreadable("pembacaan gambar (OCR) gagal")
    return _from_tsv(done.stdout.decode("utf-8", "replace"))


def _from_tsv(tsv: str) -> tuple[str, int]:
    lines: dict[tuple[str, str, str, str], list[str]] = {}
    confidences: list[float] = []
    for row in list(csv.reader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE))[1:]:
        if len(row) < 12 or row[0] != "5" or not row[11].strip():
            continue
        lines.setdefault((row[1], row[2], row[3], row[4]), []).append(row[11])
        try:
            confidences.append(float(row[10]))
        except ValueError:
            pass
    text = "\n".join(" ".join(words) for words in lines.values())
    return text, round(sum(confidences) / len(confidences)) if confidences else 0


# --- near-copies ---------------------------------------------------------------------------------------------


def words_of(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def shingles(text: str) -> Iterator[str]:
    words = words_of(text)
    for start in range(max(len(words) - SHINGLE_WORDS + 1, 0)):
        yield " ".join(words[start : start + SHINGLE_WORDS])


def signature(text: str) -> str | None:
    """A MinHash of the text's 5-word shingles: equal positions estimate the Jaccard similarity of two texts."""
    hashes = [int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "big") for s in set(shingles(text))]
    if len(hashes) < 20:  # a few words are no copy of anything
        return None
    mask = (1 << 64) - 1
    seeds = [(0x9E3779B97F4A7C15 * (k + 1)) & mask for k in range(SIGNATURE_SIZE)]
    minima = [min(((h ^ seed) * 0xFF51AFD7ED558CCD) & mask for h in hashes) for seed in seeds]
    return "".join(f"{m:016x}" for m in minima)


def similarity(first: str, second: str) -> float:
    """The share of equal MinHash positions of two signatures (an estimate of their shingles' Jaccard)."""
    a = [first[i : i + 16] for i in range(0, len(first), 16)]
    b = [second[i : i + 16] for i in range(0, len(second), 16)]
    return sum(x == y for x, y in zip(a, b, strict=False)) / max(len(a), 1)


# --- the child process ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    seconds: float
    memory_mb: int


async def read_in_child(path: Path, limits: Limits, *, ocr: bool) -> ReadText:
    """Read `path` in a child process bounded in time, memory and CPU; a child past a limit is killed."""
    # The child sets its own limits before it opens the file: no preexec_fn, so the bot's process is not forked
    # (a fork of a large process would pause the event loop) but spawned.
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        __name__,
        str(path),
        "ocr" if ocr else "no-ocr",
        str(limits.seconds),
        str(limits.memory_mb),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,  # its own process group: a timeout kills Tesseract with it
        env={**os.environ, "OMP_THREAD_LIMIT": "1", "PYTHONWARNINGS": "ignore"},
    )
    try:
        async with asyncio.timeout(limits.seconds):
            output, _ = await process.communicate()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        return ReadText("unreadable", reason=f"pembacaan melebihi batas waktu ({limits.seconds:g} detik)")
    if process.returncode != 0:
        # The memory limit shows as a MemoryError the child cannot even report, or as a signal.
        return ReadText("unreadable", reason="pembacaan melebihi batas memori atau berhenti di tengah jalan")
    try:
        return ReadText(**json.loads(output))
    except (ValueError, TypeError):
        return ReadText("unreadable", reason="hasil pembacaan tidak dapat diolah")


def _limit_child(limits: Limits) -> None:
    import resource

    memory = limits.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = int(limits.seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    # Reading yields to the bot's own work: the idle class runs only on a core nothing else wants (Linux), and
    # the lowest priority elsewhere, so inbound handling stays as fast as when nothing is read.
    os.nice(19)
    if hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_IDLE"):
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))


def main(argv: list[str]) -> int:
    path, mode = Path(argv[0]), argv[1] if len(argv) > 1 else "ocr"
    if len(argv) > 3:
        _limit_child(Limits(float(argv[2]), int(argv[3])))
    result = read_file(path, ocr=mode == "ocr")
    sys.stdout.write(json.dumps(asdict(result), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
