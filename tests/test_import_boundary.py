"""Dependencies point one way: the import-linter contracts in pyproject.toml hold, and they do catch a violation."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "handlers", "jobs", "storage")
# `lint-imports`, run by this interpreter (its script need not be on PATH or next to it).
LINT_IMPORTS = [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()"]
LAYERS = "Layers: composition root, then channels and jobs, then handlers, then services, then storage, then the domain"
NO_MESSAGING = "Services and storage import no messaging library"
DOMAIN_ALONE = "The domain imports nothing of the project"
RUNTIME_NO_HANDLERS = "The runtime only schedules the jobs: it imports no handler"
RUNTIME_NO_CHANNEL = "The runtime knows no channel: it imports no channel module and no messaging library"
WEB_NO_CHANNEL = "The web server knows no channel: it mounts the routes the channels give it"
MESSAGING_NO_LIBRARY = "The shared delivery machinery imports no messaging library"
# Every contract in pyproject.toml; each violation below breaks exactly one of them.
CONTRACTS = len(
    tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]["contracts"]
)


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` on the project at `root`, importing its packages from there and nowhere else."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [*LINT_IMPORTS, "--no-cache", "--no-logo", str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_contracts_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{LAYERS} KEPT" in " ".join(result.stdout.split())
    for contract in (
        NO_MESSAGING,
        DOMAIN_ALONE,
        RUNTIME_NO_HANDLERS,
        RUNTIME_NO_CHANNEL,
        WEB_NO_CHANNEL,
        MESSAGING_NO_LIBRARY,
    ):
        assert f"{contract} KEPT" in " ".join(result.stdout.split())
    assert f"Contracts: {CONTRACTS} kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("module", "offending_import", "broken"),
    [
        ("storage/models.py", "import telegram", NO_MESSAGING),
        ("bot/services/audit.py", "import aiohttp", NO_MESSAGING),
        ("bot/services/audit.py", "import handlers.general", LAYERS),
        ("handlers/general.py", "import bot.channels.console", LAYERS),
        ("handlers/general.py", "import bot.conversation.dispatch", LAYERS),
        ("storage/database.py", "import bot.services.journal", LAYERS),
        ("handlers/intake.py", "import jobs.upload_batches", LAYERS),
        ("bot/domain/enums.py", "import bot.conversation.templating", DOMAIN_ALONE),
        ("bot/runtime.py", "import handlers.intake", RUNTIME_NO_HANDLERS),
        ("bot/runtime.py", "import bot.channels.telegram.channel", RUNTIME_NO_CHANNEL),
        ("bot/runtime.py", "import telegram", RUNTIME_NO_CHANNEL),
        ("bot/web/server.py", "import telegram.ext", WEB_NO_CHANNEL),
        ("bot/messaging/inbound.py", "import telegram", MESSAGING_NO_LIBRARY),
    ],
)
def test_the_contracts_catch_a_violation(tmp_path: Path, module: str, offending_import: str, broken: str) -> None:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{offending_import}  # noqa\n", encoding="utf-8")
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{broken} BROKEN" in " ".join(result.stdout.split())
    assert f"Contracts: {CONTRACTS - 1} kept, 1 broken." in result.stdout
