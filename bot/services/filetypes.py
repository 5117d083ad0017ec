"""What a file really is, judged by its content, never by its name (the intake issue extends this)."""

from __future__ import annotations

from pathlib import Path

PDF_MAGIC = b"%PDF-"


def looks_like_pdf(path: Path) -> bool:
    """A PDF starts with `%PDF-` (within its first KiB, as readers allow) and ends with `%%EOF`."""
    with path.open("rb") as handle:
        head = handle.read(1024)
        if PDF_MAGIC not in head:
            return False
        size = handle.seek(0, 2)
        handle.seek(max(0, size - 2048))
        return b"%%EOF" in handle.read()
