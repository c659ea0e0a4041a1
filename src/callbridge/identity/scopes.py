"""Scopes as Microsoft spells them, resolved to one resource and its permission names.

``https://graph.microsoft.com/User.Read`` and bare ``User.Read`` are Graph's; ``https://auth.msft.communication.azure.com
/Teams.ManageCalls`` is the communication resource app's; ``{resource}/.default`` means everything consented.
"""

from __future__ import annotations

from dataclasses import dataclass

from callbridge.directory.values import (
    COMMUNICATION_APP_ID,
    COMMUNICATION_RESOURCE_URI,
    GRAPH_APP_ID,
    GRAPH_RESOURCE_URI,
)

OIDC_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})
DEFAULT = ".default"

# Delegated permissions only an administrator may grant, for everyone in the organisation ("Admin consent
# required: Yes" in Microsoft Graph's permissions reference): a user asking for one is told to ask an
# administrator (AADSTS90094), and a grant of one counts only when it is an admin consent (``AllPrincipals``).
ADMIN_ONLY: dict[str, frozenset[str]] = {
    GRAPH_APP_ID: frozenset({
        "User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All",
        "Group.Read.All", "Group.ReadWrite.All", "People.Read.All", "Organization.Read.All",
    }),
    COMMUNICATION_APP_ID: frozenset(),
}
DELEGATED: dict[str, frozenset[str]] = {
    GRAPH_APP_ID: frozenset(
        {
            "User.Read", "User.ReadBasic.All",
            "Chat.Create", "Chat.Read", "Chat.ReadBasic", "Chat.ReadWrite",
            "Calendars.ReadBasic", "Calendars.Read", "Calendars.ReadWrite",
            "OnlineMeetings.Read", "OnlineMeetings.ReadWrite", "Presence.Read", "People.Read",
        }
    ) | ADMIN_ONLY[GRAPH_APP_ID],
    COMMUNICATION_APP_ID: frozenset({"Teams.ManageCalls", "Teams.ManageChats"}),
}
APPLICATION: dict[str, frozenset[str]] = {
    GRAPH_APP_ID: frozenset({"User.Read.All", "Directory.Read.All", "Organization.Read.All", "Chat.Create",
                             "Chat.Read.All", "Calendars.Read", "OnlineMeetings.Read.All",
                             "OnlineMeetings.ReadWrite.All"}),
    COMMUNICATION_APP_ID: frozenset(),
}
_RESOURCE_BY_PREFIX = {
    GRAPH_RESOURCE_URI: GRAPH_APP_ID,
    "https://graph.microsoft.com/v1.0": GRAPH_APP_ID,
    GRAPH_APP_ID: GRAPH_APP_ID,
    COMMUNICATION_RESOURCE_URI: COMMUNICATION_APP_ID,
    COMMUNICATION_APP_ID: COMMUNICATION_APP_ID,
    f"api://{COMMUNICATION_APP_ID}": COMMUNICATION_APP_ID,
}


class ScopeError(Exception):
    def __init__(self, error: str, message: str, aadsts: int) -> None:
        super().__init__(message)
        self.error = error
        self.aadsts = aadsts


@dataclass(frozen=True)
class ScopeRequest:
    resource_app_id: str
    permissions: frozenset[str]  # bare names; empty with ``default``
    oidc: frozenset[str]
    default: bool = False
    # How the client spelled each permission (``User.Read`` or ``https://graph.microsoft.com/User.Read``), and the
    # prefix of its ``.default``: a response's ``scope`` says them back as asked, as Entra does, so that MSAL's
    # cache (keyed by the response's scopes) finds the token for the same request next time.
    asked: tuple[tuple[str, str], ...] = ()
    default_prefix: str | None = None

    @property
    def resource_uri(self) -> str:
        return {GRAPH_APP_ID: GRAPH_RESOURCE_URI, COMMUNICATION_APP_ID: COMMUNICATION_RESOURCE_URI}[
            self.resource_app_id
        ]

    @property
    def admin_only(self) -> frozenset[str]:
        """The requested permissions only an administrator may grant."""
        return self.permissions & ADMIN_ONLY[self.resource_app_id]

    def spelled(self, permissions: frozenset[str] | set[str]) -> list[str]:
        """Scopes as a response's ``scope`` spells them: as the client asked; others (granted through ``.default``)
        with the ``.default``'s prefix, else the resource URI (Graph's bare)."""
        asked = dict(self.asked)
        prefix = self.default_prefix
        if prefix is None:
            prefix = "" if self.resource_app_id == GRAPH_APP_ID else f"{self.resource_uri}/"
        return [asked.get(p, f"{prefix}{p}") for p in sorted(permissions)]


def parse_scopes(raw: str) -> ScopeRequest:
    oidc: set[str] = set()
    by_resource: dict[str, set[str]] = {}
    asked: dict[str, str] = {}
    for item in raw.split():
        if item in OIDC_SCOPES:
            oidc.add(item)
            continue
        resource, name = _split(item)
        by_resource.setdefault(resource, set()).add(name)
        asked.setdefault(name, item)
    if len(by_resource) > 1:
        raise ScopeError(
            "invalid_scope",
            "AADSTS28000: Provided value for the input parameter scope is not valid because it contains more "
            "than one resource.",
            28000,
        )
    if not by_resource:
        if not oidc:
            raise ScopeError("invalid_scope", "AADSTS900144: The request body must contain 'scope'.", 900144)
        return ScopeRequest(GRAPH_APP_ID, frozenset({"User.Read"}), frozenset(oidc))
    resource, names = next(iter(by_resource.items()))
    if DEFAULT in names:
        if len(names) > 1:
            raise ScopeError("invalid_scope", "AADSTS70011: .default cannot be combined with other scopes.", 70011)
        return ScopeRequest(resource, frozenset(), frozenset(oidc), default=True,
                            default_prefix=asked[DEFAULT].removesuffix(DEFAULT))
    unknown = names - DELEGATED[resource]
    if unknown:
        bad = sorted(unknown)[0]
        raise ScopeError("invalid_scope", f"AADSTS70011: The provided value for scope {bad} is not valid.", 70011)
    return ScopeRequest(resource, frozenset(names), frozenset(oidc), asked=tuple(sorted(asked.items())))


def _split(item: str) -> tuple[str, str]:
    prefix, sep, name = item.rpartition("/")
    if not sep:
        return GRAPH_APP_ID, item
    resource = _RESOURCE_BY_PREFIX.get(prefix.rstrip("/").lower())
    if resource is None or not name:
        raise ScopeError(
            "invalid_resource",
            f"AADSTS500011: The resource principal named {prefix} was not found in the tenant.",
            500011,
        )
    return resource, name
