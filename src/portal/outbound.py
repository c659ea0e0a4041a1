"""The portal's outbound HTTP: one httpx client (sync, for msal) and one (async, for Graph), both trusting the
configured CA bundle; tests hand in an ``httpx.MockTransport`` with recorded answers in Microsoft's shapes."""

from __future__ import annotations

import ssl
from typing import Any

import httpx

from portal.settings import PortalSettings


class MsalHttpClient:
    """What msal wants of an ``http_client`` (requests' ``get``/``post`` and a response with ``status_code``,
    ``text``, ``headers``, ``raise_for_status``), answered by httpx."""

    def __init__(self, client: httpx.Client) -> None:
        self._client = client

    def get(self, url: str, params: Any = None, headers: Any = None, **kwargs: Any) -> httpx.Response:
        timeout = kwargs.get("timeout", httpx.USE_CLIENT_DEFAULT)
        return self._client.get(url, params=params, headers=headers, timeout=timeout)

    def post(self, url: str, params: Any = None, data: Any = None, headers: Any = None,
             **kwargs: Any) -> httpx.Response:
        body: dict[str, Any] = {"data": data} if isinstance(data, dict) else {"content": data}
        return self._client.post(url, params=params, headers=headers,
                                 timeout=kwargs.get("timeout", httpx.USE_CLIENT_DEFAULT), **body)

    def close(self) -> None:
        self._client.close()


def _verify(settings: PortalSettings) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(settings.ca_file) if settings.ca_file else None)


def sync_client(settings: PortalSettings, transport: httpx.BaseTransport | None) -> httpx.Client:
    return httpx.Client(verify=_verify(settings), timeout=settings.http_timeout_s, transport=transport)


def async_client(settings: PortalSettings, transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
    return httpx.AsyncClient(verify=_verify(settings), timeout=settings.http_timeout_s, transport=transport)
