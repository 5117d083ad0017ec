"""Questions: a liaison's free text reaches every admin and Kasi, one of them answers, the answer goes back.

They replace the questions of the WhatsApp group. The question is relayed through the outbox (kind `pertanyaan`)
with a "Balas" button; each relay's outbox message is kept (`question_message`), so a reply to that message (its
Telegram message id or WhatsApp wamid, recorded when it went out) answers the question too. The first answer
wins: the liaison gets it naming who answered, the other admins and Kasi are told who did, and a later answer is
refused with that name. Questions and answers are shown in the OPD's history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.conversation.envelope import Envelope, EnvelopeButton, Label
from bot.domain.enums import Role
from bot.errors import DomainError
from bot.services import audit, outbox, people
from bot.services.audit import Acting
from bot.services.safe_text import display_text
from storage.models import Opd, OutboxMessage, Person, Question, QuestionMessage

ANSWERERS = frozenset({Role.ADMIN, Role.KASI})
KIND, ANSWER_KIND = "pertanyaan", "jawaban"
TEXT_MAX = 3000  # the relay adds a heading; WhatsApp's text limit is 4,096 characters
HISTORY_LIMIT = 10  # the latest questions an OPD's history shows


@dataclass(frozen=True)
class QuestionView:
    id: int
    opd_id: int
    opd_code: str
    opd_name: str
    person_id: int
    asker: str
    text: str
    asked_at: datetime
    answer: str | None
    answerer: str | None
    answered_at: datetime | None


def clean(text: str) -> str:
    cleaned = display_text(text, multiline=True).strip()
    if not cleaned:
        raise DomainError("pertanyaan/jawaban_kosong")
    if len(cleaned) > TEXT_MAX:
        raise DomainError("pertanyaan/terlalu_panjang", panjang=len(cleaned), batas=TEXT_MAX)
    return cleaned


async def ask(session: AsyncSession, *, opd_id: int, text: str, acting: Acting, now: datetime) -> QuestionView:
    """Record a liaison's question and relay it to every admin and Kasi, each relay with its "Balas" button."""
    assert acting.person_id is not None
    row = Question(opd_id=opd_id, person_id=acting.person_id, text=clean(text), asked_at=now)
    session.add(row)
    await session.flush()
    view = await question_view(session, row.id)
    button = EnvelopeButton(Label(template="tombol/balas_pertanyaan"), f"tny:{row.id}")
    for reader in await people.people_with_roles(session, ANSWERERS):
        if reader == acting.person_id:
            continue
        message = Envelope.of(KIND, "pertanyaan/diteruskan", buttons=[[button]], q=view)
        outbox_id = await outbox.enqueue(session, person_id=reader, message=message, now=now, opd_id=opd_id)
        session.add(QuestionMessage(question_id=row.id, person_id=reader, outbox_message_id=outbox_id))
    await audit.record(session, acting, "question_asked", now, object_type="question", object_id=row.id, opd=opd_id)
    return view


async def question_view(session: AsyncSession, question_id: int) -> QuestionView:
    asker, answerer = aliased(Person), aliased(Person)
    row = (
        await session.execute(
            select(Question, Opd.code, Opd.name, asker.display_name, answerer.display_name)
            .join(Opd, Opd.id == Question.opd_id)
            .join(asker, asker.id == Question.person_id)
            .outerjoin(answerer, answerer.id == Question.answered_by)
            .where(Question.id == question_id)
        )
    ).one_or_none()
    if row is None:
        raise DomainError("pertanyaan/tidak_dikenal")
    question, code, name, asker_name, answerer_name = row
    return QuestionView(
        question.id,
        question.opd_id,
        code,
        name,
        question.person_id,
        asker_name or "-",
        question.text,
        question.asked_at,
        question.answer,
        answerer_name if question.answered_by is not None else None,
        question.answered_at,
    )


async def opens_waiting_messages(session: AsyncSession, person_id: int) -> bool:
    """Whether messages wait for this person's reply (WhatsApp, outside its window): their text is that reply."""
    return await outbox.awaits_reply(session, person_id, None)


def require_answerer(acting: Acting) -> int:
    if acting.person_id is None or acting.role is None or Role(acting.role) not in ANSWERERS:
        raise DomainError("pertanyaan/bukan_untuk_anda", audit_action="forged_button")
    return acting.person_id


async def require_open(session: AsyncSession, question_id: int, acting: Acting) -> QuestionView:
    """The question a "Balas" press is about, while nobody has answered it."""
    require_answerer(acting)
    view = await question_view(session, question_id)
    if view.answered_at is not None:
        raise DomainError("pertanyaan/sudah_dijawab", nama=view.answerer or "-", q=view)
    return view


async def replied_question(session: AsyncSession, person_id: int, channel: str, platform_id: str) -> int | None:
    """The question whose relay to this person is the message `platform_id` on `channel` (None: not a relay)."""
    return await session.scalar(
        select(QuestionMessage.question_id)
        .join(OutboxMessage, OutboxMessage.id == QuestionMessage.outbox_message_id)
        .where(
            QuestionMessage.person_id == person_id,
            OutboxMessage.channel == channel,
            OutboxMessage.platform_message_id == platform_id,
        )
    )


async def answer(session: AsyncSession, question_id: int, text: str, *, acting: Acting, now: datetime) -> QuestionView:
    """The first answer wins (a compare-and-set): the liaison gets it, the other readers are told who answered."""
    answerer = require_answerer(acting)
    body = clean(text)
    await require_open(session, question_id, acting)
    taken = await session.execute(
        update(Question)
        .where(Question.id == question_id, Question.answered_at.is_(None))
        .values(answer=body, answered_by=answerer, answered_at=now)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        view = await question_view(session, question_id)
        raise DomainError("pertanyaan/sudah_dijawab", nama=view.answerer or "-", q=view)
    view = await question_view(session, question_id)
    await outbox.enqueue(
        session,
        person_id=view.person_id,
        message=Envelope.of(ANSWER_KIND, "pertanyaan/jawaban", q=view),
        now=now,
        opd_id=view.opd_id,
    )
    readers = await session.scalars(select(QuestionMessage.person_id).where(QuestionMessage.question_id == question_id))
    for reader in readers.all():
        if reader != answerer:
            notice = Envelope.of("pemberitahuan", "pertanyaan/sudah_dijawab_lain", q=view)
            await outbox.enqueue(session, person_id=reader, message=notice, now=now, opd_id=view.opd_id)
    await audit.record(
        session, acting, "question_answered", now, object_type="question", object_id=question_id, opd=view.opd_id
    )
    return view


async def opd_questions(session: AsyncSession, opd_id: int, limit: int = HISTORY_LIMIT) -> list[QuestionView]:
    """An OPD's latest questions with their answers, newest first (for `/riwayat`)."""
    ids = await session.scalars(
        select(Question.id)
        .where(Question.opd_id == opd_id)
        .order_by(Question.asked_at.desc(), Question.id.desc())
        .limit(limit)
    )
    return [await question_view(session, question_id) for question_id in ids.all()]
