"""Token exchange benchmark: the in-process cost of each step, and exchanges per second over HTTPS.

Run from the repository root (``make bench`` runs this and bench/graph_queries.py)::

    .venv/bin/python -m bench.token_exchange
    .venv/bin/python -m bench.token_exchange --seconds 20 --connections 1 16 64

It seeds a throwaway data directory with the demo data, and measures in one run:

(a) in this process, per operation (median and p99): validating an organisation token (RS256), the directory
    look-up of the exchange (one query), signing a communication token (ES256; RSA-2048 beside it for
    comparison), checking the HMAC signature, and the whole ``exchange()`` service call;
(b) over HTTPS with wrk, for 1 and 2 server worker processes: ``POST /teamsUser/:exchangeAccessToken``
    (requests signed beforehand with the resource's access key, a fresh ``x-ms-date``, eight users' tokens in
    turn) beside its baseline ``GET /healthz`` through the same stack doing no work; exchanges per second,
    p50/p99 latency, the server's CPU, and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from bench.harness import (
    Server,
    WrkResult,
    cleanup,
    lua_rotating_requests,
    per_op_us,
    start_server,
    throwaway_settings,
    wrk,
)
from callbridge.acs import hmac_auth
from callbridge.acs import tokens as comm_tokens
from callbridge.acs.exchange import ACCEPTED_AUDIENCES, _directory_state, exchange
from callbridge.bootstrap import build
from callbridge.config import Settings
from callbridge.demo import seed_and_describe
from callbridge.identity.tokens import Expectation, verify

TEAMS_SCOPES = "https://auth.msft.communication.azure.com/Teams.ManageCalls " \
               "https://auth.msft.communication.azure.com/Teams.ManageChats"
EXCHANGE_PATH = "/teamsUser/:exchangeAccessToken?api-version=2023-10-01"
TARGET_PER_S = 1000
AZURE_LIMIT = "500 per 30 s per resource (~16.7/s)"


def organisation_tokens(server: Server, info: dict[str, Any], how_many: int) -> list[dict[str, str]]:
    """Teams-scoped tokens for a few demo users (password grant), as exchange request bodies."""
    tenant = next(t for t in info["tenants"] if t["name"] == "Fabrikam")
    client_id = info["app"]["client_id"]
    bodies = []
    with httpx.Client(base_url=server.base_url, verify=server.ssl_context, timeout=30) as c:
        for user in tenant["users"][:how_many]:
            r = c.post(f"/{tenant['id']}/oauth2/v2.0/token", data={
                "grant_type": "password", "client_id": client_id, "username": user["upn"],
                "password": user["password"], "scope": TEAMS_SCOPES})
            r.raise_for_status()
            bodies.append({"token": r.json()["access_token"], "appId": client_id, "userId": user["id"]})
    return bodies


async def in_process(settings: Settings, body: dict[str, str], access_key: str, runs: int) -> list[tuple[str, float,
                                                                                                          float]]:
    platform = await build(settings)
    try:
        acs, now = platform.acs, datetime.now(UTC)
        expect = Expectation(ACCEPTED_AUDIENCES)
        claims = verify(body["token"], acs.idp_ring, expect, now)
        expires_at = datetime.fromtimestamp(claims["exp"], UTC)

        def issue() -> str:
            return comm_tokens.issue(acs.ring, acs.issuer, f"8:orgid:{claims['oid']}", "resource", ("voip", "chat"),
                                     now, expires_at, tenant_id=claims["tid"])

        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        comm_claims = jwt.decode(issue(), options={"verify_signature": False})
        raw = json.dumps(body).encode()
        host = settings.public_base_url.split("://", 1)[1]
        signature = hmac_auth.sign_headers("POST", EXCHANGE_PATH, host, raw, access_key, formatdate(usegmt=True))
        headers = {k.lower(): v for k, v in signature.items()}
        signed = hmac_auth.SignedRequest("POST", [EXCHANGE_PATH], [host], headers, raw)
        rows = [
            ("validate organisation token (RS256, tokens.verify)",
             *per_op_us(lambda: verify(body["token"], acs.idp_ring, expect, now), runs)),
            ("sign communication token (ES256, acs.tokens.issue)", *per_op_us(issue, runs)),
            ("(comparison) the same token signed RS256, 2048-bit",
             *per_op_us(lambda: jwt.encode(comm_claims, rsa_key, algorithm="RS256"), runs)),
            ("check HMAC request signature (hmac_auth.verify)",
             *per_op_us(lambda: hmac_auth.verify(signed, [access_key], now, 900), runs)),
        ]
        for name, factory in (
            ("directory look-up: user, tenant, consent (1 query)",
             lambda: _directory_state(acs, claims["tid"], claims["oid"], claims["appid"])),
            ("whole exchange() service call", lambda: exchange(acs, body, "resource")),
        ):
            rows.append((name, *await _async_per_op(factory, runs)))
        return rows
    finally:
        await platform.db.close()


async def _async_per_op(factory: Any, runs: int) -> tuple[float, float]:
    for _ in range(200):
        await factory()
    samples = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        await factory()
        samples.append(time.perf_counter_ns() - start)
    samples.sort()
    return samples[len(samples) // 2] / 1000, samples[int(len(samples) * 0.99) - 1] / 1000


def over_https(settings: Settings, info: dict[str, Any], workers: int, connections: list[int],
               seconds: int) -> list[tuple[int, WrkResult, WrkResult]]:
    server = start_server(settings, info["ca_file"], workers)
    try:
        bodies = organisation_tokens(server, info, 8)
        key = info["communication"]["connection_string"].split("accesskey=", 1)[1]
        requests = []
        for body in bodies:
            raw = json.dumps(body)
            headers = hmac_auth.sign_headers("POST", EXCHANGE_PATH, server.host, raw.encode(), key,
                                             formatdate(usegmt=True))
            requests.append(("POST", EXCHANGE_PATH, {**headers, "Content-Type": "application/json"}, raw))
        script = lua_rotating_requests(requests, settings.data_dir / "exchange.lua")
        wrk(server, EXCHANGE_PATH, 4, 2, script)  # warm-up
        rows = []
        for n in connections:
            rows.append((n, wrk(server, EXCHANGE_PATH, n, seconds, script), wrk(server, "/healthz", n, seconds)))
        return rows
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 16], help="concurrent connections")
    parser.add_argument("--seconds", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--runs", type=int, default=5000, help="in-process repetitions per operation")
    args = parser.parse_args()

    settings = throwaway_settings()
    try:
        asyncio.run(seed_and_describe(settings))
        info = json.loads((settings.data_dir / "demo.json").read_text())
        key = info["communication"]["connection_string"].split("accesskey=", 1)[1]
        https = {w: over_https(settings, info, w, args.connections, args.seconds) for w in (1, 2)}
        probe = start_server(settings, info["ca_file"])
        try:
            body = organisation_tokens(probe, info, 1)[0]
        finally:
            probe.stop()
        micro = asyncio.run(in_process(settings, body, key, args.runs))
    finally:
        cleanup(settings)

    print(f"\ncallbridge token exchange benchmark ({os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC)")
    print(f"\n{f'(a) in process, {args.runs} runs each':<64}{'median µs':>10}{'p99 µs':>9}")
    for name, median, p99 in micro:
        print(f"    {name:<60}{median:>10.1f}{p99:>9.1f}")
    print(f"\n(b) HTTPS with wrk, {args.seconds} s per run; baseline GET /healthz (same stack, no work)")
    print("    workers  conns   exchanges/s   p50 ms   p99 ms  server CPU  |  healthz/s   ratio  errors")
    best = 0.0
    for workers, rows in https.items():
        for n, ex, base in rows:
            best = max(best, ex.per_second)
            print(f"    {workers:>7}  {n:>5}   {ex.per_second:>11.0f}   {ex.p50_ms:>6.2f}   {ex.p99_ms:>6.2f}"
                  f"  {ex.server_cpu:>9.0%}  |  {base.per_second:>9.0f}   {ex.per_second / base.per_second:>5.2f}"
                  f"  {ex.errors + base.errors}")
    verdict = "met" if best >= TARGET_PER_S else "MISSED"
    print(f"\n    target >= {TARGET_PER_S} exchanges/s on one node: {verdict} (best {best:.0f}/s); "
          f"Azure's published limit: {AZURE_LIMIT}")
    if any(ex.errors or base.errors for rows in https.values() for _, ex, base in rows):
        raise SystemExit("some requests failed")


if __name__ == "__main__":
    main()
