"""A small event emitter: ``on(name, handler)`` and ``off``; handlers may be plain functions or coroutines."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any


class Emitter:
    def __init__(self) -> None:
        self._handlers: dict[str, list[Callable[..., Any]]] = {}
        self._running: set[asyncio.Future[Any]] = set()  # coroutine handlers, kept until they finish

    def on(self, event: str, handler: Callable[..., Any]) -> None:
        self._handlers.setdefault(event, []).append(handler)

    def off(self, event: str, handler: Callable[..., Any]) -> None:
        if handler in self._handlers.get(event, []):
            self._handlers[event].remove(handler)

    def emit(self, event: str, *args: Any) -> None:
        for handler in list(self._handlers.get(event, [])):
            result = handler(*args)
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(result)
                self._running.add(task)
                task.add_done_callback(self._running.discard)
