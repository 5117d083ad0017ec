"""The conversation, channel-neutral: one module per audience or flow."""

from __future__ import annotations

from bot.conversation.handling import Registry
from handlers import (
    announcements,
    berita_acara,
    campaigns,
    deadlines,
    evidence,
    exports,
    general,
    intake,
    libur,
    meetings,
    opd,
    people,
    progress,
    questions,
    recap,
    reminders,
    review,
    scores,
)


def build_registry() -> Registry:
    """Every handler module registers its commands and buttons here."""
    registry = Registry()
    announcements.register(registry)
    berita_acara.register(registry)
    campaigns.register(registry)
    deadlines.register(registry)
    exports.register(registry)
    evidence.register(registry)
    general.register(registry)
    libur.register(registry)
    meetings.register(registry)
    opd.register(registry)
    people.register(registry)
    intake.register(registry)
    progress.register(registry)
    questions.register(registry)
    recap.register(registry)
    reminders.register(registry)
    review.register(registry)
    scores.register(registry)
    return registry
