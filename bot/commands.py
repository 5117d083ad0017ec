"""The command table: every chat command, who may use it, and its help text.

It feeds `/help`, Telegram's command menu and (later) WhatsApp. Roles are never inherited: a command lists
every role allowed, and `EVERYONE` means registered or not.
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
    help: str
    roles: frozenset[Role] | None = EVERYONE
    aliases: tuple[str, ...] = ()
    usage: str = ""

    def allows(self, roles: Iterable[Role]) -> bool:
        return self.roles is None or bool(self.roles.intersection(roles))


STAFF = frozenset({Role.ADMIN, Role.KASI, Role.KABID, Role.SEKRETARIAT})

COMMANDS: tuple[Command, ...] = (
    Command("start", "Mulai, atau daftar dengan kode undangan", usage="[KODE]"),
    Command("help", "Bantuan: perintah yang bisa Anda pakai", aliases=("bantuan",)),
    Command("batal", "Batalkan proses yang sedang berjalan"),
    Command("saya", "Lihat identitas dan peran Anda"),
    Command("daftar", "Daftar dengan kode undangan", usage="KODE"),
    Command("opd", "Daftar OPD dan penghubungnya", roles=STAFF, usage="[KODE_OPD]"),
    Command(
        "undang",
        "Buat kode undangan",
        roles=frozenset({Role.ADMIN, Role.KASI, Role.KABID}),
        usage="KODE_OPD [opd|kepala_opd] | tim | admin | sekretariat | kasi | kabid",
    ),
    Command("cabut", "Cabut akses seseorang", roles=frozenset({Role.ADMIN, Role.KASI}), usage="[ID]"),
    Command(
        "kampanye",
        "Kampanye Monev: status, linimasa SOP, dan tindakan",
        roles=STAFF | {Role.TIM},
        usage="[#ID]",
    ),
    Command(
        "kirim",
        "Kirim data dukung (beberapa berkas sekaligus); admin/Kasi: atas nama OPD",
        roles=frozenset({Role.OPD, Role.ADMIN, Role.KASI}),
        usage="[KODE_OPD] [KODE_ITEM]",
    ),
    Command("status", "Kelengkapan data dukung OPD", roles=STAFF | {Role.TIM, Role.OPD}, usage="[KODE_OPD]"),
    Command("riwayat", "Riwayat versi data dukung OPD", roles=STAFF | {Role.TIM, Role.OPD}, usage="[KODE_OPD]"),
    Command("item", "Apa yang diminta sebuah item", roles=STAFF | {Role.TIM, Role.OPD}, usage="KODE_ITEM"),
    Command("serahkan", "Serah terima penghubung OPD", roles=frozenset({Role.ADMIN, Role.KASI}), usage="KODE_OPD"),
    Command(
        "libur",
        "Hari libur dan cuti bersama",
        roles=frozenset({Role.ADMIN, Role.KASI}),
        usage="[tambah|hapus TANGGAL [keterangan]]",
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
