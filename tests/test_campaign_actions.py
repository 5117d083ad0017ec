"""Which campaign actions a person may take: every state × role, and the separation of duties."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.conversation.core import Actor, Assignment
from bot.services.campaign_actions import CampaignAction, acting_role, campaign_actions, may_view, role_allows
from bot.services.campaigns import CampaignDetail, CampaignSummary
from storage.models import CampaignState, Role

A = CampaignAction
ME, SOMEONE_ELSE = 7, 9

# What a person holding only `role` (who neither submitted the plan nor uploaded the letter) may do per state.
EXPECTED: dict[CampaignState, dict[Role, set[CampaignAction]]] = {
    CampaignState.DRAFT: {
        Role.ADMIN: {A.EDIT_ITEMS, A.REPLACE_DRAFT_LETTER},
        Role.KASI: {A.EDIT_ITEMS, A.REPLACE_DRAFT_LETTER, A.SUBMIT},
    },
    CampaignState.AWAITING_DISPOSITION: {Role.KABID: {A.APPROVE, A.RETURN}},
    CampaignState.APPROVED: {Role.ADMIN: {A.UPLOAD_SIGNED_LETTER}, Role.SEKRETARIAT: {A.UPLOAD_SIGNED_LETTER}},
    CampaignState.OPEN: {Role.KABID: {A.CLOSE_COLLECTION}},
    CampaignState.RECAPPED: {Role.ADMIN: {A.UPLOAD_SIGNED_BA}, Role.KASI: {A.UPLOAD_SIGNED_BA}},
}


def detail(
    state: CampaignState, *, submitted_by: int | None = SOMEONE_ELSE, signed_by: int | None = None
) -> CampaignDetail:
    summary = CampaignSummary(1, "Monev SPBE 2026", state, datetime(2026, 6, 30, tzinfo=UTC), None)
    return CampaignDetail(summary, SOMEONE_ELSE, submitted_by, signed_by, (), (), (), None, None)


def holding(*roles: Role, person_id: int | None = ME) -> Actor:
    opd = {Role.OPD, Role.KEPALA_OPD}
    return Actor(
        person_id,
        "Rina",
        tuple(Assignment(r, 1 if r in opd else None, "DISKOMINFO" if r in opd else None) for r in roles),
    )


@pytest.mark.parametrize("state", list(CampaignState))
@pytest.mark.parametrize("role", list(Role))
def test_each_state_and_role(state: CampaignState, role: Role) -> None:
    signed_by = SOMEONE_ELSE if state != CampaignState.DRAFT else None
    assert campaign_actions(holding(role), detail(state, signed_by=signed_by)) == EXPECTED.get(state, {}).get(
        role, set()
    )


def test_the_kabid_who_submitted_cannot_decide() -> None:
    kasi_and_kabid = holding(Role.KASI, Role.KABID)
    awaiting = CampaignState.AWAITING_DISPOSITION
    assert campaign_actions(kasi_and_kabid, detail(awaiting, submitted_by=ME)) == frozenset()
    assert campaign_actions(kasi_and_kabid, detail(awaiting)) == {A.APPROVE, A.RETURN}


def test_only_the_uploader_may_send_the_invitations() -> None:
    signed = CampaignState.SIGNED
    assert campaign_actions(holding(Role.SEKRETARIAT), detail(signed, signed_by=ME)) == {A.SEND_INVITATIONS}
    assert campaign_actions(holding(Role.SEKRETARIAT), detail(signed, signed_by=SOMEONE_ELSE)) == frozenset()
    assert campaign_actions(holding(Role.ADMIN), detail(signed, signed_by=SOMEONE_ELSE)) == frozenset()
    assert campaign_actions(holding(Role.SEKRETARIAT), detail(CampaignState.OPEN, signed_by=ME)) == frozenset()


def test_nobody_unregistered_takes_any_action() -> None:
    nobody = Actor(None, None)
    for state in CampaignState:
        assert campaign_actions(nobody, detail(state, submitted_by=None, signed_by=None)) == frozenset()
    assert not may_view(nobody)


def test_viewing_creating_and_the_role_the_audit_records() -> None:
    assert [r for r in Role if may_view(holding(r))] == [Role.ADMIN, Role.KASI, Role.KABID, Role.SEKRETARIAT, Role.TIM]
    assert [r for r in Role if role_allows(holding(r), A.CREATE)] == [Role.ADMIN, Role.KASI]
    assert acting_role(holding(Role.KASI, Role.ADMIN), A.EDIT_ITEMS) == Role.ADMIN
    assert acting_role(holding(Role.SEKRETARIAT), A.SEND_INVITATIONS) == Role.SEKRETARIAT
    assert acting_role(holding(Role.TIM), A.SEND_INVITATIONS) is None
