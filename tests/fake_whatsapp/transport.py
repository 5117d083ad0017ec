"""Point pywa at another Graph API: an httpx transport that redirects Meta's hosts to a base URL.

pywa has no base-URL option (it sets `session.base_url` to https://graph.facebook.com/vNN itself), but it takes
`session=httpx.AsyncClient(...)`. A transport sees every request after the URL is resolved, so rewriting the
scheme, host and port there redirects the Graph API calls and the media downloads (lookaside.fbsbx.com URLs the
media lookup returns) through public API only.
"""

from __future__ import annotations

from typing import Any

import httpx

from .models import GRAPH_HOST, MEDIA_HOST

REAL_BASE_URL = f"https://{GRAPH_HOST}"
REDIRECTED_HOSTS = frozenset({GRAPH_HOST, MEDIA_HOST})


class RedirectingTransport(httpx.AsyncBaseTransport):
    """Sends requests for Meta's hosts to `base_url` (its path, if any, is put before the request's path)."""

    def __init__(self, base_url: str, inner: httpx.AsyncBaseTransport | None = None) -> None:
        target = httpx.URL(base_url)
        if target.scheme not in ("http", "https") or not target.host:
            raise ValueError(f"not an http(s) base URL: {base_url!r}")
        self._target = target
        self._prefix = target.path.rstrip("/")
        self._inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Rewrite a request for Meta's hosts, then send it with the inner transport."""
        if request.url.host in REDIRECTED_HOSTS:
            request.url = request.url.copy_with(
                scheme=self._target.scheme,
                host=self._target.host,
                port=self._target.port,
                path=self._prefix + request.url.path,
            )
            request.headers["Host"] = self._target.netloc.decode("ascii")
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        """Close the inner transport's connections."""
        await self._inner.aclose()


def redirecting_client(base_url: str = REAL_BASE_URL, **client_options: Any) -> httpx.AsyncClient:
    """An httpx client for `pywa_async.WhatsApp(session=...)` that talks to `base_url` instead of Meta.

    With Meta's own URL it is a plain client. One client per WhatsApp instance (pywa refuses a shared one).
    """
    if base_url.rstrip("/") == REAL_BASE_URL:
        return httpx.AsyncClient(**client_options)
    return httpx.AsyncClient(transport=RedirectingTransport(base_url), **client_options)
