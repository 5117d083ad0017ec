"""Logging masks bot tokens, configured secrets and phone numbers in every record."""

from __future__ import annotations

import json
import logging

import pytest

from bot.logging_setup import SecretMaskingFilter, configure_logging, mask, request_id

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


def test_mask_hides_tokens_in_urls_and_alone() -> None:
    url = f"https://api.telegram.org/bot{TOKEN}/getUpdates"
    assert TOKEN not in mask(url)
    assert "bot<token>/getUpdates" in mask(url)
    assert TOKEN not in mask(f"token is {TOKEN}")


def test_mask_hides_phone_numbers_and_secrets() -> None:
    text = mask("hubungi 0812-3456-7890 atau +6281234567890, rahasia s3cr3t-value", ["s3cr3t-value"])
    assert "3456" not in text and "1234567890" not in text
    assert "s3cr3t-value" not in text
    assert "08123****7890" in text and "62812****7890" in text


def test_a_phone_number_keeps_its_first_five_and_last_four_digits() -> None:
    assert mask("WA 6281234567890") == "WA 62812****7890"
    assert mask("WA +62 812-3456-7890.") == "WA 62812****7890."


def test_json_lines_and_text_lines_carry_the_request_id(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json", [TOKEN])
    logger = logging.getLogger("test.request_id")
    try:
        token = request_id.set("j42")
        try:
            logger.info("handling %s for 6281234567890", f"https://x/bot{TOKEN}/getMe")
        finally:
            request_id.reset(token)
        logger.info("outside any update")
        configure_logging("INFO", "text")
        token = request_id.set("j43")
        try:
            logger.info("in text")
        finally:
            request_id.reset(token)
    finally:
        root = logging.getLogger()
        for handler in list(root.handlers):
            root.removeHandler(handler)
        root.setLevel(logging.WARNING)
    first, second, third = capsys.readouterr().err.splitlines()
    record = json.loads(first)
    assert set(record) == {"time", "level", "logger", "message", "request_id"}
    assert (record["request_id"], record["level"], record["logger"]) == ("j42", "INFO", "test.request_id")
    assert record["message"] == "handling https://x/bot***/getMe for 62812****7890"
    assert json.loads(second)["request_id"] is None
    assert third.endswith(" INFO test.request_id [j43]: in text")


def test_filter_masks_arguments_and_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.masking")
    logger.addFilter(SecretMaskingFilter([TOKEN]))
    try:
        with caplog.at_level(logging.INFO, logger="test.masking"):
            logger.info("calling %s", f"https://x/bot{TOKEN}/getMe")
            try:
                raise RuntimeError(f"failed at /bot{TOKEN}/sendMessage")
            except RuntimeError:
                logger.exception("send failed")
    finally:
        logger.filters.clear()
    assert caplog.records
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
        assert TOKEN not in (record.exc_text or "")


def test_configure_logging_quiets_httpx() -> None:
    configure_logging("DEBUG", "json", [TOKEN])
    try:
        assert logging.getLogger("httpx").level == logging.WARNING
        assert logging.getLogger("httpcore").level == logging.WARNING
    finally:
        root = logging.getLogger()
        for handler in list(root.handlers):
            root.removeHandler(handler)
        root.setLevel(logging.WARNING)
