"""The generated evidence corpus: documents with and without what an assessor looks for, as text PDFs, DOCX files,
scans (rendered at 200-300 dpi with noise and a slight rotation) and screenshots, each with its expected findings.

Every sample is made from lines of text, so the same document exists in every form; `expected` names the checks
(`bot/services/evidence_checks.py`) that must fire on it, and every other check must stay silent.
"""

from __future__ import annotations

import io
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

CAMPAIGN_YEAR = 2026
CHECKS = ("jenis_nomor", "ditetapkan", "tahun", "kota", "tangkapan_layar")


@dataclass(frozen=True)
class Sample:
    name: str
    profile: str  # which rules the item uses: kebijakan, laporan, tangkapan_layar
    lines: tuple[str, ...]
    expected: frozenset[str]


BODY = (
    "Menimbang : a. bahwa untuk mewujudkan tata kelola pemerintahan yang bersih, efektif, transparan",
    "dan akuntabel diperlukan sistem pemerintahan berbasis elektronik yang terpadu;",
    "b. bahwa berdasarkan pertimbangan sebagaimana dimaksud dalam huruf a perlu menetapkan",
    "ketentuan mengenai arsitektur dan peta rencana sistem pemerintahan berbasis elektronik;",
    "Mengingat : Peraturan Presiden Nomor 95 Tahun 2018 tentang Sistem Pemerintahan Berbasis Elektronik;",
    "MEMUTUSKAN:",
    "Pasal 1 Arsitektur SPBE memuat proses bisnis, data dan informasi, infrastruktur, aplikasi,",
    "keamanan dan layanan yang menjadi acuan perangkat daerah dalam membangun layanan digital.",
    "Pasal 2 Peta rencana SPBE memuat tata kelola, manajemen, layanan, infrastruktur, aplikasi,",
    "keamanan dan audit teknologi informasi dan komunikasi untuk lima tahun ke depan.",
)


def _perwal(
    *,
    city: str = "PONTIANAK",
    number: str | None = "NOMOR 12 TAHUN {year}",
    year: int = 2025,
    draft: bool = False,
    enacted: bool = True,
    signed: bool = True,
    heading: str = "PERATURAN WALI KOTA",
) -> tuple[str, ...]:
    lines = [f"WALI KOTA {city}", "PROVINSI KALIMANTAN BARAT"]
    lines.append(("RANCANGAN " if draft else "") + f"{heading} {city}")
    if number:
        lines.append(number.format(year=year))
    lines += ["TENTANG", "ARSITEKTUR SISTEM PEMERINTAHAN BERBASIS ELEKTRONIK", "DENGAN RAHMAT TUHAN YANG MAHA ESA"]
    lines += [f"WALI KOTA {city},", *BODY]
    if enacted:
        lines += [f"Ditetapkan di {city.title()}", f"pada tanggal 14 Maret {year}"]
    if signed:
        lines += [f"WALI KOTA {city},", "ttd", "EDI RUSDI KAMTONO"]
    return tuple(lines)


def _keputusan_kadis(*, year: int = 2025, nip: bool = True) -> tuple[str, ...]:
    lines = [
        "PEMERINTAH KOTA PONTIANAK",
        "DINAS KOMUNIKASI DAN INFORMATIKA",
        "KEPUTUSAN KEPALA DINAS KOMUNIKASI DAN INFORMATIKA KOTA PONTIANAK",
        f"NOMOR 045/118/DISKOMINFO/{year}",
        "TENTANG",
        "TIM PENGELOLA LAYANAN PUSAT DATA",
        *BODY,
        "Ditetapkan di Pontianak",
        f"pada tanggal 2 Juni {year}",
        "KEPALA DINAS KOMUNIKASI DAN INFORMATIKA,",
        "YUDHI FAHRIZAL, S.Kom, M.Si",
    ]
    if nip:
        lines += ["Pembina Utama Muda", "NIP. 19750312 200003 1 004"]
    return tuple(lines)


def _laporan(*, year: int = 2025, city: str = "Pontianak") -> tuple[str, ...]:
    return (
        f"LAPORAN EVALUASI PENERAPAN SPBE TAHUN {year}",
        f"DINAS KOMUNIKASI DAN INFORMATIKA KOTA {city.upper()}",
        "BAB I PENDAHULUAN",
        "Laporan ini menyajikan hasil reviu dan evaluasi terhadap kebijakan internal arsitektur",
        "dan peta rencana sistem pemerintahan berbasis elektronik yang telah ditetapkan, serta",
        "rekomendasi tindak lanjut bagi perangkat daerah pengelola layanan digital.",
        "BAB II HASIL EVALUASI",
        "Seluruh perangkat daerah telah menggunakan aplikasi umum berbagi pakai sesuai ketentuan.",
        f"{city}, 20 Desember {year}",
        "KEPALA DINAS KOMUNIKASI DAN INFORMATIKA,",
        "YUDHI FAHRIZAL, S.Kom, M.Si",
        "NIP. 19750312 200003 1 004",
    )


def samples() -> list[Sample]:
    """The documents, each with the checks that must fire on it."""
    k, lp = "kebijakan", "laporan"
    return [
        Sample("perwal-ditetapkan", k, _perwal(), frozenset()),
        Sample("keputusan-kadis", k, _keputusan_kadis(), frozenset()),
        Sample("perwal-tanpa-ttd", k, _perwal(enacted=False, signed=False), frozenset({"ditetapkan"})),
        Sample("perwal-tanpa-tanggal", k, _perwal(enacted=False), frozenset({"ditetapkan"})),
        Sample("keputusan-tanpa-nip", k, _keputusan_kadis(nip=False), frozenset({"ditetapkan"})),
        Sample("rancangan-perwal", k, _perwal(draft=True, enacted=False, signed=False), frozenset({"ditetapkan"})),
        Sample("perwal-2015", k, _perwal(year=2015), frozenset({"tahun"})),
        Sample("perwal-singkawang", k, _perwal(city="SINGKAWANG"), frozenset({"kota"})),
        Sample("perwal-tanpa-nomor", k, _perwal(number=None), frozenset({"jenis_nomor"})),
        Sample(
            "nota-dinas",
            k,
            _perwal(heading="NOTA DINAS SEKRETARIAT DAERAH KOTA", number=None),
            frozenset({"jenis_nomor"}),
        ),
        Sample("perwal-berwatermark-draf", k, (*_perwal()[:3], "DRAF", *_perwal()[3:]), frozenset({"ditetapkan"})),
        Sample(
            "surat-edaran",
            k,
            _perwal(heading="SURAT EDARAN WALI KOTA", number="NOMOR 7 TAHUN {year}", year=2024),
            frozenset(),
        ),
        Sample("keputusan-2018", k, _keputusan_kadis(year=2018), frozenset({"tahun"})),
        Sample("keputusan-samarinda", k, _perwal(city="SAMARINDA", heading="KEPUTUSAN WALI KOTA"), frozenset({"kota"})),
        Sample("laporan-2025", lp, _laporan(), frozenset()),
        Sample(
            "laporan-tanpa-kota",
            lp,
            tuple(line for line in _laporan() if "KOTA" not in line and "Pontianak" not in line),
            frozenset({"kota"}),
        ),
        Sample("laporan-2019", lp, _laporan(year=2019), frozenset({"tahun"})),
        Sample("laporan-kubu-raya", lp, _laporan(city="Kubu Raya"), frozenset({"kota"})),
    ]


def sample(name: str) -> Sample:
    """One sample by its name."""
    return next(s for s in samples() if s.name == name)


@dataclass(frozen=True)
class Screenshot:
    name: str
    address: bool
    date: bool
    application: str | None = None  # an application's name on screen instead of the address bar
    numeric_date: bool = False

    @property
    def expected(self) -> frozenset[str]:
        shown = self.address or self.application is not None
        return frozenset() if shown and self.date else frozenset({"tangkapan_layar"})


SCREENSHOTS = (
    Screenshot("layar-lengkap", address=True, date=True),
    Screenshot("layar-tanpa-alamat", address=False, date=True),
    Screenshot("layar-tanpa-tanggal", address=True, date=False),
    Screenshot("layar-aplikasi", address=False, date=True, application="SRIKANDI", numeric_date=True),
    Screenshot("layar-aplikasi-tanpa-tanggal", address=False, date=False, application="SRIKANDI"),
)


# --- forms -----------------------------------------------------------------------------------------------------


def text_pdf(lines: Sequence[str], *, pages: int = 1) -> bytes:
    """A PDF with a text layer (reportlab), the lines spread over `pages` pages."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    per_page = max(1, -(-len(lines) // pages))
    for page in range(pages):
        y = A4[1] - 60
        chunk = lines[page * per_page : (page + 1) * per_page] or ("Halaman lanjutan.",)
        for line in chunk:
            pdf.setFont("Helvetica", 10)
            pdf.drawString(50, y, line)
            y -= 16
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def docx_file(lines: Sequence[str]) -> bytes:
    import docx

    document = docx.Document()
    for line in lines:
        document.add_paragraph(line)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _font(size: int) -> object:
    import reportlab
    from PIL import ImageFont

    return ImageFont.truetype(str(Path(reportlab.__file__).parent / "fonts" / "Vera.ttf"), size)


def scan_image(lines: Sequence[str], *, dpi: int = 300, seed: int = 0, rotate: float = 0.7) -> object:
    """An A4 page as a scanner gives it: grey paper, speckles, a slight rotation."""
    from PIL import Image, ImageDraw, ImageFilter

    rng = random.Random(seed)
    width, height = int(8.27 * dpi), int(11.69 * dpi)
    page = Image.new("L", (width, height), 245)
    draw = ImageDraw.Draw(page)
    font = _font(int(dpi * 0.15))  # about 11 pt
    y = int(dpi * 0.8)
    for line in lines:
        draw.text((int(dpi * 0.8), y), line, fill=20, font=font)  # type: ignore[arg-type]
        y += int(dpi * 0.24)
    for _ in range(width * height // 4000):
        x, yy = rng.randrange(width), rng.randrange(height)
        draw.point((x, yy), fill=rng.choice((90, 140, 200)))
    page = page.rotate(rotate, resample=Image.Resampling.BILINEAR, fillcolor=245, expand=False)
    return page.filter(ImageFilter.GaussianBlur(0.4))


def png_bytes(image: object, *, dpi: int | None = None) -> bytes:
    from PIL import Image

    assert isinstance(image, Image.Image)
    out = io.BytesIO()
    image.save(out, format="PNG", **({"dpi": (dpi, dpi)} if dpi else {}))
    return out.getvalue()


def scanned_pdf(lines: Sequence[str], *, dpi: int = 300, seed: int = 0) -> bytes:
    """A PDF of one scanned page: an image, no text layer."""
    from PIL import Image

    image = scan_image(lines, dpi=dpi, seed=seed)
    assert isinstance(image, Image.Image)
    out = io.BytesIO()
    image.convert("RGB").save(out, format="PDF", resolution=float(dpi))
    return out.getvalue()


def screenshot_image(shot: Screenshot) -> bytes:
    """A 1366x768 browser window: the application, with or without its address bar and a date on screen."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (1366, 768), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    big, small = _font(26), _font(22)
    top = 20
    if shot.address:
        draw.rectangle((0, 0, 1366, 60), fill=(232, 234, 237))
        draw.text((80, 16), "https://sipd.pontianak.go.id/layanan/dashboard", fill=(20, 20, 20), font=small)  # type: ignore[arg-type]
        top = 90
    title = (
        f"{shot.application} - Naskah Dinas Elektronik" if shot.application else "Daftar Layanan Publik Terintegrasi"
    )
    draw.text((40, top), title, fill=(0, 0, 0), font=big)  # type: ignore[arg-type]
    rows = ["Perizinan usaha mikro dan kecil 152 permohonan", "Pengaduan masyarakat 87 laporan selesai"]
    if shot.date:
        rows.append("Diperbarui 14/10/2025 09:30" if shot.numeric_date else "Diperbarui 14 Oktober 2025 pukul 09.30")
    for n, row in enumerate(rows):
        draw.text((40, top + 60 + n * 50), row, fill=(30, 30, 30), font=small)  # type: ignore[arg-type]
    return png_bytes(image)


FORMS = ("pdf", "docx", "scan")


def render(sample: Sample, form: str, *, seed: int = 0) -> bytes:
    """One sample in one form: `pdf` (text layer), `docx`, `scan` (a PNG at 200-300 dpi), `scan-pdf`."""
    if form == "pdf":
        return text_pdf(sample.lines)
    if form == "docx":
        return docx_file(sample.lines)
    dpi = (200, 250, 300)[seed % 3]
    if form == "scan":
        return png_bytes(scan_image(sample.lines, dpi=dpi, seed=seed, rotate=(0.6, -0.8, 1.0)[seed % 3]), dpi=dpi)
    if form == "scan-pdf":
        return scanned_pdf(sample.lines, dpi=dpi, seed=seed)
    raise ValueError(form)


def corpus(forms: Sequence[str] = FORMS) -> Iterator[tuple[str, str, bytes, frozenset[str]]]:
    """(name, profile, content, expected findings) for every sample in every form, and every screenshot."""
    for n, sample in enumerate(samples()):
        for form in forms:
            yield f"{sample.name}.{form}", sample.profile, render(sample, form, seed=n), sample.expected
    for shot in SCREENSHOTS:
        yield f"{shot.name}.png", "tangkapan_layar", screenshot_image(shot), shot.expected


# --- bad inputs ------------------------------------------------------------------------------------------------


def encrypted_pdf() -> bytes:
    import pypdfium2  # noqa: F401  (the reader's library; reportlab writes the encryption)
    from reportlab.lib import pdfencrypt
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    pdf = canvas.Canvas(out, encrypt=pdfencrypt.StandardEncryption("rahasia", ownerPassword="pemilik", canPrint=0))
    pdf.drawString(50, 700, "Dokumen rahasia")
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def broken_pdf() -> bytes:
    return text_pdf(["Peraturan Wali Kota Pontianak"])[:300]


def many_pages_pdf(pages: int = 2000) -> bytes:
    """A valid PDF of `pages` empty pages, written by hand (reportlab would take a while)."""
    objects = ["<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{n + 3} 0 R" for n in range(pages))
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>")
    objects += ["<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"] * pages
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj {body} endobj\n".encode())
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer << /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def huge_image() -> bytes:
    """A PNG of 12,000 x 12,000 pixels (144 million): small on disk, gigabytes once decoded at full colour."""
    from PIL import Image

    return png_bytes(Image.new("1", (12_000, 12_000), 1))


def billion_laughs_docx() -> bytes:
    """A DOCX whose document.xml declares nested entities that expand to gigabytes."""
    entities = ['<!ENTITY lol "lol">'] + [
        f'<!ENTITY lol{n} "{("&lol" + str(n - 1) + ";") * 10}">' for n in range(1, 10)
    ]
    entities[1] = '<!ENTITY lol1 "' + "&lol;" * 10 + '">'
    xml = (
        '<?xml version="1.0"?><!DOCTYPE lolz [' + "".join(entities) + "]>"
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        "<w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>"
    )
    source = io.BytesIO(docx_file(["isi"]))
    out = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(source) as original, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bomb:
        for item in original.infolist():
            data = xml.encode() if item.filename == "word/document.xml" else original.read(item.filename)
            bomb.writestr(item, data)
    return out.getvalue()
