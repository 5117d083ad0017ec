"""The user guides match the bot (issue 12, item 20): the admin command table is complete, each guide has its
"Jika …" section, and the claims the bot did not keep are gone."""

from __future__ import annotations

import re
from pathlib import Path

from bot.conversation.commands import COMMANDS, commands_for
from bot.domain.enums import Role

DOCS = Path(__file__).resolve().parents[1] / "docs"
ADMIN = (DOCS / "panduan-admin.md").read_text()
OPD = (DOCS / "panduan-opd.md").read_text()


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    following = re.search(r"^## ", text[start + len(heading) :], re.MULTILINE)
    return text[start : start + len(heading) + following.start()] if following else text[start:]


def test_the_admin_command_table_lists_every_command_and_alias() -> None:
    table = [line for line in _section(ADMIN, "## 7. Perintah di chat").splitlines() if line.startswith("| `/")]
    listed = {name for line in table for name in re.findall(r"`/([a-z]+)", line.split("|")[1])}
    listed |= {name for line in table for name in re.findall(r"\(`/([a-z]+)`\)", line)}
    expected = {c.name for c in COMMANDS} | {alias for c in COMMANDS for alias in c.aliases}
    assert listed == expected


def test_the_liaison_guide_names_every_command_a_liaison_has() -> None:
    for command in commands_for({Role.OPD}):
        assert f"`/{command.name}" in OPD, command.name


def test_each_guide_says_what_to_do_when() -> None:
    for guide in (ADMIN, OPD):
        when = _section(guide, "Jika …\n")
        for case in ("dua kegiatan Monev", "terlalu besar", "salah", "penghubung"):
            assert case in when, case
    assert "monev kirim --opd DINKES --item I.13" in ADMIN


def test_the_guides_no_longer_promise_what_the_bot_does_not_do() -> None:
    # A hand-over revokes the old liaison only when the issuer chooses so.
    assert "akses Anda dicabut\nsetelah penghubung baru terdaftar" not in OPD
    assert "akses Anda tidak dicabut\ndengan sendirinya" in OPD
    # Files from staff outside a flow are not filed and get no receipt.
    assert "Berkas yang dikirim ke bot disimpan dengan aman dan dibalas dengan tanda terima" not in ADMIN
    assert "**tidak** dicatat dan tidak dibalas dengan\ntanda terima" in ADMIN
    assert "akan ditambahkan ke panduan\nini begitu fiturnya selesai" not in OPD
    for guide in (ADMIN, OPD):
        assert "Kampanye baru" not in guide and "/kampanye #ID" not in guide
