"""The pure access rules: which OPD a person may view, where a `/kirim` files, the registry, revoking, hand-over."""

from __future__ import annotations

import pytest

from bot.conversation.core import Actor, Assignment
from bot.errors import DomainError
from bot.services.access import (
    CHAT_UNLOCKERS,
    HANDOVER_DECIDERS,
    is_staff_not_liaison,
    issuing_role,
    managing_role,
    may_manage_opds,
    may_revoke_any_of,
    may_view_opd_registry,
    own_opds,
    require_own_opd,
    viewing_scope,
)
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
    assert (error.template, error.params) == (
        "unggah/pilih_opd",
        {"codes": ["BAPPEDA", "DISKOMINFO"], "perintah": "riwayat"},
    )
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
    assert refusal(viewing_scope, NOBODY, None, command="status").params == {"codes": [], "perintah": "status"}
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
    assert (error.template, error.params) == (
        "unggah/pilih_opd",
        {"codes": ["BAPPEDA", "DISKOMINFO"], "perintah": "kirim"},
    )


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


@pytest.mark.parametrize("role", [Role.ADMIN, Role.KASI, Role.KABID, Role.SEKRETARIAT])
def test_staff_see_the_opd_registry(role: Role) -> None:
    assert may_view_opd_registry(actor((role, None)))


@pytest.mark.parametrize("role", [Role.TIM, Role.OPD, Role.KEPALA_OPD])
def test_the_tim_and_the_opds_do_not_see_the_registry(role: Role) -> None:
    assert not may_view_opd_registry(actor((role, "BAPPEDA" if role in {Role.OPD, Role.KEPALA_OPD} else None)))
    assert not may_view_opd_registry(NOBODY)


def test_only_admins_and_the_kasi_manage_opds_and_holidays() -> None:
    managers = [r for r in Role if may_manage_opds(actor((r, "BAPPEDA" if r in {Role.OPD, Role.KEPALA_OPD} else None)))]
    assert sorted(managers) == [Role.ADMIN, Role.KASI]
    assert not may_manage_opds(NOBODY)


def test_the_audit_log_records_the_managers_role_held() -> None:
    assert managing_role(actor((Role.KASI, None), (Role.KABID, None))) == Role.KASI
    assert managing_role(actor((Role.KASI, None), (Role.ADMIN, None))) == Role.ADMIN
    assert managing_role(actor((Role.KABID, None))) is None


@pytest.mark.parametrize("role", [Role.ADMIN, Role.KASI, Role.KABID, Role.SEKRETARIAT])
def test_staff_who_are_no_liaison_file_only_in_a_flow(role: Role) -> None:
    assert is_staff_not_liaison(actor((role, None)))
    assert not is_staff_not_liaison(actor((role, None), (Role.OPD, "DISKOMINFO")))


@pytest.mark.parametrize("role", [Role.OPD, Role.KEPALA_OPD, Role.TIM])
def test_liaisons_heads_and_the_tim_are_not_staff_outside_a_flow(role: Role) -> None:
    assert not is_staff_not_liaison(actor((role, "BAPPEDA" if role != Role.TIM else None)))
    assert not is_staff_not_liaison(NOBODY)


def test_a_person_may_revoke_only_the_roles_they_may_issue() -> None:
    admin, kasi, kabid = actor((Role.ADMIN, None)), actor((Role.KASI, None)), actor((Role.KABID, None))
    assert may_revoke_any_of(admin, [Role.OPD])
    assert may_revoke_any_of(admin, [Role.KASI, Role.TIM])  # one revocable role is enough to be listed
    assert not may_revoke_any_of(admin, [Role.KASI, Role.KABID])
    assert may_revoke_any_of(kasi, [Role.ADMIN])
    assert not may_revoke_any_of(kasi, [Role.KABID])
    assert may_revoke_any_of(kabid, [Role.KABID])
    assert not may_revoke_any_of(kabid, [Role.OPD])
    assert not may_revoke_any_of(actor((Role.TIM, None)), [Role.OPD])
    assert not may_revoke_any_of(admin, [])


def test_a_code_is_issued_under_the_first_role_that_may_issue_it() -> None:
    both = actor((Role.KASI, None), (Role.ADMIN, None))
    assert issuing_role(both, Role.OPD) == Role.ADMIN
    assert issuing_role(both, Role.SEKRETARIAT) == Role.KASI  # an admin may not mint a sekretariat
    assert issuing_role(actor((Role.KABID, None), (Role.KASI, None)), Role.KASI) == Role.KABID
    assert issuing_role(actor((Role.ADMIN, None)), Role.KABID) is None
    assert issuing_role(NOBODY, Role.OPD) is None


def test_hand_over_and_chat_unlocking_belong_to_admins_and_the_kasi() -> None:
    assert HANDOVER_DECIDERS == {Role.ADMIN, Role.KASI}
    assert CHAT_UNLOCKERS == {Role.ADMIN}
