"""Meeting joins at a fixed offered rate, over the calling protocol spoken directly (no SDK, no aiortc).

A *join*: an idle agent sends ``call.join`` {requestId, meetingLink}; the server answers ``call.started``, then
``call.state`` Connecting and Connected (a member of the organizer's tenant bypasses the lobby), the roster, and
``call.sdp`` with ``mediaSession``: the mixer's (Janus's) offer. The latency is from sending ``call.join`` to
receiving Connected; the time to the mixer's offer is kept beside it. The offer is **not answered** (the agent has
no media stack): Janus keeps the participant's handle waiting for an answer, which costs it the offer's work
(ICE gathering, DTLS set-up) but no media. The agent stays ``dwell`` seconds in the meeting, hangs up, and goes
back to the pool after its ``call.state`` Disconnected. Starts are paced (open loop), spread over the meetings in
turn; an anchor agent per meeting stays in it throughout, so joins are into meetings in progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import websockets

from bench.call_setup import percentile
from bench.sip_load import CpuWatch

TIMEOUT_S = 5.0  # Connected after call.join, the mixer's offer after that, Disconnected after call.hangUp


class JoinFailed(Exception):
    pass


@dataclass(eq=False)
class Join:
    link: str
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    call_id: str | None = None
    started: float = 0.0
    connected: asyncio.Future[float] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    offered: asyncio.Future[float] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    ended: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    def fail(self, reason: str) -> None:
        for future in (self.connected, self.offered, self.ended):
            if not future.done():
                future.set_exception(JoinFailed(reason))
                future.exception()  # retrieved: no warning for the ones nobody awaits


class Joiner:
    """One agent's socket, in at most one meeting at a time; a reader task routes its frames to that join."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.join: Join | None = None
        self.frames = 0
        self.recent: deque[str] = deque(maxlen=6)  # the last frames' types, for a failure's report
        self.reader = asyncio.create_task(self._read())

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(frame))

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self.frames += 1
                frame = json.loads(raw)
                self.recent.append(f"{frame.get('type')}:{frame.get('state', '')}:{str(frame.get('callId'))[-6:]}")
                self._on(frame, time.perf_counter())
        except websockets.ConnectionClosed:
            pass
        finally:
            if self.join is not None:
                self.join.fail(f"socket closed ({self.ws.close_code})")

    def _on(self, frame: dict[str, Any], now: float) -> None:
        join, kind = self.join, frame.get("type")
        if join is None:
            return
        if kind == "call.started" and frame.get("requestId") == join.request_id:
            join.call_id = str(frame.get("callId"))
            return
        if kind == "error" and (frame.get("requestId") == join.request_id or
                                (join.call_id is not None and frame.get("callId") == join.call_id)):
            join.fail(f"error {frame.get('code')}/{frame.get('subCode')}: {frame.get('message')}")
            return
        if join.call_id is None or frame.get("callId") != join.call_id:
            return
        if kind == "call.state":
            self._on_state(join, frame, now)
        elif kind == "call.sdp" and frame.get("mediaSession") is not None and not join.offered.done():
            join.offered.set_result(now)

    @staticmethod
    def _on_state(join: Join, frame: dict[str, Any], now: float) -> None:
        state = frame.get("state")
        if state == "Connected" and not join.connected.done():
            join.connected.set_result(now)
        elif state == "InLobby":
            join.fail("InLobby (the bench users should bypass the lobby)")
        elif state == "Disconnected":
            if not join.connected.done():
                join.fail(f"Disconnected before Connected {frame.get('endReason')}")
            if not join.ended.done():
                join.ended.set_result(None)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 5)
        self.reader.cancel()


async def open_joiner(url: str, ctx: Any, token: str) -> Joiner:
    ws = await websockets.connect(url, ssl=ctx, host="127.0.0.1", ping_interval=None, open_timeout=30,
                                  close_timeout=5, compression=None)
    try:
        await ws.send(json.dumps({"type": "hello", "version": 1, "token": token, "client": "app"}))
        welcome = json.loads(await asyncio.wait_for(ws.recv(), 30))
        if welcome.get("type") != "welcome":
            raise RuntimeError(f"expected welcome, got {welcome}")
    except BaseException:
        ws.transport.abort()
        raise
    return Joiner(ws)


@dataclass(frozen=True)
class Timing:
    connected_ms: float
    offered_ms: float
    connected_at: float  # perf_counter


async def enter(agent: Joiner, link: str) -> Join:
    """``call.join`` up to Connected and the mixer's offer; the agent stays in the meeting."""
    join = agent.join = Join(link)
    stage = "no Connected within 5 s of call.join"
    try:
        join.started = time.perf_counter()
        await agent.send({"type": "call.join", "requestId": join.request_id, "meetingLink": link})
        await asyncio.wait_for(asyncio.shield(join.connected), TIMEOUT_S)
        stage = "no mixer offer (call.sdp mediaSession) within 5 s of Connected"
        await asyncio.wait_for(asyncio.shield(join.offered), TIMEOUT_S)
        return join
    except TimeoutError:
        join.fail(stage)
        raise JoinFailed(stage) from None


async def leave(agent: Joiner) -> None:
    join = agent.join
    assert join is not None and join.call_id is not None
    try:
        await agent.send({"type": "call.hangUp", "callId": join.call_id})
        await asyncio.wait_for(asyncio.shield(join.ended), TIMEOUT_S)
    except TimeoutError:
        join.fail("no Disconnected within 5 s of call.hangUp")
        raise JoinFailed("no Disconnected within 5 s of call.hangUp") from None
    finally:
        agent.join = None


async def one_join(agent: Joiner, link: str, dwell: float) -> Timing:
    join = await enter(agent, link)
    connected, offered = join.connected.result(), join.offered.result()
    timing = Timing((connected - join.started) * 1000, (offered - join.started) * 1000, connected)
    await asyncio.sleep(dwell)
    await leave(agent)
    return timing


@dataclass
class JoinStep:
    offered: float
    seconds: float
    timings: list[Timing]
    failures: Counter[str]
    connected_span: float  # from the first start to the last Connected
    starts_span: float  # from the first start to the last
    cores: dict[str, float]  # by process (cores: 1.0 = one core), over the starts' span
    start_lag_ms: float
    peak_in_meetings: int

    @property
    def completed(self) -> int:
        return len(self.timings)

    @property
    def achieved(self) -> float:
        return self.completed / self.connected_span if self.connected_span > 0 else 0.0

    @property
    def sustained(self) -> bool:
        return not self.failures and self.achieved >= 0.97 * self.offered

    def connected(self, q: float) -> float:
        return percentile([t.connected_ms for t in self.timings], q)

    def offered_ms(self, q: float) -> float:
        return percentile([t.offered_ms for t in self.timings], q)

    def cpu_ms_per_join(self, name: str) -> float:
        """CPU per join over the starts' span (in a steady state, each join's leave falls in it too)."""
        starts = self.offered * self.starts_span
        return self.cores.get(name, 0.0) * self.starts_span / starts * 1000 if starts else float("nan")


async def offered_rate(idle: deque[Joiner], links: list[str], rate: float, seconds: float, dwell: float,
                       processes: dict[str, int]) -> JoinStep:
    """Joins paced at ``rate`` for ``seconds``, round robin over ``links``, each by the agent idle longest; an
    agent whose join failed leaves the pool (its state is unknown)."""
    timings: list[Timing] = []
    failures: Counter[str] = Counter()
    tasks: set[asyncio.Task[None]] = set()
    lag, inside, peak = 0.0, 0, 0

    async def run(agent: Joiner, link: str) -> None:
        nonlocal inside, peak
        inside += 1
        peak = max(peak, inside)
        try:
            timings.append(await one_join(agent, link, dwell))
            idle.append(agent)
        except JoinFailed as exc:
            failures[str(exc)] += 1
        except websockets.ConnectionClosed as exc:
            failures[f"socket closed ({exc})"] += 1
        finally:
            inside -= 1

    gc.collect()
    gc.disable()  # this process's collector must not pause the pacer mid-step
    watch = CpuWatch(processes)
    begin = time.perf_counter() + 0.01
    count = max(1, round(rate * seconds))
    for k in range(count):
        due = begin + k / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        lag = max(lag, time.perf_counter() - due)
        if not idle:
            failures["no idle agent when a join was due"] += 1
            continue
        tasks.add(asyncio.create_task(run(idle.popleft(), links[k % len(links)])))
    await asyncio.sleep(max(0.0, begin + count / rate - time.perf_counter()))
    cores = watch.stop()  # CPU over the starts' span: the joins, and the leaves of those started a dwell before
    if tasks:
        await asyncio.wait(tasks, timeout=dwell + 4 * TIMEOUT_S)
    gc.enable()
    last = max((t.connected_at for t in timings), default=begin)
    return JoinStep(rate, seconds, timings, failures, max(last - begin, (count - 1) / rate), count / rate, cores,
                    lag * 1000, peak)
