"""This node's open ``/calling/ws`` sockets, re-checked against the store every ``interval_s``: a socket whose
identity was deleted or disabled, or whose token was revoked, is closed (4001) within one interval of the change,
wherever the change was made (the identity API, the admin CLI, another node: all of them write the store).

One sweep is one ``standings`` read for all the identities open here, however many sockets they hold; sockets
that close meanwhile are simply gone from the next sweep. The read is the store's, not the bus's: nothing has to
publish a change for it to be seen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection
from typing import Protocol

from callbridge.acs.standing import Standing, refusal
from callbridge.acs.tokens import CommunicationToken
from callbridge.tasks import cancelled

log = logging.getLogger("callbridge.calling")

ReadStandings = Callable[[Collection[str]], Awaitable[dict[str, Standing]]]


class Revocable(Protocol):
    """An open socket: the token it holds now, and how to close it for a reason."""

    @property
    def current_token(self) -> CommunicationToken | None: ...

    async def revoke(self, reason: str) -> None: ...


class OpenSockets:
    def __init__(self, read: ReadStandings, interval_s: float) -> None:
        self._read, self.interval_s = read, interval_s
        self._open: set[Revocable] = set()
        self._task: asyncio.Task[None] | None = None

    def add(self, socket: Revocable) -> None:
        self._open.add(socket)

    def discard(self, socket: Revocable) -> None:
        self._open.discard(socket)

    def __len__(self) -> int:
        return len(self._open)

    def start(self) -> None:
        if self.interval_s > 0:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        await cancelled(self._task)

    async def sweep(self) -> int:
        """Close the sockets whose identity no longer stands; how many were closed."""
        held = [(socket, token) for socket in list(self._open) if (token := socket.current_token) is not None]
        if not held:
            return 0
        standings = await self._read({token.raw_id for _, token in held})
        closing = [(socket, why) for socket, token in held if (why := refusal(token, standings)) is not None]
        for socket, why in closing:
            self._open.discard(socket)
            with contextlib.suppress(Exception):  # closing already
                await socket.revoke(why)
        if closing:
            log.info("sockets closed: identity revoked, disabled or gone", extra={"count": len(closing)})
        return len(closing)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.sweep()
            except Exception:  # the store is down: the next sweep tries again
                log.warning("open sockets not re-checked: the store did not answer", exc_info=True)
