"""Who may do what outside the campaign SOP: the "own OPD only" rule, the OPD registry, revoking and hand-over.

Pure functions over the actor's assignments (DESIGN §2: an `opd`/`kepala_opd` person sees only the OPDs of their
assignments; staff and the Tim see every OPD). The refusals are domain errors the dispatcher renders and audits.
Handlers ask these functions and hold no rule of their own; the campaign actions are in `campaign_actions`, and
who may use a command at all is the command table's (`bot.conversation.commands`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import replace

from bot.conversation.commands import STAFF, find_command
from bot.conversation.core import Actor
from bot.domain.enums import OPD_SCOPED_ROLES, Role
from bot.errors import DomainError
from bot.services.invites import ISSUABLE, issuable_by
from bot.services.items import ItemSpec

# Staff and the evaluation team name any OPD; everyone else sees only their own.
VIEW_ANY = frozenset({Role.ADMIN, Role.KASI, Role.KABID, Role.SEKRETARIAT, Role.TIM})
# Only a liaison files evidence for their own OPD (the head of an OPD is a contact, not a sender).
FILE_OWN = frozenset({Role.OPD})
# Admins and the Kasi keep the registers: they (de)activate OPDs and change the holidays.
MANAGERS = frozenset({Role.ADMIN, Role.KASI})
# Whoever issues hand-over codes (`/serahkan`) decides, on the new liaison's registration, about the old ones.
HANDOVER_DECIDERS = frozenset({Role.ADMIN, Role.KASI})
# Only an admin lifts the lock on a chat that guessed too many codes.
CHAT_UNLOCKERS = frozenset({Role.ADMIN})
# The evidence package holds every OPD's accepted files: only admins take it out of the chat (issue 19); the
# Kasi and the Kabid get the workbook, and the CLI (the server's operator) both.
PACKAGE_EXPORTERS = frozenset({Role.ADMIN})
EXPORTERS = frozenset({Role.ADMIN, Role.KASI, Role.KABID})


def own_opds(actor: Actor, roles: Collection[Role] = FILE_OWN) -> list[str]:
    """The codes of the OPDs the actor holds one of `roles` for, sorted (a liaison's own OPDs by default)."""
    return sorted({a.opd_code for a in actor.assignments if a.role in roles and a.opd_code})


def require_own_opd(actor: Actor, code: str, roles: Collection[Role] = FILE_OWN) -> str:
    """`code` itself when it is one of the actor's own OPDs; naming another OPD is refused and audited."""
    if code not in own_opds(actor, roles):
        raise DomainError("unggah/bukan_opd_anda", audit_action="other_opd_refused", opd=code[:32])
    return code


def viewing_scope(actor: Actor, asked: str | None, *, command: str) -> str:
    """The OPD `/<command> [asked]` shows: any named OPD for staff and the Tim, else only one of the actor's own.

    Without a name, a person with exactly one own OPD gets it; otherwise they are asked to name one (staff) or
    to choose among theirs (liaisons of several OPDs). `asked` is matched case-insensitively.
    """
    wanted = asked.upper() if asked else None
    if actor.roles & VIEW_ANY:
        # Staff who are also a liaison of one OPD see it by default.
        own = own_opds(actor)
        code = wanted or (own[0] if len(own) == 1 else None)
        if code is None:
            raise DomainError("unggah/sebutkan_opd", perintah=command)
        return code
    if wanted:
        return require_own_opd(actor, wanted, OPD_SCOPED_ROLES)
    own = own_opds(actor, OPD_SCOPED_ROLES)
    if len(own) != 1:
        raise DomainError("unggah/pilih_opd", codes=own, perintah=command)
    return own[0]


def may_use_command(actor: Actor, name: str) -> bool:
    """Whether the person may use `/<name>` (the command table's rule), for buttons that stand for a command."""
    command = find_command(name)
    return command is not None and command.allows(actor.roles)


def may_view_any_opd(actor: Actor) -> bool:
    """Whether the person may see every OPD's figures (the campaign overview and its buttons): staff and the Tim."""
    return bool(actor.roles & VIEW_ANY)


def item_as_seen(actor: Actor, item: ItemSpec, opd_code: str) -> ItemSpec | None:
    """An item as `/item` shows it: whole to staff and the Tim; to a liaison only when it is asked of their OPD,
    naming only that OPD (which other OPDs are asked what is theirs to know, not the liaison's)."""
    if may_view_any_opd(actor):
        return item
    return replace(item, opd_codes=(opd_code,)) if opd_code in item.opd_codes else None


def shows_overview(actor: Actor, asked: str | None) -> bool:
    """Whether `/status` without an OPD shows the campaign overview: staff and the Tim who would be asked to name one.

    Staff who are also the liaison of exactly one OPD keep seeing that OPD's checklist (see `viewing_scope`).
    """
    return asked is None and may_view_any_opd(actor) and len(own_opds(actor)) != 1


def require_package_exporter(actor: Actor) -> None:
    """`/ekspor paket` is for admins; anyone else is refused (and the refusal audited)."""
    if not actor.roles & PACKAGE_EXPORTERS:
        raise DomainError("ekspor/paket_hanya_admin", audit_action="export_refused")


def exporting_role(actor: Actor) -> Role | None:
    """The role the audit log records for an export from the chat: the first held of `EXPORTERS`."""
    held = actor.roles & EXPORTERS
    return min(held) if held else None


def may_view_opd_registry(actor: Actor) -> bool:
    """Whether the person may see the OPD registry (`/opd` and its buttons): staff, whatever a button's data says."""
    return bool(actor.roles & STAFF)


def may_manage_opds(actor: Actor) -> bool:
    """Whether the person may (de)activate OPDs (and so is shown the buttons for it)."""
    return bool(actor.roles & MANAGERS)


def managing_role(actor: Actor) -> Role | None:
    """The role the audit log records for a manager's change (OPDs, holidays): the first held of `MANAGERS`."""
    held = actor.roles & MANAGERS
    return min(held) if held else None


def is_staff_not_liaison(actor: Actor) -> bool:
    """Staff who are no liaison themselves: a file they send outside a guided flow or `/kirim` has no OPD to go to."""
    return bool(actor.roles & STAFF) and Role.OPD not in actor.roles


def is_observer(actor: Actor) -> bool:
    """A head of an OPD or a Tim member, neither liaison nor staff: they follow the work and file no evidence."""
    return actor.is_registered and not actor.roles & (STAFF | FILE_OWN)


def may_revoke_any_of(actor: Actor, held: Iterable[Role]) -> bool:
    """Whether the person may revoke at least one of the roles `held` by someone: those they may issue codes for."""
    return not issuable_by(actor.roles).isdisjoint(held)


def issuing_role(actor: Actor, target: Role) -> Role | None:
    """The role under which the person issues a code for `target` (the first in order that may), for the audit log."""
    able = [r for r in sorted(actor.roles) if target in ISSUABLE.get(r, frozenset())]
    return able[0] if able else None
