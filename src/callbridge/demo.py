"""Demo data: a vendor (Contoso) with its multi-tenant app and communication resource, a customer (Fabrikam)
whose administrator consented, Alice, Megan and colleagues, and a second customer (Northwind) for isolation.
Seeded only into an empty database; ``var/demo.json`` tells scripts everything they need."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from callbridge.config import Settings
from callbridge.directory import apps, consent, resources, tenants, users
from callbridge.directory.values import COMMUNICATION_APP_ID
from callbridge.graph.auth import Caller
from callbridge.graph.calendar import CalendarContext, create_event
from callbridge.private_files import secure_data_dir, write_private
from callbridge.pstn import trunks
from callbridge.store.db import Database
from callbridge.store.models import Tenant, User
from callbridge.store.types import utcnow
from callbridge.tls import ensure_local_tls

# The vendor's demo customers, each with a virtual phone on the built-in carrier.
CUSTOMERS = [
    ("+12065550100", "Kim Akers (Adatum Corporation)"),
    ("+12065550111", "Ben Miller (Tailspin Toys)"),
    ("+12065550122", "Rachel Valdez (Wide World Importers)"),
    ("+14155550133", "Omar Farouk (Margie's Travel)"),
    ("+442079460144", "Sophie Turner (Woodgrove Bank)"),
]

GRAPH_SCOPES = ["User.Read", "User.ReadBasic.All", "User.Read.All", "Chat.Create", "Chat.Read", "Calendars.Read",
                "Calendars.ReadWrite", "OnlineMeetings.Read", "OnlineMeetings.ReadWrite"]
COLLEAGUES = [
    "Adele Vance", "Alex Wilber", "Diego Siciliani", "Grady Archie", "Henrietta Mueller", "Isaiah Langer",
    "Johanna Lorenz", "Joni Sherman", "Lee Gu", "Lidia Holloway", "Lynne Robbins", "Miriam Graham",
    "Nestor Wilke", "Patti Fernandez", "Pradeep Gupta", "Allan Deyoung", "Christie Cline", "Debra Berger",
    "Emily Braun", "Enrico Cattaneo", "Irvin Sayers", "Jordan Miller", "Kristina Davis", "Lena Hartmann",
    "Marco Rossi", "Nora Lindqvist", "Omar Haddad", "Priya Natarajan",
]


@dataclass(frozen=True)
class DemoUser:
    name: str
    domain: str
    licences: tuple[str, ...] = ("TEAMS",)
    number: str | None = None
    admin: bool = False
    job_title: str | None = None

    @property
    def upn(self) -> str:
        return f"{self.name.split()[0].lower()}@{self.domain}"

    @property
    def password(self) -> str:
        return f"Demo-{self.name.split()[0]}-2026!"


def _people() -> dict[str, list[DemoUser]]:
    fabrikam = "fabrikam.example"
    return {
        "Contoso": [DemoUser("Carol Admin", "contoso.example", (), admin=True, job_title="IT administrator")],
        "Fabrikam": [
            DemoUser("Fabrikam Admin", fabrikam, ("TEAMS",), admin=True, job_title="IT administrator"),
            DemoUser("Alice Smith", fabrikam, ("TEAMS", "TEAMS_PHONE"), "+14255550101", job_title="Account manager"),
            DemoUser("Megan Bowen", fabrikam, ("TEAMS",), job_title="Marketing manager"),
            *[DemoUser(n, fabrikam, ("TEAMS", "TEAMS_PHONE") if i % 4 == 0 else ("TEAMS",),
                       f"+14255550{110 + i}" if i % 4 == 0 else None)
              for i, n in enumerate(COLLEAGUES)],
        ],
        "Northwind": [
            DemoUser("Nina Olsen", "northwind.example", ("TEAMS", "TEAMS_PHONE"), "+14255550190"),
            DemoUser("Northwind Admin", "northwind.example", ("TEAMS",), admin=True),
            DemoUser("Oscar Perez", "northwind.example", ("TEAMS",)),
        ],
    }


async def _seed_tenant(s: AsyncSession, name: str, people: list[DemoUser]) -> tuple[Tenant, list[User]]:
    tenant = await tenants.create_tenant(s, name, [people[0].domain], password_grant_enabled=True)
    created = []
    for p in people:
        given, _, surname = p.name.partition(" ")
        created.append(await users.create_user(s, tenant.id, users.NewUser(
            upn=p.upn, display_name=p.name, password=p.password, given_name=given, surname=surname or None,
            job_title=p.job_title, licences=list(p.licences), phone_number=p.number,
            enterprise_voice=p.number is not None, admin=p.admin, business_phones=[p.number] if p.number else [],
        )))
    return tenant, created


async def seed(s: AsyncSession, settings: Settings) -> dict[str, Any]:
    base = settings.public_base_url
    people = _people()
    contoso, _ = await _seed_tenant(s, "Contoso", people["Contoso"])
    app = await apps.create_app(
        s, contoso.id, "Contoso Calling", multi_tenant=True, allow_public_client=True,
        # the meeting join page signs in with the demo's public client too (`callbridge demo` sets
        # join_page_client_id to it): its redirect URI
        # and the vendor portal (its own origin) signs users in and back out with it as a confidential client
        redirect_uris=[*_portal_redirects(settings), "http://localhost", f"{base}/meet/signed-in"],
        permissions={
            "00000003-0000-0000-c000-000000000000": {"delegated": GRAPH_SCOPES, "application": ["User.Read.All"]},
            COMMUNICATION_APP_ID: {"delegated": ["Teams.ManageCalls", "Teams.ManageChats"]},
        },
    )
    _, secret = await apps.add_secret(s, app.client_id, 365)
    resource = await resources.create_resource(s, contoso.id, "contoso-acs")
    described, meeting = [], {}
    for name in ("Fabrikam", "Northwind"):
        tenant, members = await _seed_tenant(s, name, people[name])
        await consent.grant_admin_consent(s, tenant, app)
        described.append(_describe_tenant(base, tenant, members, people[name]))
        if name == "Fabrikam":
            meeting = await _seed_calendar(s, settings, app.client_id, members[1], utcnow())
            await trunks.add_trunk(s, tenant.id, "carrier", trunks.TrunkChanges(
                host="127.0.0.1", port=settings.carrier_port, transport="udp", number_prefixes=["+"],
                allow_sources=["127.0.0.1"], max_calls=100, max_cps=50))
    return {
        "base_url": base,
        "graph_base_url": f"{base}/graph/v1.0",
        "communication": {
            "endpoint": resources.endpoint(base),
            "connection_string": resources.connection_string(resource, resources.endpoint(base)),
            "resource_id": resource.id,
            "resource_app_id": COMMUNICATION_APP_ID,
        },
        "app": {"client_id": app.client_id, "client_secret": secret, "redirect_uri": app.redirect_uris[0],
                "tenant_id": contoso.id, "name": app.display_name},
        "tenants": described,
        "portal": {"url": settings.demo_portal_url.rstrip("/") or None},
        "sip": {"host": settings.sip_host, "port": settings.sip_port, "transports": settings.sip_transports},
        "carrier": {"host": "127.0.0.1", "port": settings.carrier_port, "transport": "udp", "trunk": "carrier",
                    "phones": [{"number": number, "name": name} for number, name in CUSTOMERS]},
        "meeting": meeting,
    }


def _portal_redirects(settings: Settings) -> list[str]:
    portal = settings.demo_portal_url.rstrip("/")
    return [f"{portal}/auth/callback", f"{portal}/"] if portal else []


async def _seed_calendar(s: AsyncSession, settings: Settings, client_id: str, alice: User,
                         now: datetime) -> dict[str, Any]:
    """Alice's calendar around today: online meetings (one with Megan and an outside guest, one starting within
    the hour) and a plain event."""
    caller = Caller(alice.tenant_id, client_id, alice.id, frozenset({"Calendars.ReadWrite"}), frozenset())
    ctx = CalendarContext(settings.public_base_url, settings.meeting_toll_number, "UTC")
    # on a half hour, 20 to 50 minutes away: still ahead while the demo (or a test run) looks at it
    soon = (now + timedelta(minutes=20)).replace(second=0, microsecond=0)
    soon += timedelta(minutes=-soon.minute % 30)
    today = now.replace(hour=9, minute=0, second=0, microsecond=0)

    def when(start: datetime, minutes: int) -> dict[str, Any]:
        fmt = "%Y-%m-%dT%H:%M:%S"
        return {"start": {"dateTime": start.strftime(fmt), "timeZone": "UTC"},
                "end": {"dateTime": (start + timedelta(minutes=minutes)).strftime(fmt), "timeZone": "UTC"}}

    def invite(*addresses: str) -> list[dict[str, Any]]:
        return [{"emailAddress": {"address": a}, "type": "required"} for a in addresses]

    meetings = [
        {"subject": "Customer escalation: Adatum", **when(soon, 30), "isOnlineMeeting": True,
         "attendees": invite("megan@fabrikam.example", "adele@fabrikam.example")},
        {"subject": "Project kickoff with Contoso", **when(today + timedelta(days=1, hours=1), 60),
         "isOnlineMeeting": True, "onlineMeetingProvider": "teamsForBusiness",
         "attendees": [*invite("megan@fabrikam.example"),
                       {"emailAddress": {"address": "pat@adatum.example", "name": "Pat Guest"}, "type": "required"}],
         "lobbyBypassSettings": {"scope": "organization"},
         "body": {"contentType": "text", "content": "Agenda: scope, milestones, calling pilot."}},
        {"subject": "Weekly team sync", **when(today - timedelta(days=1) + timedelta(hours=7), 30),
         "isOnlineMeeting": True, "attendees": invite("megan@fabrikam.example", "lee@fabrikam.example"),
         "lobbyBypassSettings": {"scope": "everyone"}},
        {"subject": "Quarterly pipeline review", **when(today + timedelta(days=3, hours=5), 45),
         "isOnlineMeeting": True, "attendees": invite("diego@fabrikam.example")},
        {"subject": "Lunch with Adele", **when(today + timedelta(hours=3), 60), "location": {"displayName": "Cafe"},
         "showAs": "oof"},
    ]
    events = [await create_event(s, caller, body, ctx, now) for body in meetings]
    first = events[0]  # the meeting starting soon: how to join it, for the summary
    return {"subject": first.subject, "join_url": first.join_url, "meeting_id": first.join_meeting_id,
            "passcode": first.passcode, "conference_id": first.conference_id,
            "toll_number": settings.meeting_toll_number}


def _describe_tenant(base: str, tenant: Tenant, members: list[User], people: list[DemoUser]) -> dict[str, Any]:
    return {
        "id": tenant.id, "name": tenant.display_name, "domain": tenants.default_domain(tenant),
        "authority": f"{base}/{tenant.id}",
        "users": [{"id": u.id, "upn": u.user_principal_name, "password": p.password, "display_name": u.display_name,
                   "phone_number": u.phone_number, "licences": u.licence_skus, "admin": u.is_tenant_admin}
                  for u, p in zip(members, people, strict=True)],
    }


async def seed_and_describe(settings: Settings) -> str:
    """Seed an empty database, write demo.json, and return what to print."""
    secure_data_dir(settings.data_dir)
    tls = ensure_local_tls(settings.tls_dir)
    path = settings.data_dir / "demo.json"
    db = Database(settings.effective_database_url)
    try:
        await db.migrate()
        async with db.transaction() as s:
            if not await users.count_users(s):
                info = await seed(s, settings)
                info["ca_file"] = str(tls.ca_file.resolve()) if tls.ca_file else None
                write_private(path, json.dumps(info, indent=2).encode())
    finally:
        await db.close()
    if not path.exists():
        raise SystemExit(f"the database already holds data that the demo did not seed, and {path} is missing; "
                         "remove the data directory to start over")
    return summary(json.loads(path.read_text()), path)


def _meeting_lines(meeting: dict[str, Any] | None) -> list[str]:
    """How to join the demo's meeting: its link (a browser opens the join page), its id and passcode, dial-in."""
    if not meeting:
        return []
    return [f"  meeting          {meeting['subject']}: {meeting['join_url']}",
            f"                   id {meeting['meeting_id']} passcode {meeting['passcode']}; by phone "
            f"{meeting['toll_number']}, conference id {meeting['conference_id']}#"]


def summary(info: dict[str, Any], path: Path) -> str:
    lines = [
        "callbridge demo",
        f"  base URL         {info['base_url']}",
        f"  CA certificate   {info['ca_file']}",
        f"  sign-in (OIDC)   {info['base_url']}/organizations/v2.0/.well-known/openid-configuration",
        f"  token exchange   {info['communication']['endpoint'].rstrip('/')}/teamsUser/:exchangeAccessToken",
        f"  directory        {info['graph_base_url']}/users",
        f"  calling          {info['base_url'].replace('https://', 'wss://')}/calling/ws",
        f"  metrics          {info['base_url']}/metrics",
        f"  SIP trunk side   {info['sip']['host']}:{info['sip']['port']} ({', '.join(info['sip']['transports'])})",
        f"  carrier          {info['carrier']['host']}:{info['carrier']['port']} "
        f"({len(info['carrier']['phones'])} virtual phones, e.g. {info['carrier']['phones'][0]['number']})",
        *_meeting_lines(info.get("meeting")),
        f"  demo.json        {path.resolve()}",
        "  demo sign-ins:",
    ]
    for tenant in info["tenants"]:
        for u in tenant["users"][:3]:
            lines.append(f"    {tenant['name']:<10} {u['upn']:<28} {u['password']:<22} {u['phone_number'] or ''}")
    return "\n".join(lines)
