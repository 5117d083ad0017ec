"""Small texts people met in the first round of use, through the real console."""

from __future__ import annotations

from pathlib import Path

from tests.test_console import monev


def test_an_unknown_kegiatan_is_named_as_typed_with_one_hash_and_bounded(tmp_path: Path) -> None:
    typed = "9" * 30
    result = monev("shell", "--as", "admin", stdin=f"/kegiatan #{typed}\n/kegiatan ##5\n", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"Kegiatan Monev #{'9' * 23}… tidak ditemukan." in result.stdout  # as typed, cut at 24 characters
    assert "Kegiatan Monev #5 tidak ditemukan." in result.stdout and "##" not in result.stdout


def test_an_invite_code_in_the_console_says_how_to_share_it_without_a_link(tmp_path: Path) -> None:
    assert monev("opd", "import", "--default", cwd=tmp_path).returncode == 0
    result = monev("shell", "--as", "admin", stdin="/undang DINKES\n", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Kode undangan untuk Penghubung OPD DINKES" in result.stdout
    assert "membuka tautan" not in result.stdout and "salin kodenya" in result.stdout


def test_the_cli_refuses_an_opd_for_a_role_without_one_and_an_unlock_of_nothing(tmp_path: Path) -> None:
    assert monev("opd", "import", "--default", cwd=tmp_path).returncode == 0
    invite = monev("invite", "--role", "admin", "--opd", "DINKES", cwd=tmp_path)
    assert invite.returncode == 1 and "tidak terikat pada OPD" in invite.stderr and not invite.stdout
    shell = monev("shell", "--as", "admin:DINKES", stdin="/saya\n", cwd=tmp_path)
    assert shell.returncode == 1 and "tidak terikat pada OPD" in shell.stderr and "Peran aktif" not in shell.stdout
    unlock = monev("people", "unlock", "nobody", cwd=tmp_path)
    assert unlock.returncode == 1 and "no failed code attempts to clear for telegram:nobody" in unlock.stderr
    assert monev("invite", "--role", "kepala_opd", "--opd", "DINKES", cwd=tmp_path).returncode == 0
