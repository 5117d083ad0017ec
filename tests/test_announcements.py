"""Announcements and questions as services, on SQLite and PostgreSQL (issue 18 items 3 and 4)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, update

from bot.errors import DomainError
from bot.services import announcements, identity, questions
from bot.services.audit import Acting
from storage.database import Database
from storage.models import Announcement, AuditEntry, OutboxMessage, Question, QuestionMessage, Role
from tests.test_submissions import NOW, open_campaign


async def _person(session: object, external: str, name: str, role: Role, opd: str | None = None) -> Acting:
    person = await identity.person_of_identity(session, "telegram", external, name, NOW)  # type: ignore[arg-type]
    await identity.ensure_assignment(session, person, role, opd, NOW)  # type: ignore[arg-type]
    return Acting(person, role.value, "telegram")


async def _world(db: Database) -> tuple[int, dict[str, Acting]]:
    scope, _ = await open_campaign(db)
    async with db.write() as session:
        people = {
            "admin": await _person(session, "901", "Dewi", Role.ADMIN),
            "kasi": await _person(session, "900", "Andi", Role.KASI),
            "dinkes": await _person(session, "920", "Budi", Role.OPD, "DINKES"),
            "diskominfo": await _person(session, "921", "Sari", Role.OPD, "DISKOMINFO"),
        }
    return scope.campaign_id, people


async def test_the_delivery_report_counts_liaisons_and_names_the_opds_not_reached(db: Database) -> None:
    campaign_id, people = await _world(db)
    async with db.write() as session:
        announcement_id, reach = await announcements.announce(
            session, campaign_id, text="  Rapat teknis Senin.\nTempat: Pontive Center\u200b  ",
            opd_codes=["DINKES", "DISKOMINFO"], document=None, sender_name="Dewi", acting=people["admin"], now=NOW,
        )  # fmt: skip
        assert reach.liaisons == 2 and [o.code for o in reach.opds] == ["DINKES", "DISKOMINFO"]
        assert not await announcements.report_settled(session, NOW)  # both messages still wait
    async with db.write() as session:
        rows = (await session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "pengumuman"))).all()
        assert sorted(r.person_id for r in rows) == sorted([people["dinkes"].person_id, people["diskominfo"].person_id])
        text = json.loads(rows[0].payload or "{}")["params"]["a"]["text"]
        assert text == "Rapat teknis Senin.\nTempat: Pontive Center"  # line breaks kept, invisible characters not
        for row in rows:  # what the dispatcher records: one delivered, one without any reachable chat
            row.status = "sent" if row.person_id == people["dinkes"].person_id else "unreachable"
        assert await announcements.report_settled(session, NOW)
        assert not await announcements.report_settled(session, NOW)  # once
        (report,) = (
            await session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "laporan_pengumuman"))
        ).all()
        announcement = await session.get_one(Announcement, announcement_id)
        audited = await session.scalar(select(func.count()).where(AuditEntry.action == "announcement_sent"))
    assert report.person_id == people["admin"].person_id and announcement.reported_at is not None
    params = json.loads(report.payload or "{}")["params"]["r"]
    assert (params["reached"], params["liaisons"], params["unreachable_opds"]) == (1, 2, ["DISKOMINFO"])
    assert audited == 1


async def test_announcement_refusals_write_nothing(db: Database) -> None:
    campaign_id, people = await _world(db)
    async with db.write() as session:
        campaign = await announcements.require_campaign(session, campaign_id)
        with pytest.raises(DomainError) as outsider:
            announcements.chosen_opds(campaign, ["BUKAN_OPD"])
        assert outsider.value.template == "pengumuman/opd_bukan_peserta"
        assert announcements.chosen_opds(campaign, ["semua"]) == campaign.opd_codes
        cases = [
            (people["dinkes"], "Halo", ["DINKES"], "pengumuman/tidak_berwenang"),
            (people["admin"], "   ", ["DINKES"], "pengumuman/teks_kosong"),
            (people["admin"], "x" * 3001, ["DINKES"], "pengumuman/teks_terlalu_panjang"),
            (people["kasi"], "Halo", ["BAPPERIDA"], "pengumuman/tanpa_penerima"),  # no liaison registered there
        ]
        for acting, text, opds, template in cases:
            with pytest.raises(DomainError) as refused:
                await announcements.announce(
                    session, campaign_id, text=text, opd_codes=opds, document=None, sender_name="-",
                    acting=acting, now=NOW,
                )  # fmt: skip
            assert refused.value.template == template
        with pytest.raises(DomainError) as long_caption:
            announcements.clean_text("x" * 900, with_document=True)
        assert long_caption.value.params["batas"] == announcements.CAPTION_TEXT_MAX
        assert await session.scalar(select(func.count()).select_from(Announcement)) == 0
        assert await session.scalar(select(func.count()).where(OutboxMessage.kind == "pengumuman")) == 0


async def test_a_question_reaches_admins_and_kasi_and_the_first_answer_wins(db: Database) -> None:
    _, people = await _world(db)
    async with db.write() as session:
        opd_id = (await identity.resolve_actor(session, "telegram", "920")).assignments[0].opd_id
        assert opd_id is not None
        asked = await questions.ask(session, opd_id=opd_id, text="Format SK apa?", acting=people["dinkes"], now=NOW)
        relays = (await session.scalars(select(QuestionMessage).where(QuestionMessage.question_id == asked.id))).all()
        assert sorted(r.person_id for r in relays) == sorted([people["admin"].person_id, people["kasi"].person_id])
        admin_relay = next(r for r in relays if r.person_id == people["admin"].person_id)
        # The dispatcher records the platform's id of the message that went out: a reply to it finds the question.
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == admin_relay.outbox_message_id)
            .values(status="sent", channel="telegram", chat_id="901", platform_message_id="77")
        )
        assert await questions.replied_question(session, people["admin"].person_id or 0, "telegram", "77") == asked.id
        assert await questions.replied_question(session, people["kasi"].person_id or 0, "telegram", "77") is None
        with pytest.raises(DomainError) as liaison:
            await questions.answer(session, asked.id, "Saya jawab sendiri", acting=people["diskominfo"], now=NOW)
        assert liaison.value.template == "pertanyaan/bukan_untuk_anda"
        with pytest.raises(DomainError) as empty:
            await questions.answer(session, asked.id, "  ", acting=people["admin"], now=NOW)
        assert empty.value.template == "pertanyaan/jawaban_kosong"
        answered = await questions.answer(session, asked.id, "PDF bertanda tangan.", acting=people["admin"], now=NOW)
        assert answered.answerer == "Dewi" and answered.answer == "PDF bertanda tangan."
        with pytest.raises(DomainError) as twice:
            await questions.answer(session, asked.id, "Boleh foto.", acting=people["kasi"], now=NOW)
        assert twice.value.template == "pertanyaan/sudah_dijawab" and twice.value.params["nama"] == "Dewi"
        answer_to_liaison = await session.scalar(
            select(OutboxMessage).where(OutboxMessage.kind == "jawaban", OutboxMessage.person_id == asked.person_id)
        )
        told = (
            await session.scalars(
                select(OutboxMessage.person_id).where(
                    OutboxMessage.kind == "pemberitahuan", OutboxMessage.opd_id == opd_id
                )
            )
        ).all()
        history = await questions.opd_questions(session, opd_id)
        stored = await session.get_one(Question, asked.id)
    assert answer_to_liaison is not None and told == [people["kasi"].person_id]
    assert [(q.text, q.answer) for q in history] == [("Format SK apa?", "PDF bertanda tangan.")]
    assert stored.answered_by == people["admin"].person_id and stored.answered_at is not None
