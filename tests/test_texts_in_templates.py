"""Texts in templates: command help and button labels live in `templates/`, and channels shorten labels themselves."""

from __future__ import annotations

import ast
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.app import MonevApp
from bot.channels.telegram.sender import _keyboard
from bot.conversation.commands import COMMANDS
from bot.conversation.core import ELLIPSIS, Actor, Assignment, Button, Reply, fit_label
from bot.conversation.templating import TEMPLATES_DIR, Renderer
from storage.models import OPD_SCOPED_ROLES, Role
from tests.test_dispatch import answer, request

HANDLERS = Path(__file__).resolve().parents[1] / "handlers"
# handlers/campaigns.py moves its labels in its own change.
NOT_YET: set[str] = set()

HEADER = "<b>Perintah yang bisa Anda pakai</b>"
UNREGISTERED = (
    "\n\nAnda belum terdaftar: perintah lain tersedia setelah Anda mendaftar dengan kode undangan"
    " dari admin Diskominfo."
)
# /help as it read while the help texts were still written in bot/commands.py, one line per command.
LINES = {
    "start": "/start [KODE] — Mulai, atau daftar dengan kode undangan",
    "help": "/help — Bantuan: perintah yang bisa Anda pakai",
    "batal": "/batal — Batalkan proses yang sedang berjalan",
    "saya": "/saya — Lihat identitas dan peran Anda",
    "daftar": "/daftar KODE — Daftar dengan kode undangan",
    "opd": "/opd [KODE_OPD] — Daftar OPD dan penghubungnya",
    "undang": "/undang KODE_OPD [opd|kepala_opd] | tim | admin | sekretariat | kasi | kabid — Buat kode undangan",
    "cabut": "/cabut [ID] — Cabut akses seseorang",
    "kegiatan": "/kegiatan [#ID] — Kegiatan Monev: status, linimasa SOP, dan tindakan",
    "kirim": (
        "/kirim [KODE_OPD] [#ID] [KODE_ITEM] — Kirim data dukung (beberapa berkas sekaligus); admin/Kasi: atas nama OPD"
    ),
    "status": "/status [KODE_OPD] [#ID] — Kelengkapan data dukung OPD",
    "riwayat": "/riwayat [KODE_OPD] [#ID] — Riwayat versi data dukung OPD",
    "item": "/item KODE_ITEM — Apa yang diminta sebuah item",
    "serahkan": "/serahkan KODE_OPD — Serah terima penghubung OPD",
    "libur": "/libur [tambah|hapus TANGGAL [keterangan]] — Hari libur dan cuti bersama",
    # Added with the review (issue 14), after the help texts moved to templates.
    "tinjau": "/tinjau [#ID] — Tinjau data dukung yang menunggu, mulai dari yang terlama",
    "buka": "/buka KODE_OPD KODE_ITEM ALASAN [#ID] — Buka kembali item yang sudah diterima untuk versi baru",
    "perpanjang": "/perpanjang KODE_OPD|semua TANGGAL [JAM] ALASAN [#ID] — Perpanjang tenggat satu OPD atau semua OPD",
    # Added with the exports (issue 19); the package is for admins only (EKSPOR_BY_ROLE).
    "ekspor": "/ekspor [#ID] — Unduh rekap kegiatan Monev (Excel); admin: juga paket bukti (ZIP)",
    # Added with the evidence search (issue 22).
    "cari": "/cari KATA… [#ID] — Cari data dukung menurut kata di dalam berkasnya (termasuk hasil pindaian)",
    # Added with the reminders (issue 17).
    "ingatkan": "/ingatkan [KODE_OPD|semua] — Kirim pengingat sekarang ke satu OPD atau semua OPD yang belum lengkap",
    # Added with the coordination meeting (issue 20).
    "rapat": "/rapat [#ID] — Jadwalkan rapat koordinasi Tim SPBE, lihat daftar hadir, ubah jadwal atau batalkan",
    # Added with the announcements (issue 18).
    "umumkan": "/umumkan [#ID] — Kirim pengumuman (teks dan satu dokumen) kepada Penghubung OPD kegiatan Monev",
    # Added with the recap (issue 18).
    "rekap": "/rekap [#ID] — Rekap harian kegiatan Monev: kelengkapan, OPD tertinggal, grafik dan tombol tindak lanjut",
    # Added with the self-assessment scores (issue 21).
    "nilai": "/nilai [#ID] [KODE_ITEM] — Isi atau impor nilai mandiri per indikator dan lihat simulasi indeks",
    # Added with the Berita Acara and finalizing (issue 21).
    "ba": "/ba [#ID] — Buat Berita Acara Evaluasi Mandiri (Word) dari rapat, kelengkapan dan nilai",
    "selesai": "/selesai [#ID] — Selesaikan kegiatan Monev setelah BA bertanda tangan diunggah",
}
EVERYONE = ["start", "help", "batal", "saya", "daftar"]
MANAGER = [
    *EVERYONE,
    *("opd", "undang", "cabut", "kegiatan", "kirim", "status", "riwayat", "item", "serahkan", "libur"),
    *("tinjau", "buka", "perpanjang", "ekspor", "cari", "ingatkan", "rapat", "umumkan", "rekap", "nilai"),
]
BY_ROLE = {
    Role.OPD: [*EVERYONE, "kirim", "status", "riwayat", "item"],
    Role.KEPALA_OPD: EVERYONE,
    Role.ADMIN: [*MANAGER, "ba"],
    Role.KASI: [*MANAGER, "ba", "selesai"],
    Role.KABID: [
        *EVERYONE,
        "opd",
        "undang",
        "kegiatan",
        "status",
        "riwayat",
        "item",
        "perpanjang",
        "ekspor",
        "cari",
        "rekap",
    ],
    Role.SEKRETARIAT: [*EVERYONE, "opd", "kegiatan", "status", "riwayat", "item", "cari"],
    Role.TIM: [*EVERYONE, "kegiatan", "status", "riwayat", "item", "cari", "nilai"],
}
# Telegram's command menu (setMyCommands), the commands everyone may use.
MENU = [(name, LINES[name].split(" — ", 1)[1]) for name in EVERYONE]


# `/undang` shows only the codes the reader may mint (invites.ISSUABLE): the full usage above is the table's.
UNDANG_BY_ROLE = {
    Role.ADMIN: "/undang KODE_OPD [opd|kepala_opd] | tim — Buat kode undangan",
    Role.KASI: "/undang KODE_OPD [opd|kepala_opd] | tim | admin | sekretariat — Buat kode undangan",
    Role.KABID: "/undang admin | sekretariat | kasi | kabid — Buat kode undangan",
}


EKSPOR_BY_ROLE = {
    Role.ADMIN: "/ekspor [#ID] | paket [#ID] — Unduh rekap kegiatan Monev (Excel); admin: juga paket bukti (ZIP)",
}


def _help_as_it_was(names: list[str], *, registered: bool, role: Role | None = None) -> str:
    lines = [
        UNDANG_BY_ROLE[role]
        if n == "undang" and role
        else EKSPOR_BY_ROLE.get(role, LINES[n])
        if n == "ekspor" and role
        else LINES[n]
        for n in names
    ]
    return "\n".join([HEADER, *lines]) + ("" if registered else UNREGISTERED)


@pytest.mark.parametrize("role", list(Role))
async def test_help_reads_as_before_for_each_role(app: MonevApp, role: Role) -> None:
    scoped = role in OPD_SCOPED_ROLES
    actor = Actor(1, "Uji", (Assignment(role, 1 if scoped else None, "DISKOMINFO" if scoped else None),))
    assert await answer(app, request("/help", actor=actor)) == [
        _help_as_it_was(BY_ROLE[role], registered=True, role=role)
    ]


async def test_help_reads_as_before_for_someone_unregistered(app: MonevApp) -> None:
    assert await answer(app, request("/bantuan", actor=Actor(None, None))) == [
        _help_as_it_was(EVERYONE, registered=False)
    ]


def test_every_command_has_a_help_template_telegram_accepts() -> None:
    renderer = Renderer(ZoneInfo("Asia/Pontianak"))
    helps = {c.name: renderer.plain(c.help_template) for c in COMMANDS}
    assert [(name, helps[name]) for name in EVERYONE] == MENU
    for name, text in helps.items():
        # setMyCommands takes a description of 3 to 256 characters, plain text on one line.
        assert 3 <= len(text) <= 256 and "\n" not in text and "<" not in text, name
    templates = {p.stem.removesuffix(".txt") for p in (TEMPLATES_DIR / "perintah").glob("*.txt.j2")}
    assert templates == set(helps), "a help template without a command, or a command without one"


def test_labels_are_plain_text() -> None:
    renderer = Renderer(ZoneInfo("Asia/Pontianak"))
    # A button shows its label as written: a name is not HTML-escaped as it would be inside a message.
    label = renderer.plain(
        "tombol/cabut_penghubung_lama", name="Budi & Sari <Tim>", since=date(2026, 12, 24), chat_tail="4321"
    )
    assert label == "Cabut Budi & Sari <Tim> (sejak Kamis, 24 Desember 2026, akun …4321)"
    assert renderer.plain("tombol/item", code="I.1", title="Kebijakan 'Internal'") == "I.1 Kebijakan 'Internal'"
    assert "&amp;" in renderer.render("konsol/berkas_tidak_ada", path="a&b.pdf")  # messages still escape


# -- no label written in a handler ---------------------------------------------------------------------------

# Calls that make a button, the position and keyword of their label, and the helper that renders it from a template.
LABELLED = {
    "Button": (0, "label", "label"),
    "action_button": (1, "label", "label"),
    "page_of": (3, "labels", "paging_labels"),
}


def labels_not_from_templates(source: str) -> list[int]:
    """Lines where a button's label is written in the code rather than rendered from `templates/tombol/`."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
        if name not in LABELLED:
            continue
        position, keyword, helper = LABELLED[name]
        given = [k.value for k in node.keywords if k.arg == keyword] or node.args[position : position + 1]
        if not given or not _rendered_by(given[0], helper):
            lines.append(node.lineno)
    return lines


def _rendered_by(node: ast.expr, helper: str) -> bool:
    while True:  # a handler may still cut a rendered label ([:60], or `fit_label(label, 60)` at a word)
        if isinstance(node, ast.Subscript):
            node = node.value
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "fit_label" and node.args:
            node = node.args[0]
        else:
            break
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == helper


def test_the_label_check_catches_labels_written_in_code() -> None:
    assert labels_not_from_templates('Button("Selesai", "kir:1:s")') == [1]
    assert labels_not_from_templates('Button(f"Cabut {name}"[:40], "x")') == [1]
    assert labels_not_from_templates("Button(code, 'opd:d:X')") == [1]
    assert labels_not_from_templates('Button(label="Batal", payload="x")') == [1]
    assert labels_not_from_templates('await actions.action_button(s, "Buka blokir", kind="k", person_id=1)') == [1]
    assert labels_not_from_templates('page_of(3, 0, str, labels=("«", "»"))') == [1]
    assert labels_not_from_templates("page_of(3, 0, str)") == [1]
    assert labels_not_from_templates('Button(fit_label(f"Cabut {name}", 40), "x")') == [1]
    rendered = 'Button(ctx.label("tombol/item", code=c)[:60], "x")\npage_of(3, 0, str, labels=s.paging_labels())'
    assert labels_not_from_templates(rendered) == []
    assert labels_not_from_templates('Button(fit_label(s.label("tombol/item", code=c), 60), "x")') == []


def test_handlers_take_every_button_label_from_a_template() -> None:
    modules = sorted(p for p in HANDLERS.glob("*.py") if p.name not in NOT_YET)
    assert len(modules) > 5
    found = {p.name: labels_not_from_templates(p.read_text()) for p in modules}
    assert {name: lines for name, lines in found.items() if lines} == {}


# -- each channel's label limit ------------------------------------------------------------------------------


def test_no_limit_keeps_a_label_whole() -> None:
    label = "Kirim undangan ke 12 OPD (30 penghubung)"
    assert fit_label(label, None) == label
    assert fit_label(label, len(label)) == label


@pytest.mark.parametrize(
    ("label", "limit", "fitted"),
    [
        ("Kirim undangan ke 12 OPD (30 penghubung)", 20, "Kirim undangan ke…"),  # WhatsApp's reply button
        ("Kirim undangan ke 12 OPD (30 penghubung)", 24, "Kirim undangan ke 12…"),  # a WhatsApp list row
        ("Biarkan semua tetap aktif", 14, "Biarkan semua…"),  # the cut falls on a space already
        ("Kirim (30 penghubung)", 8, "Kirim…"),  # no dangling punctuation before the ellipsis
        ("Nonaktifkan", 6, "Nonak…"),  # one long word: cut inside it
        ("Ab Cdefghijklmnop", 10, "Ab Cdefgh…"),  # the only space is too far back to be worth it
        ("Selesai", 1, ELLIPSIS),
    ],
)
def test_a_long_label_is_cut_at_a_word_with_an_ellipsis(label: str, limit: int, fitted: str) -> None:
    assert fit_label(label, limit) == fitted


def test_a_fitted_label_never_exceeds_the_limit() -> None:
    labels = ["Kirim undangan ke 12 OPD (30 penghubung)", "I.1.2 Kebijakan Internal Arsitektur SPBE", "a b c d e f"]
    for label in labels:
        for limit in range(1, len(label) + 2):
            assert len(fit_label(label, limit)) <= limit
    with pytest.raises(ValueError):
        fit_label("Selesai", 0)


def test_the_telegram_keyboard_applies_its_label_limit() -> None:
    reply = Reply(
        "pilih", buttons=((Button("Kirim undangan ke 12 OPD (30 penghubung)", "k:1"), Button("Batal", "k:x")),)
    )
    (whole,) = _keyboard(reply).inline_keyboard  # type: ignore[union-attr]
    assert [b.text for b in whole] == ["Kirim undangan ke 12 OPD (30 penghubung)", "Batal"]  # Telegram: no limit
    (short,) = _keyboard(reply, max_label_chars=20).inline_keyboard  # type: ignore[union-attr]
    assert [(b.text, b.callback_data) for b in short] == [("Kirim undangan ke…", "k:1"), ("Batal", "k:x")]
