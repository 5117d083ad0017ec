"""The e2e error guard fails a test on any ERROR record but the ones it names with `expect_log`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CONFTEST = "from tests.e2e.conftest import expect_log, no_handler_errors  # noqa: F401\n"
CASES = """
import logging


def test_an_unexpected_error_fails():
    logging.getLogger("bot.messaging.inbound").error("handling journal row 1 failed")


def test_an_expected_error_passes(expect_log):
    expect_log("bot.messaging.inbound", r"^handling journal row \\d+ failed$")
    logging.getLogger("bot.messaging.inbound").error("handling journal row 1 failed")


def test_another_message_of_the_same_logger_still_fails(expect_log):
    expect_log("bot.messaging.inbound", r"^handling journal row \\d+ failed$")
    logging.getLogger("bot.messaging.inbound").error("handling journal row 1 failed")
    logging.getLogger("bot.messaging.inbound").error("journal row 1 failed 3 times; giving up")


def test_the_same_message_of_another_logger_still_fails(expect_log):
    expect_log("bot.messaging.inbound", r"failed")
    logging.getLogger("bot.messaging.outbox_dispatch").error("handling journal row 1 failed")


def test_an_expected_error_that_never_came_fails(expect_log):
    expect_log("bot.messaging.inbound", r"failed")


def test_warnings_pass():
    logging.getLogger("bot.messaging.inbound").warning("Telegram asked to slow down")
"""


def test_the_guard_sees_errors_of_the_test_body(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    (tmp_path / "test_cases.py").write_text(CASES, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "--rootdir", str(tmp_path), tmp_path],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    summary = re.findall(r"^(PASSED|ERROR|FAILED) \S*::(\w+)", result.stdout, re.MULTILINE)
    # The bodies all pass; the guard reports at teardown, as an error of the test.
    assert {name for outcome, name in summary if outcome == "ERROR"} == {
        "test_an_unexpected_error_fails",
        "test_another_message_of_the_same_logger_still_fails",
        "test_the_same_message_of_another_logger_still_fails",
        "test_an_expected_error_that_never_came_fails",
    }, result.stdout
    cases = re.findall(r"def (test_\w+)", CASES)
    assert sorted(name for outcome, name in summary if outcome == "PASSED") == sorted(cases)
    assert "6 passed, 4 errors" in result.stdout
