"""The command table: every chat command, who may use it, and how it is written.

It feeds `/help`, Telegram's command menu and (later) WhatsApp. Roles are never inherited: a command lists
every role allowed, and `EVERYONE` means registered or not. Each command's one-line help is the plain-text
template `templates/perintah/<name>.txt.j2`, so the wording is reviewed with every other text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from bot.domain.enums import Role
from bot.services.invites import issuers_of

EVERYONE: frozenset[Role] | None = None


@dataclass(frozen=True)
class Command:
    """One chat command."""

    name: str
    roles: frozenset[Role] | None = EVERYONE
    aliases: tuple[str, ...] = ()
    usage: str = ""
    # Usage forms only some of the command's roles may write, each with the roles allowed (e.g. which codes
    # `/undang` mints): a person's help shows only theirs, and `usage` joins them all.
    variants: tuple[tuple[str, frozenset[Role]], ...] = ()
    # On WhatsApp a message without a slash may be a command; not this one's word, which a flow also reads.
    slash_only: bool = False

    def allows(self, roles: Iterable[Role]) -> bool:
        return self.roles is None or bool(self.roles.intersection(roles))

    def usage_for(self, roles: Iterable[Role]) -> str:
        """The usage a person with these roles may write: the variants their roles allow."""
        if not self.variants:
            return self.usage
        held = frozenset(roles)
        return " | ".join(form for form, allowed in self.variants if allowed & held)

    @property
    def help_template(self) -> str:
        """Its one-line help; the usage stays here, beside the handler that parses those arguments."""
        return f"perintah/{self.name}"


STAFF = frozenset({Role.ADMIN, Role.KASI, Role.KABID, Role.SEKRETARIAT})

# `/undang`'s forms follow who may mint which code (invites.ISSUABLE), so the help never offers a refusal.
INVITE_VARIANTS: tuple[tuple[str, frozenset[Role]], ...] = (
    ("KODE_OPD [opd|kepala_opd]", issuers_of(Role.OPD) | issuers_of(Role.KEPALA_OPD)),
    *((role.value, issuers_of(role)) for role in (Role.TIM, Role.ADMIN, Role.SEKRETARIAT, Role.KASI, Role.KABID)),
)

COMMANDS: tuple[Command, ...] = (
    Command("start", usage="[KODE]"),
    Command("help", aliases=("bantuan",)),
    Command("batal"),
    Command("saya"),
    Command("daftar", usage="KODE"),
    Command("opd", roles=STAFF, usage="[KODE_OPD]"),
    Command(
        "undang",
        roles=frozenset({Role.ADMIN, Role.KASI, Role.KABID}),
        usage=" | ".join(form for form, _ in INVITE_VARIANTS),
        variants=INVITE_VARIANTS,
    ),
    Command("cabut", roles=frozenset({Role.ADMIN, Role.KASI}), usage="[ID]"),
    # "Kampanye" reads as an election campaign to a civil servant: the round is a "kegiatan Monev"; the old
    # command keeps working for people who learnt it.
    Command("kegiatan", roles=STAFF | {Role.TIM}, aliases=("kampanye",), usage="[#ID]"),
    Command("kirim", roles=frozenset({Role.OPD, Role.ADMIN, Role.KASI}), usage="[KODE_OPD] [#ID] [KODE_ITEM]"),
    Command("status", roles=STAFF | {Role.TIM, Role.OPD}, usage="[KODE_OPD] [#ID]"),
    Command("riwayat", roles=STAFF | {Role.TIM, Role.OPD}, usage="[KODE_OPD] [#ID]"),
    Command("item", roles=STAFF | {Role.TIM, Role.OPD}, usage="KODE_ITEM"),
    Command("serahkan", roles=frozenset({Role.ADMIN, Role.KASI}), usage="KODE_OPD"),
    Command("libur", roles=frozenset({Role.ADMIN, Role.KASI}), usage="[tambah|hapus TANGGAL [keterangan]]"),
    Command("tinjau", roles=frozenset({Role.ADMIN, Role.KASI}), usage="[#ID]"),
    Command("buka", roles=frozenset({Role.ADMIN, Role.KASI}), usage="KODE_OPD KODE_ITEM ALASAN [#ID]"),
    Command(
        "perpanjang",
        roles=frozenset({Role.ADMIN, Role.KASI, Role.KABID}),
        usage="KODE_OPD|semua TANGGAL [JAM] ALASAN [#ID]",
    ),
    # The package holds every OPD's accepted files: only admins take it out of the chat (access.PACKAGE_EXPORTERS).
    Command(
        "ekspor",
        roles=frozenset({Role.ADMIN, Role.KASI, Role.KABID}),
        usage="[paket] [#ID]",
        variants=(("[#ID]", frozenset({Role.ADMIN, Role.KASI, Role.KABID})), ("paket [#ID]", frozenset({Role.ADMIN}))),
    ),
    Command("cari", roles=STAFF | {Role.TIM}, usage="KATA… [#ID]"),
    Command("ingatkan", roles=frozenset({Role.ADMIN, Role.KASI}), usage="[KODE_OPD|semua]"),
    Command("rapat", roles=frozenset({Role.ADMIN, Role.KASI}), usage="[#ID]"),
    Command("umumkan", roles=frozenset({Role.ADMIN, Role.KASI}), usage="[#ID]"),
    Command("rekap", roles=frozenset({Role.ADMIN, Role.KASI, Role.KABID}), usage="[#ID]"),
    Command("nilai", roles=frozenset({Role.ADMIN, Role.KASI, Role.TIM}), usage="[#ID] [KODE_ITEM]"),
    Command("ba", roles=frozenset({Role.ADMIN, Role.KASI}), usage="[#ID]"),
    # "selesai" also ends the editing of a draft's items: written without the slash it stays that answer.
    Command("selesai", roles=frozenset({Role.KASI}), usage="[#ID]", slash_only=True),
)


def find_command(name: str, table: Sequence[Command] = COMMANDS) -> Command | None:
    """The command called `name` or one of its aliases."""
    for command in table:
        if name == command.name or name in command.aliases:
            return command
    return None


def commands_for(roles: Iterable[Role]) -> list[Command]:
    """The commands a person with these roles may use, in table order, each with the usage they may write.

    `/help`, the welcome after registration and the person's Telegram menu all list exactly these.
    """
    held = frozenset(roles)
    return [replace(c, usage=c.usage_for(held)) for c in COMMANDS if c.allows(held)]
