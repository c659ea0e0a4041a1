"""The demo's customers: the built-in carrier's virtual phones (named in callbridge's demo.json as
``Name (Company)``), seeded as Fabrikam's customers with notes, once, into an empty portal database."""

from __future__ import annotations

import json
import re
from pathlib import Path

from sqlalchemy import func, select

from portal import customers
from portal.bootstrap import build
from portal.customers import CustomerFields
from portal.models import Customer
from portal.numbers import e164
from portal.settings import PortalSettings

NOTES = {
    "Adatum Corporation": "Key account. Renewal due next quarter; prefers calls before noon.",
    "Tailspin Toys": "Pilot of the calling integration; asks for a weekly status call.",
    "Wide World Importers": "Open support case about delayed shipments.",
    "Margie's Travel": "New customer since last month; onboarding in progress.",
    "Woodgrove Bank": "Calls from London; mind the time difference.",
}
_NAMED = re.compile(r"^(?P<name>.+?)\s*\((?P<company>[^)]*)\)\s*$")


def demo_customers(demo_json: Path) -> tuple[str, list[CustomerFields]]:
    """(Fabrikam's tenant id, its customers) from the carrier's phones in demo.json."""
    info = json.loads(demo_json.read_text())
    tenant = next(t for t in info["tenants"] if t["name"] == "Fabrikam")
    found = []
    for phone in info["carrier"]["phones"]:
        match = _NAMED.match(phone["name"])
        name, company = (match["name"], match["company"]) if match else (phone["name"], "")
        found.append(CustomerFields(name, company, (e164(phone["number"]),), NOTES.get(company, "")))
    return str(tenant["id"]), found


async def seed(settings: PortalSettings, demo_json: Path) -> str:
    tenant_id, fields = demo_customers(demo_json)
    portal = build(settings)
    try:
        await portal.db.migrate()
        async with portal.db.transaction() as s:
            if await s.scalar(select(func.count()).select_from(Customer)):
                return "portal: customers already seeded"
            for f in fields:
                await customers.create(s, tenant_id, f)
    finally:
        await portal.close()
    return f"portal: seeded {len(fields)} customers of Fabrikam"
