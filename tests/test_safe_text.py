"""Texts people type are stored without characters that disguise them: the pure rule, then every entry point."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.cli import run_cli
from bot.services import campaigns, identity, invites, items, registry
from bot.services.audit import Acting
from bot.services.calendar import add_holiday
from bot.services.filetypes import REASON_MISLEADING_NAME, sniff
from bot.services.safe_text import display_text, has_control_characters, without_invisible
from bot.services.uploads import clean_file_name
from storage.database import Database
from storage.filestore import FileStore
from storage.models import Campaign, CampaignEvent, HolidayOverride, Person, Role, RoleAssignment

WIB = ZoneInfo("Asia/Pontianak")
NOW = datetime(2026, 8, 14, 15, 0, tzinfo=WIB)
PEMDI = "permenpanrb-8-2026-pemdi"
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
RLO, LRI, PDI, ZWSP, ZWJ, BOM, WJ = "\u202e", "\u2066", "\u2069", "\u200b", "\u200d", "\ufeff", "\u2060"


@pytest.mark.parametrize(
    ("raw", "one_line", "multiline"),
    [
        (f"laporan{RLO}fdp.exe", "laporanfdp.exe", "laporanfdp.exe"),
        (f"{LRI}Budi{PDI} {ZWSP}Santoso{BOM}", "Budi Santoso", "Budi Santoso"),
        (f"Dinas{ZWJ}{WJ}\u200e\u200f Kesehatan", "Dinas Kesehatan", "Dinas Kesehatan"),
        (
            "baris 1\nbaris 2\r\nbaris 3\u2028baris 4",
            "baris 1 baris 2 baris 3 baris 4",
            "baris 1\nbaris 2\nbaris 3\nbaris 4",
        ),
        ("tab\there\x1b[31mmerah\x00\x07", "tab here[31mmerah", "tab here[31mmerah"),
        ("Evaluasi SPBE 2026 — 📄 ✓", "Evaluasi SPBE 2026 — 📄 ✓", "Evaluasi SPBE 2026 — 📄 ✓"),
    ],
)
def test_display_text_drops_what_disguises_a_text(raw: str, one_line: str, multiline: str) -> None:
    assert display_text(raw) == one_line
    assert display_text(raw, multiline=True) == multiline


def test_without_invisible_keeps_control_characters_for_checks_that_refuse_them() -> None:
    assert without_invisible(f"a{RLO}b\n{ZWSP}c\x00") == "ab\nc\x00"


@pytest.mark.parametrize(
    ("title", "refused"),
    [
        ("Evaluasi 2026", False),
        (f"Evaluasi{RLO} 2026", False),
        ("Evaluasi\n2026", True),
        ("a\x1b[2Jb", True),
        ("a\tb", True),
        ("a\u2028b", True),
    ],
)
def test_has_control_characters(title: str, refused: bool) -> None:
    assert has_control_characters(title) is refused


def test_a_file_name_with_a_right_to_left_override_shows_its_real_extension(tmp_path: Path) -> None:
    name = clean_file_name(f"laporan{RLO}fdp.exe", fallback="berkas")
    assert name == "laporanfdp.exe"
    path = tmp_path / "surat"
    path.write_bytes(PDF)
    verdict = sniff(path, name)
    assert (verdict.reason, verdict.detail) == (REASON_MISLEADING_NAME, {"claimed": "exe", "real": "pdf"})
    assert clean_file_name(f"{ZWSP}{BOM}.{RLO}hidden.pdf", fallback="berkas") == "hidden.pdf"
    # Windows saves `laporan.exe. .` as `laporan.exe`
    assert clean_file_name("laporan.exe. . ", fallback="berkas") == "laporan.exe"
    assert sniff(path, "laporan.exe. .").reason == REASON_MISLEADING_NAME


async def _person(db: Database, name: str, role: Role | None = None) -> Acting:
    async with db.write() as session:
        person_id = await identity.ensure_local_person(session, "console", name, NOW)
        if role is not None:
            session.add(RoleAssignment(person_id=person_id, role=role.value, granted_at=NOW))
    return Acting(person_id, role.value if role else None, "console")


async def test_campaign_titles_notes_and_letter_names_are_stored_clean(db: Database, tmp_path: Path) -> None:
    cli = await _person(db, "cli")
    kasi, kabid = await _person(db, "kasi", Role.KASI), await _person(db, "kabid", Role.KABID)
    letter = FileStore(tmp_path).store_bytes(PDF)
    async with db.write() as session:
        await registry.import_opds(session, registry.parse_opd_file(registry.default_opd_file()), acting=cli, now=NOW)
        campaign_id = await campaigns.create_campaign(
            session,
            title=f"Evaluasi {RLO}6202{ZWSP} SPBE\x1b[2J",
            framework=PEMDI,
            items=items.framework_items(PEMDI),
            deadline=NOW + timedelta(days=30),
            opd_codes=None,
            acting=kasi,
            now=NOW,
            letter=(letter, f"undangan{RLO}fdp.exe"),
        )
        await campaigns.submit_to_kabid(session, campaign_id, acting=kasi, now=NOW)
        await campaigns.decide(
            session, campaign_id, approve=False, note=f"Tambahkan {LRI}kecamatan{PDI}\nsegera", acting=kabid, now=NOW
        )
    async with db.read() as session:
        campaign = await session.get_one(Campaign, campaign_id)
        notes = (await session.scalars(select(CampaignEvent.note).where(CampaignEvent.note.is_not(None)))).all()
    assert campaign.title == "Evaluasi 6202 SPBE[2J"
    assert campaign.draft_letter_name == "undanganfdp.exe"
    assert notes == ["Tambahkan kecamatan segera"]


async def test_holiday_notes_are_stored_clean(db: Database) -> None:
    acting = await _person(db, "cli")
    async with db.write() as session:
        await add_holiday(session, date(2026, 9, 7), f"Cuti {RLO}bersama{ZWSP}\x07", acting=acting, now=NOW)
    async with db.read() as session:
        assert (await session.scalars(select(HolidayOverride.note))).all() == ["Cuti bersama"]


async def test_names_from_the_chat_are_stored_clean(db: Database) -> None:
    cli = await _person(db, "cli")
    async with db.write() as session:
        (invite,) = await invites.issue_invites(
            session, acting=cli, role=Role.KASI, opd_code=None, now=NOW, issuer_roles=None
        )
        result = await invites.redeem(
            session,
            code_text=invite.code,
            channel="telegram",
            external_id="4242",
            display_name=f"Budi{RLO}{ZWJ} Santoso\u2066\n",
            username=None,
            acting=Acting(None, None, "telegram"),
            now=NOW,
        )
    assert result.ok
    async with db.read() as session:
        assert await session.scalar(select(Person.display_name).where(Person.id == result.person_id)) == "Budi Santoso"


def test_imported_item_titles_and_descriptions_lose_invisible_characters() -> None:
    rows = [items.ItemRow(2, "I.01", f"Kebijakan {RLO}SPBE", f"SK{ZWSP}\nPerwal", "ya", "DINKES")]
    specs, rejections = items.validate_item_rows(rows, ["DINKES"], ["DINKES"])
    assert rejections == []
    assert (specs[0].title, specs[0].description) == ("Kebijakan SPBE", "SK\nPerwal")


@pytest.mark.parametrize("title", ["Evaluasi\n2026", "Evaluasi\x1b[2J 2026", "Evaluasi\r2026"])
def test_the_cli_refuses_a_title_with_control_characters(
    title: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MONEV_DATA_DIR", str(tmp_path / "data"))
    assert run_cli(["opd", "import", "--default"]) == 0
    capsys.readouterr()
    create = ["campaign", "create", "--framework", PEMDI, "--deadline", "2030-01-31"]
    assert run_cli([*create, "--title", title]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--title" in err, err
    assert run_cli(["campaign", "list"]) == 0
    assert capsys.readouterr().out == ""  # nothing was created
    assert run_cli([*create, "--title", f"Evaluasi {RLO}2026"]) == 0
    assert run_cli(["campaign", "list"]) == 0
    assert "Evaluasi 2026" in capsys.readouterr().out
