"""The media gateway port: where a PSTN call's media is anchored, WebRTC (ICE, DTLS-SRTP, G.711) towards the call
agent and plain RTP/AVP G.711 with RFC 4733 digits towards the SIP trunk.

Every call is a session, named by the caller of the port. An SDP goes in from one side and comes out rewritten for
the other: ``towards=Side.TRUNK`` means the SDP came from the agent and the result goes to the trunk,
``towards=Side.AGENT`` the reverse.

    outbound  agent offer  -> offer(towards=TRUNK)   -> plain offer to the trunk
              trunk answer -> answer(towards=AGENT)  -> WebRTC answer to the agent
    inbound   trunk offer  -> offer(towards=AGENT)   -> WebRTC offer to the agents
              agent answer -> answer(towards=TRUNK)  -> plain answer to the trunk

Re-offers (hold and resume, from either side) go the same way and keep the direction (sendonly, inactive...).
Adapters: ``rtpengine.RtpengineGateway`` (an rtpengine daemon over its ng protocol) and
``aiortc_bridge.AiortcGateway`` (in process).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from callbridge.media.rtp_endpoint import PortRange


class Side(StrEnum):
    """Where the rewritten SDP goes."""

    TRUNK = "trunk"
    AGENT = "agent"

    @property
    def other(self) -> Side:
        return Side.AGENT if self is Side.TRUNK else Side.TRUNK


@dataclass(frozen=True)
class MediaConfig:
    ports: PortRange = field(default_factory=lambda: PortRange(40_000, 40_999))  # RTP ports of both legs
    advertised_address: str = "127.0.0.1"  # in SDP and ICE candidates; an address of this machine
    dead_media_timeout: float = 30.0  # seconds without RTP from the trunk before the call is given up; 0: never


@dataclass(frozen=True)
class MediaStats:
    """RTP packets that came in from each side of a session."""

    from_agent: int
    from_trunk: int


DeadMediaHandler = Callable[[str], None]


class MediaGateway(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None:
        """Ends every session."""

    async def offer(self, session_id: str, sdp: str, *, towards: Side) -> str: ...

    async def answer(self, session_id: str, sdp: str, *, towards: Side) -> str: ...

    async def send_dtmf(self, session_id: str, digit: str, duration_ms: int = 100) -> None:
        """An RFC 4733 digit towards the trunk."""

    async def delete(self, session_id: str) -> None:
        """Ends the session and releases its ports; unknown sessions are ignored (hang-ups race)."""

    async def stats(self, session_id: str) -> MediaStats: ...

    def on_dead_media(self, handler: DeadMediaHandler) -> None:
        """``handler(session_id)`` runs once when no RTP came from the trunk for the configured time, unless the
        trunk's SDP says it does not send (on hold)."""


class DeadMediaWatch:
    """Sans-I/O: fed each session's packet count from the trunk with ``now``; says when one went quiet too long."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._seen: dict[str, tuple[int, float]] = {}  # session -> (packets, when that count changed)
        self._fired: set[str] = set()

    @property
    def interval(self) -> float:
        """How often to look: a sixth of the timeout (5 s for 30 s), so a dead call ends within 7/6 of the timeout
        while a gateway asked per call (rtpengine: one ng query each) is asked six times per timeout, not every
        second."""
        return max(0.05, self.timeout / 6)

    def observe(self, session_id: str, packets: int, now: float, *, trunk_sends: bool = True) -> bool:
        """True exactly once, when the session has gone quiet for the timeout."""
        if not self.timeout or session_id in self._fired:
            return False
        previous = self._seen.get(session_id)
        if previous is None or previous[0] != packets or not trunk_sends:
            self._seen[session_id] = (packets, now)
            return False
        if now - previous[1] >= self.timeout:
            self._fired.add(session_id)
            return True
        return False

    def forget(self, session_id: str) -> None:
        self._seen.pop(session_id, None)
        self._fired.discard(session_id)
