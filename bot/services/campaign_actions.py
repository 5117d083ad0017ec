"""Which campaign actions a person may take (SOP steps 0–2, the signed BA of step 6): by role, state and duty.

One table says which roles take each action and in which state; `campaign_actions` adds separation of duties
(the Kabid who submitted a plan does not decide it; only the uploader of the signed letter sends the invitations).
The handler turns the result into buttons; the services check state and duty again when the action runs.
"""

from __future__ import annotations

from enum import StrEnum

from bot.conversation.core import Actor
from bot.domain.enums import CampaignState, Role
from bot.services.campaigns import CampaignDetail

EDITORS = frozenset({Role.ADMIN, Role.KASI})
LETTER_UPLOADERS = frozenset({Role.SEKRETARIAT, Role.ADMIN})
# Everyone who may see campaigns and press their read-only buttons.
VIEWERS = frozenset({Role.ADMIN, Role.KASI, Role.KABID, Role.SEKRETARIAT, Role.TIM})


class CampaignAction(StrEnum):
    """What can be done to a campaign, in SOP order."""

    CREATE = "create"
    EDIT_ITEMS = "edit_items"
    REPLACE_DRAFT_LETTER = "replace_draft_letter"
    SUBMIT = "submit"  # the Kasi submits the plan to the Kabid
    APPROVE = "approve"  # the Kabid's disposition
    RETURN = "return"  # the Kabid sends the plan back with a note
    UPLOAD_SIGNED_LETTER = "upload_signed_letter"
    SEND_INVITATIONS = "send_invitations"  # the campaign opens and every liaison is invited
    CLOSE_COLLECTION = "close_collection"  # the Kabid ends collection: later uploads are refused
    UPLOAD_SIGNED_BA = "upload_signed_ba"  # the Berita Acara signed by the Sekda (SOP step 6)


# The roles that take each action (the roles of its one-time action or its flow).
ACTION_ROLES: dict[CampaignAction, frozenset[Role]] = {
    CampaignAction.CREATE: EDITORS,
    CampaignAction.EDIT_ITEMS: EDITORS,
    CampaignAction.REPLACE_DRAFT_LETTER: EDITORS,
    CampaignAction.SUBMIT: frozenset({Role.KASI}),
    CampaignAction.APPROVE: frozenset({Role.KABID}),
    CampaignAction.RETURN: frozenset({Role.KABID}),
    CampaignAction.UPLOAD_SIGNED_LETTER: LETTER_UPLOADERS,
    CampaignAction.SEND_INVITATIONS: LETTER_UPLOADERS,
    CampaignAction.CLOSE_COLLECTION: frozenset({Role.KABID}),
    CampaignAction.UPLOAD_SIGNED_BA: EDITORS,
}

# The state a campaign must be in for each action (creating needs no campaign).
ACTION_STATE: dict[CampaignAction, CampaignState] = {
    CampaignAction.EDIT_ITEMS: CampaignState.DRAFT,
    CampaignAction.REPLACE_DRAFT_LETTER: CampaignState.DRAFT,
    CampaignAction.SUBMIT: CampaignState.DRAFT,
    CampaignAction.APPROVE: CampaignState.AWAITING_DISPOSITION,
    CampaignAction.RETURN: CampaignState.AWAITING_DISPOSITION,
    CampaignAction.UPLOAD_SIGNED_LETTER: CampaignState.APPROVED,
    CampaignAction.SEND_INVITATIONS: CampaignState.SIGNED,
    CampaignAction.CLOSE_COLLECTION: CampaignState.OPEN,
    CampaignAction.UPLOAD_SIGNED_BA: CampaignState.RECAPPED,
}


def may_view(actor: Actor) -> bool:
    """Whether the person may see campaigns at all."""
    return bool(actor.roles & VIEWERS)


def role_allows(actor: Actor, action: CampaignAction) -> bool:
    """Whether one of the person's roles takes `action` (state and duty aside)."""
    return bool(actor.roles & ACTION_ROLES[action])


def acting_role(actor: Actor, action: CampaignAction) -> Role | None:
    """The role the audit log records for `action` (the first in order when several are held)."""
    held = actor.roles & ACTION_ROLES[action]
    return min(held) if held else None


def campaign_actions(actor: Actor, campaign: CampaignDetail) -> frozenset[CampaignAction]:
    """The actions the person may take on `campaign` now: its state, their roles, separation of duties."""
    allowed: set[CampaignAction] = set()
    for action, state in ACTION_STATE.items():
        if campaign.state != state:
            continue
        if action == CampaignAction.SEND_INVITATIONS:
            # Only the uploader of the signed letter; the role is checked again when the button is pressed.
            if actor.person_id is not None and actor.person_id == campaign.signed_by:
                allowed.add(action)
            continue
        if not role_allows(actor, action):
            continue
        if action in (CampaignAction.APPROVE, CampaignAction.RETURN) and actor.person_id == campaign.submitted_by:
            continue  # the Kabid who submitted the plan does not decide it
        allowed.add(action)
    return frozenset(allowed)
