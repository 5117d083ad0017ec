"""Media downloads at once (media ids expire): the URL lookup, then the bytes streamed into the store, hashed."""

from __future__ import annotations

import logging

import httpx
from pywa_async import WhatsApp, errors

from bot.conversation.core import Fetcher
from bot.errors import DomainError
from storage.filestore import FileStore, Staged

logger = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024
# A lookup or a stream that fails on the network or with a server error is tried this often in all.
ATTEMPTS = 2


class WhatsAppDownloader:
    """Streams a message's media (by media id) into a temp file of the file store, capped at the size limit."""

    def __init__(self, client: WhatsApp, *, max_bytes: int) -> None:
        self.client = client
        self.max_bytes = max_bytes

    def fetcher(self, media_id: str, file_name: str) -> Fetcher:
        async def fetch(store: FileStore) -> Staged:
            return await self.download(media_id, file_name, store)

        return fetch

    async def download(self, media_id: str, file_name: str, store: FileStore) -> Staged:
        """The file, or a polite refusal: the handler's transaction rolls back, nothing of the message is kept."""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                url = await self.client.get_media_url(media_id)  # a fresh URL: each lives five minutes
                chunks = self.client.stream_media(url.url, chunk_size=CHUNK_BYTES)
                return await store.stage_stream(chunks, max_bytes=self.max_bytes)
            except (errors.WhatsAppError, httpx.HTTPError) as error:
                # httpx errors name the URL, which carries a download token: log the type only.
                reason = (
                    f"WhatsApp error {error.code}" if isinstance(error, errors.WhatsAppError) else type(error).__name__
                )
                logger.warning("WhatsApp media %s: download attempt %d failed (%s)", media_id, attempt, reason)
        raise DomainError("unggah/gagal_unduh", file_name=file_name)
