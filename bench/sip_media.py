"""The media figure of ``bench/sip_calls.py``: the gateway's CPU per concurrent call with audio flowing both ways.

N virtual phones (one process) call N users whose Python agents (another process, aiortc) accept with a tone;
once every call is connected and a few seconds have passed, the CPU of the callbridge server process (and of its
rtpengine daemon) is read from /proc over a window, beside the load generators' and the rest of the machine's.
The phones report what they heard in the window (samples and dominant frequency): the audio did flow.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.sip_load import CpuWatch

WARM_S, WINDOW_S = 3.0, 10.0


@dataclass
class MediaResult:
    engine: str
    calls: int
    cores: dict[str, float] = field(default_factory=dict)
    heard: list[dict[str, float]] = field(default_factory=list)
    error: str | None = None

    @property
    def gateway(self) -> float:
        return self.cores.get("callbridge", 0.0) + self.cores.get("rtpengine", 0.0)

    @property
    def per_call(self) -> float:
        return self.gateway / self.calls if self.calls else float("nan")

    @property
    def audio_ok(self) -> int:
        """Phones that heard the agent's tone for most of the window."""
        return sum(1 for h in self.heard if h["samples"] >= 0.8 * 8000 * WINDOW_S and abs(h["hz"] - 1000) < 20)


async def _line(stream: asyncio.StreamReader, timeout: float) -> str:
    raw = await asyncio.wait_for(stream.readline(), timeout)
    if not raw:
        raise EOFError("the process ended")
    return raw.decode().strip()


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.stdin is not None:
        with contextlib.suppress(Exception):
            process.stdin.close()
    try:
        await asyncio.wait_for(process.wait(), 15)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


async def measure(engine: str, base_url: str, ca_file: str, sip_port: int, server_pid: int, rtpengine_pid: int | None,
                  tokens: list[str], numbers: list[str], log_dir: Path) -> MediaResult:
    result = MediaResult(engine, len(numbers))
    python = [sys.executable, "-m", "bench.sip_peers"]
    cwd = Path(__file__).parent.parent
    with (log_dir / f"agents-{engine}-{len(numbers)}.log").open("wb") as log:
        agents = await asyncio.create_subprocess_exec(*python, "agents", "--base-url", base_url, "--ca-file", ca_file,
                                                      cwd=cwd, stdin=asyncio.subprocess.PIPE,
                                                      stdout=asyncio.subprocess.PIPE, stderr=log)
    phones: asyncio.subprocess.Process | None = None
    try:
        assert agents.stdin is not None and agents.stdout is not None
        agents.stdin.write(json.dumps(tokens).encode() + b"\n")
        await agents.stdin.drain()
        if await _line(agents.stdout, 120) != "ready":
            raise RuntimeError("the agents did not get ready")
        with (log_dir / f"phones-{engine}-{len(numbers)}.log").open("wb") as log:
            phones = await asyncio.create_subprocess_exec(
                *python, "phones", "--sip-port", str(sip_port), "--warm", str(WARM_S), "--window", str(WINDOW_S),
                *numbers, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=log)
        assert phones.stdout is not None
        for expected in ("connected", "mark"):
            line = await _line(phones.stdout, 60)
            if line != expected:
                raise RuntimeError(json.loads(line).get("error", line) if line.startswith("{") else line)
        own = {"callbridge": server_pid, "agents": agents.pid, "phones": phones.pid}
        if rtpengine_pid:
            own["rtpengine"] = rtpengine_pid
        watch = CpuWatch(own)
        report: dict[str, Any] = json.loads(await _line(phones.stdout, WINDOW_S + 30))
        result.cores = watch.stop()
        result.heard = report.get("heard", [])
    except (RuntimeError, EOFError, TimeoutError, json.JSONDecodeError) as exc:
        result.error = f"{type(exc).__name__}: {exc}"[:300]
    finally:
        if phones is not None:
            await _stop(phones)
        await _stop(agents)
    return result
