"""The campaign flows' steps and data: typed in the handler, plain JSON in the conversation row."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.services import items
from handlers.campaigns import ForCampaign, NewCampaign, Step

SPEC = items.ItemSpec("A1", "Kebijakan", "Dokumen kebijakan", True, None, ("DINKES",), ("pdf",), None, None, 1)


def test_a_new_campaign_draft_survives_its_json_round_trip() -> None:
    draft = NewCampaign("Monev 2026", None, (SPEC,), datetime(2026, 6, 30, 16, tzinfo=UTC), ("DINKES",))
    assert NewCampaign.from_json(draft.to_json()) == draft
    assert NewCampaign.from_json(NewCampaign().to_json()) == NewCampaign()


def test_rows_written_before_the_typed_state_still_read() -> None:
    """A flow begun before an upgrade carries only the keys collected so far (no `items` with a framework)."""
    old = {"title": "Monev 2026", "framework": "permenpanrb-59-2020", "deadline": "2026-06-30T16:00:00+00:00"}
    draft = NewCampaign.from_json(old)
    assert (draft.title, draft.framework, draft.items, draft.opd_codes) == (
        "Monev 2026",
        "permenpanrb-59-2020",
        (),
        None,
    )
    assert draft.deadline == datetime(2026, 6, 30, 16, tzinfo=UTC)
    assert ForCampaign.from_json({"campaign": 3}) == ForCampaign(3)
    assert ForCampaign(3).to_json() == {"campaign": 3}


def test_the_steps_keep_their_stored_values() -> None:
    assert [s.value for s in Step] == ["judul", "kerangka", "impor", "tenggat", "opd", "surat", "tunggu", "catatan"]
