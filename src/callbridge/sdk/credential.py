"""``CommunicationTokenCredential``: a static token, or a ``token_refresher`` with proactive refresh.

As ACS's: a token is "expiring soon" with less than 10 minutes left; with ``proactive_refresh`` a timer
refreshes it 10 minutes before expiry (or at half the remaining time when already inside that window, so a
refresher that keeps returning the same token does not spin); a refresher that fails is retried with back-off.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from collections.abc import Awaitable, Callable

EXPIRING_SOON_S = 600.0
MIN_RETRY_S = 1.0


def token_expiry(token: str) -> float:
    """The ``exp`` of a JWT, in epoch seconds (the only claim a client reads)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, KeyError, ValueError, TypeError):
        raise ValueError("The token is not a JWT with an 'exp' claim.") from None


class CommunicationTokenCredential:
    def __init__(self, token: str | None = None, *,
                 token_refresher: Callable[[], Awaitable[str]] | None = None,
                 proactive_refresh: bool = False, clock: Callable[[], float] = time.time) -> None:
        if token is None and token_refresher is None:
            raise ValueError("Give a token, a token_refresher, or both.")
        self._token = token
        self._refresher = token_refresher
        self._proactive = proactive_refresh and token_refresher is not None
        self._clock = clock
        self._listeners: list[Callable[[str], Awaitable[None]]] = []
        self._timer: asyncio.Task[None] | None = None

    def on_refreshed(self, listener: Callable[[str], Awaitable[None]]) -> None:
        self._listeners.append(listener)

    def _fresh_enough(self) -> bool:
        return self._token is not None and token_expiry(self._token) - self._clock() > EXPIRING_SOON_S

    async def get_token(self) -> str:
        if self._token is not None and (self._refresher is None or self._fresh_enough()):
            return self._token
        return await self._refresh()

    async def _refresh(self) -> str:
        assert self._refresher is not None
        token = await self._refresher()
        if token_expiry(token) <= self._clock():
            raise ValueError("The token returned from the tokenRefresher is expired.")
        changed = token != self._token
        self._token = token
        if changed:
            for listener in self._listeners:
                await listener(token)
        return token

    def next_refresh_in(self) -> float:
        """Seconds until the proactive refresh should run."""
        assert self._token is not None
        left = token_expiry(self._token) - self._clock()
        return max(0.0, left - EXPIRING_SOON_S) if left > EXPIRING_SOON_S else max(MIN_RETRY_S, left / 2)

    def start(self) -> None:
        if self._proactive and self._timer is None:
            self._timer = asyncio.create_task(self._refresh_loop())

    async def _refresh_loop(self) -> None:
        retry = MIN_RETRY_S
        while True:
            await asyncio.sleep(self.next_refresh_in() if self._token else 0)
            try:
                await self._refresh()
                retry = MIN_RETRY_S
            except Exception:  # the refresher failed: try again, less and less often
                await asyncio.sleep(retry)
                retry = min(retry * 2, 60.0)

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
            self._timer = None
