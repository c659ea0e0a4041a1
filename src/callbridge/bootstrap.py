"""The one place that picks implementations from configuration and wires them together."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from callbridge.acs.context import AcsContext
from callbridge.acs.standing import standings
from callbridge.calling.quota import CallerLimits
from callbridge.calling.registry import InMemoryBus, InMemoryRegistry
from callbridge.calling.service import CallingService
from callbridge.calling.sockets import OpenSockets
from callbridge.clock import Clock, SystemClock
from callbridge.config import Settings
from callbridge.graph.context import GraphContext
from callbridge.graph.paging import PageTokens, load_secret
from callbridge.graph.throttle import GraphThrottle
from callbridge.identity.client_address import parse_networks
from callbridge.identity.context import IdentityContext
from callbridge.identity.keys import KeyRing
from callbridge.identity.minting import TokenMinter
from callbridge.identity.throttle import SignInPolicy, SignInThrottle
from callbridge.meetings.directory import MeetingDirectory
from callbridge.private_files import secure_data_dir
from callbridge.ratelimit import TokenBuckets
from callbridge.store.db import Database

log = logging.getLogger("callbridge")


@dataclass
class Platform:
    settings: Settings
    db: Database
    clock: Clock
    identity: IdentityContext
    acs: AcsContext
    graph: GraphContext
    calling: CallingService
    sockets: OpenSockets


async def build(settings: Settings, clock: Clock | None = None, db: Database | None = None) -> Platform:
    clock = clock or SystemClock()
    secure_data_dir(settings.data_dir)
    db = db or Database(settings.effective_database_url)
    await db.migrate()
    max_age = timedelta(days=settings.signing_key_max_age_days)
    idp_ring = KeyRing(db, "idp", "RS256", max_age, timedelta(seconds=settings.longest_token_lifetime_s("idp")))
    comm_ring = KeyRing(db, "communication", "ES256", max_age,
                        timedelta(seconds=settings.longest_token_lifetime_s("communication")))
    now = clock.now()
    await idp_ring.load(now)
    await comm_ring.load(now)
    minter = TokenMinter(settings.public_base_url, idp_ring, settings.access_token_lifetime_s,
                         settings.id_token_lifetime_s)
    throttle = SignInThrottle(db, SignInPolicy.from_settings(settings))
    identity = IdentityContext(settings, db, clock, idp_ring, minter, throttle,
                               parse_networks(settings.trusted_proxies))
    acs = AcsContext(settings, db, clock, idp_ring, comm_ring)
    graph_throttle = GraphThrottle(TokenBuckets(settings.graph_requests_per_second, settings.graph_burst),
                                   TokenBuckets(settings.graph_user_requests_per_second, settings.graph_user_burst))
    graph = GraphContext(settings, db, clock, idp_ring, PageTokens(await load_secret(db)), graph_throttle)
    limits = CallerLimits(settings.caller_max_calls, settings.caller_call_attempts_per_s,
                          settings.caller_call_attempts_burst)
    calling = CallingService(db, clock, InMemoryRegistry(), InMemoryBus(), settings.ring_time_s,
                             settings.reconnect_grace_s, limits, settings.identity_max_sockets)
    calling.meetings = MeetingDirectory(db, settings.public_base_url, settings.meeting_toll_number,
                                        timedelta(seconds=settings.lobby_timeout_s))
    graph.meeting_changed = calling.meeting_changed
    sockets = OpenSockets(lambda raw_ids: standings(db, raw_ids), settings.identity_recheck_s)
    log.info("platform ready", extra={"database": db.dialect, "base_url": settings.public_base_url})
    return Platform(settings, db, clock, identity, acs, graph, calling, sockets)


@asynccontextmanager
async def running(settings: Settings, clock: Clock | None = None) -> AsyncIterator[Platform]:
    platform = await build(settings, clock)
    try:
        yield platform
    finally:
        await platform.db.close()
