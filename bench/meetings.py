"""Meetings benchmark: joins per second and join-to-Connected latency on the shipped server, and how many audio
participants the conference mixer (Janus AudioBridge) carries with clean audio on this machine.

Run from the repository root (about 4 minutes; exits 1 if the run itself failed, not for a missed target)::

    .venv/bin/python -m bench.meetings
    .venv/bin/python -m bench.meetings --rates 10 20 --room-sizes 5 20 --no-reference

It seeds a throwaway data directory with the demo data (Alice's calendar holds four online meetings, all of which
let members of her tenant, Fabrikam, in without the lobby) and adds licensed bench users to Fabrikam, who sign in
and exchange their token as an app backend does. One ``callbridge serve`` (one worker, its Janus child process
started by it as in production, SIP off) runs throughout.

(1) joins (``bench/meeting_joins.py``): one TLS WebSocket agent per bench user, speaking the calling protocol
directly. Each meeting gets an anchor agent that stays in it; then joins are offered at fixed rates (a step each,
open loop, round robin over the four meetings' join links as Alice's calendar view gives them): ``call.join`` ->
``call.state`` Connected is the latency; the mixer's offer (``call.sdp`` with ``mediaSession``) is awaited but not
answered; the agent stays ``--dwell`` seconds and hangs up. A step is sustained when no join failed and joins
connected at >= 97% of the offered rate.

(2) audio capacity (``bench/meeting_audio.py``): this process opens its own session on **the server's Janus** (its
API address and secrets are read from the server's data directory, where ``callbridge serve`` wrote them) and
opens ``--rooms`` rooms at the server's sampling rate (8 kHz), each filled with N light plain-RTP PCMU
participants (UDP sockets of this process, each sending its own tone at 50 packets/s); a few listeners per room
are read. After a warm-up, Janus's CPU is read from /proc over a window while the listeners record; a step is
clean when every listener lost and got late at most 1% of packets, heard every other participant's tone within
10 dB of the level it was sent at, and its own tone at least 20 dB below it (FFT). The baseline, in the same run:
Janus idle (the same rooms open and empty). The steps go up to the first that is not clean.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import re
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvloop

from bench.call_setup import SERVER_ENV, BenchUser, communication_tokens, fabrikam_seeding, raise_open_files
from bench.harness import Server, cleanup, start_server, throwaway_settings, wait_idle
from bench.meeting_audio import LATE_MS, Crowd, Heard
from bench.meeting_joins import Joiner, JoinFailed, JoinStep, enter, leave, offered_rate, open_joiner
from bench.sip_calls import children_named
from bench.sip_load import CpuWatch
from callbridge.demo import seed_and_describe
from callbridge.directory import users
from callbridge.media.janus import JanusConference
from callbridge.media.janus_process import JanusAccess

RATES = [5, 10, 20, 40, 60, 80, 100, 150, 200]
ROOM_SIZES = [5, 10, 20, 30, 50, 75, 100, 150, 200]
TARGET_RATE, TARGET_P99_MS, TARGET_PARTICIPANTS = 20, 300.0, 100
BUSY = 0.25  # the rest of the machine's CPU (cores) above which the run is flagged
SERVER = {**SERVER_ENV, "CALLBRIDGE_CONFERENCE_ENGINE": "janus",
          # ranges of their own, away from the defaults that other servers on this machine may hold
          "CALLBRIDGE_JANUS_WEBRTC_PORT_MIN": "52000", "CALLBRIDGE_JANUS_WEBRTC_PORT_MAX": "52999",
          "CALLBRIDGE_JANUS_RTP_PORT_MIN": "53000", "CALLBRIDGE_JANUS_RTP_PORT_MAX": "54999"}


# -- set-up ------------------------------------------------------------------------------------------------------
async def add_members(settings: Any, info: dict[str, Any], count: int) -> list[BenchUser]:
    """``count`` licensed members of Fabrikam (Alice's tenant: they join her meetings without the lobby)."""
    made = []
    async with fabrikam_seeding(settings, info) as (s, tenant, cheap):
        for i in range(count):
            user = await users.create_user(s, tenant["id"], users.NewUser(
                upn=f"bench.joiner.{i}@{tenant['domain']}", display_name=f"Bench Joiner {i}", licences=["TEAMS"]))
            user.password_hash = cheap
            made.append(BenchUser(user.id, user.user_principal_name, "Bench-Agent-2026!"))
    return made


async def meeting_links(server: Server, info: dict[str, Any]) -> list[tuple[str, str]]:
    """(subject, join link) of the online meetings in Alice's calendar view (a week either side), via Graph."""
    fabrikam = next(t for t in info["tenants"] if t["name"] == "Fabrikam")
    alice = next(u for u in fabrikam["users"] if u["upn"].startswith("alice@"))
    now = datetime.now(UTC)
    async with httpx.AsyncClient(base_url=server.base_url, verify=server.ssl_context, timeout=30) as c:
        r = await c.post(f"/{fabrikam['id']}/oauth2/v2.0/token", data={
            "grant_type": "password", "client_id": info["app"]["client_id"], "username": alice["upn"],
            "password": alice["password"], "scope": "Calendars.Read"})
        r.raise_for_status()
        window = {"startDateTime": (now - timedelta(days=7)).isoformat(),
                  "endDateTime": (now + timedelta(days=7)).isoformat()}
        r = await c.get("/graph/v1.0/me/calendar/calendarView", params=window,
                        headers={"Authorization": f"Bearer {r.json()['access_token']}"})
        r.raise_for_status()
    return [(e["subject"], e["onlineMeeting"]["joinUrl"]) for e in r.json()["value"]
            if e.get("isOnlineMeeting") and e.get("onlineMeeting")]


def janus_access(data_dir: Path) -> JanusAccess:
    """The server's Janus: its API port and secrets, from the configuration ``callbridge serve`` wrote for it."""
    folder = data_dir / "janus"

    def setting(file: str, name: str) -> str:
        found = re.search(rf'\b{name}\s*=\s*"?([^"\s}}]+)"?', (folder / file).read_text())
        if found is None:
            raise SystemExit(f"no {name} in {folder / file}")
        return found.group(1)

    port = setting("janus.transport.websockets.jcfg", "ws_port")
    return JanusAccess(f"ws://127.0.0.1:{port}", setting("janus.jcfg", "api_secret"),
                       setting("janus.plugin.audiobridge.jcfg", "admin_key"))


# -- (1) joins ---------------------------------------------------------------------------------------------------
@dataclass
class JoinRun:
    meetings: list[str] = field(default_factory=list)
    agents: int = 0
    steps: list[JoinStep] = field(default_factory=list)
    error: str | None = None
    skipped: bool = False


async def joins(server: Server, janus_pid: int, tokens: list[str], links: list[tuple[str, str]],
                args: argparse.Namespace) -> JoinRun:
    run = JoinRun([subject for subject, _ in links])
    url = f"wss://localhost:{server.settings.https_port}/calling/ws"
    gate = asyncio.Semaphore(32)

    async def opened(token: str) -> Joiner:
        async with gate:
            return await open_joiner(url, server.ssl_context, token)

    agents = list(await asyncio.gather(*(opened(t) for t in tokens)))
    run.agents = len(agents)
    anchors, pool = agents[:len(links)], deque(agents[len(links):])
    processes = {"callbridge": server.process.pid, "janus": janus_pid}
    try:
        for anchor, (subject, link) in zip(anchors, links, strict=True):
            try:
                await enter(anchor, link)
            except JoinFailed as exc:
                run.error = f"the anchor could not join {subject!r}: {exc}"
                return run
        await offered_rate(pool, [link for _, link in links], 5, 2, args.dwell, processes)  # warm-up
        for rate in args.rates:
            await asyncio.sleep(1)
            step = await offered_rate(pool, [link for _, link in links], rate, args.step_seconds, args.dwell,
                                      processes)
            run.steps.append(step)
            print(f"  joins {rate:g}/s: {step.achieved:.1f}/s, p99 {step.connected(0.99):.1f} ms, "
                  f"failures {sum(step.failures.values())}", file=sys.stderr, flush=True)
            if not step.sustained:
                break
        for anchor in anchors:
            with contextlib.suppress(JoinFailed):
                await leave(anchor)
    finally:
        for agent in agents:
            agent.ws.transport.abort()
            agent.reader.cancel()
    return run


# -- (2) audio capacity ------------------------------------------------------------------------------------------
@dataclass
class AudioStep:
    rooms: int
    per_room: int
    cores: dict[str, float]
    heard: list[Heard]
    sender_lag_ms: float
    send_errors: int
    error: str | None = None
    attempt: int = 1

    @property
    def participants(self) -> int:
        return self.rooms * self.per_room

    @property
    def clean(self) -> bool:
        return self.error is None and bool(self.heard) and all(h.clean for h in self.heard)


@dataclass
class AudioRun:
    baseline: dict[str, float] = field(default_factory=dict)
    steps: list[AudioStep] = field(default_factory=list)
    error: str | None = None
    skipped: bool = False


async def audio(server: Server, janus_pid: int, args: argparse.Namespace) -> AudioRun:
    run = AudioRun()
    engine = JanusConference(janus_access(server.settings.data_dir))
    processes = {"janus": janus_pid, "callbridge": server.process.pid}
    try:
        await engine.start()
        empty = [f"bench-idle-{i}" for i in range(args.rooms)]
        for room in empty:
            await engine.open_room(room)
        await asyncio.sleep(args.warmup)
        watch = CpuWatch(processes)
        await asyncio.sleep(args.window)
        run.baseline = watch.stop()
        for room in empty:
            await engine.close_room(room)
        for size in args.room_sizes:
            for attempt in range(1 + args.retries):
                await asyncio.sleep(1 + 2 * attempt)
                step = await audio_step(engine, processes, size, args)
                step.attempt = attempt + 1
                run.steps.append(step)
                print(f"  audio {args.rooms} x {size}: janus {step.cores.get('janus', 0):.0%}, clean {step.clean}, "
                      f"other {step.cores.get('other', 0):.0%}", file=sys.stderr, flush=True)
                if step.clean or step.cores.get("other", 0) <= BUSY:
                    break  # a step spoilt while another load took the machine is measured again
            if not step.clean:
                break
    except Exception as exc:  # report what was measured, and why it stopped
        run.error = f"{type(exc).__name__}: {exc}"
    finally:
        with contextlib.suppress(Exception):
            await engine.close()
    return run


async def audio_step(engine: JanusConference, processes: dict[str, int], size: int,
                     args: argparse.Namespace) -> AudioStep:
    rooms = [f"bench-{size}-{i}" for i in range(args.rooms)]
    crowd = Crowd(engine, rooms, size, min(args.listeners, size))
    try:
        try:
            await crowd.open()
        except Exception as exc:
            return AudioStep(args.rooms, size, {}, [], 0.0, 0, f"{type(exc).__name__}: {exc}")
        await asyncio.sleep(args.warmup)
        gc.collect()
        gc.disable()  # this process's collector must not pause the senders mid-window
        crowd.sender_lag_ms = 0.0
        crowd.record(True)
        watch = CpuWatch(processes)
        await asyncio.sleep(args.window)
        cores = watch.stop()
        crowd.record(False)
        gc.enable()
        return AudioStep(args.rooms, size, cores, crowd.judge(), crowd.sender_lag_ms, crowd.send_errors)
    finally:
        await crowd.close()


# -- report ------------------------------------------------------------------------------------------------------
def report_joins(run: JoinRun, args: argparse.Namespace) -> list[str]:
    if run.skipped:
        return []
    print(f"\n(1) joins: {run.agents} agents (TLS WebSockets of this process), {len(run.meetings)} meetings "
          f"({'; '.join(run.meetings)}), one anchor in each; {args.step_seconds:g} s per step, open loop; "
          f"each joiner stays {args.dwell:g} s; the mixer's offer is not answered")
    if run.error:
        print(f"    NOT MEASURED: {run.error}")
        return [run.error]
    print("    offered/s  achieved/s  joins  Connected p50 ms  p99 ms   max ms  | offer p50 ms  p99 ms"
          "  | callbridge  ms/join   janus  ms/join   bench   other  in meetings  failures")
    for s in run.steps:
        c = s.cores
        print(f"    {s.offered:>9g}  {s.achieved:>10.1f}  {s.completed:>5}  {s.connected(0.5):>16.1f}  "
              f"{s.connected(0.99):>6.1f}  {max((t.connected_ms for t in s.timings), default=float('nan')):>7.1f}"
              f"  | {s.offered_ms(0.5):>12.1f}  {s.offered_ms(0.99):>6.1f}  | {c.get('callbridge', 0):>10.0%}  "
              f"{s.cpu_ms_per_join('callbridge'):>7.1f}  {c.get('janus', 0):>6.0%}  {s.cpu_ms_per_join('janus'):>7.1f}"
              f"  {c.get('bench', 0):>6.0%}  {c.get('other', 0):>6.0%}  {s.peak_in_meetings + len(run.meetings):>11}"
              f"  {sum(s.failures.values())}")
    for s in run.steps:
        for why, n in s.failures.most_common(3):
            print(f"    at {s.offered:g}/s: {n} x {why}")
        if not s.failures and not s.sustained:
            print(f"    at {s.offered:g}/s: joins connected at {s.achieved:.1f}/s (< 97% of the offered rate)")
    best = max((s.offered for s in run.steps if s.sustained), default=0)
    print(f"    sustained: {best:g} joins/s (the highest step with no failure)")
    return []


def report_audio(run: AudioRun, args: argparse.Namespace) -> list[str]:
    if run.skipped:
        return []
    print(f"\n(2) audio: {args.rooms} rooms (8 kHz) on the server's Janus, N plain-RTP PCMU participants in each, "
          f"each sending its tone at 50 packets/s; {args.listeners} listeners per room "
          f"judged over {args.window:g} s after {args.warmup:g} s")
    problems = []
    if run.baseline:
        b = run.baseline
        print(f"    baseline: Janus idle (rooms open, empty): janus {b.get('janus', 0):.1%} of a core, callbridge "
              f"{b.get('callbridge', 0):.1%}, other {b.get('other', 0):.0%}")
    print("    rooms x N  try  participants   janus  per participant  | bench  other  | listeners clean  lost  late"
          f"(>{LATE_MS:g} ms)  max jitter ms  weakest other dB  own dB  sent dB")
    idle = run.baseline.get("janus", 0.0)
    for s in run.steps:
        if s.error:
            print(f"    {s.rooms} x {s.per_room:<4}  {s.attempt:>3}  {s.participants:>12}  NOT MEASURED: {s.error}")
            continue
        c, h = s.cores, s.heard
        lost = sum(x.lost for x in h) / max(1, sum(x.packets + x.lost for x in h))
        late = sum(x.late for x in h) / max(1, sum(x.packets for x in h))
        per = (c.get("janus", 0) - idle) / s.participants
        print(f"    {s.rooms} x {s.per_room:<4}  {s.attempt:>3}  {s.participants:>12}  {c.get('janus', 0):>6.0%}  "
              f"{per:>15.2%}  | {c.get('bench', 0):>5.0%}  {c.get('other', 0):>5.0%}  | "
              f"{sum(x.clean for x in h):>6}/{len(h):<8}  "
              f"{lost:>4.1%}  {late:>13.1%}  {max(x.jitter_ms for x in h):>13.1f}  "
              f"{min(x.weakest_db for x in h):>16.1f}  {max(x.own_db for x in h):>6.1f}  {h[0].reference_db:>7.1f}")
    for s in run.steps:
        spoilt = [x for x in s.heard if not x.clean]
        if spoilt:
            print(f"    at {s.participants} (try {s.attempt}): {len(spoilt)} listeners not clean, e.g. "
                  f"{spoilt[0].participant}: {'; '.join(spoilt[0].faults())}")
        if s.sender_lag_ms > 20:
            print(f"    at {s.participants} (try {s.attempt}): this process's sender ran up to "
                  f"{s.sender_lag_ms:.0f} ms late")
    if run.error:
        print(f"    stopped: {run.error}")
        problems.append(f"audio: {run.error}")
    best = max((s.participants for s in run.steps if s.clean), default=0)
    top = run.steps[-1] if run.steps else None
    if top is not None and top.clean:
        print(f"    (every step clean: the steps stopped at their top, {top.participants})")
    print(f"    largest clean: {best} participants")
    return problems


def report(joined: JoinRun, heard: AudioRun, args: argparse.Namespace, load_before: str) -> list[str]:
    print(f"\ncallbridge meetings benchmark ({os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC); load average before the run: {load_before}")
    print("one server worker with its Janus AudioBridge child (callbridge serve); CPU in cores (100% = one core)")
    problems = report_joins(joined, args) + report_audio(heard, args)
    others = [s.cores.get("other", 0) for s in joined.steps] + [s.cores.get("other", 0) for s in heard.steps]
    if others and max(others) > BUSY:
        print(f"\nWARNING: the rest of the machine used up to {max(others):.0%} of a core during a step "
              "(another load): the figures are lower than this machine gives")
    at_target = next((s for s in joined.steps if s.offered == TARGET_RATE), None)
    best = max((s.participants for s in heard.steps if s.clean), default=0)
    print("\ntargets")
    if joined.skipped:
        pass
    elif at_target is None:
        print(f"    join p99 < {TARGET_P99_MS:g} ms at {TARGET_RATE} joins/s: NOT MEASURED (no {TARGET_RATE}/s step)")
    else:
        ok = at_target.sustained and at_target.connected(0.99) < TARGET_P99_MS
        print(f"    join p99 < {TARGET_P99_MS:g} ms at {TARGET_RATE} joins/s: {'met' if ok else 'MISSED'} "
              f"({at_target.connected(0.99):.1f} ms, {sum(at_target.failures.values())} failures)")
    if not heard.skipped:
        print(f"    >= {TARGET_PARTICIPANTS} concurrent audio participants with clean audio: "
              f"{'met' if best >= TARGET_PARTICIPANTS else 'MISSED'} ({best})")
    if not joined.skipped and not joined.error and not any(s.sustained for s in joined.steps):
        problems.append("no step of the joins was sustained")
    return problems


# -- the run -----------------------------------------------------------------------------------------------------
async def run_all(server: Server, info: dict[str, Any], people: list[BenchUser],
                  args: argparse.Namespace) -> tuple[JoinRun, AudioRun]:
    janus_pid = children_named(server.process.pid, "janus")
    if janus_pid is None:
        raise SystemExit(f"the server runs no janus child (is the Debian package janus installed?): {server.log}")
    tokens = await communication_tokens(server, info, people)
    links = await meeting_links(server, info)
    if not links:
        raise SystemExit("Alice's calendar view has no online meeting")
    joined = JoinRun([s for s, _ in links], skipped=True)
    if args.joins:
        joined = await joins(server, janus_pid, [tokens[u.id] for u in people], links, args)
        await wait_idle(server.process.pid, 20, 0.05)
    heard = await audio(server, janus_pid, args) if args.audio else AudioRun(skipped=True)
    return joined, heard


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", type=float, nargs="+", default=RATES, help="offered joins/s, a step each")
    parser.add_argument("--step-seconds", type=float, default=10)
    parser.add_argument("--dwell", type=float, default=2.0, help="seconds a joiner stays in the meeting")
    parser.add_argument("--agents", type=int, default=0, help="joining users (default: enough for the top rate)")
    parser.add_argument("--rooms", type=int, default=4, help="rooms of the audio steps")
    parser.add_argument("--room-sizes", type=int, nargs="+", default=ROOM_SIZES, help="participants per room")
    parser.add_argument("--listeners", type=int, default=2, help="participants read and judged per room")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before each audio window")
    parser.add_argument("--window", type=float, default=5.0, help="seconds of each audio window")
    parser.add_argument("--retries", type=int, default=2,
                        help="audio steps not clean while another load took over a quarter of a core: measured again")
    parser.add_argument("--no-joins", dest="joins", action="store_false")
    parser.add_argument("--no-audio", dest="audio", action="store_false")
    args = parser.parse_args()
    args.agents = args.agents or int(max(args.rates) * (args.dwell + 1.5)) + 8
    raise_open_files(args.agents + 4 * max(args.room_sizes) * args.rooms + 1024)
    load_before = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    settings = throwaway_settings()
    server: Server | None = None
    started = time.monotonic()
    try:
        asyncio.run(seed_and_describe(settings))
        info = json.loads((settings.data_dir / "demo.json").read_text())
        people = asyncio.run(add_members(settings, info, args.agents))
        server = start_server(settings, info["ca_file"], 1, SERVER)
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            joined, heard = runner.run(run_all(server, info, people, args))
    finally:
        if server is not None:
            server.stop()
        cleanup(settings)
    problems = report(joined, heard, args, load_before)
    print(f"\n(run took {time.monotonic() - started:.0f} s)")
    if problems:
        raise SystemExit("failures: " + "; ".join(problems))


if __name__ == "__main__":
    main()
