"""Screening an INVITE from the phone network before any session exists (the user agent's ``screen`` hook): which
trunk it came through, whether that trunk's digest credentials are right, and whether the trunk is within its
limits. It works on a snapshot of the enabled trunks, read again every ``refresh_s`` (an admin's change applies
within that time), because the hook runs synchronously for every request.

Which trunks a source address may come through is worked out once per snapshot (an allowlist's networks are
parsed on every look-up): the answer is kept per source until the next refresh.

A source that no trunk lists (and that no digest-only trunk could take) is refused with 403, or dropped without
an answer when the deployment says so (``unlisted="drop"``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from callbridge.logs import Throttled
from callbridge.pstn.inbound import ENABLED_TRUNKS, TrunkLimits, trunks_for
from callbridge.pstn.trunks import ha1_lookup
from callbridge.sip.digest import DigestVerifier
from callbridge.sip.message import Request
from callbridge.sip.transport import Address
from callbridge.sip.useragent_events import ACCEPT, DROP, Respond
from callbridge.sip.useragent_events import Screening as Verdict
from callbridge.tasks import cancelled

log = logging.getLogger("callbridge.pstn")
throttled = Throttled(log)  # for what others can repeat at will: one line a minute per kind

MAX_REMEMBERED = 10_000
MAX_SOURCES = 4_096  # sources whose trunks are kept per snapshot (an address scan only empties the cache)


class Screening:
    def __init__(self, fetch_all: Callable[[Any, dict[str, Any]], Awaitable[Sequence[Any]]],
                 clock: Callable[[], datetime], secret: bytes, *, unlisted: str = "reject",
                 refresh_s: float = 2.0) -> None:
        self._fetch_all, self._clock, self._secret = fetch_all, clock, secret
        self.unlisted, self.refresh_s = unlisted, refresh_s
        self.limits = TrunkLimits()
        self._trunks: list[Any] = []
        self._candidates: dict[str, list[Any]] = {}  # source host -> trunks_for(this snapshot, it)
        self._verifiers: dict[tuple[str, str], DigestVerifier] = {}  # (trunk, realm) -> its nonces and failures
        self._admitted: OrderedDict[str, Any] = OrderedDict()  # Call-ID -> the trunk it was admitted on
        self._refreshing: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.refresh()
        self._refreshing = asyncio.create_task(self._keep_fresh())

    async def stop(self) -> None:
        await cancelled(self._refreshing)

    async def refresh(self) -> None:
        self._trunks = list(await self._fetch_all(ENABLED_TRUNKS, {}))
        self._candidates = {}

    async def _keep_fresh(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_s)
            try:
                await self.refresh()
            except Exception:  # keep the last snapshot; the database may be back next time
                throttled.exception("trunks not refreshed")

    @property
    def trunks(self) -> list[Any]:
        """The enabled trunks, as last read."""
        return self._trunks

    def trunk(self, trunk_id: str) -> Any | None:
        return next((t for t in self._trunks if t.id == trunk_id), None)

    def admitted(self, call_id: str) -> Any | None:
        """The trunk an accepted INVITE came through (once: the bridge takes it)."""
        return self._admitted.pop(call_id, None)

    # -- the hook ---------------------------------------------------------------------------------------------------
    def screen(self, request: Request, source: Address) -> Verdict:
        candidates = self._trunks_for(source.host)
        if not candidates:
            throttled.warning("INVITE from a source no trunk lists", extra={"source": source.host})
            return DROP if self.unlisted == "drop" else Respond(403, "Forbidden")
        trunk = candidates[0]
        if trunk.inbound_ha1_md5:
            verdict = self._verifier(trunk).verify(request, source=source.host, now=time.time(),
                                                   ha1_of=ha1_lookup(trunk))
            if not verdict.accepted:
                return Respond(verdict.status or 403, None, verdict.header_fields)
        refusal = self.limits.admit(trunk, self._clock())
        if refusal is not None:
            return Respond(refusal.status or 503, refusal.reason, (("Retry-After", str(refusal.retry_after)),))
        self._admitted[request.call_id] = trunk
        while len(self._admitted) > MAX_REMEMBERED:
            self._admitted.popitem(last=False)
        return ACCEPT

    def _trunks_for(self, host: str) -> list[Any]:
        candidates = self._candidates.get(host)
        if candidates is None:
            if len(self._candidates) >= MAX_SOURCES:
                self._candidates = {}
            candidates = self._candidates[host] = trunks_for(self._trunks, host)
        return candidates

    def _verifier(self, trunk: Any) -> DigestVerifier:
        key = (trunk.id, trunk.inbound_realm)
        if key not in self._verifiers:
            self._verifiers[key] = DigestVerifier(trunk.inbound_realm, self._secret)
        return self._verifiers[key]
