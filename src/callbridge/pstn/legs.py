"""A phone leg's two inboxes, read as one: what the call tells the leg (its bus queue) and what the SIP session
tells it (its events). Small enough to keep the bridge's flows readable as straight-line code."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from callbridge.calling.events import Event
from callbridge.sip.useragent_events import SessionEvent
from callbridge.tasks import cancelled


@dataclass(frozen=True)
class FromCall:
    event: Event


@dataclass(frozen=True)
class FromPhone:
    event: SessionEvent


class Inbox:
    def __init__(self, call: asyncio.Queue[Event]) -> None:
        self.call = call
        self._phone: Callable[[], Awaitable[SessionEvent]] | None = None
        self._pending: dict[asyncio.Task[Any], str] = {}

    def listen_to(self, next_event: Callable[[], Awaitable[SessionEvent]]) -> None:
        """The phone's news comes from ``next_event`` from now on (a new INVITE's session, after a failover)."""
        for task in [task for task, source in self._pending.items() if source == "phone"]:
            task.cancel()
            del self._pending[task]
        self._phone = next_event

    async def next(self) -> FromCall | FromPhone:
        while True:
            if "call" not in self._pending.values():
                self._pending[asyncio.ensure_future(self.call.get())] = "call"
            if self._phone is not None and "phone" not in self._pending.values():
                self._pending[asyncio.ensure_future(self._phone())] = "phone"
            done = [task for task in self._pending if task.done()]
            if done:
                break
            await _first_done(list(self._pending))
        first = min(done, key=lambda task: self._pending[task] != "phone")  # the phone's news first
        source = self._pending.pop(first)
        return FromPhone(first.result()) if source == "phone" else FromCall(first.result())

    async def close(self) -> None:
        await cancelled(*self._pending)
        self._pending.clear()


async def _first_done(tasks: list[asyncio.Task[Any]]) -> None:
    """Until one of `tasks` is done: ``asyncio.wait(..., FIRST_COMPLETED)`` without its sets and its checks of
    every argument, on each of a leg's events."""
    woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def wake(_: asyncio.Task[Any]) -> None:
        if not woken.done():
            woken.set_result(None)

    for task in tasks:
        task.add_done_callback(wake)
    try:
        await woken
    finally:
        for task in tasks:
            task.remove_done_callback(wake)
