"""Stopping background tasks: the one way every service, gateway and leg here stops its tasks."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


async def cancelled(*tasks: asyncio.Task[Any] | asyncio.Future[Any] | None) -> None:
    """Cancel ``tasks`` (``None`` ones are skipped) and wait until each has stopped; what a task raises on its way
    out is not news, since it was being stopped."""
    live = [task for task in tasks if task is not None]
    for task in live:
        task.cancel()
    for task in live:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
