"""The CLI's own lines stay in English and never mix in the chat's Bahasa Indonesia (issue 12, item 15)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.test_console import monev

CHAT_WORDS = re.compile(r"\b(Senin|Selasa|Rabu|Kamis|Jumat|Sabtu|Minggu|pukul)\b")
CLI_TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d WIB"


def test_invite_and_campaign_lines_write_times_in_the_cli_s_own_words(tmp_path: Path) -> None:
    assert monev("opd", "import", "--default", cwd=tmp_path).returncode == 0
    invited = monev("invite", "--role", "kasi", cwd=tmp_path)
    assert invited.returncode == 0, invited.stderr
    assert re.search(rf"  kasi  until {CLI_TIME}\n", invited.stdout), invited.stdout
    created = monev(
        "campaign", "create", "--title", "Evaluasi 2027", "--framework", "permenpanrb-8-2026-pemdi",
        "--deadline", "2027-05-29", cwd=tmp_path,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert re.search(r"deadline 2027-05-29 23:59 WIB$", created.stdout.strip()), created.stdout
    listed = monev("campaign", "list", cwd=tmp_path)
    assert "(deadline 2027-05-29 23:59 WIB)" in listed.stdout
    for output in (invited.stdout, created.stdout, listed.stdout):
        assert not CHAT_WORDS.search(output), output
