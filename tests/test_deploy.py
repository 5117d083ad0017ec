"""The systemd units in deploy/: the settings an operator relies on, and systemd's own verdict where it is installed."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read(DEPLOY / name, encoding="utf-8")
    return parser


def test_the_service_runs_migrations_first_as_its_own_user_with_hardening() -> None:
    service = _unit("monev.service")["Service"]
    assert service["User"] == "monev" and service["EnvironmentFile"] == "/etc/monev/monev.env"
    assert service["WorkingDirectory"] == "/opt/monev"
    assert service["ExecStartPre"].endswith("/monev db upgrade") and service["ExecStart"].endswith("/monev run")
    assert service["Restart"] == "on-failure" and service["RestartPreventExitStatus"] == "2"
    assert (service["NoNewPrivileges"], service["ProtectSystem"]) == ("yes", "strict")
    env = dict(
        line.split("=", 1)
        for line in (DEPLOY / "monev.env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert service["ReadWritePaths"] == env["MONEV_DATA_DIR"]  # the only place the bot writes


def test_the_backup_timer_starts_a_backup_that_may_write_its_archive() -> None:
    timer = _unit("monev-backup.timer")["Timer"]
    backup = _unit("monev-backup.service")["Service"]
    assert timer["OnCalendar"] and timer["Persistent"] == "true"
    assert "monev backup --out /var/backups/monev/" in backup["ExecStart"]
    assert "/var/backups/monev" in backup["ReadWritePaths"].split()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_accepts_the_units() -> None:
    names = ["monev.service", "monev-backup.service", "monev-backup.timer"]
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *names], cwd=DEPLOY, capture_output=True, text=True, check=False
    )
    # Only what this machine lacks may be reported: the installed program in /opt/monev.
    missing = "/opt/monev/.venv/bin/monev is not executable"
    problems = [line for line in result.stderr.splitlines() if missing not in line]
    assert problems == [], result.stderr
