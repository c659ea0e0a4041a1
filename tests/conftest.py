"""Shared fixtures: a seeded platform served over real TLS, clients for it, and a throwaway PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import random
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import uvloop

from callbridge.bootstrap import Platform
from callbridge.config import Settings
from callbridge.demo import seed_and_describe
from callbridge.tls import TlsFiles, ensure_local_tls
from tests.support.postgres import throwaway_postgres
from tests.support.server import free_port, free_sip_port, running_server

TEAMS_SCOPES = [
    "https://auth.msft.communication.azure.com/Teams.ManageCalls",
    "https://auth.msft.communication.azure.com/Teams.ManageChats",
]

GRAPH_SCOPES = ["User.Read", "User.ReadBasic.All", "Chat.Create", "Chat.Read", "Calendars.Read",
                "Calendars.ReadWrite"]


@dataclass
class Demo:
    settings: Settings
    info: dict[str, Any]
    tls: TlsFiles
    platform: Platform
    app: Any = None  # the served application, where the test's own server runs it

    @property
    def base_url(self) -> str:
        return str(self.info["base_url"])

    @property
    def ca_file(self) -> str:
        return str(self.tls.ca_file)

    @property
    def client_id(self) -> str:
        return str(self.info["app"]["client_id"])

    def tenant(self, name: str) -> dict[str, Any]:
        return next(t for t in self.info["tenants"] if t["name"] == name)

    def user(self, upn_prefix: str) -> dict[str, Any]:
        for tenant in self.info["tenants"]:
            for u in tenant["users"]:
                if u["upn"].split("@")[0] == upn_prefix:
                    return {**u, "tenant_id": tenant["id"], "authority": tenant["authority"]}
        raise KeyError(upn_prefix)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, verify=ssl.create_default_context(cafile=self.ca_file),
                            timeout=30)

    def password_token(self, who: str, scopes: list[str], *, client_secret: bool = False) -> dict[str, Any]:
        user = self.user(who)
        form = {"grant_type": "password", "client_id": self.client_id, "username": user["upn"],
                "password": user["password"], "scope": " ".join([*scopes, "openid", "profile", "offline_access"])}
        if client_secret:
            form["client_secret"] = self.info["app"]["client_secret"]
        with self.client() as c:
            r = c.post(f"/{user['tenant_id']}/oauth2/v2.0/token", data=form)
        assert r.status_code == 200, r.text
        return dict(r.json())

    def communication_token(self, who: str) -> str:
        """``who``'s communication token, through the real exchange (HMAC-signed, as an app backend does)."""
        from email.utils import formatdate

        from callbridge.acs.hmac_auth import sign_headers

        org = self.password_token(who, TEAMS_SCOPES)["access_token"]
        path = "/teamsUser/:exchangeAccessToken?api-version=2023-10-01"
        body = json.dumps({"token": org, "appId": self.client_id, "userId": self.user(who)["id"]}).encode()
        key = self.info["communication"]["connection_string"].split("accesskey=", 1)[1]
        headers = sign_headers("POST", path, self.base_url.removeprefix("https://"), body, key,
                               formatdate(usegmt=True))
        with self.client() as c:
            r = c.post(path, content=body, headers={**headers, "Content-Type": "application/json"})
        assert r.status_code == 200, r.text
        return str(r.json()["token"])

    def graph(self, who: str, scopes: list[str] | None = None) -> httpx.Client:
        """A client of the directory API holding ``who``'s delegated token (all consented scopes by default)."""
        token = self.password_token(who, scopes or GRAPH_SCOPES)["access_token"]
        return httpx.Client(base_url=f"{self.base_url}/graph/v1.0", timeout=30,
                            verify=ssl.create_default_context(cafile=self.ca_file),
                            headers={"Authorization": f"Bearer {token}"})

    def app_graph(self, tenant: str) -> httpx.Client:
        """A client of the directory API holding the app's own (client credentials) token in ``tenant``."""
        with self.client() as c:
            r = c.post(f"/{self.tenant(tenant)['id']}/oauth2/v2.0/token", data={
                "grant_type": "client_credentials", "client_id": self.client_id,
                "client_secret": self.info["app"]["client_secret"], "scope": "https://graph.microsoft.com/.default"})
        return httpx.Client(base_url=f"{self.base_url}/graph/v1.0", timeout=30,
                            verify=ssl.create_default_context(cafile=self.ca_file),
                            headers={"Authorization": f"Bearer {r.json()['access_token']}"})

    async def change(self, action: Any) -> Any:
        """Run ``action(session)`` in one transaction on the platform's store, as an administrator would."""
        from callbridge.store.db import Database

        db = Database(self.settings.effective_database_url)
        try:
            async with db.transaction() as s:
                return await action(s)
        finally:
            await db.close()

    def forge(self, claims: dict[str, Any], *, purpose: str = "idp", headers: dict[str, Any] | None = None) -> str:
        """A token signed with the platform's real key (to test claim checks one at a time)."""
        ring = self.platform.identity.ring if purpose == "idp" else self.platform.acs.ring
        key = ring.active
        return jwt.encode(claims, key.private_key, algorithm=key.algorithm, headers={"kid": key.kid, **(headers or {})})

    def org_claims(self, who: str, **overrides: Any) -> dict[str, Any]:
        """The claims of a valid communication-resource token for ``who``; override one to break it."""
        user = self.user(who)
        now = int(time.time())
        claims = {"aud": "1fd5118e-2576-4263-8130-9503064c837a",
                  "iss": f"{self.base_url}/{user['tenant_id']}/v2.0", "iat": now, "nbf": now,
                  "exp": now + 3600, "appid": self.client_id, "azp": self.client_id, "oid": user["id"],
                  "tid": user["tenant_id"], "scp": "Teams.ManageCalls Teams.ManageChats", "ver": "2.0",
                  "name": user["display_name"], "preferred_username": user["upn"]}
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}


def mixer_ports() -> dict[str, int]:
    """Port ranges of a platform's conference mixer (Janus) of its own: test servers run side by side (the
    session's, a module's, other test processes'), and Janus does not step over a taken port."""
    base = random.randrange(50_000, 64_000, 200)
    return {"janus_webrtc_port_min": base, "janus_webrtc_port_max": base + 99,
            "janus_rtp_port_min": base + 100, "janus_rtp_port_max": base + 199}


@contextmanager
def seeded_platform(data_dir: Path, **settings: Any) -> Iterator[Demo]:
    """A platform of a test's own in ``data_dir``, seeded with the demo data and served as `callbridge serve`
    serves it, on a free HTTPS port; ``settings`` as given."""
    port = free_port()
    config = Settings(data_dir=data_dir, https_port=port, base_url=f"https://localhost:{port}",
                      **{**mixer_ports(), **settings})
    asyncio.run(seed_and_describe(config))
    info = json.loads((data_dir / "demo.json").read_text())
    tls = ensure_local_tls(config.tls_dir)
    with running_server(config, tls) as server:
        app: Any = server.config.app
        yield Demo(config, info, tls, app.state.platform, app)


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with seeded_platform(tmp_path_factory.mktemp("callbridge"),
                         log_level="WARNING", signin_failures_per_user=5, signin_failures_per_address=50,
                         ring_time_s=3.0, reconnect_grace_s=2.0, sip_port=free_sip_port(), media_engine="aiortc",
                         carrier_port=free_sip_port(), dead_media_timeout_s=3.0,
                         sip_options_interval_s=1.0, signin_backoff_s=30.0, identity_recheck_s=1.0,
                         trusted_proxies=["127.0.0.1/32"],  # tests speak for other addresses with X-Forwarded-For
                         api_docs_enabled=True, metrics_enabled=True, metrics_port=0,  # as `callbridge demo` does
                         ) as served:
        yield served


@pytest.fixture(scope="session")
def ca_bundle_env(demo: Demo) -> Iterator[str]:
    """Official clients built on requests read the CA bundle from REQUESTS_CA_BUNDLE."""
    old = os.environ.get("REQUESTS_CA_BUNDLE")
    os.environ["REQUESTS_CA_BUNDLE"] = demo.ca_file
    yield demo.ca_file
    if old is None:
        os.environ.pop("REQUESTS_CA_BUNDLE", None)
    else:
        os.environ["REQUESTS_CA_BUNDLE"] = old


EVENT_LOOPS = {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Any]:
    """The loops a test runs on: asyncio's, or each of those its module names in ``LOOPS`` (uvloop is the loop
    `callbridge serve` runs on; the platform's test servers always run on it, in their own thread)."""
    module = getattr(item, "module", None)
    return {name: EVENT_LOOPS[name] for name in getattr(module, "LOOPS", ("asyncio",))}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tier markers from the folder: tests/unit, tests/integration, tests/interop, tests/demo, tests/portal."""
    for item in items:
        parts = Path(str(item.fspath)).parts
        for tier in ("unit", "integration", "interop", "demo", "portal"):
            if tier in parts:
                item.add_marker(getattr(pytest.mark, tier))


# -- PostgreSQL: one throwaway server for the session (tests/support/postgres.py), a database per test ---------
SKIP_POSTGRES = "CALLBRIDGE_SKIP_POSTGRES"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    if os.environ.get(SKIP_POSTGRES) == "1":
        pytest.skip(f"{SKIP_POSTGRES}=1")
    with throwaway_postgres() as url:  # raises, failing the tests, when PostgreSQL is not installed
        yield url
