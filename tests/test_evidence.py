"""The automatic check of evidence against real files, a real database and real child processes: reading once per
content hash, resuming after a restart, bad inputs within their limits, each check on the generated corpus, the
findings queued after the receipt, and the search over the evidence's text."""

from __future__ import annotations

import json
import logging
import os
import shutil
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select, text

from bot.app import MonevApp
from bot.conversation.templating import MARK_END, MARK_START
from bot.services import campaigns, evidence, identity, registry, submissions
from bot.services.audit import Acting
from bot.services.evidence_checks import Rules, check_document, check_screenshot, shipped_rules
from bot.services.evidence_reading import Limits, ocr_status, read_file, read_in_child
from bot.services.items import ItemSpec
from bot.settings import SettingsError
from bot.web.server import WebServer
from jobs import evidence_text
from storage.models import AuditEntry, Campaign, EvidenceText, OutboxMessage, Role
from tests import evidence_corpus as corpus
from tests.conftest import make_settings
from tests.test_submissions import NOW

needs_ocr = pytest.mark.skipif(
    not ocr_status().available and os.environ.get("CI") != "true", reason="Tesseract with 'ind' is not installed"
)


def test_ocr_is_installed_where_the_tests_run_in_ci() -> None:
    """`.ci/run` installs Debian's tesseract-ocr and tesseract-ocr-ind, so the OCR tests never skip there."""
    if os.environ.get("CI") != "true" and shutil.which("tesseract") is None:
        pytest.skip("not CI, and no Tesseract here")
    assert ocr_status().available, ocr_status().detail


def _item(code: str, title: str, description: str, position: int) -> ItemSpec:
    return ItemSpec(code, title, description, True, None, ("DINKES", "DISKOMINFO"), (), None, None, position)


ITEMS = [
    _item("A.01", "Peraturan Wali Kota tentang Arsitektur SPBE", "Peraturan Wali Kota yang sudah ditetapkan", 1),
    _item("A.02", "Laporan evaluasi SPBE", "Laporan evaluasi tahun berjalan", 2),
    _item("A.03", "Tangkapan layar portal layanan", "Tangkapan layar aplikasi layanan", 3),
]


async def open_campaign(app: MonevApp) -> tuple[submissions.Scope, submissions.Scope, Acting, Acting]:
    """An open campaign of three imported items for DINKES and DISKOMINFO, each with its liaison."""
    db = app.services.db
    async with db.write() as session:
        cli = Acting(await identity.ensure_local_person(session, "cli", "root", NOW), "cli", "cli")
        await registry.import_opds(session, registry.parse_opd_file(registry.default_opd_file()), acting=cli, now=NOW)
        campaign_id = await campaigns.create_campaign(
            session, title="Monev 2026", framework=None, items=ITEMS, deadline=NOW + timedelta(days=7),
            opd_codes=["DINKES", "DISKOMINFO"], acting=cli, now=NOW,
        )  # fmt: skip
        (await session.get_one(Campaign, campaign_id)).state = "open"
        liaisons = []
        for chat, code in (("501", "DINKES"), ("502", "DISKOMINFO")):
            person = await identity.ensure_local_person(session, "telegram", chat, NOW)
            await identity.ensure_assignment(session, person, Role.OPD, code, NOW)
            liaisons.append(Acting(person, "opd", "telegram"))
        dinkes = await submissions.scope_for(session, "DINKES")
        kominfo = await submissions.scope_for(session, "DISKOMINFO")
    assert dinkes is not None and kominfo is not None
    return dinkes, kominfo, liaisons[0], liaisons[1]


async def file(
    app: MonevApp, scope: submissions.Scope, acting: Acting, files: list[tuple[str, bytes]], item: str
) -> submissions.Receipt:
    store = app.services.files
    async with app.services.db.write() as session:
        batch = await submissions.open_batch(
            session, scope=scope, channel="telegram", chat_id=str(acting.person_id), person_id=acting.person_id or 0,
            kind="single", now=NOW,
        )  # fmt: skip
        for name, data in files:
            await submissions.add_file(
                session, batch, store.store_bytes(data), name, "document", inbound_event_id=None, now=NOW
            )
        return await submissions.file_batch(session, batch, item, acting=acting, now=NOW)


async def run_job(app: MonevApp) -> int:
    return await evidence_text.run(NOW, app.services)


async def texts(app: MonevApp) -> dict[str, EvidenceText]:
    async with app.services.db.read() as session:
        return {row.sha256: row for row in (await session.scalars(select(EvidenceText))).all()}


async def queued(app: MonevApp, kind: str) -> list[OutboxMessage]:
    async with app.services.db.read() as session:
        rows = await session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id))
        return list(rows.all())


# --- reading ---------------------------------------------------------------------------------------------------


async def test_a_file_shared_by_two_versions_is_read_once(app: MonevApp) -> None:
    dinkes, kominfo, budi, sari = await open_campaign(app)
    perwal = corpus.text_pdf(corpus.samples()[0].lines)
    await file(app, dinkes, budi, [("perwal.pdf", perwal)], "A.01")
    await file(app, kominfo, sari, [("perwal-salinan.pdf", perwal)], "A.01")
    assert await run_job(app) == 1
    assert await run_job(app) == 0  # nothing left to read
    (read,) = (await texts(app)).values()
    assert (read.state, read.method, read.pages, read.attempts) == ("read", "pdf", 1, 1)
    assert "NOMOR 12 TAHUN 2025" in read.body


async def test_reading_resumes_after_a_restart_without_reading_a_file_twice(app: MonevApp) -> None:
    dinkes, _, budi, _ = await open_campaign(app)
    samples = corpus.samples()
    first = await file(app, dinkes, budi, [("perwal.pdf", corpus.text_pdf(samples[0].lines))], "A.01")
    assert await run_job(app) == 1
    done_sha = first.files[0].sha256
    before = (await texts(app))[done_sha].read_at
    # A crash while reading the next file: the reading was recorded as begun, and never finished.
    report = corpus.docx_file(corpus.sample("laporan-2025").lines)
    second = await file(app, dinkes, budi, [("laporan.docx", report)], "A.02")
    cut_sha = second.files[0].sha256
    async with app.services.db.write() as session:
        await evidence.begin_reading(session, cut_sha, NOW)
    assert await run_job(app) == 1  # after the restart only the cut reading is done again
    rows = await texts(app)
    assert (rows[done_sha].attempts, rows[done_sha].read_at) == (1, before)
    assert (rows[cut_sha].state, rows[cut_sha].attempts) == ("read", 2)
    # A file that stopped its reader twice is not tried a third time.
    third = await file(app, dinkes, budi, [("lain.pdf", corpus.text_pdf(samples[1].lines))], "A.01")
    for _ in range(2):
        async with app.services.db.write() as session:
            await evidence.begin_reading(session, third.files[0].sha256, NOW)
    assert await run_job(app) == 0
    assert (await texts(app))[third.files[0].sha256].state == "unreadable"


BAD_INPUTS = {
    "terkunci.pdf": (corpus.encrypted_pdf, "kata sandi"),
    "rusak.pdf": (corpus.broken_pdf, "rusak"),
    "2000-halaman.pdf": (corpus.many_pages_pdf, "2000 halaman"),
    "besar.png": (corpus.huge_image, "terlalu besar"),
    "tawa.docx": (corpus.billion_laughs_docx, "entitas XML"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
async def test_bad_inputs_are_recorded_unreadable_with_their_reason(tmp_path: Path, name: str) -> None:
    make, reason = BAD_INPUTS[name]
    path = tmp_path / name
    path.write_bytes(make())
    result = await read_in_child(path, Limits(60, 1024), ocr=True)
    assert result.state == "unreadable" and reason in (result.reason or ""), result


async def test_a_reading_past_its_time_or_memory_limit_is_stopped(tmp_path: Path) -> None:
    path = tmp_path / "scan.png"
    path.write_bytes(corpus.render(corpus.samples()[0], "scan"))
    slow = await read_in_child(path, Limits(0.05, 1024), ocr=True)
    assert slow.state == "unreadable" and "batas waktu" in (slow.reason or "")
    # 49 million pixels pass the bomb guard, but not 256 MB: the child stops at its memory limit.
    big = tmp_path / "besar.png"
    from PIL import Image

    Image.new("RGB", (7000, 7000), (255, 255, 255)).save(big)
    starved = await read_in_child(big, Limits(60, 256), ocr=True)
    assert starved.state == "unreadable" and "memori melebihi batas" in (starved.reason or "")


async def test_without_ocr_images_are_unreadable_and_text_layers_still_read(tmp_path: Path) -> None:
    scan, pdf = tmp_path / "scan.png", tmp_path / "perwal.pdf"
    scan.write_bytes(corpus.render(corpus.samples()[0], "scan"))
    pdf.write_bytes(corpus.text_pdf(corpus.samples()[0].lines))
    assert "OCR" in (read_file(scan, ocr=False).reason or "")
    assert read_file(pdf, ocr=False).state == "read"


# --- the checks on the corpus ------------------------------------------------------------------------------------


def fired(content: bytes, profile: str, tmp_path: Path, rules: Rules) -> set[str]:
    path = tmp_path / "sample"
    path.write_bytes(content)
    read = read_file(path, ocr=True)
    assert read.state == "read", read.reason
    if read.screenshot:
        return {f.check for f in check_screenshot(read.body, rules)}
    return {f.check for f in check_document(read.body, rules.profiles[profile], corpus.CAMPAIGN_YEAR, rules)}


@pytest.mark.parametrize("form", ["pdf", "docx"])
def test_each_check_fires_on_its_positives_and_stays_silent_on_negatives(tmp_path: Path, form: str) -> None:
    rules = shipped_rules()
    for name, profile, content, expected in corpus.corpus([form]):
        if name.endswith(".png"):
            continue  # screenshots need OCR: see the scans' test
        assert fired(content, profile, tmp_path, rules) == set(expected), name


@needs_ocr
@pytest.mark.parametrize("form", ["scan", "scan-pdf"])
def test_each_check_on_scans_and_screenshots(tmp_path: Path, form: str) -> None:
    rules = shipped_rules()
    wrong = [
        name
        for name, profile, content, expected in corpus.corpus([form])
        if fired(content, profile, tmp_path, rules) != set(expected)
    ]
    assert wrong == []


def test_every_framework_item_has_a_profile_and_imported_items_take_one_by_their_words() -> None:
    rules = shipped_rules()
    from bot.services.items import FRAMEWORKS, framework_items

    for framework in FRAMEWORKS:
        for spec in framework_items(framework):
            assert spec.code in rules.items[framework], (framework, spec.code)
    assert rules.profile_for("permenpanrb-59-2020", "I.01", "", "").name == "kebijakan"
    assert rules.profile_for(None, "X.1", "Laporan reviu", "").name == "laporan"
    assert rules.profile_for(None, "X.2", "SK Tim Koordinasi", "Surat Keputusan").name == "kebijakan"
    assert rules.profile_for(None, "X.3", "Daftar hadir", "").name == "dokumen"


# --- the check of versions, and whom it tells ------------------------------------------------------------------


async def test_findings_are_queued_for_the_liaison_after_the_receipt_and_copies_are_seen(app: MonevApp) -> None:
    dinkes, kominfo, budi, sari = await open_campaign(app)
    samples = {s.name: s for s in corpus.samples()}
    draft = corpus.text_pdf(samples["rancangan-perwal"].lines)
    await file(app, dinkes, budi, [("rancangan.pdf", draft)], "A.01")
    await file(app, dinkes, budi, [("laporan.pdf", corpus.text_pdf(samples["laporan-2025"].lines))], "A.02")
    report = corpus.docx_file(samples["laporan-2025"].lines)  # the same text, another file, another OPD
    await file(app, kominfo, sari, [("laporan-kami.docx", report)], "A.02")
    await run_job(app)
    messages = await queued(app, evidence_text.KIND)
    # The clean report of DINKES has no finding and no message; the draft and the copy each have one.
    assert [m.person_id for m in messages] == [budi.person_id, sari.person_id]
    draft_card, copy_card = (json.loads(m.payload or "{}")["params"]["c"] for m in messages)
    assert {f["code"] for f in draft_card["findings"]} == {"rancangan", "tanpa_penetapan", "tanpa_tanda_tangan"}
    assert [f["code"] for f in copy_card["findings"]] == ["mirip_berkas_lain"]
    assert copy_card["findings"][0]["details"]["opd"] == "Dinas Kesehatan Kota Pontianak"
    text_ = app.services.renderer.render("pemeriksaan/temuan", c=draft_card)
    assert "Pemeriksaan otomatis" in text_ and "tidak ditemukan tempat dan tanggal penetapan" in text_
    assert "Bapak/Ibu dapat mengirim versi baru" in text_
    async with app.services.db.read() as session:
        audited = await session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "evidence_check")
        )
        shown = await evidence.findings_of(session, draft_card["version_id"])
    assert audited == 3 and shown is not None and len(shown) == 3
    assert await evidence_text.check(NOW, app.services) == 0  # each version is checked once


async def test_an_unreadable_file_is_a_finding_with_its_reason(app: MonevApp, caplog: pytest.LogCaptureFixture) -> None:
    dinkes, _, budi, _ = await open_campaign(app)
    await file(app, dinkes, budi, [("terkunci.pdf", corpus.encrypted_pdf())], "A.01")
    await file(app, dinkes, budi, [("tawa.docx", corpus.billion_laughs_docx())], "A.02")
    await run_job(app)
    assert [r.getMessage() for r in caplog.records if r.levelno > logging.INFO] == []  # bad input, not trouble
    locked, laughs = await queued(app, evidence_text.KIND)
    rendered = [
        app.services.renderer.render("pemeriksaan/temuan", c=json.loads(m.payload or "{}")["params"]["c"])
        for m in (locked, laughs)
    ]
    assert "terkunci.pdf tidak dapat dibaca otomatis: berkas PDF terkunci dengan kata sandi" in rendered[0]
    assert "tawa.docx tidak dapat dibaca otomatis: berkas berisi deklarasi entitas XML" in rendered[1]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, (1, 120, 1024)),
        ({"MONEV_EVIDENCE_WORKERS": "0"}, (0, 120, 1024)),
        ({"MONEV_EVIDENCE_SECONDS": "30"}, (1, 30, 1024)),
    ],
)
def test_the_evidence_settings(tmp_path: Path, env: dict[str, str], expected: tuple[int, int, int]) -> None:
    settings = make_settings(tmp_path, **env)
    assert (settings.evidence_workers, settings.evidence_seconds, settings.evidence_memory_mb) == expected


@pytest.mark.parametrize("env", [{"MONEV_EVIDENCE_WORKERS": "9"}, {"MONEV_EVIDENCE_MEMORY_MB": "10"}])
def test_evidence_settings_out_of_bounds_name_their_variable(tmp_path: Path, env: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match=next(iter(env))):
        make_settings(tmp_path, **env)


# --- search ----------------------------------------------------------------------------------------------------


async def test_search_finds_the_campaigns_evidence_by_its_words_with_a_marked_snippet(app: MonevApp) -> None:
    dinkes, kominfo, budi, sari = await open_campaign(app)
    samples = {s.name: s for s in corpus.samples()}
    await file(app, dinkes, budi, [("perwal.pdf", corpus.text_pdf(samples["perwal-ditetapkan"].lines))], "A.01")
    await file(app, kominfo, sari, [("laporan.docx", corpus.docx_file(samples["laporan-2025"].lines))], "A.02")
    await run_job(app)
    async with app.services.db.read() as session:
        found = await evidence.search(session, dinkes.campaign_id, evidence.query_words(["Menimbang", "arsitektur"]))
        report = await evidence.search(session, dinkes.campaign_id, evidence.query_words(["rekomendasi"]))
        none = await evidence.search(session, dinkes.campaign_id, evidence.query_words(['"OR', "zzzz*"]))
        elsewhere = await evidence.search(session, dinkes.campaign_id + 1, evidence.query_words(["arsitektur"]))
    assert [(h.opd_code, h.item_code, h.number, h.file_name) for h in found.hits] == [
        ("DINKES", "A.01", 1, "perwal.pdf")
    ]
    assert f"{MARK_START}" in found.hits[0].snippet and MARK_END in found.hits[0].snippet
    assert [h.opd_code for h in report.hits] == ["DISKOMINFO"]
    assert none.hits == () and elsewhere.hits == ()
    marked = app.services.renderer.env.from_string("{{ s | sorot }}").render(s=f"a <x> {MARK_START}b{MARK_END}")
    assert marked == "a &lt;x&gt; <b>b</b>"


async def test_search_pages_through_many_hits(app: MonevApp) -> None:
    dinkes, _, budi, _ = await open_campaign(app)
    lines = corpus.samples()[0].lines
    for n in range(7):
        await file(app, dinkes, budi, [(f"v{n}.pdf", corpus.text_pdf((*lines, f"Salinan ke-{n}")))], "A.01")
    await run_job(app)
    await run_job(app)
    async with app.services.db.read() as session:
        first = await evidence.search(session, dinkes.campaign_id, ("arsitektur",))
        second = await evidence.search(session, dinkes.campaign_id, ("arsitektur",), page=1)
        if app.services.db.is_sqlite:
            assert await session.scalar(text("SELECT count(*) FROM evidence_search")) == 7
    assert len(first.hits) == 5 and first.more and len(second.hits) == 2 and not second.more
    assert {h.number for h in first.hits + second.hits} == set(range(1, 8))


@needs_ocr
async def test_search_finds_a_word_from_a_scanned_page(app: MonevApp) -> None:
    dinkes, _, budi, _ = await open_campaign(app)
    scan = corpus.render(corpus.samples()[0], "scan-pdf", seed=2)
    await file(app, dinkes, budi, [("pindaian.pdf", scan)], "A.01")
    await run_job(app)
    (read,) = (await texts(app)).values()
    assert read.method == "pdf+ocr" and (read.ocr_confidence or 0) > 50
    async with app.services.db.read() as session:
        found = await evidence.search(session, dinkes.campaign_id, ("infrastruktur",))
    assert [h.file_name for h in found.hits] == ["pindaian.pdf"]


@needs_ocr
async def test_without_tesseract_the_bot_says_so_once_and_checks_the_text_it_has(
    app: MonevApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    dinkes, _, budi, _ = await open_campaign(app)
    samples = corpus.samples()
    await run_job(app)  # with Tesseract: nothing to say; then it goes away
    monkeypatch.setenv("PATH", str(tmp_path))  # a machine without the tesseract program
    ocr_status.cache_clear()
    try:
        await file(app, dinkes, budi, [("pindaian.png", corpus.render(samples[0], "scan"))], "A.01")
        await file(app, dinkes, budi, [("laporan.pdf", corpus.text_pdf(corpus.sample("laporan-2019").lines))], "A.02")
        assert await run_job(app) == 2
        assert await run_job(app) == 0
        server = WebServer(app.services.db, "127.0.0.1", 0, "uji", lambda: True)
        await server.start()
        try:
            async with aiohttp.ClientSession() as http:
                async with http.get(f"http://127.0.0.1:{server.port}/healthz") as response:
                    health = await response.json()
        finally:
            await server.stop()
    finally:
        monkeypatch.undo()
        ocr_status.cache_clear()
    warned = [r for r in caplog.records if "OCR unavailable" in r.getMessage()]
    assert len(warned) == 1 and health["ocr"].startswith("unavailable")
    states = {row.method: (row.state, row.reason) for row in (await texts(app)).values()}
    assert states == {"ocr": ("unreadable", "pembacaan gambar (OCR) tidak tersedia di server"), "pdf": ("read", None)}
    checks = [json.loads(m.payload or "{}")["params"]["c"] for m in await queued(app, evidence_text.KIND)]
    codes = {f["code"] for c in checks for f in c["findings"]}
    assert {"tidak_terbaca", "tahun_di_luar"} <= codes  # the 2019 report is still checked from its text layer
