"""Which agents a user has, and the delivery of messages to agents: ports with in-process adapters.

Nothing in routing assumes an agent is connected to this process: it asks the registry for a user's agents and
hands messages to the bus, which delivers them wherever the agent's connection is (Redis adapters come when
several nodes share the work).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Protocol

from callbridge.calling.call import Send
from callbridge.calling.events import Event


class AgentRegistry(Protocol):
    async def register(self, agent_id: str, raw_id: str, limit: int) -> bool:
        """Registers the agent unless its identity has ``limit`` other agents already (False then). The check and
        the registration are one step: parallel registrations cannot all pass (a shared adapter does both in one
        atomic operation). An agent registered again (a resume) is counted once."""

    async def unregister(self, agent_id: str) -> None: ...

    async def agents_of(self, raw_id: str) -> list[str]: ...


class Bus(Protocol):
    def attach(self, agent_id: str) -> asyncio.Queue[Event]: ...

    def detach(self, agent_id: str) -> None: ...

    async def deliver(self, sends: Iterable[Send]) -> None: ...


class InMemoryRegistry:
    def __init__(self) -> None:
        self._agents: dict[str, set[str]] = {}
        self._identity: dict[str, str] = {}

    async def register(self, agent_id: str, raw_id: str, limit: int) -> bool:
        agents = self._agents.setdefault(raw_id, set())
        if agent_id not in agents and len(agents) >= limit:
            return False
        agents.add(agent_id)
        self._identity[agent_id] = raw_id
        return True

    async def unregister(self, agent_id: str) -> None:
        raw_id = self._identity.pop(agent_id, None)
        if raw_id is not None:
            self._agents.get(raw_id, set()).discard(agent_id)
            if not self._agents.get(raw_id):
                self._agents.pop(raw_id, None)

    async def agents_of(self, raw_id: str) -> list[str]:
        return sorted(self._agents.get(raw_id, set()))


class InMemoryBus:
    """Each attached agent has a bounded queue; a connection that stops reading loses messages, not memory."""

    QUEUE_LIMIT = 1000

    def __init__(self) -> None:
        self._queues: dict[str, asyncio.Queue[Event]] = {}

    def attach(self, agent_id: str) -> asyncio.Queue[Event]:
        queue: asyncio.Queue[Event] = asyncio.Queue(self.QUEUE_LIMIT)
        self._queues[agent_id] = queue
        return queue

    def detach(self, agent_id: str) -> None:
        self._queues.pop(agent_id, None)

    async def deliver(self, sends: Iterable[Send]) -> None:
        for send in sends:
            queue = self._queues.get(send.agent_id)
            if queue is not None and not queue.full():
                queue.put_nowait(send.event)
