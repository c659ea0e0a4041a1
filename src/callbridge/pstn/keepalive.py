"""OPTIONS keep-alive towards every enabled trunk (as session border controllers expect of Direct Routing): each
trunk is pinged every ``interval_s``; whether it answered is logged on change and exported as
``callbridge_sip_trunk_up{trunk}``."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from callbridge import metrics
from callbridge.pstn.screening import Screening
from callbridge.sip.transport import Address
from callbridge.sip.useragent import UserAgent
from callbridge.tasks import cancelled

log = logging.getLogger("callbridge.pstn")


class TrunkKeepAlive:
    def __init__(self, ua: UserAgent, screening: Screening, interval_s: float = 30.0) -> None:
        self.ua, self.screening, self.interval_s = ua, screening, interval_s
        self.status: dict[str, int | None] = {}  # trunk id -> the last answer's status (None: no answer)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        await cancelled(self._task)

    def down(self, trunk_id: str) -> bool:
        """Whether the trunk failed its last ping (no answer, or 5xx); a trunk not pinged yet is not down."""
        status = self.status.get(trunk_id, 200)
        return status is None or status >= 500

    async def _run(self) -> None:
        while True:
            await self.ping_all()
            await asyncio.sleep(self.interval_s)

    async def ping_all(self) -> None:
        trunks = list(self.screening.trunks)
        await asyncio.gather(*(self._ping(trunk) for trunk in trunks))

    async def _ping(self, trunk: Any) -> None:
        try:  # a trunk that takes longer than the interval (or 5 s) to answer counts as down
            status = await asyncio.wait_for(self.ua.options(Address(trunk.host, trunk.port, trunk.transport.upper())),
                                            min(5.0, self.interval_s))
        except Exception:  # no answer in time, or a trunk we cannot even reach (no such transport, a bad host)
            status = None
        up = status is not None and status < 500
        if self.status.get(trunk.id, -1) != status:
            log.log(logging.INFO if up else logging.WARNING, "trunk keep-alive",
                    extra={"trunk": trunk.name, "status": status})
        self.status[trunk.id] = status
        metrics.TRUNK_UP.labels(trunk.name).set(1 if up else 0)
