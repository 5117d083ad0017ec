"""The Telegram channel, on python-telegram-bot with our own polling loop and inbound journal."""

import os

# Opt in to python-telegram-bot's future `timedelta` durations (e.g. RetryAfter.retry_after) now, which our
# code handles, instead of its deprecation warning on every 429.
os.environ.setdefault("PTB_TIMEDELTA", "1")
