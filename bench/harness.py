"""What the benchmarks share: a throwaway data directory, ``callbridge serve`` in a subprocess, and wrk.

wrk (Debian's ``wrk``, a load generator written in C) drives the HTTPS load so that the generator, which shares
this machine's cores with the server, takes as little CPU as it can; ``make bench`` installs it.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from callbridge.config import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _descendants(pid: int) -> list[int]:
    found = [pid]
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in children.read_text().split():
            found += _descendants(int(child))
    return found


async def wait_idle(pid: int, limit_s: float = 30, busy_cpu_s: float = 0.25) -> None:
    """Wait (bounded) until the server is nearly idle again (under ``busy_cpu_s`` of CPU in a second): an overloaded
    step leaves a backlog of calls to end."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        await asyncio.sleep(1)
        if cpu_seconds(pid) - before < busy_cpu_s:
            return


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process and its live descendants (the worker processes; Linux)."""
    total = 0
    for each in _descendants(pid):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def throwaway_settings() -> Settings:
    port = free_port()
    data_dir = Path(tempfile.mkdtemp(prefix="callbridge-bench-"))
    return Settings(data_dir=data_dir, https_port=port, base_url=f"https://localhost:{port}", log_level="WARNING",
                    sip_enabled=False)


def per_op_us(fn: Callable[[], Any], runs: int) -> tuple[float, float]:
    """(median, p99) microseconds per call, after a warm-up."""
    for _ in range(min(200, runs)):
        fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - start)
    samples.sort()
    return statistics.median(samples) / 1000, samples[int(len(samples) * 0.99) - 1] / 1000


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    settings: Settings
    ssl_context: ssl.SSLContext
    log: Path

    @property
    def base_url(self) -> str:
        return self.settings.public_base_url

    @property
    def host(self) -> str:
        return self.base_url.split("://", 1)[1]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_server(settings: Settings, ca_file: str, workers: int = 1, env: dict[str, str] | None = None) -> Server:
    command = [str(Path(sys.executable).parent / "callbridge"), "serve", "--workers", str(workers)]
    env = {**os.environ, "CALLBRIDGE_DATA_DIR": str(settings.data_dir),
           "CALLBRIDGE_HTTPS_PORT": str(settings.https_port), "CALLBRIDGE_BASE_URL": settings.public_base_url,
           "CALLBRIDGE_LOG_LEVEL": "WARNING", "CALLBRIDGE_SIP_ENABLED": str(settings.sip_enabled).lower(),
           **(env or {})}
    log = settings.data_dir / f"server-{workers}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(process, settings, ssl.create_default_context(cafile=ca_file), log)
    deadline = time.monotonic() + 60
    with httpx.Client(verify=server.ssl_context, timeout=2) as c:
        while True:
            if process.poll() is not None:
                raise SystemExit(f"the server exited with {process.returncode}:\n{log.read_text()}")
            try:
                if c.get(f"{server.base_url}/healthz").status_code == 200:
                    time.sleep(0.5 * workers)  # let every worker finish starting
                    return server
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                server.stop()
                raise SystemExit(f"the server did not start in 60 s:\n{log.read_text()}")
            time.sleep(0.1)


def cleanup(settings: Settings) -> None:
    shutil.rmtree(settings.data_dir, ignore_errors=True)


@dataclass(frozen=True)
class WrkResult:
    per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    server_cpu: float  # cores used by the server over the run (1.0 = one core)


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(server: Server, path: str, connections: int, seconds: int, script: Path | None = None,
        headers: dict[str, str] | None = None) -> WrkResult:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: run `make bench` (as root it installs Debian's wrk)")
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-H", f"Host: {server.host}"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if script is not None:
        command += ["-s", str(script)]
    before = cpu_seconds(server.process.pid)
    started = time.monotonic()
    out = subprocess.run([*command, f"{server.base_url}{path}"], capture_output=True, text=True, check=True).stdout
    elapsed = time.monotonic() - started
    server_cpu = (cpu_seconds(server.process.pid) - before) / elapsed
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.MULTILINE))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, sockets.groups())) if sockets else 0)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return WrkResult(rate, _ms(latency["50"]), _ms(latency["99"]), errors, server_cpu)


def lua_rotating_requests(requests: list[tuple[str, str, dict[str, str], str]], path: Path) -> Path:
    """A wrk script sending the given (method, path, headers, body) requests in turn."""
    def quote(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    lines = ["local reqs = {}"]
    for i, (method, target, headers, body) in enumerate(requests, 1):
        table = ", ".join(f"[{quote(k)}] = {quote(v)}" for k, v in headers.items())
        lines.append(f"reqs[{i}] = wrk.format({quote(method)}, {quote(target)}, {{{table}}}, {quote(body)})")
    lines.append("local n = 0\nrequest = function()\n  n = n % #reqs + 1\n  return reqs[n]\nend")
    path.write_text("\n".join(lines) + "\n")
    return path
