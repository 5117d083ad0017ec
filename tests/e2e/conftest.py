"""End-to-end fixtures."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def no_handler_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """python-telegram-bot logs and swallows handler errors: every test asserts there were none.

    A test that provokes errors on purpose marks the records it expects (`record.expected = True`).
    """
    caplog.set_level(logging.INFO)
    yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and not getattr(r, "expected", False)]
    assert errors == [], [r.getMessage() for r in errors]
