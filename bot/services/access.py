"""Which OPDs a person may look at and file for: the "own OPD only" rule, written once.

Pure functions over the actor's assignments (DESIGN §2: an `opd`/`kepala_opd` person sees only the OPDs of their
assignments; staff and the Tim see every OPD). The refusals are domain errors the dispatcher renders and audits.
"""

from __future__ import annotations

from collections.abc import Collection

from bot.core import Actor
from bot.domain.enums import OPD_SCOPED_ROLES, Role
from bot.errors import DomainError

# Staff and the evaluation team name any OPD; everyone else sees only their own.
VIEW_ANY = frozenset({Role.ADMIN, Role.KASI, Role.KABID, Role.SEKRETARIAT, Role.TIM})
# Only a liaison files evidence for their own OPD (the head of an OPD is a contact, not a sender).
FILE_OWN = frozenset({Role.OPD})


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
        raise DomainError("unggah/pilih_opd", codes=own)
    return own[0]
