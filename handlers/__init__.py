"""The conversation, channel-neutral: one module per audience or flow."""

from __future__ import annotations

from bot.conversation.handling import Registry
from handlers import campaigns, deadlines, general, intake, libur, meetings, opd, people, progress, review


def build_registry() -> Registry:
    """Every handler module registers its commands and buttons here."""
    registry = Registry()
    campaigns.register(registry)
    deadlines.register(registry)
    general.register(registry)
    libur.register(registry)
    meetings.register(registry)
    opd.register(registry)
    people.register(registry)
    intake.register(registry)
    progress.register(registry)
    review.register(registry)
    return registry
