"""Use case 2's first step: an INVITE from the phone network, judged before any session exists.

Which trunk sent it (the source address on a trunk's allowlist; a trunk with digest credentials challenges),
whose number it calls (a user of that trunk's tenant with the number assigned), whether that user can take
phone calls, and whether the trunk is within its limits. The answer is a route to the user or the SIP status
to refuse with (or, for a source no trunk lists and the deployment says so, silence).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, exists, select

from callbridge.directory.values import Licence
from callbridge.pstn.trunks import source_allowed
from callbridge.ratelimit import TokenBuckets
from callbridge.store.models import Tenant, Trunk, User, UserLicence

_DIGITS = re.compile(r"\+?[0-9]{3,15}")

ENABLED_TRUNKS = select(Trunk).where(Trunk.enabled.is_(True)).order_by(Trunk.name)
CALLED_USER = (
    select(User.id, User.tenant_id, User.display_name, User.account_enabled, User.enterprise_voice_enabled,
           Tenant.acs_interop_enabled.label("interop"),
           exists().where(UserLicence.user_id == User.id, UserLicence.sku == Licence.TEAMS.value).label("teams"),
           exists().where(UserLicence.user_id == User.id, UserLicence.sku == Licence.TEAMS_PHONE.value)
           .label("phone"))
    .join(Tenant, Tenant.id == User.tenant_id)
    .where(User.phone_number == bindparam("number"))
)


@dataclass(frozen=True)
class Refusal:
    status: int | None  # None: drop silently
    reason: str
    retry_after: int | None = None


@dataclass(frozen=True)
class InboundRoute:
    trunk_id: str
    tenant_id: str
    number: str  # the number called, E.164
    user_id: str
    user_name: str


def called_number(user_part: str | None) -> str | None:
    """The E.164 number in a Request-URI's user part (``+14255550101``, ``14255550101;npdi``), or None."""
    if not user_part:
        return None
    digits = user_part.split(";", 1)[0].replace("-", "").replace(".", "")
    if not _DIGITS.fullmatch(digits):
        return None
    return digits if digits.startswith("+") else f"+{digits}"


def trunks_for(trunks: Sequence[Any], source: str) -> list[Any]:
    """The enabled trunks a request from ``source`` may come through: those listing it, else those that
    challenge (digest credentials and no allowlist)."""
    listed = [t for t in trunks if source_allowed(t, source)]
    return listed or [t for t in trunks if t.inbound_ha1_md5 and not t.allow_sources]


def judge_user(route_to: Any | None, trunk: Any, number: str) -> InboundRoute | Refusal:
    """The called user as the directory has it (a ``CALLED_USER`` row), or why the call is refused."""
    if route_to is None or route_to.tenant_id != trunk.tenant_id:
        return Refusal(404, "Not Found")
    if not route_to.account_enabled:
        return Refusal(480, "Temporarily Unavailable")
    if not (route_to.interop and route_to.teams and route_to.phone and route_to.enterprise_voice_enabled):
        return Refusal(403, "Forbidden")
    return InboundRoute(trunk.id, trunk.tenant_id, number, route_to.id, route_to.display_name)


class TrunkLimits:
    """Each trunk's calls per second (a token bucket) and concurrent calls (counted by the bridge)."""

    def __init__(self) -> None:
        self._rates: dict[tuple[str, int], TokenBuckets] = {}  # (trunk, its rate): a changed rate starts afresh
        self.active: dict[str, int] = {}

    def admit(self, trunk: Any, now: datetime) -> Refusal | None:
        key = (trunk.id, trunk.max_cps)
        if key not in self._rates:
            self._rates[key] = TokenBuckets(trunk.max_cps, trunk.max_cps, max_keys=1)
        if self.active.get(trunk.id, 0) >= trunk.max_calls:
            return Refusal(503, "Service Unavailable", retry_after=5)
        wait = self._rates[key].take("calls", now)
        if wait:
            return Refusal(503, "Service Unavailable", retry_after=wait)
        return None

    def opened(self, trunk_id: str) -> None:
        self.active[trunk_id] = self.active.get(trunk_id, 0) + 1

    def closed(self, trunk_id: str) -> None:
        self.active[trunk_id] = max(0, self.active.get(trunk_id, 0) - 1)
