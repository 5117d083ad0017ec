"""Point pywa at another Graph API: an httpx transport that redirects Meta's hosts to a base URL.

pywa has no base-URL option (it sets `session.base_url` to https://graph.facebook.com/vNN itself), but it takes
`session=httpx.AsyncClient(...)`. A transport sees every request after the URL is resolved, so rewriting the
scheme, host and port there redirects the Graph API calls and the media downloads (lookaside.fbsbx.com URLs the
media lookup returns) through public API only.
"""

from __future__ import annotations

from typing import Any

import httpx

# The bot's own transport (MONEV_WHATSAPP_BASE_URL): the fake is reached exactly as the channel reaches it.
from bot.channels.whatsapp.transport import REAL_BASE_URL, RedirectingTransport

__all__ = ["REAL_BASE_URL", "RedirectingTransport", "redirecting_client"]


def redirecting_client(base_url: str = REAL_BASE_URL, **client_options: Any) -> httpx.AsyncClient:
    """An httpx client for `pywa_async.WhatsApp(session=...)` that talks to `base_url` instead of Meta.

    With Meta's own URL it is a plain client. One client per WhatsApp instance (pywa refuses a shared one).
    """
    if base_url.rstrip("/") == REAL_BASE_URL:
        return httpx.AsyncClient(**client_options)
    return httpx.AsyncClient(transport=RedirectingTransport(base_url), **client_options)
