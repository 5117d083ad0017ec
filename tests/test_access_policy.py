"""The pure access rules: which OPD a person may view, and where a `/kirim` files."""

from __future__ import annotations

import pytest

from bot.core import Actor, Assignment
from bot.errors import DomainError
from bot.services.access import own_opds, require_own_opd, viewing_scope
from bot.services.submissions import KirimRoute, route_kirim
from storage.models import Role


def actor(*assignments: tuple[Role, str | None]) -> Actor:
    return Actor(
        person_id=7,
        display_name="Rina",
        assignments=tuple(Assignment(role, i if code else None, code) for i, (role, code) in enumerate(assignments)),
    )


LIAISON = actor((Role.OPD, "DISKOMINFO"))
TWO_OPDS = actor((Role.OPD, "DISKOMINFO"), (Role.OPD, "BAPPEDA"))
NOBODY = Actor(person_id=None, display_name=None)


def refusal(call: object, *args: object, **kwargs: object) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call(*args, **kwargs)  # type: ignore[operator]
    return caught.value


def test_a_liaison_sees_their_own_opd_without_naming_it() -> None:
    assert viewing_scope(LIAISON, None, command="status") == "DISKOMINFO"
    assert viewing_scope(LIAISON, "diskominfo", command="status") == "DISKOMINFO"


def test_a_liaison_naming_another_opd_is_refused_and_audited() -> None:
    error = refusal(viewing_scope, LIAISON, "BAPPEDA", command="status")
    assert (error.template, error.audit_action, error.params) == (
        "unggah/bukan_opd_anda",
        "other_opd_refused",
        {"opd": "BAPPEDA"},
    )


def test_a_liaison_of_two_opds_names_one_of_them() -> None:
    assert viewing_scope(TWO_OPDS, "BAPPEDA", command="riwayat") == "BAPPEDA"
    error = refusal(viewing_scope, TWO_OPDS, None, command="riwayat")
    assert (error.template, error.params) == ("unggah/pilih_opd", {"codes": ["BAPPEDA", "DISKOMINFO"]})
    assert refusal(viewing_scope, TWO_OPDS, "DISPORA", command="riwayat").template == "unggah/bukan_opd_anda"


@pytest.mark.parametrize("role", [Role.ADMIN, Role.KASI, Role.KABID, Role.SEKRETARIAT, Role.TIM])
def test_staff_and_the_tim_view_any_opd_but_must_name_it(role: Role) -> None:
    staff = actor((role, None))
    assert viewing_scope(staff, "dispora", command="status") == "DISPORA"
    error = refusal(viewing_scope, staff, None, command="status")
    assert (error.template, error.params) == ("unggah/sebutkan_opd", {"perintah": "status"})


def test_staff_who_are_also_a_liaison_default_to_that_opd() -> None:
    both = actor((Role.KASI, None), (Role.OPD, "DISKOMINFO"))
    assert viewing_scope(both, None, command="status") == "DISKOMINFO"
    assert viewing_scope(both, "BAPPEDA", command="status") == "BAPPEDA"


def test_the_head_of_an_opd_sees_only_that_opd() -> None:
    head = actor((Role.KEPALA_OPD, "BAPPEDA"))
    assert viewing_scope(head, None, command="status") == "BAPPEDA"
    assert refusal(viewing_scope, head, "DISKOMINFO", command="status").template == "unggah/bukan_opd_anda"
    assert own_opds(head) == []  # a head of an OPD views it, but files nothing for it


def test_an_unregistered_person_sees_nothing() -> None:
    assert refusal(viewing_scope, NOBODY, None, command="status").params == {"codes": []}
    assert refusal(viewing_scope, NOBODY, "DISKOMINFO", command="status").template == "unggah/bukan_opd_anda"


def test_only_an_own_opd_passes_the_filing_check() -> None:
    assert require_own_opd(TWO_OPDS, "BAPPEDA") == "BAPPEDA"
    assert refusal(require_own_opd, LIAISON, "BAPPEDA" * 10).params == {"opd": ("BAPPEDA" * 10)[:32]}
    assert refusal(require_own_opd, actor((Role.KEPALA_OPD, "BAPPEDA")), "BAPPEDA").template == "unggah/bukan_opd_anda"


def test_a_liaison_kirim_files_to_their_own_opd() -> None:
    assert route_kirim(LIAISON, ()) == KirimRoute("DISKOMINFO", None, on_behalf=False)
    assert route_kirim(LIAISON, ("i.03",)) == KirimRoute("DISKOMINFO", "I.03", on_behalf=False)


def test_a_liaison_of_two_opds_names_the_opd_first() -> None:
    assert route_kirim(TWO_OPDS, ("bappeda", "I.01")) == KirimRoute("BAPPEDA", "I.01", on_behalf=False)
    assert route_kirim(TWO_OPDS, ("BAPPEDA",)) == KirimRoute("BAPPEDA", None, on_behalf=False)
    error = refusal(route_kirim, TWO_OPDS, ("I.01",))
    assert (error.template, error.params) == ("unggah/pilih_opd", {"codes": ["BAPPEDA", "DISKOMINFO"]})


@pytest.mark.parametrize("role", [Role.ADMIN, Role.KASI])
def test_admin_and_kasi_send_on_behalf_naming_opd_and_item(role: Role) -> None:
    staff = actor((role, None))
    assert route_kirim(staff, ("dispora", "i.02")) == KirimRoute("DISPORA", "I.02", on_behalf=True)
    assert route_kirim(staff, ("DISPORA",)) is None
    assert route_kirim(staff, ()) is None


def test_a_liaison_who_is_also_kasi_sends_on_behalf_with_two_words() -> None:
    both = actor((Role.KASI, None), (Role.OPD, "DISKOMINFO"))
    assert route_kirim(both, ("BAPPEDA", "I.01")) == KirimRoute("BAPPEDA", "I.01", on_behalf=True)
    assert route_kirim(both, ("I.01",)) == KirimRoute("DISKOMINFO", "I.01", on_behalf=False)


@pytest.mark.parametrize("role", [Role.KABID, Role.SEKRETARIAT, Role.TIM, Role.KEPALA_OPD])
def test_others_may_not_send_on_behalf(role: Role) -> None:
    assert route_kirim(actor((role, "BAPPEDA" if role == Role.KEPALA_OPD else None)), ("BAPPEDA", "I.01")) is None
