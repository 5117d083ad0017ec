"""Dependencies point one way: services and storage never import a messaging library."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MESSAGING = {"telegram", "pywa", "aiohttp", "httpx"}
CHANNEL_FREE = ["bot/services", "storage"]


def imported_top_level_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", CHANNEL_FREE)
def test_package_imports_no_messaging_library(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package} has no Python files"
    offenders = {
        str(f.relative_to(ROOT)): sorted(imported_top_level_modules(f) & (MESSAGING | {"bot.channels"}))
        for f in files
        if imported_top_level_modules(f) & MESSAGING
    }
    assert offenders == {}


def test_the_checker_sees_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import telegram.ext\nfrom pywa import WhatsApp\nfrom . import local\n", encoding="utf-8")
    assert imported_top_level_modules(sample) == {"telegram", "pywa"}
