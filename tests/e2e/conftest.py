"""End-to-end fixtures."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from tests.chat_words import chat_texts, offending
from tests.e2e.harness import LogExpectations
from tests.fake_telegram.server import FakeBotAPI
from tests.fake_whatsapp import FakeWhatsAppAPI, interactive_choices


@pytest.fixture
def expect_log() -> LogExpectations:
    """`expect_log("bot.messaging.inbound", r"failed")`: the error guard lets these records through, and only these."""
    return LogExpectations()


@pytest.fixture(autouse=True)
def no_handler_errors(caplog: pytest.LogCaptureFixture, expect_log: LogExpectations) -> Iterator[None]:
    """python-telegram-bot logs and swallows handler errors: every test asserts there were none.

    A test that provokes errors on purpose names each one it expects with the `expect_log` fixture; any other
    ERROR record still fails it, and so does an expectation that never happened.
    """
    caplog.set_level(logging.INFO)
    yield
    # `caplog.records` holds only the current phase's records (here: teardown); the test body logs in "call".
    logged = [*caplog.get_records("setup"), *caplog.get_records("call"), *caplog.records]
    errors = [r for r in logged if r.levelno >= logging.ERROR]
    unexpected = expect_log.unexpected(errors)
    assert unexpected == [], [(r.name, r.getMessage()) for r in unexpected]
    unmet = [(e.logger, e.pattern.pattern) for e in expect_log.expected if not e.matched]
    assert unmet == [], "expected log records that never came"


@pytest.fixture(autouse=True)
def no_forbidden_words(request: pytest.FixtureRequest) -> Iterator[None]:
    """Whatever a test made the bot say: no role code, operator login name or English word reached a chat."""
    yield
    texts: list[str] = []
    fake = request.node.funcargs.get("fake_telegram")
    if isinstance(fake, FakeBotAPI):
        texts.extend(chat_texts(fake.sent_messages()))
    whatsapp = request.node.funcargs.get("fake_whatsapp")
    if isinstance(whatsapp, FakeWhatsAppAPI):
        for message in whatsapp.sent_messages():
            texts.append(whatsapp.readable(message))
            texts.extend(
                str(c.get("title", "")) + " " + str(c.get("description", "")) for c in interactive_choices(message)
            )
    found = {text: hits for text in texts if (hits := offending(text))}
    assert found == {}, f"texts in chat with forbidden words: {found}"
