"""MONEV_WHATSAPP_BASE_URL: pywa talks to Meta's hosts only, so an httpx transport redirects them elsewhere.

pywa 4.5 has no base-URL option but takes `session=httpx.AsyncClient(...)`; a transport sees each request after
its URL is resolved, so rewriting scheme, host and port there redirects the Graph API calls and the media
downloads (the lookaside URLs the media lookup returns) through public API only.
"""

from __future__ import annotations

import httpx

GRAPH_HOST, MEDIA_HOST = "graph.facebook.com", "lookaside.fbsbx.com"
REAL_BASE_URL = f"https://{GRAPH_HOST}"


class RedirectingTransport(httpx.AsyncBaseTransport):
    """Sends requests for Meta's hosts to `base_url` (its path, if any, goes before the request's path)."""

    def __init__(self, base_url: str, inner: httpx.AsyncBaseTransport | None = None) -> None:
        target = httpx.URL(base_url)
        if target.scheme not in ("http", "https") or not target.host:
            raise ValueError(f"not an http(s) base URL: {base_url!r}")
        self._target = target
        self._prefix = target.path.rstrip("/")
        self._inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host in (GRAPH_HOST, MEDIA_HOST):
            request.url = request.url.copy_with(
                scheme=self._target.scheme,
                host=self._target.host,
                port=self._target.port,
                path=self._prefix + request.url.path,
            )
            request.headers["Host"] = self._target.netloc.decode("ascii")
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def graph_client(base_url: str) -> httpx.AsyncClient:
    """The httpx client of the channel's pywa client: Meta's own, or redirected to `base_url`."""
    timeout = httpx.Timeout(30.0, read=60.0)
    if base_url.rstrip("/") == REAL_BASE_URL:
        return httpx.AsyncClient(timeout=timeout, follow_redirects=False)
    return httpx.AsyncClient(transport=RedirectingTransport(base_url), timeout=timeout, follow_redirects=False)
