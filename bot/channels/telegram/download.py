"""Streamed downloads: python-telegram-bot's download_to_drive holds the whole file in memory."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
from telegram import Bot
from telegram.error import TelegramError

from bot.conversation.core import Fetcher
from storage.filestore import FileStore, Staged

logger = logging.getLogger(__name__)


class DownloadError(Exception):
    """A download failed; the message never contains the file URL (it embeds the bot token)."""


class TelegramDownloader:
    """getFile, then stream the file URL into a temp file of the file store while hashing."""

    def __init__(self, bot: Bot, http: httpx.AsyncClient, *, local_mode: bool, max_bytes: int) -> None:
        self.bot = bot
        self.http = http
        self.local_mode = local_mode
        self.max_bytes = max_bytes

    def fetcher(self, file_id: str) -> Fetcher:
        async def fetch(store: FileStore) -> Staged:
            return await self.download(file_id, store)

        return fetch

    async def download(self, file_id: str, store: FileStore) -> Staged:
        try:
            telegram_file = await self.bot.get_file(file_id)
        except TelegramError as error:
            raise DownloadError(f"getFile failed: {type(error).__name__}") from None
        location = telegram_file.file_path
        if not location:
            raise DownloadError("getFile returned no file path")
        if self.local_mode:
            # A Bot API server run with --local answers with a path on its own disk.
            return await asyncio.to_thread(store.stage_file, Path(location))
        try:
            async with self.http.stream("GET", location) as response:
                if response.status_code != 200:
                    raise DownloadError(f"file download answered HTTP {response.status_code}")
                return await store.stage_stream(response.aiter_bytes(), max_bytes=self.max_bytes)
        except httpx.HTTPError as error:
            # httpx puts the URL (and so the token) into its messages: keep only the error type.
            raise DownloadError(f"file download failed: {type(error).__name__}") from None
