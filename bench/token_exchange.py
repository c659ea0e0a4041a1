"""Token exchange benchmark: the in-process cost of the cryptography, and end-to-end exchanges per second.

Run from the repository root::

    .venv/bin/python bench/token_exchange.py                 # defaults: 3000 requests at 1, 8 and 32 clients
    .venv/bin/python bench/token_exchange.py --clients 16 --requests 5000
    .venv/bin/python bench/token_exchange.py --profile       # also cProfile the server, print where time goes

It seeds a throwaway data directory with the demo data, starts ``callbridge serve`` (one process, one event
loop) in a subprocess on a free port, and measures, in one run:

(a) in this process, per operation (median and p99 over many runs): validating an organisation token
    (``callbridge.identity.tokens.verify``, RS256), signing a communication token
    (``callbridge.acs.tokens.issue``, ES256) and checking an HMAC request signature;
(b) over HTTPS, ``POST /acs/teamsUser/:exchangeAccessToken`` with N concurrent clients, each an
    ``httpx.AsyncClient`` holding one keep-alive connection and signing every request with the resource's
    access key: exchanges per second, p50 and p99 latency, and the CPU the server and the load generator used;
    then, as a reference, ``GET /healthz`` through the same stack and harness (no work: the ceiling here).

The load generator runs on the same machine as the server: on a small machine the two share the cores, and
the ``client CPU`` column says how much of them the generator took. The server is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from callbridge.acs import hmac_auth
from callbridge.acs import tokens as comm_tokens
from callbridge.acs.exchange import ACCEPTED_AUDIENCES
from callbridge.bootstrap import build
from callbridge.config import Settings
from callbridge.demo import seed_and_describe
from callbridge.identity.tokens import Expectation, verify

TEAMS_SCOPES = "https://auth.msft.communication.azure.com/Teams.ManageCalls " \
               "https://auth.msft.communication.azure.com/Teams.ManageChats"
API_VERSION = "2023-10-01"
EXCHANGE_PATH = f"/acs/teamsUser/:exchangeAccessToken?api-version={API_VERSION}"
TARGET_PER_S = 1000
AZURE_LIMIT = "500 per 30 s per resource (~16.7/s)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the server --------------------------------------------------------------------------------------------


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    ssl_context: ssl.SSLContext
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # uvicorn shuts down gracefully (and cProfile writes)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_server(settings: Settings, ca_file: str, profile_to: Path | None) -> Server:
    executable = Path(sys.executable).parent / "callbridge"
    command = [str(executable), "serve"]
    if profile_to is not None:
        command = [sys.executable, "-m", "cProfile", "-o", str(profile_to), *command]
    env = {**os.environ, "CALLBRIDGE_DATA_DIR": str(settings.data_dir),
           "CALLBRIDGE_HTTPS_PORT": str(settings.https_port), "CALLBRIDGE_BASE_URL": settings.public_base_url,
           "CALLBRIDGE_LOG_LEVEL": "WARNING"}
    log = settings.data_dir / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(process, settings.public_base_url, ssl.create_default_context(cafile=ca_file), log)
    deadline = time.monotonic() + 60
    with httpx.Client(verify=server.ssl_context, timeout=2) as c:
        while True:
            if process.poll() is not None:
                raise SystemExit(f"the server exited with {process.returncode}:\n{log.read_text()}")
            try:
                if c.get(f"{server.base_url}/healthz").status_code == 200:
                    return server
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                server.stop()
                raise SystemExit(f"the server did not start in 60 s:\n{log.read_text()}")
            time.sleep(0.1)


# --- (a) in process ----------------------------------------------------------------------------------------


def per_op_us(fn: Any, runs: int) -> tuple[float, float]:
    """(median, p99) microseconds per call."""
    for _ in range(min(200, runs)):
        fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - start)
    samples.sort()
    return statistics.median(samples) / 1000, samples[int(len(samples) * 0.99) - 1] / 1000


async def in_process(settings: Settings, org_token: str, access_key: str, runs: int) -> list[tuple[str, float, float]]:
    platform = await build(settings)
    try:
        idp_ring, comm_ring = platform.identity.ring, platform.acs.ring
        now = datetime.now(UTC)
        expect = Expectation(ACCEPTED_AUDIENCES)
        claims = verify(org_token, idp_ring, expect, now)
        expires_at = datetime.fromtimestamp(claims["exp"], UTC)
        issuer = platform.acs.issuer
        raw_id = f"8:orgid:{claims['oid']}"

        def issue() -> str:
            return comm_tokens.issue(comm_ring, issuer, raw_id, "resource", ("voip", "chat"), now, expires_at,
                                     tenant_id=claims["tid"])

        body = json.dumps({"token": org_token, "appId": claims["appid"], "userId": claims["oid"]}).encode()
        host = settings.public_base_url.split("://", 1)[1]
        date = formatdate(usegmt=True)
        headers = {k.lower(): v for k, v in hmac_auth.sign_headers("POST", EXCHANGE_PATH, host, body, access_key,
                                                                   date).items()}
        headers["host"] = host
        signed = hmac_auth.SignedRequest("POST", [EXCHANGE_PATH], [host, f"{host}/acs"], headers, body)

        def check_hmac() -> str:
            return hmac_auth.verify(signed, [access_key], now, settings.hmac_max_skew_s)

        # For comparison: the same communication token signed with a 2048-bit RSA key instead of P-256.
        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        comm_claims = jwt.decode(issue(), options={"verify_signature": False})

        def issue_rs256() -> str:
            return jwt.encode(comm_claims, rsa_key, algorithm="RS256", headers={"kid": "comparison"})

        return [
            (f"validate organisation token ({idp_ring.algorithm}, tokens.verify)",
             *per_op_us(lambda: verify(org_token, idp_ring, expect, now), runs)),
            (f"sign communication token ({comm_ring.algorithm}, acs.tokens.issue)", *per_op_us(issue, runs)),
            ("(comparison) the same token signed RS256, 2048-bit", *per_op_us(issue_rs256, runs)),
            ("check HMAC request signature (hmac_auth.verify)", *per_op_us(check_hmac, runs)),
        ]
    finally:
        await platform.db.close()


# --- (b) over HTTP -----------------------------------------------------------------------------------------


@dataclass
class LoadResult:
    clients: int
    requests: int
    seconds: float
    latencies_ms: list[float]
    errors: dict[int, int]
    server_cpu_s: float
    client_cpu_s: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


async def load(server: Server, bodies: list[bytes], access_key: str, clients: int, requests: int,
               warmup: int, reference: bool = False) -> LoadResult:
    """``reference``: GET /healthz instead, the same stack doing no work (this harness's ceiling)."""
    host = server.base_url.split("://", 1)[1]
    url = f"{server.base_url}{EXCHANGE_PATH}"
    pool = [httpx.AsyncClient(verify=server.ssl_context, timeout=60, limits=httpx.Limits(max_connections=1))
            for _ in range(clients)]
    latencies: list[float] = []
    errors: dict[int, int] = {}
    remaining = 0

    async def worker(client: httpx.AsyncClient, offset: int, record: bool) -> None:
        nonlocal remaining
        i = offset
        while remaining > 0:
            remaining -= 1
            body = bodies[i % len(bodies)]
            i += clients
            if reference:
                start = time.perf_counter()
                response = await client.get(f"{server.base_url}/healthz")
            else:
                headers = hmac_auth.sign_headers("POST", EXCHANGE_PATH, host, body, access_key,
                                                 formatdate(usegmt=True))
                headers["Content-Type"] = "application/json"
                start = time.perf_counter()
                response = await client.post(url, content=body, headers=headers)
            elapsed = (time.perf_counter() - start) * 1000
            if response.status_code != 200:
                errors[response.status_code] = errors.get(response.status_code, 0) + 1
            elif record:
                latencies.append(elapsed)

    try:
        remaining = warmup  # opens every connection (TLS handshakes) and warms the server's caches
        await asyncio.gather(*(worker(c, n, False) for n, c in enumerate(pool)))
        errors.clear()
        remaining = requests
        server_cpu, client_cpu = cpu_seconds(server.process.pid), time.process_time()
        start = time.perf_counter()
        await asyncio.gather(*(worker(c, n, True) for n, c in enumerate(pool)))
        seconds = time.perf_counter() - start
        server_cpu = cpu_seconds(server.process.pid) - server_cpu
        client_cpu = time.process_time() - client_cpu
    finally:
        await asyncio.gather(*(c.aclose() for c in pool))
    return LoadResult(clients, requests, seconds, latencies, errors, server_cpu, client_cpu)


# --- the run -----------------------------------------------------------------------------------------------


def organisation_tokens(server: Server, info: dict[str, Any], how_many: int) -> list[dict[str, str]]:
    """Teams-scoped tokens for a few demo users (password grant), with what the exchange's body needs."""
    tenant = next(t for t in info["tenants"] if t["name"] == "Fabrikam")
    client_id = info["app"]["client_id"]
    found = []
    with httpx.Client(base_url=server.base_url, verify=server.ssl_context, timeout=30) as c:
        for user in tenant["users"][:how_many]:
            r = c.post(f"/login/{tenant['id']}/oauth2/v2.0/token", data={
                "grant_type": "password", "client_id": client_id, "username": user["upn"],
                "password": user["password"], "scope": TEAMS_SCOPES})
            r.raise_for_status()
            found.append({"token": r.json()["access_token"], "appId": client_id, "userId": user["id"]})
    return found


def print_profile(path: Path, top: int) -> None:
    import pstats

    if not path.exists():
        print("\n(no profile was written)")
        return
    print(f"\nServer profile (cProfile, top {top} by own time; cProfile slows the server, so its rates are lower)")
    stats = pstats.Stats(str(path))
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)


def print_row(r: LoadResult) -> None:
    errors = ", ".join(f"{k}x{v}" for k, v in sorted(r.errors.items())) or "0"
    print(f"    {r.clients:>7}   {r.per_second:>11.0f}   {r.percentile(0.5):>6.1f}   {r.percentile(0.99):>6.1f}"
          f"   {r.server_cpu_s / r.seconds:>9.0%}   {r.client_cpu_s / r.seconds:>9.0%}   {errors}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32], help="concurrent clients per run")
    parser.add_argument("--requests", type=int, default=3000, help="measured requests per run")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured requests before each run")
    parser.add_argument("--runs", type=int, default=5000, help="in-process repetitions per operation")
    parser.add_argument("--profile", action="store_true", help="run the server under cProfile and print it")
    parser.add_argument("--no-reference", action="store_true", help="skip the GET /healthz reference runs")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="callbridge-bench-"))
    port = free_port()
    settings = Settings(data_dir=data_dir, https_port=port, base_url=f"https://localhost:{port}",
                        log_level="WARNING")
    server: Server | None = None
    profile_to = data_dir / "server.prof" if args.profile else None
    try:
        asyncio.run(seed_and_describe(settings))
        info = json.loads((data_dir / "demo.json").read_text())
        access_key = info["communication"]["connection_string"].split("accesskey=", 1)[1]
        server = start_server(settings, info["ca_file"], profile_to)
        bodies_json = organisation_tokens(server, info, 8)
        bodies = [json.dumps(b).encode() for b in bodies_json]

        micro = asyncio.run(in_process(settings, bodies_json[0]["token"], access_key, args.runs))
        results = [asyncio.run(load(server, bodies, access_key, n, args.requests, args.warmup))
                   for n in args.clients]
        reference = [] if args.no_reference else \
            [asyncio.run(load(server, bodies, access_key, n, min(args.requests, 1500), args.warmup, reference=True))
             for n in args.clients]
    finally:
        if server is not None:
            server.stop()

    cpus = os.cpu_count()
    print(f"\ncallbridge token exchange benchmark  ({cpus} CPUs, Python {sys.version.split()[0]}, "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC)")
    print(f"\n{f'(a) in process, {args.runs} runs each':<66}{'median µs':>10}{'p99 µs':>9}")
    for name, median, p99 in micro:
        print(f"    {name:<62}{median:>10.1f}{p99:>9.1f}")
    print(f"\n(b) HTTPS exchange, 1 server worker, {args.requests} requests after {args.warmup} warm-up"
          f"{' [server under cProfile]' if args.profile else ''}")
    print("    clients   exchanges/s   p50 ms   p99 ms   server CPU   client CPU   errors")
    for r in results:
        print_row(r)
    if reference:
        print(f"    reference: GET /healthz, {reference[0].requests} requests, same stack and harness (no work: "
              "the ceiling here)")
        print("    clients     answers/s   p50 ms   p99 ms   server CPU   client CPU   errors")
        for r in reference:
            print_row(r)
    best = max(r.per_second for r in results)
    verdict = "met" if best >= TARGET_PER_S else "MISSED"
    print(f"\n    target >= {TARGET_PER_S}/s on one node: {verdict} (best {best:.0f}/s); "
          f"Azure's published limit: {AZURE_LIMIT}")
    if profile_to is not None:
        print_profile(profile_to, 30)
    shutil.rmtree(data_dir, ignore_errors=True)
    if any(r.errors for r in results + reference):
        raise SystemExit("some exchanges failed")


if __name__ == "__main__":
    main()
