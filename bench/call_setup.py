"""Calling service benchmark, signalling only (no media): call set-ups per second, set-up latency at a fixed
offered rate, and the server's memory with 10,000 idle agents, beside the protocol's floor (``ping``/``pong``).

Run from the repository root (``make bench`` runs it after the other two)::

    .venv/bin/python -m bench.call_setup
    .venv/bin/python -m bench.call_setup --rates 100 200 400 --step-seconds 10 --idle 2000

It seeds a throwaway data directory with the demo data and adds licensed bench users to Fabrikam, one caller and
one callee per pair of agents, with a one-on-one chat for each pair (the thread a Teams-user call needs). Every
user signs in with the password grant and exchanges the organisation token for a communication token over
HTTPS, HMAC-signed, as an app backend does. One ``callbridge serve`` (one worker) runs with a long ring time.
The agents are WebSockets of this process (the ``websockets`` library over TLS, uvloop):

- a call set-up: the caller sends ``call.start`` (with an SDP offer), the callee's agent gets ``call.incoming``
  and sends ``call.accept`` (with an answer), the caller gets ``call.state`` Connected; the latency is from
  sending ``call.start`` to receiving Connected. The caller then hangs up and both see Disconnected before the
  pair is used again;
- baseline: ``ping`` -> ``pong`` round trips, one at a time, on idle agents (the floor of any exchange);
- (b) start -> Connected at a fixed offered 200 set-ups/s for 20 s (after a 3 s warm-up), with ``ping`` round
  trips on other idle agents meanwhile (how much of it is queueing); it runs before (a), whose last step ends
  overloaded;
- (a) a ramp of offered rates (starts paced, open loop), 15 s per step, up to the first step not sustained: a
  step is sustained when no set-up fails (an error frame, a closed socket, Connected or Disconnected later than
  5 s, no idle pair when a start is due) and set-ups complete at >= 97% of the offered rate. A pair whose set-up
  failed leaves the pool and ends whatever of its call still arrives;
- (c) the server's VmRSS before and with 10,000 idle agents (``hello``, ``welcome``, then nothing; the pairs stay
  connected), opened in batches of bounded concurrency; a sample of them answers ``ping``; then 20 set-ups/s for
  10 s, and pings, with all of them connected.

Every step reports the server's CPU (/proc), this process's, and the rest of the machine's (another load shows
there, and the run is flagged). This process's garbage collector is paused during each measured step. With
``--profile DIR``, py-spy samples the server (GIL holder, not paused) during (b), each step of (a) and (c), into
raw collapsed-stack files; the sampling costs the server some speed, so take figures from runs without it.

Why bench users rather than the 31 demo users: the service allows an agent 20 frames/s (burst 60), a caller
spends two frames per set-up (start, hang-up) and a callee one, and a call to a user rings *every* agent of that
user. So each callee user must have one agent, and the pairs must be many enough that no agent nears the frame
limit: ``--pairs`` defaults to the highest rate / 5 (10 frames/s per caller at the top of the ramp). Their
passwords carry a cheap Argon2 hash (t=1, 1 MiB) so that signing 800 users in takes seconds; sign-in is not
what this measures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import random
import resource
import subprocess
import sys
import time
import uuid
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import Path
from typing import Any

import httpx
import uvloop
import websockets
from argon2 import PasswordHasher

from bench.harness import Server, cleanup, cpu_seconds, start_server, throwaway_settings, wait_idle
from callbridge.acs.hmac_auth import sign_headers
from callbridge.config import Settings
from callbridge.demo import seed_and_describe
from callbridge.directory import users
from callbridge.graph.auth import Caller
from callbridge.graph.chats import create_chat
from callbridge.store.db import Database

TEAMS_SCOPES = "https://auth.msft.communication.azure.com/Teams.ManageCalls " \
               "https://auth.msft.communication.azure.com/Teams.ManageChats"
EXCHANGE_PATH = "/teamsUser/:exchangeAccessToken?api-version=2023-10-01"
BENCH_PASSWORD = "Bench-Agent-2026!"
OFFER = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n" \
        "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:111 opus/48000/2\r\na=sendrecv\r\n"
ANSWER = OFFER.replace("4611731400430051336", "5117314004300513364")

RAMP = [50, 100, 150, 200, 250, 300, 400, 500, 600, 800, 1000, 1500, 2000]
FIXED_RATE = 200
IDLE_AGENTS = 10_000
STEP_TIMEOUT_S = 5.0  # Connected after call.start, and Disconnected after call.hangUp
SUSTAINED = 0.97  # completed / offered for a step to count
BUSY = 0.25  # other processes' CPU (cores) above which the run is flagged
TARGET_PER_S = 500
TARGET_P99_MS = 50.0
TARGET_IDLE_BYTES = 1 << 30
SERVER_ENV = {"CALLBRIDGE_RING_TIME_S": "3600", "CALLBRIDGE_RECONNECT_GRACE_S": "5",
              "CALLBRIDGE_GRAPH_REQUESTS_PER_SECOND": "100000", "CALLBRIDGE_GRAPH_BURST": "100000",
              "CALLBRIDGE_GRAPH_USER_REQUESTS_PER_SECOND": "100000", "CALLBRIDGE_GRAPH_USER_BURST": "100000",
              "CALLBRIDGE_SIGNIN_FAILURES_PER_USER": "1000000", "CALLBRIDGE_SIGNIN_FAILURES_PER_ADDRESS": "1000000",
              # a few identities carry the whole load (and thousands of idle agents): no per-identity caps
              "CALLBRIDGE_CALLER_MAX_CALLS": "1000000", "CALLBRIDGE_CALLER_CALL_ATTEMPTS_PER_S": "1000000",
              "CALLBRIDGE_CALLER_CALL_ATTEMPTS_BURST": "1000000", "CALLBRIDGE_IDENTITY_MAX_SOCKETS": "1000000"}


# -- data --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BenchUser:
    id: str
    upn: str
    password: str


@contextlib.asynccontextmanager
async def fabrikam_seeding(settings: Settings, info: dict[str, Any]) -> AsyncIterator[tuple[Any, dict[str, Any], str]]:
    """One transaction on the demo's store to add bench users to Fabrikam: the session, the tenant, and a password
    hash at argon2's lowest cost (sign-ins are not what is measured)."""
    tenant = next(t for t in info["tenants"] if t["name"] == "Fabrikam")
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(BENCH_PASSWORD)
    db = Database(settings.effective_database_url)
    try:
        async with db.transaction() as s:
            yield s, tenant, cheap
    finally:
        await db.close()


async def add_bench_users(settings: Settings, info: dict[str, Any], pairs: int) -> list[tuple[BenchUser, BenchUser]]:
    """``pairs`` (caller, callee) users in Fabrikam with a Teams licence, and a one-on-one chat for each pair."""
    out = []
    async with fabrikam_seeding(settings, info) as (s, tenant, cheap):
        for i in range(pairs):
            made = []
            for role in ("caller", "callee"):
                user = await users.create_user(s, tenant["id"], users.NewUser(
                    upn=f"bench.{role}.{i}@{tenant['domain']}", display_name=f"Bench {role.title()} {i}",
                    licences=["TEAMS"]))
                user.password_hash = cheap
                made.append(BenchUser(user.id, user.user_principal_name, BENCH_PASSWORD))
            caller = Caller(tenant["id"], info["app"]["client_id"], made[0].id, frozenset({"Chat.Create"}),
                            frozenset())
            await create_chat(s, caller, {"chatType": "oneOnOne", "members": [
                {"user@odata.bind": f"https://graph.microsoft.com/v1.0/users('{u.id}')"} for u in made]},
                datetime.now(UTC))
            out.append((made[0], made[1]))
    return out


def one_on_one_id(a: str, b: str) -> str:
    first, second = sorted((a, b))
    return f"19:{first}_{second}@unq.gbl.spaces"


async def communication_tokens(server: Server, info: dict[str, Any], people: list[BenchUser]) -> dict[str, str]:
    """Each user's communication token: the password grant, then the HMAC-signed exchange (8 at a time)."""
    tenant = next(t for t in info["tenants"] if t["name"] == "Fabrikam")
    client_id = info["app"]["client_id"]
    key = info["communication"]["connection_string"].split("accesskey=", 1)[1]
    gate = asyncio.Semaphore(8)
    tokens: dict[str, str] = {}

    async def one(c: httpx.AsyncClient, user: BenchUser) -> None:
        async with gate:
            r = await c.post(f"/{tenant['id']}/oauth2/v2.0/token", data={
                "grant_type": "password", "client_id": client_id, "username": user.upn, "password": user.password,
                "scope": TEAMS_SCOPES})
            r.raise_for_status()
            body = json.dumps({"token": r.json()["access_token"], "appId": client_id, "userId": user.id}).encode()
            headers = sign_headers("POST", EXCHANGE_PATH, server.host, body, key, formatdate(usegmt=True))
            r = await c.post(EXCHANGE_PATH, content=body, headers={**headers, "Content-Type": "application/json"})
            r.raise_for_status()
            tokens[user.id] = r.json()["token"]

    async with httpx.AsyncClient(base_url=server.base_url, verify=server.ssl_context, timeout=60) as c:
        await asyncio.gather(*(one(c, u) for u in people))
    return tokens


# -- agents ------------------------------------------------------------------------------------------------------
@dataclass(eq=False)
class Setup:
    caller: Agent
    callee: Agent
    thread_id: str
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    call_id: str | None = None
    started: float = 0.0
    connected: asyncio.Future[float] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    caller_ended: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    callee_ended: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    def fail(self, reason: str) -> None:
        for future in (self.connected, self.caller_ended, self.callee_ended):
            if not future.done():
                future.set_exception(SetupFailed(reason))
                future.exception()  # retrieved: no "never retrieved" warning for the ones nobody awaits


class SetupFailed(Exception):
    pass


class Book:
    """The set-ups in flight, by request id (until ``call.started``) and by call id; stray errors counted."""

    def __init__(self) -> None:
        self.by_request: dict[str, Setup] = {}
        self.by_call: dict[str, Setup] = {}
        self.stray: Counter[str] = Counter()
        self.frames = 0  # received by the agents


class Agent:
    """One agent's socket: a reader task routes frames to the set-ups in flight; a callee accepts every call."""

    def __init__(self, ws: Any, book: Book, agent_id: str) -> None:
        self.ws, self.book, self.agent_id = ws, book, agent_id
        self.pongs: deque[asyncio.Future[float]] = deque()
        self.reader: asyncio.Task[None] | None = None
        self.retired = False

    def start_reading(self) -> None:
        self.reader = asyncio.create_task(self._read())

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(frame))

    async def ping(self) -> float:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.pongs.append(future)
        started = time.perf_counter()
        await self.send({"type": "ping"})
        return await asyncio.wait_for(future, STEP_TIMEOUT_S) - started

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self.book.frames += 1
                await self._on(json.loads(raw), time.perf_counter())
        except websockets.ConnectionClosed:
            pass
        finally:
            for setup in [*self.book.by_call.values(), *self.book.by_request.values()]:
                if self in (setup.caller, setup.callee):
                    setup.fail(f"socket closed ({self.ws.close_code})")

    async def _on(self, frame: dict[str, Any], now: float) -> None:
        """Route one frame; never raises (a dead reader would silence the agent)."""
        kind, call_id = frame.get("type"), frame.get("callId")
        if self.retired:  # its pair failed: it ends whatever still comes, so the switchboard does not keep it
            if kind in ("call.started", "call.incoming"):
                verb = "call.hangUp" if kind == "call.started" else "call.reject"
                await self.send({"type": verb, "callId": call_id})
            return
        if kind == "call.incoming":
            await self.send({"type": "call.accept", "callId": call_id, "sdp": ANSWER})
        elif kind == "call.started":
            started = self.book.by_request.pop(str(frame.get("requestId")), None)
            if started is not None:
                started.call_id = str(call_id)
                self.book.by_call[started.call_id] = started
        elif kind == "call.state":
            self._on_state(self.book.by_call.get(str(call_id)), frame, now)
        elif kind == "pong":
            self._on_pong(now)
        elif kind == "error":
            failed = self.book.by_request.get(str(frame.get("requestId"))) or self.book.by_call.get(str(call_id))
            reason = f"error {frame.get('code')}/{frame.get('subCode')}: {frame.get('message')}"
            if failed is None:
                self.book.stray[reason] += 1
            else:
                failed.fail(reason)

    def _on_pong(self, now: float) -> None:
        while self.pongs:
            waiting = self.pongs.popleft()
            if not waiting.done():  # one whose wait timed out is skipped
                waiting.set_result(now)
                return

    def _on_state(self, setup: Setup | None, frame: dict[str, Any], now: float) -> None:
        if setup is None:
            return
        state = frame.get("state")
        if self is setup.caller and state == "Connected" and not setup.connected.done():
            setup.connected.set_result(now)
        elif state == "Disconnected":
            if not setup.connected.done():
                setup.fail(f"Disconnected before Connected {frame.get('endReason')}")
            ended = setup.caller_ended if self is setup.caller else setup.callee_ended
            if not ended.done():
                ended.set_result(None)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 5)
        if self.reader is not None:
            self.reader.cancel()


async def open_agent(url: str, ctx: Any, token: str, book: Book, compression: bool) -> Agent:
    ws = await websockets.connect(url, ssl=ctx, host="127.0.0.1", ping_interval=None, open_timeout=30,
                                  close_timeout=5, compression="deflate" if compression else None)
    try:
        await ws.send(json.dumps({"type": "hello", "version": 1, "token": token}))
        welcome = json.loads(await asyncio.wait_for(ws.recv(), 30))
        if welcome.get("type") != "welcome":
            raise RuntimeError(f"expected welcome, got {welcome}")
    except BaseException:
        ws.transport.abort()
        raise
    return Agent(ws, book, welcome["agentId"])


async def open_many(count: int, opener: Callable[[int], Awaitable[Agent]], concurrency: int
                    ) -> tuple[list[Agent], Counter[str]]:
    """Open ``count`` agents, ``concurrency`` at a time, in batches; stop at the first batch where all fail."""
    gate = asyncio.Semaphore(concurrency)
    opened: list[Agent] = []
    errors: Counter[str] = Counter()

    async def one(i: int) -> None:
        async with gate:
            try:
                opened.append(await opener(i))
            except Exception as exc:
                errors[f"{type(exc).__name__}: {exc}"[:160]] += 1

    batch = max(concurrency * 5, 1)
    for first in range(0, count, batch):
        before = len(opened)
        await asyncio.gather(*(one(i) for i in range(first, min(count, first + batch))))
        if len(opened) == before:
            break
    return opened, errors


# -- set-ups -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pair:
    caller: Agent
    callee: Agent
    callee_raw_id: str
    thread_id: str


@dataclass
class StepResult:
    offered: float
    seconds: float
    latencies_ms: list[float]
    failures: Counter[str]
    elapsed: float
    server_cpu: float  # cores (1.0 = one core) over the step
    client_cpu: float
    other_cpu: float  # the rest of the machine (another load on it shows here)
    start_lag_ms: float  # the latest a start went out after its due time
    frames_in: int  # frames the agents received (pings' pongs included)

    @property
    def completed(self) -> int:
        return len(self.latencies_ms)

    @property
    def achieved(self) -> float:
        return self.completed / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def sustained(self) -> bool:
        return not self.failures and self.achieved >= SUSTAINED * self.offered

    def pct(self, q: float) -> float:
        return percentile(self.latencies_ms, q)


def percentile(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def one_setup(pair: Pair, book: Book) -> float:
    """start -> incoming -> accept -> Connected (milliseconds), then hang up and wait for both Disconnected."""
    setup = Setup(pair.caller, pair.callee, pair.thread_id)
    book.by_request[setup.request_id] = setup
    stage = "no Connected within 5 s of call.start"
    try:
        setup.started = time.perf_counter()
        await pair.caller.send({"type": "call.start", "requestId": setup.request_id,
                                "target": {"rawId": pair.callee_raw_id}, "threadId": pair.thread_id, "sdp": OFFER})
        connected = await asyncio.wait_for(asyncio.shield(setup.connected), STEP_TIMEOUT_S)
        stage = "no Disconnected within 5 s of call.hangUp"
        await pair.caller.send({"type": "call.hangUp", "callId": setup.call_id})
        await asyncio.wait_for(asyncio.gather(asyncio.shield(setup.caller_ended), asyncio.shield(setup.callee_ended)),
                               STEP_TIMEOUT_S)
        return (connected - setup.started) * 1000
    except TimeoutError:
        setup.fail(stage)
        retire(pair, setup)
        raise SetupFailed(stage) from None
    except websockets.ConnectionClosed as exc:
        setup.fail("closed")
        retire(pair, setup)
        raise SetupFailed(f"socket closed ({exc})") from None
    except SetupFailed:
        retire(pair, setup)
        raise
    finally:
        book.by_request.pop(setup.request_id, None)
        if setup.call_id is not None:
            book.by_call.pop(setup.call_id, None)


def retire(pair: Pair, setup: Setup) -> None:
    """A pair whose set-up failed leaves the pool; its call is hung up (best effort; a late ``call.started`` or
    ``call.incoming`` is ended by the retired agent) so that the switchboard does not keep it."""
    pair.caller.retired = pair.callee.retired = True
    if setup.call_id is not None:
        frame = json.dumps({"type": "call.hangUp", "callId": setup.call_id})
        asyncio.ensure_future(pair.caller.ws.send(frame)).add_done_callback(lambda f: f.exception())


async def offered_rate(idle: deque[Pair], book: Book, rate: float, seconds: float, server_pid: int) -> StepResult:
    """Starts paced at ``rate`` for ``seconds`` (open loop: a start does not wait for the previous ones), each on the
    pair idle longest; a pair goes back to the pool only after a clean hang-up."""
    latencies: list[float] = []
    failures: Counter[str] = Counter()
    tasks: set[asyncio.Task[None]] = set()
    last_done, lag = 0.0, 0.0
    stray_before, frames_before = Counter(book.stray), book.frames

    async def run(pair: Pair) -> None:
        nonlocal last_done
        try:
            latencies.append(await one_setup(pair, book))
            idle.append(pair)
        except SetupFailed as exc:
            failures[str(exc)] += 1  # the pair's state is unknown: it leaves the pool
        finally:
            last_done = time.perf_counter()

    gc.collect()
    gc.disable()  # this process's collector must not pause the pacer or the readers mid-step (re-enabled below)
    cpu, client, machine = cpu_seconds(server_pid), time.process_time(), machine_busy_seconds()
    begin = time.perf_counter() + 0.01
    for k in range(max(1, round(rate * seconds))):
        due = begin + k / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        lag = max(lag, time.perf_counter() - due)
        if not idle:
            failures["no idle pair when a start was due"] += 1
            continue
        tasks.add(asyncio.create_task(run(idle.popleft())))
    if tasks:
        await asyncio.wait(tasks, timeout=3 * STEP_TIMEOUT_S)
    wall = time.perf_counter() - begin
    gc.enable()
    failures.update(book.stray - stray_before)  # errors about no set-up (e.g. RateLimited)
    server_cpu, client_cpu = (cpu_seconds(server_pid) - cpu) / wall, (time.process_time() - client) / wall
    other_cpu = (machine_busy_seconds() - machine) / wall - server_cpu - client_cpu
    return StepResult(rate, seconds, latencies, failures, last_done - begin, server_cpu, client_cpu,
                      max(0.0, other_cpu), lag * 1000, book.frames - frames_before)


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (every core; /proc/stat less idle and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


async def ping_round_trips(agents: list[Agent], count: int, rate: float) -> tuple[list[float], int]:
    """``count`` pings, one at a time, paced at ``rate`` and rotating over ``agents``: (milliseconds, failures)."""
    samples, failed = [], 0
    begin = time.perf_counter()
    for k in range(count):
        delay = begin + k / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            samples.append(await agents[k % len(agents)].ping() * 1000)
        except (TimeoutError, websockets.ConnectionClosed):
            failed += 1
    return samples, failed


# -- memory ------------------------------------------------------------------------------------------------------
def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def raise_open_files(needed: int) -> tuple[int, int]:
    """Raise RLIMIT_NOFILE (the server subprocess inherits it) to ``needed`` if the hard limit allows, or can be
    raised (root); returns the (soft, hard) limits now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, needed))
            return needed, needed
    target = needed if hard == resource.RLIM_INFINITY else min(max(soft, needed), hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


@dataclass
class IdleResult:
    wanted: int
    reached: int
    errors: Counter[str]
    open_seconds: float
    rss_before: int
    rss_after: int
    alive: int
    sampled: int
    client_rss: int
    server_cpu_idle: float  # cores used while the agents sat idle
    loaded: StepResult  # set-ups at IDLE_RATE with the idle agents connected
    pings: list[float]


IDLE_RATE = 20  # set-ups/s beside the idle agents: a light load


async def idle_agents(server: Server, url: str, tokens: list[str], args: argparse.Namespace, pairs: deque[Pair],
                      book: Book, pingers: list[Agent]) -> tuple[IdleResult, list[str]]:
    """Open ``args.idle`` agents (hello, welcome, then nothing) beside the pairs; the server's RSS before and
    after; a sample answers ping; then set-ups at IDLE_RATE/s and pings with all of them connected."""
    pid, profiles = server.process.pid, []
    await asyncio.sleep(2)
    before = rss_bytes(pid)
    started = time.perf_counter()
    opened, errors = await open_many(args.idle, lambda i: open_agent(
        url, server.ssl_context, tokens[i % len(tokens)], Book(), args.compression), args.connect_concurrency)
    open_seconds = time.perf_counter() - started
    cpu = cpu_seconds(pid)
    await asyncio.sleep(5)
    server_cpu_idle = (cpu_seconds(pid) - cpu) / 5
    after = rss_bytes(pid)
    sample = random.Random(7).sample(opened, min(100, len(opened)))
    alive = 0
    for agent in sample:
        with contextlib.suppress(Exception):
            await agent.ws.send('{"type":"ping"}')
            alive += json.loads(await asyncio.wait_for(agent.ws.recv(), STEP_TIMEOUT_S))["type"] == "pong"
    spy = profile(pid, args.profile / "idle-agents.txt", 8) if args.profile else None
    loaded, (pings, _) = await asyncio.gather(offered_rate(pairs, book, IDLE_RATE, 10, pid),
                                              ping_round_trips(pingers, 500, 50))
    if spy is not None:
        await spy
        profiles.append(str(args.profile / "idle-agents.txt"))
    client_rss = rss_bytes(os.getpid())
    for agent in opened:
        agent.ws.transport.abort()
    return IdleResult(args.idle, len(opened), errors, open_seconds, before, after, alive, len(sample), client_rss,
                      server_cpu_idle, loaded, pings), profiles


# -- the run -----------------------------------------------------------------------------------------------------
@dataclass
class Results:
    pairs: int
    ping_idle: list[float] = field(default_factory=list)
    ping_idle_failed: int = 0
    ramp: list[StepResult] = field(default_factory=list)
    fixed: StepResult | None = None
    ping_loaded: list[float] = field(default_factory=list)
    idle: IdleResult | None = None
    profiles: list[str] = field(default_factory=list)


async def open_pairs(url: str, server: Server, book: Book, people: list[tuple[BenchUser, BenchUser]],
                     tokens: dict[str, str], compression: bool) -> list[Pair]:
    gate = asyncio.Semaphore(32)

    async def one(caller: BenchUser, callee: BenchUser) -> Pair:
        async with gate:
            a = await open_agent(url, server.ssl_context, tokens[caller.id], book, compression)
            b = await open_agent(url, server.ssl_context, tokens[callee.id], book, compression)
        a.start_reading()
        b.start_reading()
        return Pair(a, b, f"8:orgid:{callee.id}", one_on_one_id(caller.id, callee.id))

    return list(await asyncio.gather(*(one(a, b) for a, b in people)))


def profile(pid: int, path: Path, seconds: int) -> asyncio.Future[Any]:
    """py-spy (in the venv) sampling the server's GIL holder for ``seconds`` into ``path`` (raw: collapsed
    stacks, one a line, with their sample counts), without pausing it."""
    spy = Path(sys.executable).parent / "py-spy"
    command = [str(spy), "record", "-p", str(pid), "-f", "raw", "-o", str(path), "-d", str(seconds), "-r", "200",
               "--gil", "--nonblocking"]
    return asyncio.ensure_future(asyncio.to_thread(subprocess.run, command, capture_output=True,
                                                   timeout=seconds + 30))


async def ramp(r: Results, idle: deque[Pair], book: Book, args: argparse.Namespace, pid: int) -> None:
    """The steps in turn, up to the first one not sustained; with ``--profile``, py-spy samples each step."""
    await offered_rate(idle, book, 50, 2, pid)  # warm-up
    for rate in args.rates:
        await asyncio.sleep(1)
        path = args.profile / f"ramp-{rate}.txt" if args.profile else None
        spy = profile(pid, path, int(args.step_seconds) - 2) if path else None
        step = await offered_rate(idle, book, rate, args.step_seconds, pid)
        if spy is not None:
            await spy
            r.profiles.append(str(path))
        r.ramp.append(step)
        print(f"  ramp {rate}/s: {step.achieved:.0f}/s, p99 {step.pct(0.99):.1f} ms, "
              f"failures {sum(step.failures.values())}", file=sys.stderr)
        if not step.sustained:
            break


async def run_all(server: Server, info: dict[str, Any], people: list[tuple[BenchUser, BenchUser]],
                  args: argparse.Namespace) -> Results:
    r = Results(len(people))
    fabrikam = next(t for t in info["tenants"] if t["name"] == "Fabrikam")
    alice = next(BenchUser(u["id"], u["upn"], u["password"]) for u in fabrikam["users"] if u["upn"].startswith("alice"))
    tokens = await communication_tokens(server, info, [alice, *(u for pair in people for u in pair)])
    url = f"wss://localhost:{server.settings.https_port}/calling/ws"
    book = Book()
    pairs = await open_pairs(url, server, book, people, tokens, args.compression)
    pingers = [await open_agent(url, server.ssl_context, tokens[alice.id], book, args.compression) for _ in range(20)]
    for agent in pingers:
        agent.start_reading()
    idle: deque[Pair] = deque(pairs)
    pid = server.process.pid

    gc.collect()
    gc.freeze()  # the agents live for the whole run: this process's collections need not walk them
    r.ping_idle, r.ping_idle_failed = await ping_round_trips(pingers, 1000, 200)
    # (b) before (a): the ramp ends overloaded, and nothing of it should linger into the fixed-rate figures
    await offered_rate(idle, book, FIXED_RATE, 3, pid)  # warm-up
    spy = profile(pid, args.profile / "fixed-200.txt", int(args.fixed_seconds) - 2) if args.profile else None
    r.fixed, (r.ping_loaded, _) = await asyncio.gather(offered_rate(idle, book, FIXED_RATE, args.fixed_seconds, pid),
                                                       ping_round_trips(pingers, int(args.fixed_seconds * 50), 50))
    if spy is not None:
        await spy
        r.profiles.append(str(args.profile / "fixed-200.txt"))
    await wait_idle(pid)
    await ramp(r, idle, book, args, pid)
    await wait_idle(pid)
    if args.idle:
        r.idle, profiles = await idle_agents(server, url, list(tokens.values()), args, idle, book, pingers)
        r.profiles += profiles
    for agent in [*(a for p in pairs for a in (p.caller, p.callee)), *pingers]:
        agent.ws.transport.abort()
    return r


# -- report ------------------------------------------------------------------------------------------------------
def mib(n: float) -> str:
    return f"{n / (1 << 20):,.0f} MiB"


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def latency(samples: list[float]) -> str:
    return (f"p50 {percentile(samples, 0.5):.2f} ms, p99 {percentile(samples, 0.99):.2f} ms, "
            f"max {max(samples, default=float('nan')):.1f} ms")


def sustained_rate(r: Results) -> float:
    return max((s.offered for s in r.ramp if s.sustained), default=0.0)


def report_ramp(r: Results, args: argparse.Namespace) -> None:
    print(f"\n(a) ramp, {args.step_seconds:g} s per step, starts paced (open loop); latency = call.start -> Connected")
    print("    offered/s  achieved/s   p50 ms   p99 ms   max ms   server CPU  ms/set-up  client CPU  other CPU"
          "  start lag ms  failures")
    for s in r.ramp:
        per_setup = s.server_cpu * s.elapsed / s.completed * 1000 if s.completed else float("nan")
        print(f"    {s.offered:>9.0f}  {s.achieved:>10.0f}  {s.pct(0.5):>7.2f}  {s.pct(0.99):>7.2f}  "
              f"{max(s.latencies_ms, default=float('nan')):>7.1f}  {s.server_cpu:>11.0%}  {per_setup:>9.1f}  "
              f"{s.client_cpu:>10.0%}  {s.other_cpu:>9.0%}  {s.start_lag_ms:>12.1f}  {sum(s.failures.values())}")
    for s in r.ramp:
        if s.failures:
            print(f"    at {s.offered:.0f}/s: " + "; ".join(f"{n} x {why}" for why, n in s.failures.most_common(4)))
        elif not s.sustained:
            print(f"    at {s.offered:.0f}/s: no failure, but set-ups completed at {s.achieved:.0f}/s "
                  f"(< {SUSTAINED:.0%} of the offered rate)")
    if r.ramp and r.ramp[-1].sustained:
        print(f"    (every step sustained: the ramp stopped at its top, {r.ramp[-1].offered:.0f}/s)")
    print(f"    sustained: {sustained_rate(r):.0f} set-ups/s (the highest step with no failure)")


def report_fixed(r: Results, args: argparse.Namespace) -> None:
    f = r.fixed
    assert f is not None
    print(f"\n(b) fixed offered rate {FIXED_RATE}/s for {args.fixed_seconds:g} s (after a 3 s warm-up): "
          f"{f.completed} set-ups at {f.achieved:.0f}/s, failures {sum(f.failures.values())}")
    print(f"    call.start -> Connected: {latency(f.latencies_ms)}; server CPU {f.server_cpu:.0%}, client CPU "
          f"{f.client_cpu:.0%}, other {f.other_cpu:.0%}")
    if f.completed:
        print(f"    server CPU per set-up {f.server_cpu * f.elapsed / f.completed * 1000:.1f} ms; frames to the agents "
              f"per set-up {(f.frames_in - len(r.ping_loaded)) / f.completed:.1f} (3 from them)")
    print(f"    ping -> pong meanwhile on idle agents ({len(r.ping_loaded)} at 50/s): {latency(r.ping_loaded)}")
    for why, n in f.failures.most_common(3):
        print(f"    {n} x {why}")


def report_idle(i: IdleResult, args: argparse.Namespace) -> None:
    per_agent = (i.rss_after - i.rss_before) / i.reached if i.reached else float("nan")
    print(f"\n(c) idle agents: {i.reached:,} of {i.wanted:,} connected (hello, welcome) in {i.open_seconds:.1f} s, "
          f"{args.connect_concurrency} at a time; {i.alive}/{i.sampled} sampled answered ping")
    print(f"    server VmRSS before {mib(i.rss_before)}, with them {mib(i.rss_after)} "
          f"(+{mib(i.rss_after - i.rss_before)}, {per_agent / 1024:.1f} KiB per agent); server CPU while idle "
          f"{i.server_cpu_idle:.0%}; this process {mib(i.client_rss)}")
    for why, n in i.errors.most_common(3):
        print(f"    {n} x {why}")
    s = i.loaded
    print(f"    with them connected, {IDLE_RATE} set-ups/s for 10 s: {s.completed} at {s.achieved:.0f}/s, "
          f"failures {sum(s.failures.values())}, {latency(s.latencies_ms)}, server CPU {s.server_cpu:.0%}")
    print(f"    and ping -> pong meanwhile ({len(i.pings)} at 50/s): {latency(i.pings)}")


def report(r: Results, args: argparse.Namespace) -> list[str]:
    """Print the figures; returns what went wrong (the run's failures, not missed targets)."""
    print(f"\ncallbridge calling benchmark, signalling only ({os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC)")
    print(f"one server worker; {r.pairs} caller/callee pairs (one agent each), TLS WebSockets from this process "
          f"(uvloop), permessage-deflate {'offered' if args.compression else 'off'}")
    print(f"\nbaseline: ping -> pong on idle agents, {len(r.ping_idle)} round trips one at a time: "
          f"{latency(r.ping_idle)}")
    report_ramp(r, args)
    report_fixed(r, args)
    if r.idle is not None:
        report_idle(r.idle, args)
    f, i, best = r.fixed, r.idle, sustained_rate(r)
    assert f is not None
    busy = max(s.other_cpu for s in [f, *r.ramp, *([i.loaded] if i else [])])
    if busy > BUSY:
        print(f"\nWARNING: the rest of the machine used up to {busy:.0%} of a core during the run (another load, or "
              "a profiler): the figures are lower than this machine gives")
    print("\ntargets")
    print(f"    >= {TARGET_PER_S} set-ups/s sustained, one worker: {verdict(best >= TARGET_PER_S)} ({best:.0f}/s)")
    print(f"    p99 start -> Connected < {TARGET_P99_MS:.0f} ms at {FIXED_RATE}/s: "
          f"{verdict(f.pct(0.99) < TARGET_P99_MS and not f.failures)} ({f.pct(0.99):.1f} ms)")
    if i is not None:
        print(f"    < 1 GiB server RSS with {i.wanted:,} idle agents: "
              f"{verdict(i.rss_after < TARGET_IDLE_BYTES and i.reached == i.wanted)} "
              f"({mib(i.rss_after)} with {i.reached:,})")
    for path in r.profiles:
        print(f"    profile: {path}")
    return problems(r)


def problems(r: Results) -> list[str]:
    """The run's failures (not missed targets; the ramp's last step fails by design)."""
    out = []
    if r.ping_idle_failed:
        out.append(f"{r.ping_idle_failed} pings got no pong")
    if not sustained_rate(r):
        out.append("no step of the ramp was sustained")
    if r.fixed is not None and r.fixed.failures:
        out.append(f"{sum(r.fixed.failures.values())} set-ups failed at {FIXED_RATE}/s: {dict(r.fixed.failures)}")
    i = r.idle
    if i is not None:
        if i.reached < i.wanted:
            out.append(f"only {i.reached} of {i.wanted} idle agents connected: {i.errors.most_common(1)}")
        if i.alive < i.sampled:
            out.append(f"only {i.alive} of {i.sampled} sampled idle agents answered ping")
        if i.loaded.failures:
            out.append(f"{sum(i.loaded.failures.values())} set-ups failed beside the idle agents: "
                       f"{dict(i.loaded.failures)}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", type=int, nargs="+", default=RAMP, help="offered set-ups/s, the ramp's steps")
    parser.add_argument("--step-seconds", type=float, default=15, help="seconds per step of the ramp")
    parser.add_argument("--fixed-seconds", type=float, default=20, help=f"seconds at {FIXED_RATE}/s")
    parser.add_argument("--pairs", type=int, default=0, help="caller/callee pairs (default: highest rate / 5)")
    parser.add_argument("--idle", type=int, default=IDLE_AGENTS, help="idle agents for the memory figure (0: skip)")
    parser.add_argument("--connect-concurrency", type=int, default=100, help="idle agents opening at once")
    parser.add_argument("--no-compression", dest="compression", action="store_false",
                        help="do not offer permessage-deflate (browsers offer it, and so does this by default)")
    parser.add_argument("--profile", type=Path, help="a directory: py-spy the server at 200/s, at the ramp's top "
                                                     "and beside the idle agents")
    parser.add_argument("--budget", type=float, default=1200, help="seconds the whole run may take")
    args = parser.parse_args()
    args.pairs = args.pairs or max(50, -(-max(args.rates) // 5))
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    soft, hard = raise_open_files(args.idle + 2 * args.pairs + 1024)
    if soft < args.idle + 2 * args.pairs + 256:
        print(f"open files limited to {soft} (hard {hard}): fewer than {args.idle} idle agents can connect",
              file=sys.stderr)

    settings = throwaway_settings()
    server: Server | None = None
    try:
        asyncio.run(seed_and_describe(settings))
        info = json.loads((settings.data_dir / "demo.json").read_text())
        people = asyncio.run(add_bench_users(settings, info, args.pairs))
        server = start_server(settings, info["ca_file"], 1, SERVER_ENV)
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            results = runner.run(asyncio.wait_for(run_all(server, info, people, args), args.budget))
    finally:
        if server is not None:
            server.stop()
        cleanup(settings)
    failed = report(results, args)
    if failed:
        raise SystemExit("failures: " + "; ".join(failed))


if __name__ == "__main__":
    main()
