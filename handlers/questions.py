"""A liaison's questions in free text, relayed to the admins and the Kasi, and their answers (by reply or "Balas").

`relay_or_answer` is asked first by the free-text handler (handlers.people.plain_text): a liaison's text is a
question; an admin's or Kasi's reply to a relayed question is its answer; anything else keeps today's answer.
"Balas" (`tny:QUESTION`, bot.conversation.payloads.parse_question) starts the flow whose next text is the answer.
"""

from __future__ import annotations

from bot.conversation import payloads
from bot.conversation.core import Reply
from bot.conversation.handling import Context, Registry
from bot.domain.enums import Role
from bot.errors import DomainError
from bot.services import conversations, questions
from bot.services.conversations import FlowState

FLOW = "jawab"


def _answering_role(ctx: Context) -> Role | None:
    return next((r for r in (Role.ADMIN, Role.KASI) if r in ctx.actor.roles), None)


async def relay_or_answer(ctx: Context) -> Reply | None:
    """A liaison's question, or an answer by replying to a relayed question; None when the text is neither."""
    request, actor = ctx.request, ctx.actor
    role = _answering_role(ctx)
    if request.reply_to and role is not None and actor.person_id is not None:
        question_id = await questions.replied_question(
            await ctx.session(), actor.person_id, request.channel, request.reply_to
        )
        if question_id is not None:
            return await _answer(ctx, question_id, role)
    liaison = next((a for a in actor.assignments if a.role is Role.OPD and a.opd_id is not None), None)
    if liaison is None or liaison.opd_id is None or actor.person_id is None:
        return None
    if await questions.opens_waiting_messages(await ctx.session(), actor.person_id):
        return None  # WhatsApp: the "ok" that opens the messages a notice announced is no question for the admins
    view = await questions.ask(
        await ctx.session(), opd_id=liaison.opd_id, text=request.text or "", acting=ctx.acting(Role.OPD), now=ctx.now
    )
    return ctx.reply("pertanyaan/diterima", q=view)


async def _answer(ctx: Context, question_id: int, role: Role) -> Reply:
    view = await questions.answer(
        await ctx.session(), question_id, ctx.request.text or "", acting=ctx.acting(role), now=ctx.now
    )
    return ctx.reply("pertanyaan/jawaban_terkirim", q=view)


async def reply_button(ctx: Context) -> Reply:
    """ "Balas" under a relayed question: admins and the Kasi only, while nobody has answered it."""
    question_id = payloads.parse_question(ctx.request.payload or "")
    if question_id is None:
        raise DomainError("umum/tombol_kedaluwarsa")
    session = await ctx.session()
    view = await questions.require_open(session, question_id, ctx.acting(_answering_role(ctx)))
    await conversations.begin(
        session,
        ctx.request.channel,
        ctx.request.chat_id,
        person_id=ctx.me(),
        flow=FLOW,
        step="jawaban",
        data={"question": view.id},
        now=ctx.now,
    )
    return ctx.reply("pertanyaan/tulis_jawaban", q=view)


async def answer_flow(ctx: Context, state: FlowState) -> Reply:
    """The text after "Balas" is the answer; the flow ends when it is taken or someone answered first."""
    if ctx.request.attachments or ctx.request.text is None:
        return ctx.reply("pertanyaan/jawaban_teks")
    role = _answering_role(ctx)
    if role is None:
        raise DomainError("pertanyaan/bukan_untuk_anda")
    questions.clean(ctx.request.text)  # an empty answer is refused and the flow stays (the refusal undoes nothing)
    await conversations.finish(await ctx.session(), ctx.request.channel, ctx.request.chat_id)
    try:
        return await _answer(ctx, int(state.data["question"]), role)
    except DomainError as refusal:
        if refusal.template != "pertanyaan/sudah_dijawab":
            raise
        return ctx.reply(refusal.template, **refusal.params)  # a reply, not a refusal: the flow's end is kept


def register(registry: Registry) -> None:
    registry.button("tny", reply_button)
    registry.flow(FLOW, answer_flow)
