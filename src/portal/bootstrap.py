"""The one place that builds the portal's parts from its settings: the database, the token store, msal's identity
adapter, the token exchange, the Graph client and the cookie signer. Tests hand in transports (recorded answers in
Microsoft's shapes) and a clock; nothing else differs between the demo, production and the tests."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from portal.cookies import CookieSigner
from portal.db import Database
from portal.exchange import TokenExchange
from portal.graph import Graph
from portal.outbound import async_client, sync_client
from portal.settings import PortalSettings
from portal.signin import Identity
from portal.token_store import TokenStore


@dataclass
class Adapters:
    """What the outside world is made of; the defaults reach the configured services."""

    http_transport: httpx.BaseTransport | None = None  # msal's HTTP (identity provider)
    graph_transport: httpx.AsyncBaseTransport | None = None
    acs_options: dict[str, Any] = field(default_factory=dict)  # e.g. an azure-core ``transport``
    now: Callable[[], float] = time.time


@dataclass
class Portal:
    settings: PortalSettings
    db: Database
    tokens: TokenStore
    identity: Identity
    exchange: TokenExchange
    graph: Graph
    signer: CookieSigner
    _closers: list[Callable[[], Any]]

    async def close(self) -> None:
        for close in self._closers:
            result = close()
            if hasattr(result, "__await__"):
                await result
        await self.db.close()


def session_secret(settings: PortalSettings) -> bytes:
    """The configured secret, or one made once and kept beside the database (this account's only)."""
    configured = settings.session_secret.get_secret_value()
    if configured:
        return configured.encode()
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = Path(settings.data_dir) / "session.key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip().encode()


def build(settings: PortalSettings, adapters: Adapters | None = None) -> Portal:
    adapters = adapters or Adapters()
    if settings.database_url == "":
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    db = Database(settings.effective_database_url)
    tokens = TokenStore(db)
    sync_http = sync_client(settings, adapters.http_transport)
    graph_http = async_client(settings, adapters.graph_transport)
    exchange = TokenExchange(settings, **adapters.acs_options)
    return Portal(settings, db, tokens, Identity(settings, sync_http, tokens), exchange,
                  Graph(settings.graph_base_url, graph_http), CookieSigner(session_secret(settings), adapters.now),
                  [sync_http.close, graph_http.aclose, exchange.close])
