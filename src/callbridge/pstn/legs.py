"""A phone leg's inboxes, read as one: what the SIP session tells the leg (its events), what the gateway tells it
on its own (dead media), and what the call tells it (its bus queue), in that order of precedence when several
have news; with a timeout, for the leg's timer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from callbridge.calling.events import Event
from callbridge.pstn.leg_io import LegInput
from callbridge.sip.useragent_events import SessionEvent
from callbridge.tasks import cancelled

News = Event | SessionEvent | LegInput
_ORDER = ("phone", "own", "call")


class Inbox:
    def __init__(self) -> None:
        self.own: asyncio.Queue[LegInput] = asyncio.Queue()
        self._sources: dict[str, Callable[[], Awaitable[News]]] = {"own": self.own.get}
        self._pending: dict[str, asyncio.Task[Any]] = {}

    def listen_to_call(self, call: asyncio.Queue[Event] | Callable[[], Awaitable[Event]]) -> None:
        """The call's news: the leg's bus queue, or what gives it (the dial-in replays what it read first)."""
        self._sources["call"] = call.get if isinstance(call, asyncio.Queue) else call

    def listen_to(self, next_event: Callable[[], Awaitable[SessionEvent]]) -> None:
        """The phone's news comes from ``next_event`` from now on (a new INVITE's session, after a failover)."""
        task = self._pending.pop("phone", None)
        if task is not None:
            task.cancel()
        self._sources["phone"] = next_event

    async def next(self, timeout: float | None = None) -> News | None:
        """The next news, or None when ``timeout`` seconds passed without any."""
        for name, source in self._sources.items():
            if name not in self._pending:
                self._pending[name] = asyncio.ensure_future(source())
        if not any(task.done() for task in self._pending.values()):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_first_done(list(self._pending.values())), timeout)
        for name in _ORDER:
            task = self._pending.get(name)
            if task is not None and task.done():
                del self._pending[name]
                news: News = task.result()
                return news
        return None

    async def close(self) -> None:
        await cancelled(*self._pending.values())
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
