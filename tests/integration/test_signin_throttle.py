"""Sign-ins against the real server under load and attack: more of them at once than the database pool holds
(SQLite and PostgreSQL), parallel guesses, a guesser behind a shared address, the owner elsewhere, and which
address counts (X-Forwarded-For only from a trusted proxy).

The demo server trusts 127.0.0.1 as a proxy, so a test speaks for clients at other addresses with
X-Forwarded-For. Tests that need time to pass run on a second node of the same database with a fake clock.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import ssl
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from html import unescape
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from callbridge.bootstrap import Platform
from callbridge.clock import FakeClock
from callbridge.config import Settings
from callbridge.demo import seed_and_describe
from callbridge.identity.pkce import s256
from tests.conftest import Demo
from tests.support.postgres import fresh_database
from tests.support.server import free_port, running_server

# Demo users no other test signs in with (their counters are this module's own).
POOL_WRONG = ["miriam", "patti", "pradeep", "allan", "diego", "henrietta", "isaiah", "johanna"]
POOL_RIGHT = ["lynne", "omar", "priya", "emily", "enrico", "irvin", "debra", "jordan"]


def _user_key(upn: str) -> str:
    return "u:" + hashlib.sha256(upn.lower().encode()).hexdigest()


async def _counters(database_url: str) -> dict[str, int]:
    from callbridge.store.db import Database
    from callbridge.store.models import SignInCounter

    db = Database(database_url)
    try:
        async with db.session() as s:
            return {row.key: row.failures for row in await s.scalars(select(SignInCounter))}
    finally:
        await db.close()


class AsyncBrowser:
    """A user agent of its own (cookies) at ``address`` (told to the server by its trusted proxy)."""

    def __init__(self, demo: Demo, address: str) -> None:
        self.demo = demo
        self.http = httpx.AsyncClient(base_url=demo.base_url, timeout=120, headers={"X-Forwarded-For": address},
                                      verify=ssl.create_default_context(cafile=demo.ca_file))

    async def password_grant(self, who: str, password: str | None = None) -> httpx.Response:
        user = self.demo.user(who)
        return await self.http.post(f"/{user['tenant_id']}/oauth2/v2.0/token", data={
            "grant_type": "password", "client_id": self.demo.client_id, "username": user["upn"],
            "password": password or user["password"], "scope": "User.Read"})

    async def signin_page(self, who: str) -> tuple[str, dict[str, str]]:
        path = f"/{self.demo.user(who)['tenant_id']}/oauth2/v2.0/authorize"
        page = await self.http.get(path, params={
            "client_id": self.demo.client_id, "response_type": "code", "redirect_uri": "http://localhost",
            "scope": "User.Read", "code_challenge": s256("v" * 43), "code_challenge_method": "S256"})
        fields = {m.group(1): unescape(m.group(2))
                  for m in re.finditer(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text)}
        return path, fields

    async def sign_in(self, form: tuple[str, dict[str, str]], who: str, password: str | None = None) -> httpx.Response:
        user = self.demo.user(who)
        return await self.http.post(form[0], data={**form[1], "action": "signin", "username": user["upn"],
                                                   "password": password or user["password"]})


def _outcome(r: httpx.Response) -> str:
    if r.status_code == 302 and r.headers["location"].startswith("http://localhost?code="):
        return "signed in"
    if r.status_code == 200 and "access_token" in r.text:
        return "signed in"
    if r.status_code == 200 and "Your account or password is incorrect." in r.text:
        return "wrong"
    if r.status_code == 400 and r.json()["error_codes"] == [50126]:
        return "wrong"
    if r.status_code == 429:
        return "throttled"
    return f"{r.status_code} {r.text[:200]}"


async def _sign_in_storm(demo: Demo, wrong_users: list[str], right_users: list[str], n: int) -> list[str]:
    """``n`` sign-ins at once: four wrong guesses per wrong user (each from its own address), the rest right
    passwords; half through the sign-in page, half through the password grant."""
    browsers = [AsyncBrowser(demo, f"198.18.{i // 250}.{i % 250 + 1}") for i in range(n)]
    plan = [(wrong_users[i // 4], "wrong-password") if i < 4 * len(wrong_users) else
            (right_users[i % len(right_users)], None) for i in range(n)]
    forms = [await browsers[i].signin_page(who) if i % 2 else None for i, (who, _) in enumerate(plan)]
    try:
        responses = await asyncio.gather(*(
            b.sign_in(form, who, password) if form else b.password_grant(who, password)
            for b, form, (who, password) in zip(browsers, forms, plan, strict=True)))
    finally:
        await asyncio.gather(*(b.http.aclose() for b in browsers))
    return [_outcome(r) for r in responses]


def _pool_capacity(platform: Platform) -> int:
    pool: Any = platform.db.engine.pool
    return int(pool.size() + pool._max_overflow)


def _storm_test(demo: Demo, wrong_users: list[str], right_users: list[str]) -> None:
    n = 2 * _pool_capacity(demo.platform)
    started = time.monotonic()
    outcomes = asyncio.run(_sign_in_storm(demo, wrong_users, right_users, n))
    elapsed = time.monotonic() - started
    wrong = 4 * len(wrong_users)
    assert outcomes == ["wrong"] * wrong + ["signed in"] * (n - wrong)
    assert elapsed < 25, f"{n} sign-ins took {elapsed:.1f} s"  # the pool's wait gives up at 30 s
    counters = asyncio.run(_counters(demo.settings.effective_database_url))
    for who in wrong_users:  # every failed guess counted
        assert counters[_user_key(demo.user(who)["upn"])] == 4


def test_sign_ins_beyond_the_pool_answer_and_count_every_failure_sqlite(demo: Demo) -> None:
    _storm_test(demo, POOL_WRONG[:4], POOL_RIGHT[:4])


@pytest.fixture(scope="module")
def postgres_demo(postgres_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo, seeded into a database of its own on the throwaway PostgreSQL server, served by its own node."""
    database_url = asyncio.run(fresh_database(postgres_server, "cb"))
    data_dir = tmp_path_factory.mktemp("callbridge-pg")
    port = free_port()
    settings = Settings(data_dir=data_dir, https_port=port, base_url=f"https://localhost:{port}",
                        database_url=database_url,
                        log_level="WARNING", sip_enabled=False, trusted_proxies=["127.0.0.1/32"])
    asyncio.run(seed_and_describe(settings))
    info = json.loads((data_dir / "demo.json").read_text())
    from callbridge.tls import ensure_local_tls

    tls = ensure_local_tls(settings.tls_dir)
    with running_server(settings, tls) as node:
        yield Demo(settings, info, tls, node.config.app.state.platform)


@pytest.mark.postgres
def test_sign_ins_beyond_the_pool_answer_and_count_every_failure_postgres(postgres_demo: Demo) -> None:
    _storm_test(postgres_demo, POOL_WRONG, POOL_RIGHT)


def test_parallel_guesses_are_counted_before_any_is_checked(demo: Demo) -> None:
    """Twelve guesses at once, each from its own address: only the first ``signin_failures_per_user`` reach the
    password; the rest are told to wait (AADSTS50053, 429, Retry-After)."""
    async def storm() -> list[httpx.Response]:
        browsers = [AsyncBrowser(demo, f"203.0.113.{i + 1}") for i in range(12)]
        try:
            return await asyncio.gather(*(b.password_grant("lena", "guess") for b in browsers))
        finally:
            await asyncio.gather(*(b.http.aclose() for b in browsers))

    responses = asyncio.run(storm())
    outcomes = [_outcome(r) for r in responses]
    assert outcomes.count("wrong") == demo.settings.signin_failures_per_user
    assert outcomes.count("throttled") == 12 - demo.settings.signin_failures_per_user
    throttled = [r for r in responses if r.status_code == 429]
    assert all(r.json()["error_codes"] == [50053] and int(r.headers["retry-after"]) >= 1 for r in throttled)


# -- a second node on the demo's database, on a fake clock -----------------------------------------------------
@pytest.fixture(scope="module")
def node(demo: Demo) -> Iterator[tuple[Demo, FakeClock]]:
    """The per-address ceiling is the shipped default here (the demo server's is raised for the test run)."""
    port = free_port()
    clock = FakeClock(datetime.now(UTC))
    defaults = Settings.model_fields
    settings = demo.settings.model_copy(update={
        "https_port": port, "base_url": f"https://localhost:{port}", "sip_enabled": False, "carrier_enabled": False,
        "trusted_proxies": ["127.0.0.1/32"],
        "signin_failures_per_address": defaults["signin_failures_per_address"].default})
    with running_server(settings, demo.tls, clock) as server:
        yield Demo(settings, {**demo.info, "base_url": settings.base_url}, demo.tls,
                   server.config.app.state.platform), clock


async def _guess_as_told(browser: AsyncBrowser, clock: FakeClock, who: str, guesses: int) -> None:
    """``guesses`` wrong passwords that reach the password check, waiting each time as long as told to."""
    for _ in range(guesses):
        while (r := await browser.password_grant(who, "guess")).status_code == 429:
            clock.advance(int(r.headers.get("retry-after", "301")))
        assert _outcome(r) == "wrong"


def test_a_guesser_and_typos_behind_one_address_do_not_lock_the_others_out(node: tuple[Demo, FakeClock]) -> None:
    """Behind a load balancer everyone has one address: a guesser's 20 tries at Christie and four colleagues'
    typos leave Jordan, at the same address, signing in at once."""
    server, _ = node

    async def office() -> httpx.Response:
        browser = AsyncBrowser(server, "192.0.2.10")
        try:
            for _ in range(20):
                await browser.password_grant("christie", "guess")
            for who in ("debra", "emily", "enrico", "irvin"):
                for _ in range(4):
                    assert _outcome(await browser.password_grant(who, "typo")) == "wrong"
            return await browser.password_grant("jordan")
        finally:
            await browser.http.aclose()

    assert _outcome(asyncio.run(office())) == "signed in"


def test_the_owner_elsewhere_is_slowed_not_locked_out(node: tuple[Demo, FakeClock]) -> None:
    """A guesser who keeps guessing at Kristina as fast as allowed gets longer and longer waits; Kristina, from
    her own address, waits at most a minute, then signs in."""
    server, clock = node

    async def attack_then_owner() -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        guesser, owner = AsyncBrowser(server, "192.0.2.66"), AsyncBrowser(server, "192.0.2.20")
        try:
            await _guess_as_told(guesser, clock, "kristina", 15)
            slowed = await owner.password_grant("kristina")
            clock.advance(int(slowed.headers.get("retry-after", "0")))
            signed_in = await owner.password_grant("kristina")
            still = await guesser.password_grant("kristina", "guess")
            return slowed, signed_in, still
        finally:
            await asyncio.gather(guesser.http.aclose(), owner.http.aclose())

    slowed, signed_in, still = asyncio.run(attack_then_owner())
    assert slowed.status_code == 429 and 0 < int(slowed.headers["retry-after"]) <= 60
    assert _outcome(signed_in) == "signed in"
    assert still.status_code == 429 and int(still.headers["retry-after"]) > 60  # the guesser's own wait grew


def test_forwarded_for_counts_only_from_a_trusted_proxy(demo: Demo) -> None:
    marco = demo.user("marco")
    form = {"grant_type": "password", "client_id": demo.client_id, "username": marco["upn"], "password": "typo",
            "scope": "User.Read"}
    token_path = f"/{marco['tenant_id']}/oauth2/v2.0/token"
    untrusted = httpx.Client(base_url=demo.base_url, verify=ssl.create_default_context(cafile=demo.ca_file),
                             transport=httpx.HTTPTransport(local_address="127.0.0.2",
                                                           verify=ssl.create_default_context(cafile=demo.ca_file)))
    with untrusted, demo.client() as trusted:
        assert untrusted.post(token_path, data=form, headers={"X-Forwarded-For": "198.51.100.200"}).status_code == 400
        assert trusted.post(token_path, data=form, headers={"X-Forwarded-For": "198.51.100.201"}).status_code == 400
    counters = asyncio.run(_counters(demo.settings.effective_database_url))
    assert "a:127.0.0.2" in counters and "a:198.51.100.200" not in counters  # the untrusted peer's own address
    assert counters["a:198.51.100.201"] >= 1
