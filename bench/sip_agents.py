"""The called side of the SIP benchmark: licensed bench users with phone numbers, and WebSocket agents that answer
every ``call.incoming`` at once with a static WebRTC answer (signalling only: no media flows).

The answer is what a browser would send, reduced to what the media gateway needs to convert it into the phone's
plain-RTP answer: ICE credentials, a DTLS fingerprint and role, one host candidate, rtcp-mux and PCMU. Its
candidate points at the discard port, so the gateway's connectivity checks go nowhere, and nothing is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import websockets

from bench.call_setup import BENCH_PASSWORD, BenchUser, fabrikam_seeding
from callbridge.config import Settings
from callbridge.directory import users
from callbridge.pstn import trunks

NUMBER_BASE = 14_255_560_000  # bench users' numbers: +14255560000, +14255560001, ...
FINGERPRINT = ":".join(f"{(i * 37 + 11) % 256:02X}" for i in range(32))
_MID = re.compile(r"^a=mid:(\S+)", re.MULTILINE)


def webrtc_answer(offer: str) -> str:
    """A static WebRTC answer to the gateway's offer (its first audio m-line's mid, when it has one)."""
    mid = _MID.search(offer)
    lines = ["v=0", "o=- 5117314004300513364 2 IN IP4 127.0.0.1", "s=-", "t=0 0"]
    if mid:
        lines.append(f"a=group:BUNDLE {mid.group(1)}")
    lines += ["m=audio 9 UDP/TLS/RTP/SAVPF 0", "c=IN IP4 127.0.0.1", "a=rtcp:9 IN IP4 127.0.0.1",
              "a=ice-ufrag:bEnC", "a=ice-pwd:benchbenchbenchbenchbench1", f"a=fingerprint:sha-256 {FINGERPRINT}",
              "a=setup:active"]
    if mid:
        lines.append(f"a=mid:{mid.group(1)}")
    lines += ["a=sendrecv", "a=rtcp-mux", "a=rtpmap:0 PCMU/8000",
              "a=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host", "a=end-of-candidates"]
    return "\r\n".join(lines) + "\r\n"


def number_of(i: int) -> str:
    return f"+{NUMBER_BASE + i}"


async def add_phone_users(settings: Settings, info: dict[str, Any], count: int) -> list[tuple[BenchUser, str]]:
    """``count`` Fabrikam users with TEAMS + TEAMS_PHONE and a number each; the demo trunk's limits lifted (the
    carrier's trunk allows 127.0.0.1, where sipp sends from)."""
    out = []
    async with fabrikam_seeding(settings, info) as (s, tenant, cheap):
        for i in range(count):
            user = await users.create_user(s, tenant["id"], users.NewUser(
                upn=f"bench.phone.{i}@{tenant['domain']}", display_name=f"Bench Phone {i}",
                licences=["TEAMS", "TEAMS_PHONE"], phone_number=number_of(i), enterprise_voice=True))
            user.password_hash = cheap
            out.append((BenchUser(user.id, user.user_principal_name, BENCH_PASSWORD), number_of(i)))
        await trunks.change_trunk(s, tenant["id"], info["carrier"]["trunk"],
                                  trunks.TrunkChanges(max_calls=100_000, max_cps=10_000))
    return out


@dataclass
class Answering:
    """What the answering agents saw, all together."""

    incoming: int = 0
    accepted: int = 0
    errors: dict[str, int] = field(default_factory=dict)


class AutoAnswer:
    """One agent's socket: every ``call.incoming`` is accepted with the static answer; the rest is counted."""

    def __init__(self, ws: Any, tally: Answering) -> None:
        self.ws, self.tally = ws, tally
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self.ws:
                if '"call.incoming"' not in raw and '"error"' not in raw:
                    continue  # call.state and the like: nothing to do (parsing them would cost for nothing)
                frame = json.loads(raw)
                if frame.get("type") == "call.incoming":
                    self.tally.incoming += 1
                    await self.ws.send(json.dumps({"type": "call.accept", "callId": frame["callId"],
                                                   "sdp": webrtc_answer(frame.get("sdp") or "")}))
                    self.tally.accepted += 1
                elif frame.get("type") == "error":
                    why = f"{frame.get('code')}/{frame.get('subCode')}: {frame.get('message')}"[:120]
                    self.tally.errors[why] = self.tally.errors.get(why, 0) + 1

    async def close(self) -> None:
        self.reader.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 3)


async def open_answering(url: str, ctx: Any, tokens: list[str], per_user: int, tally: Answering) -> list[AutoAnswer]:
    """``per_user`` agents for each token (32 handshakes at a time)."""
    gate = asyncio.Semaphore(32)

    async def one(token: str) -> AutoAnswer:
        async with gate:
            ws = await websockets.connect(url, ssl=ctx, host="127.0.0.1", ping_interval=None, open_timeout=30,
                                          close_timeout=3, compression=None)
            await ws.send(json.dumps({"type": "hello", "version": 1, "token": token}))
            welcome = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if welcome.get("type") != "welcome":
                raise RuntimeError(f"expected welcome, got {welcome}")
        return AutoAnswer(ws, tally)

    return list(await asyncio.gather(*(one(t) for t in tokens for _ in range(per_user))))
