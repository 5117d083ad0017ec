"""The command table: every chat command, who may use it, and how it is written.

It feeds `/help`, Telegram's command menu and (later) WhatsApp. Roles are never inherited: a command lists
every role allowed, and `EVERYONE` means registered or not. Each command's one-line help is the plain-text
template `templates/perintah/<name>.txt.j2`, so the wording is reviewed with every other text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.domain.enums import Role

EVERYONE: frozenset[Role] | None = None


@dataclass(frozen=True)
class Command:
    """One chat command."""

    name: str
    roles: frozenset[Role] | None = EVERYONE
    aliases: tuple[str, ...] = ()
    usage: str = ""

    def allows(self, roles: Iterable[Role]) -> bool:
        return self.roles is None or bool(self.roles.intersection(roles))

    @property
    def help_template(self) -> str:
        """Its one-line help; the usage stays here, beside the handler that parses those arguments."""
        return f"perintah/{self.name}"


STAFF = frozenset({Role.ADMIN, Role.KASI, Role.KABID, Role.SEKRETARIAT})

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
        usage="KODE_OPD [opd|kepala_opd] | tim | admin | sekretariat | kasi | kabid",
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
)


def find_command(name: str, table: Sequence[Command] = COMMANDS) -> Command | None:
    """The command called `name` or one of its aliases."""
    for command in table:
        if name == command.name or name in command.aliases:
            return command
    return None


def commands_for(roles: Iterable[Role]) -> list[Command]:
    """The commands a person with these roles may use, in table order."""
    held = frozenset(roles)
    return [c for c in COMMANDS if c.allows(held)]
