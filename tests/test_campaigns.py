"""Campaign services on SQLite and PostgreSQL: copies of items, editing, disposition, letter, timeline."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.errors import DomainError
from bot.services import campaigns, identity, items, registry
from bot.services.audit import Acting
from bot.services.calendar import load_calendar
from bot.services.timeline import step_progress
from bot.settings import Settings
from storage.database import Database
from storage.filestore import FileStore
from storage.models import CampaignState, Role, RoleAssignment
from tests.conftest import make_settings

WIB = ZoneInfo("Asia/Pontianak")
FRIDAY_3PM = datetime(2026, 8, 14, 15, 0, tzinfo=WIB)  # 15–16 Aug is a weekend, 17 Aug a holiday
PEMDI, SPBE = "permenpanrb-8-2026-pemdi", "permenpanrb-59-2020"
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


async def person(db: Database, name: str, role: Role | None = None) -> Acting:
    async with db.write() as session:
        person_id = await identity.ensure_local_person(session, "console", name, FRIDAY_3PM)
        if role is not None:
            session.add(RoleAssignment(person_id=person_id, role=role.value, granted_at=FRIDAY_3PM))
    return Acting(person_id, role.value if role else None, "console")


async def seeded(db: Database) -> Acting:
    cli = await person(db, "cli")
    async with db.write() as session:
        await registry.import_opds(
            session, registry.parse_opd_file(registry.default_opd_file()), acting=cli, now=FRIDAY_3PM
        )
    return cli


async def create(
    db: Database, acting: Acting, framework: str = PEMDI, now: datetime = FRIDAY_3PM, **extra: object
) -> int:
    async with db.write() as session:
        return await campaigns.create_campaign(
            session,
            title="Evaluasi Mandiri SPBE 2026",
            framework=framework,
            items=items.framework_items(framework),
            deadline=now + timedelta(days=30),
            opd_codes=None,
            acting=acting,
            now=now,
            **extra,
        )


async def test_default_assignments_are_copied_into_the_campaign(db: Database) -> None:
    acting = await seeded(db)
    pemdi, spbe = await create(db, acting), await create(db, acting, SPBE)
    async with db.read() as session:
        p = await campaigns.campaign_detail(session, pemdi)
        s = await campaigns.campaign_detail(session, spbe)
    by_code = {i.code: i for i in p.items}
    assert len(p.items) == 20 and len(s.items) == 47
    assert by_code["I.05"].opd_codes == () and not by_code["I.05"].required
    assert by_code["I.13"].opd_codes == ("DINKES", "DISDIKBUD", "DISDUKCAPIL", "DISKOMINFO", "DPMPTSP")
    assert [e.kind for e in p.events] == ["created"] and p.state == CampaignState.DRAFT
    assert {o.code for o in p.opds} == {c for i in p.items for c in i.opd_codes}


async def test_editing_one_campaign_leaves_another_unchanged(db: Database) -> None:
    acting = await seeded(db)
    first, second = await create(db, acting), await create(db, acting)
    async with db.write() as session:
        changed = await campaigns.assign_item(session, first, "i.13", ["DISHUB"], acting=acting, now=FRIDAY_3PM)
    assert changed.opd_codes == ("DISHUB",)
    async with db.read() as session:
        a = {i.code: i for i in (await campaigns.campaign_detail(session, first)).items}
        b = {i.code: i for i in (await campaigns.campaign_detail(session, second)).items}
        a_opds = {o.code for o in (await campaigns.campaign_detail(session, first)).opds}
    assert a["I.13"].opd_codes == ("DISHUB",) and "DISHUB" in a_opds
    assert b["I.13"].opd_codes == ("DINKES", "DISDIKBUD", "DISDUKCAPIL", "DISKOMINFO", "DPMPTSP")
    async with db.write() as session:
        with pytest.raises(DomainError) as unknown:
            await campaigns.assign_item(session, first, "I.99", ["DISHUB"], acting=acting, now=FRIDAY_3PM)
    assert unknown.value.template == "kampanye/item_tidak_dikenal"


@pytest.mark.parametrize(
    ("change", "template"),
    [
        ({"title": "x"}, "kampanye/judul_tidak_sah"),
        ({"deadline": FRIDAY_3PM - timedelta(minutes=1)}, "kampanye/tenggat_lewat"),
        ({"items": []}, "kampanye/item_kosong"),
        ({"opd_codes": ["TIDAKADA"]}, "kampanye/opd_tidak_dikenal"),
    ],
)
async def test_bad_campaigns_are_refused_and_nothing_is_written(db: Database, change: dict, template: str) -> None:
    acting = await seeded(db)
    values = (
        dict(
            title="Monev 2026",
            framework=PEMDI,
            items=items.framework_items(PEMDI),
            deadline=FRIDAY_3PM + timedelta(days=9),
            opd_codes=None,
        )
        | change
    )
    with pytest.raises(DomainError) as refused:
        async with db.write() as session:
            await campaigns.create_campaign(session, acting=acting, now=FRIDAY_3PM, **values)
    assert refused.value.template == template
    async with db.read() as session:
        assert await campaigns.list_campaigns(session) == []


async def test_disposition_return_resubmit_approve_sign_open(db: Database, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cli = await seeded(db)
    kasi = await person(db, "kasi", Role.KASI)
    kabid = await person(db, "kabid", Role.KABID)
    secretary = await person(db, "sekretariat", Role.SEKRETARIAT)
    campaign = await create(db, kasi)
    now = FRIDAY_3PM
    async with db.write() as session:
        assert await campaigns.submit_to_kabid(session, campaign, acting=kasi, now=now) == [kabid.person_id]
    async with db.write() as session:
        with pytest.raises(DomainError) as not_kabid:
            await campaigns.decide(session, campaign, approve=True, note=None, acting=secretary, now=now)
    assert not_kabid.value.template == "kampanye/bukan_kabid"
    async with db.write() as session:
        returned = await campaigns.decide(
            session, campaign, approve=False, note="Tambah OPD kecamatan", acting=kabid, now=now + timedelta(minutes=5)
        )
    assert returned.state == CampaignState.DRAFT and returned.events[-1].note == "Tambah OPD kecamatan"
    async with db.write() as session:
        await campaigns.submit_to_kabid(session, campaign, acting=kasi, now=now + timedelta(minutes=10))
        approved = await campaigns.decide(
            session, campaign, approve=True, note=None, acting=kabid, now=now + timedelta(minutes=20)
        )
    assert approved.state == CampaignState.APPROVED
    async with db.write() as session:
        with pytest.raises(DomainError) as twice:
            await campaigns.decide(session, campaign, approve=True, note=None, acting=kabid, now=now)
    assert twice.value.template == "umum/sudah_diproses"
    blob = FileStore(tmp_path).store_bytes(PDF)
    async with db.write() as session:
        await campaigns.record_signed_letter(
            session, campaign, blob, "surat.pdf", acting=secretary, now=now + timedelta(minutes=30)
        )
        reach = await campaigns.broadcast_reach(session, campaign)
        with pytest.raises(DomainError):
            await campaigns.open_campaign(session, campaign, acting=cli, now=now)
    assert reach.opds == 11 and reach.liaisons == 0
    async with db.write() as session:
        await campaigns.open_campaign(session, campaign, acting=secretary, now=now + timedelta(minutes=40))
        detail = await campaigns.campaign_detail(session, campaign)
    assert detail.state == CampaignState.OPEN
    assert [e.kind for e in detail.events] == [
        "created",
        "submitted",
        "returned",
        "submitted",
        "approved",
        "signed",
        "open",
    ]


async def test_the_submitter_who_is_also_kabid_cannot_decide(db: Database) -> None:
    await seeded(db)
    both = await person(db, "kasi-kabid", Role.KASI)
    async with db.write() as session:
        session.add(RoleAssignment(person_id=both.person_id, role="kabid", granted_at=FRIDAY_3PM))
    other = await person(db, "kabid", Role.KABID)
    campaign = await create(db, both)
    async with db.write() as session:
        assert await campaigns.submit_to_kabid(session, campaign, acting=both, now=FRIDAY_3PM) == [other.person_id]
    async with db.write() as session:
        with pytest.raises(DomainError) as refused:
            await campaigns.decide(session, campaign, approve=True, note=None, acting=both, now=FRIDAY_3PM)
    assert refused.value.template == "kampanye/pengaju_tidak_boleh" and refused.value.audit_action


async def test_timeline_counts_working_time_across_a_weekend_and_a_holiday(db: Database, tmp_path) -> None:  # type: ignore[no-untyped-def]
    await seeded(db)
    kasi, kabid = await person(db, "kasi", Role.KASI), await person(db, "kabid", Role.KABID)
    campaign = await create(db, kasi, now=FRIDAY_3PM)
    tuesday_9am = datetime(2026, 8, 18, 9, 0, tzinfo=WIB)  # Sat, Sun and Mon 17 Aug (holiday) do not count
    async with db.write() as session:
        await campaigns.submit_to_kabid(session, campaign, acting=kasi, now=tuesday_9am)
        await campaigns.decide(
            session, campaign, approve=True, note=None, acting=kabid, now=tuesday_9am + timedelta(minutes=45)
        )
        detail = await campaigns.campaign_detail(session, campaign)
        settings: Settings = make_settings(tmp_path)
        calendar = await load_calendar(session, settings, [2026])
    steps = step_progress(detail.events, calendar, now=tuesday_9am + timedelta(hours=2))
    step0, step1, step2 = steps[:3]
    assert step0.working_minutes == 60 + 60 and not step0.over_target  # Fri 15–16, Tue 08–09
    assert step1.working_minutes == 45 and step1.target_minutes == 30 and step1.over_target
    assert step2.ended is None and step2.working_minutes == 75  # running since approval
    assert all(s.started is None for s in steps[3:])


async def test_a_returned_plan_runs_step_0_again_until_it_is_submitted_again(db: Database, tmp_path) -> None:  # type: ignore[no-untyped-def]
    await seeded(db)
    kasi, kabid = await person(db, "kasi", Role.KASI), await person(db, "kabid", Role.KABID)
    campaign = await create(db, kasi, now=FRIDAY_3PM)
    tuesday_9am = datetime(2026, 8, 18, 9, 0, tzinfo=WIB)
    returned_at = tuesday_9am + timedelta(minutes=20)
    async with db.write() as session:
        await campaigns.submit_to_kabid(session, campaign, acting=kasi, now=tuesday_9am)
        await campaigns.decide(session, campaign, approve=False, note="Tambah kecamatan", acting=kabid, now=returned_at)
        calendar = await load_calendar(session, make_settings(tmp_path), [2026])
        returned = (await campaigns.campaign_detail(session, campaign)).events
        resubmitted_at = returned_at + timedelta(minutes=40)
        await campaigns.submit_to_kabid(session, campaign, acting=kasi, now=resubmitted_at)
        again = (await campaigns.campaign_detail(session, campaign)).events

    step0, step1 = step_progress(returned, calendar, now=returned_at + timedelta(minutes=10))[:2]
    assert step0.started == returned_at and step0.ended is None and step0.working_minutes == 10  # running again
    assert step1.ended == returned_at and step1.working_minutes == 20  # the Kabid's step ended with the return

    step0, step1 = step_progress(again, calendar, now=resubmitted_at + timedelta(minutes=5))[:2]
    assert step0.ended == resubmitted_at and step0.working_minutes == 40
    assert step1.started == resubmitted_at and step1.ended is None and step1.working_minutes == 5
