"""Directory API benchmark: p50/p99 latency of a filtered, paged ``/users`` in a tenant of 10,000 users and of
``calendarView`` over a month for a user with 500 events, beside the baseline ``GET /healthz``.

Run from the repository root (``make bench`` runs it)::

    .venv/bin/python -m bench.graph_queries
    .venv/bin/python -m bench.graph_queries --users 10000 --events 500 --seconds 10

One server worker, SQLite store; wrk sends one request at a time (1 connection), so the latencies are those of
a single client; the pages of ``/users`` are the real ``@odata.nextLink`` URLs, sent in turn.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import insert, select

from bench.harness import Server, WrkResult, cleanup, lua_rotating_requests, start_server, throwaway_settings, wrk
from callbridge.demo import seed_and_describe
from callbridge.store.db import Database
from callbridge.store.models import Event, EventAttendee, User

FIRST = ["Aaron", "Bianca", "Carlos", "Dana", "Elif", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kira", "Luca",
         "Maya", "Nils", "Olga", "Priya", "Quentin", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wei", "Ximena",
         "Yusuf", "Zoe"]
LAST = ["Berg", "Chen", "Diaz", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito", "Jansen", "Kowalski", "Larsen",
        "Moreau", "Novak", "Okafor", "Petrov", "Rossi", "Silva", "Tanaka", "Urban", "Varga", "Weber", "Yilmaz"]
TARGET_MS = 20.0


async def populate(url: str, tenant_id: str, domain: str, organizer_id: str, users: int, events: int) -> None:
    rng = random.Random(7)
    now = datetime.now(UTC)
    db = Database(url)
    try:
        async with db.transaction() as s:
            rows = []
            for i in range(users):
                first, last = rng.choice(FIRST), rng.choice(LAST)
                upn = f"{first.lower()}.{last.lower()}.{i}@{domain}"
                rows.append({"id": str(uuid.UUID(int=rng.getrandbits(128))), "tenant_id": tenant_id,
                             "user_principal_name": upn, "display_name": f"{first} {last}", "given_name": first,
                             "surname": last, "mail": upn, "business_phones": [], "account_enabled": True,
                             "is_tenant_admin": False, "enterprise_voice_enabled": False, "created_at": now})
            await s.execute(insert(User), rows)
            start = now - timedelta(days=180)
            event_rows, attendee_rows = [], []
            for i in range(events):
                begins = start + timedelta(hours=rng.randrange(0, 365 * 24))
                event_id = f"AAMkBench{i:05d}"
                event_rows.append({"id": event_id, "tenant_id": tenant_id, "organizer_id": organizer_id,
                                   "subject": f"Meeting {i}", "body_type": "text", "body_content": "",
                                   "start_at": begins, "end_at": begins + timedelta(minutes=30), "start_zone": "UTC",
                                   "end_zone": "UTC", "is_all_day": False, "location": "", "show_as": "busy",
                                   "importance": "normal", "is_online_meeting": i % 2 == 0,
                                   "online_provider": "teamsForBusiness" if i % 2 == 0 else "unknown",
                                   "join_url": f"https://example/meet/{i}" if i % 2 == 0 else None,
                                   "lobby_bypass_scope": "organization", "created_at": now, "modified_at": now})
                attendee_rows.append({"event_id": event_id, "email": f"guest{i}@example.com", "position": 0,
                                      "name": f"Guest {i}", "kind": "required", "response": "none"})
            await s.execute(insert(Event), event_rows)
            await s.execute(insert(EventAttendee), attendee_rows)
            assert await s.scalar(select(User.id).where(User.id == organizer_id))
    finally:
        await db.close()


def token(server: Server, info: dict[str, Any]) -> str:
    tenant = info["tenants"][0]
    alice = tenant["users"][1]
    with httpx.Client(verify=server.ssl_context, timeout=30) as c:
        r = c.post(f"{server.base_url}/{tenant['id']}/oauth2/v2.0/token", data={
            "grant_type": "password", "client_id": info["app"]["client_id"], "username": alice["upn"],
            "password": alice["password"], "scope": "User.ReadBasic.All Calendars.Read"})
        r.raise_for_status()
        return str(r.json()["access_token"])


def user_pages(server: Server, bearer: dict[str, str], letter: str) -> list[str]:
    """The first page and every nextLink of a filtered, paged /users."""
    query = urlencode({"$filter": f"startswith(displayName,'{letter}')", "$top": "100",
                       "$select": "id,displayName,mail"})
    paths = [f"/graph/v1.0/users?{query}"]
    with httpx.Client(verify=server.ssl_context, timeout=30, headers=bearer) as c:
        for _ in range(1000):
            body = c.get(f"{server.base_url}{paths[-1]}").raise_for_status().json()
            link = body.get("@odata.nextLink")
            if not link:
                return paths
            paths.append(link.removeprefix(server.base_url))
    raise SystemExit("paging never ended")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()

    settings = throwaway_settings()
    results: dict[str, WrkResult] = {}
    try:
        asyncio.run(seed_and_describe(settings))
        info = json.loads((settings.data_dir / "demo.json").read_text())
        fabrikam = info["tenants"][0]
        asyncio.run(populate(settings.effective_database_url, fabrikam["id"], fabrikam["domain"],
                             fabrikam["users"][1]["id"], args.users, args.events))
        unthrottled = {"CALLBRIDGE_GRAPH_REQUESTS_PER_SECOND": "1000000", "CALLBRIDGE_GRAPH_BURST": "1000000",
                       "CALLBRIDGE_GRAPH_USER_REQUESTS_PER_SECOND": "1000000", "CALLBRIDGE_GRAPH_USER_BURST": "1000000"}
        server = start_server(settings, info["ca_file"], env=unthrottled)
        try:
            bearer = {"Authorization": f"Bearer {token(server, info)}"}
            pages = user_pages(server, bearer, "M")
            now = datetime.now(UTC)
            month = urlencode({"startDateTime": now.isoformat(), "endDateTime": (now + timedelta(days=30)).isoformat(),
                               "$top": "100"})
            view = f"/graph/v1.0/me/calendar/calendarView?{month}"
            with httpx.Client(verify=server.ssl_context, headers=bearer) as c:
                in_month = len(c.get(f"{server.base_url}{view}").raise_for_status().json()["value"])
            script = lua_rotating_requests([("GET", p, bearer, "") for p in pages],
                                           settings.data_dir / "pages.lua")
            wrk(server, "/healthz", 1, 2)  # warm-up
            results[f"/users filtered, {len(pages)} pages of 100 in turn"] = wrk(server, pages[0], 1, args.seconds,
                                                                                 script)
            results[f"calendarView, one month ({in_month} of {args.events} events)"] = wrk(
                server, view, 1, args.seconds, headers=bearer)
            results["baseline: GET /healthz"] = wrk(server, "/healthz", 1, args.seconds)
        finally:
            server.stop()
    finally:
        cleanup(settings)

    print(f"\ncallbridge directory API benchmark ({os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC)")
    print(f"tenant of {args.users + len(info['tenants'][0]['users'])} users; one worker, SQLite; wrk, 1 connection, "
          f"{args.seconds} s per run\n")
    print(f"    {'request':<52}{'p50 ms':>8}{'p99 ms':>8}{'req/s':>8}  errors")
    for name, r in results.items():
        print(f"    {name:<52}{r.p50_ms:>8.2f}{r.p99_ms:>8.2f}{r.per_second:>8.0f}  {r.errors}")
    worst = max(r.p99_ms for name, r in results.items() if not name.startswith("baseline"))
    verdict = "met" if worst < TARGET_MS else "MISSED"
    print(f"\n    target p99 < {TARGET_MS:.0f} ms: {verdict} (worst p99 {worst:.2f} ms)")
    if any(r.errors for r in results.values()):
        raise SystemExit("some requests failed")


if __name__ == "__main__":
    main()
