"""The phone side (SIP) benchmark: inbound calls per second through callbridge's trunk side, beside Kamailio
relaying the same calls, and the media gateway's CPU per concurrent call with audio flowing.

Run from the repository root (``make bench`` runs it after the others; about 5 minutes)::

    .venv/bin/python -m bench.sip_calls
    .venv/bin/python -m bench.sip_calls --rates 100 200 300 --step-seconds 10 --no-media
    .venv/bin/python -m bench.sip_calls --profile /tmp/prof     # py-spy the server during the rtpengine ramp

(1) sipp (Debian's ``sip-tester``) is the carrier: it runs ``bench/sipp/uac.xml`` from 127.0.0.1, which the demo's
trunk allows (its limits lifted for the run), at callbridge's SIP port (UDP): INVITE with a PCMU SDP to a bench
user's number (200 users with TEAMS + TEAMS_PHONE and a number each, taken in turn), 100/180 optional, 200, ACK,
500 ms, BYE, 200. Each user has one agent, a TLS WebSocket of this process, that accepts every ``call.incoming`` at
once with a static WebRTC answer (signalling only; the gateway still converts both SDPs: the phone's offer into
the agents' WebRTC offer, the agent's answer into the phone's plain-RTP answer). The offered rates form a ramp,
10 s a step, up to the first step saturated (a failed call, or 200s at < 97% of the offered rate). A step is
sustained when it is not saturated, has no retransmission and a p99 INVITE -> 200 under 50 ms; p99 is of
INVITE -> 200 as sipp measured it (millisecond resolution). One server worker (SIP runs only with one), with
media_engine=rtpengine (the daemon started by the server), then media_engine=aiortc (a peer connection per call;
a shorter ramp). A few calls first check that the agents' answer is taken.
(2) the reference: Kamailio (Debian's package) as a stateful relay in front of a sipp UAS, the same scenario and
ramp, as docs/reference measured it (2 UDP children, ``-m 256``).
(3) the gateway's CPU per concurrent call with audio both ways, for each engine, at 10 and 20 concurrent calls:
virtual phones (callbridge.carrier; one process) call users whose Python agents (callbridge.sdk with aiortc;
another process) accept with a tone; /proc gives the CPU of the server process and of its rtpengine over 10 s.

Every step prints the CPU of each process (in cores) and the rest of the machine's (another engineer's tests show
there; the run is flagged when it is high).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvloop

from bench.call_setup import SERVER_ENV, BenchUser, communication_tokens, profile, raise_open_files
from bench.harness import Server, cleanup, start_server, throwaway_settings, wait_idle
from bench.sip_agents import Answering, add_phone_users, open_answering
from bench.sip_load import P99_LIMIT_MS, Step, free_udp_port, ramp, sipp_step, start_reference, write_numbers
from bench.sip_media import WINDOW_S, MediaResult, measure
from callbridge.config import Settings
from callbridge.demo import seed_and_describe

RAMP = [50, 100, 200, 300, 400, 500, 600, 800, 1000]
AIORTC_RAMP = [5, 10, 20, 50, 100, 200]
MEDIA_CALLS = [10, 20]
CALLEES = 200  # users answering the signalling ramp (one agent each: 5 accepts/s each at 1,000 calls/s)
TARGET_PER_S = 300
BUSY = 0.25  # the rest of the machine's CPU (cores) above which the run is flagged


@dataclass
class EngineRun:
    engine: str
    check: Step | None = None
    steps: list[Step] = field(default_factory=list)
    media: list[MediaResult] = field(default_factory=list)
    answering: Answering = field(default_factory=Answering)
    error: str | None = None
    profiles: list[str] = field(default_factory=list)


def children_named(pid: int, name: str) -> int | None:
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in children.read_text().split():
            try:
                if Path(f"/proc/{child}/comm").read_text().strip() == name:
                    return int(child)
            except FileNotFoundError:
                continue
    return None


def server_env(engine: str, sip_port: int) -> dict[str, str]:
    return {**SERVER_ENV, "CALLBRIDGE_SIP_ENABLED": "true", "CALLBRIDGE_SIP_PORT": str(sip_port),
            "CALLBRIDGE_SIP_TRANSPORTS": '["udp"]', "CALLBRIDGE_MEDIA_ENGINE": engine,
            "CALLBRIDGE_CARRIER_ENABLED": "false", "CALLBRIDGE_RTP_PORT_MIN": "20000",
            "CALLBRIDGE_RTP_PORT_MAX": "29999"}


async def run_engine(engine: str, settings: Settings, info: dict[str, Any], callees: list[tuple[BenchUser, str]],
                     media_users: list[tuple[BenchUser, str]], tokens: dict[str, str], args: argparse.Namespace,
                     workdir: Path) -> EngineRun:
    run = EngineRun(engine)
    sip_port = free_udp_port()
    server = start_server(settings, info["ca_file"], 1, server_env(engine, sip_port))
    try:
        if not tokens:  # the first server signs them; the keys stay in the data directory for the next
            people = [u for u, _ in callees] + [u for u, _ in media_users]
            tokens.update(await communication_tokens(server, info, people))
        pid = server.process.pid
        rtpengine = children_named(pid, "rtpengine") if engine == "rtpengine" else None
        own = {"callbridge": pid, **({"rtpengine": rtpengine} if rtpengine else {})}
        target = ("127.0.0.1", sip_port)
        numbers = write_numbers(workdir / "numbers.csv", [n for _, n in callees])
        url = f"wss://localhost:{settings.https_port}/calling/ws"
        agents = await open_answering(url, server.ssl_context, [tokens[u.id] for u, _ in callees], 1, run.answering)
        try:
            run.check = await sipp_step(target, numbers, 5, 1, workdir / f"{engine}-check", own)
            if run.check.successful != run.check.calls:
                run.error = (f"the first {run.check.calls} calls did not all succeed ({run.check.failures}); "
                             f"sipp: {run.check.errors[:2]}; server log: {tail(server)}")
                return run
            if args.media:  # before the ramp: its last step ends overloaded
                await wait_idle(pid, 20, 0.05)
                for size in args.media_calls:
                    pairs = media_users[:size]
                    result = await measure(engine, server.base_url, info["ca_file"], sip_port, pid, rtpengine,
                                           [tokens[u.id] for u, _ in pairs], [n for _, n in pairs], workdir)
                    run.media.append(result)
                    print(f"  media {engine} {size} calls: gateway {result.gateway:.0%} of a core, "
                          f"{result.per_call:.1%} per call, audio ok {result.audio_ok}/{size} {result.error or ''}",
                          flush=True)
                    await wait_idle(pid, 20, 0.05)
            rates = args.rates if engine == "rtpengine" else args.aiortc_rates
            seconds = args.step_seconds if engine == "rtpengine" else args.aiortc_step_seconds
            if args.profile and engine == "rtpengine":
                run.steps = await profiled_ramp(run, pid, target, numbers, rates, seconds, workdir, own, args)
            else:
                run.steps = await ramp(f"callbridge/{engine}", target, numbers, rates, seconds, workdir, own)
        finally:
            for agent in agents:
                await agent.close()
    finally:
        server.stop()
    return run


async def profiled_ramp(run: EngineRun, pid: int, target: tuple[str, int], numbers: Path, rates: list[float],
                        seconds: float, workdir: Path, own: dict[str, int], args: argparse.Namespace) -> list[Step]:
    steps = []
    for rate in rates:
        await asyncio.sleep(2)
        path = args.profile / f"sip-{rate:g}.txt"
        spy = profile(pid, path, max(2, int(seconds) - 2))
        step = await sipp_step(target, numbers, rate, seconds, workdir / f"profiled-{rate:g}", own)
        await spy
        run.profiles.append(str(path))
        steps.append(step)
        print(f"  profiled {rate:g}/s: {step.successful}/{step.calls}, {step.achieved:.0f}/s", flush=True)
        if step.saturated:
            break
    return steps


def tail(server: Server, lines: int = 8) -> str:
    try:
        return " | ".join(server.log.read_text(errors="replace").splitlines()[-lines:])[-1500:]
    except FileNotFoundError:
        return "(no log)"


async def run_reference(args: argparse.Namespace, numbers: list[str], workdir: Path) -> list[Step]:
    reference = start_reference(workdir / "kamailio")
    try:
        path = write_numbers(workdir / "kamailio" / "numbers.csv", numbers)
        return await ramp("kamailio", ("127.0.0.1", reference.port), path, args.rates, args.step_seconds,
                          workdir / "kamailio", {"sipp UAS": reference.uas.pid}, {"kamailio": reference.kamailio.pid})
    finally:
        reference.stop()


# -- report ------------------------------------------------------------------------------------------------------
def sustained(steps: list[Step]) -> Step | None:
    ok = [s for s in steps if s.sustained]
    return max(ok, key=lambda s: s.offered) if ok else None


def print_steps(steps: list[Step], server: str, extra: str | None) -> None:
    head = f"    offered/s  achieved/s   ok/calls   p50 ms  p99 ms   max ms  {server:>10}"
    head += f"  {extra:>10}" if extra else ""
    print(head + "    sipp   bench   other  failures")
    for s in steps:
        cpu = s.cpu
        row = (f"    {s.offered:>9g}  {s.achieved:>10.0f}  {s.successful:>5}/{s.calls:<5}  {s.pct(0.5):>6.0f}  "
               f"{s.pct(0.99):>6.0f}  {max(s.rtt_ms, default=float('nan')):>7.0f}  {cpu.get(server, 0):>10.0%}")
        row += f"  {cpu.get(extra, 0):>10.0%}" if extra else ""
        failures = ", ".join(f"{k} {v}" for k, v in s.failures.items()) or "0"
        print(row + f"  {cpu.get('sipp', 0):>6.0%}  {cpu.get('bench', 0):>6.0%}  {cpu.get('other', 0):>6.0%}  "
              f"{failures}")
    for s in steps:
        if not s.sustained:
            print(f"    at {s.offered:g}/s: {s.shortfall}" + (f"; sipp: {s.errors[0][:200]}" if s.errors else ""))
    if steps and not steps[-1].saturated:
        print(f"    (no step saturated: the ramp stopped at its top, {steps[-1].offered:g}/s)")
    best = sustained(steps)
    if best is None:
        print("    sustained: none")
    else:
        print(f"    sustained: {best.offered:g} calls/s (200s at {best.achieved:.0f}/s), "
              f"p99 INVITE->200 {best.pct(0.99):.0f} ms there")


def report_media(media: list[MediaResult]) -> list[str]:
    problems: list[str] = []
    if not media:
        return problems
    print(f"\n(3) gateway CPU per concurrent call, audio both ways (PCMU phones <-> WebRTC agents), "
          f"{WINDOW_S:g} s window after the calls settled")
    print("    engine     calls  callbridge  rtpengine  gateway  per call  | agents proc  phones proc  "
          "other  audio heard")
    for m in media:
        if m.error:
            print(f"    {m.engine:<9}  {m.calls:>5}  NOT MEASURED: {m.error}")
            problems.append(f"media {m.engine} {m.calls}: {m.error[:200]}")
            continue
        c = m.cores
        rtp = f"{c['rtpengine']:>9.0%}" if "rtpengine" in c else f"{'-':>9}"
        print(f"    {m.engine:<9}  {m.calls:>5}  {c.get('callbridge', 0):>10.0%}  {rtp}  {m.gateway:>7.0%}  "
              f"{m.per_call:>8.1%}  | {c.get('agents', 0):>11.0%}  {c.get('phones', 0):>11.0%}  "
              f"{c.get('other', 0):>5.0%}  {m.audio_ok}/{m.calls} phones")
    busy = max(sum(m.cores.values()) for m in media)
    print(f"    (the machine's total while measuring: up to {busy:.0%} of {os.cpu_count()} cores; the agents' "
          "aiortc is the largest load and shares the cores with the gateway)")
    return problems


def report(runs: list[EngineRun], reference: list[Step], args: argparse.Namespace, load_before: str) -> list[str]:
    problems = []
    print(f"\ncallbridge phone side (SIP) benchmark ({os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC); load average before the run: {load_before}")
    print(f"one server worker, SIP over UDP on 127.0.0.1; {CALLEES} callee users with one answering agent each "
          "(TLS WebSockets of this process);")
    print("sipp as the carrier: INVITE (PCMU) -> 100/180 -> 200, ACK, 500 ms, BYE -> 200; CPU in cores "
          "(100% = one core)")
    for part, run in zip("ab", runs, strict=False):
        seconds = args.step_seconds if run.engine == "rtpengine" else args.aiortc_step_seconds
        print(f"\n(1{part}) inbound calls, media_engine={run.engine}, {seconds:g} s per step")
        if run.check is not None:
            print(f"    check: {run.check.successful}/{run.check.calls} calls answered through the gateway "
                  f"(p99 {run.check.pct(0.99):.0f} ms); agents over the run: {run.answering.incoming} call.incoming, "
                  f"accepted {run.answering.accepted}, errors {run.answering.errors or 0}")
        if run.error:
            print(f"    NOT MEASURED: {run.error}")
            problems.append(f"{run.engine}: {run.error[:200]}")
            continue
        print_steps(run.steps, "callbridge", "rtpengine" if run.engine == "rtpengine" else None)
    if reference:
        print("\n(2) reference: Kamailio (stateful relay, 2 UDP children, -m 256) -> sipp UAS (180, 200), "
              "same scenario")
        print_steps(reference, "kamailio", "sipp UAS")
    cb, ka = sustained(runs[0].steps) if runs else None, sustained(reference)
    if cb is not None and ka is not None:
        print(f"    callbridge (rtpengine) / kamailio at the highest sustained step: {cb.offered:g} / "
              f"{ka.offered:g} = {cb.offered / ka.offered:.2f}; p99 INVITE->200 {cb.pct(0.99):.0f} ms vs "
              f"{ka.pct(0.99):.0f} ms")
    problems += report_media([m for run in runs for m in run.media])
    others = [s.cpu.get("other", 0) for run in runs for s in run.steps] + [s.cpu.get("other", 0) for s in reference]
    if others and max(others) > BUSY:
        print(f"\nWARNING: the rest of the machine used up to {max(others):.0%} of a core during a step "
              "(another load): the figures are lower than this machine gives")
    print("\ntarget")
    best = cb.offered if cb else 0
    print(f"    >= {TARGET_PER_S} inbound calls/s (one worker, rtpengine) with no retransmission and p99 INVITE->200 "
          f"< {P99_LIMIT_MS:g} ms: {'met' if best >= TARGET_PER_S else 'MISSED'} ({best:g}/s)")
    for run in runs:
        for path in run.profiles:
            print(f"    profile: {path}")
    if cb is None:
        problems.append("no step of callbridge's ramp was sustained")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", type=float, nargs="+", default=RAMP, help="offered calls/s (rtpengine, kamailio)")
    parser.add_argument("--step-seconds", type=float, default=10)
    parser.add_argument("--aiortc-rates", type=float, nargs="+", default=AIORTC_RAMP)
    parser.add_argument("--aiortc-step-seconds", type=float, default=5)
    parser.add_argument("--engines", nargs="+", default=["rtpengine", "aiortc"], choices=["rtpengine", "aiortc"])
    parser.add_argument("--no-media", dest="media", action="store_false", help="skip (3), the CPU with audio")
    parser.add_argument("--media-calls", type=int, nargs="+", default=MEDIA_CALLS, help="concurrent calls in (3)")
    parser.add_argument("--no-reference", dest="reference", action="store_false", help="skip (2), Kamailio")
    parser.add_argument("--profile", type=Path, help="a directory: py-spy the server during the rtpengine ramp")
    args = parser.parse_args()
    for tool in ("sipp", *(["kamailio"] if args.reference else [])):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed: run `make bench` (as root it installs the Debian package)")
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    raise_open_files(8192)
    load_before = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    settings = throwaway_settings().model_copy(update={"sip_enabled": True})
    workdir = Path(tempfile.mkdtemp(prefix="callbridge-sip-bench-"))
    runs: list[EngineRun] = []
    reference: list[Step] = []
    try:
        asyncio.run(seed_and_describe(settings))
        info = json.loads((settings.data_dir / "demo.json").read_text())
        people = asyncio.run(add_phone_users(settings, info, CALLEES + max(args.media_calls)))
        callees, media_users = people[:CALLEES], people[CALLEES:]
        tokens: dict[str, str] = {}
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            for engine in args.engines:
                runs.append(runner.run(run_engine(engine, settings, info, callees, media_users, tokens, args,
                                                  workdir)))
            if args.reference:
                reference = runner.run(run_reference(args, [n for _, n in callees], workdir))
    finally:
        cleanup(settings)
        keep = args.profile is not None or bool(os.environ.get("CALLBRIDGE_BENCH_KEEP"))
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    problems = report(runs, reference, args, load_before)
    if problems:
        raise SystemExit("failures: " + "; ".join(problems))


if __name__ == "__main__":
    main()
