"""`monev run` as a real process whose clock starts at a given moment: `python -m tests.e2e.clocked_run ISO_TIME`.

The same code path as `monev run` (settings from the environment, the composition root, `bot.cli._run`) with the
process's clock set to the real time plus a fixed offset, so a restart test can pin the day it runs on.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime

from bot.app import build_app
from bot.cli import _run
from bot.logging_setup import configure_logging
from bot.settings import load_settings, prepare_data_dir


async def main(start: datetime) -> int:
    settings = load_settings()
    prepare_data_dir(settings.data_dir)
    configure_logging(settings.log_level, settings.log_format, settings.secrets())
    offset = start - datetime.now(UTC)
    app = build_app(settings, lambda: datetime.now(UTC) + offset)
    try:
        await app.prepare()
        return await _run(app)
    finally:
        await app.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(datetime.fromisoformat(sys.argv[1]))))
