"""The portal's settings, from ``PORTAL_*`` environment variables. The same names configure the portal against
callbridge (the demo) or against Microsoft's cloud: see docs/portal.md."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The delegated Graph permissions the portal asks for at sign-in: the directory with job titles and phone numbers
# (User.Read.All: ReadBasic gives names and mail only; it needs the administrator's consent, the onboarding link),
# the 1:1 chats, the calendar.
GRAPH_SCOPES = ["User.Read", "User.Read.All", "Chat.Create", "Calendars.Read"]
# The Teams-user scopes of the communication resource: the token exchange takes an access token with these.
TEAMS_SCOPES = ["https://auth.msft.communication.azure.com/Teams.ManageCalls",
                "https://auth.msft.communication.azure.com/Teams.ManageChats"]
MICROSOFT_LOGIN_HOSTS = ("login.microsoftonline.com", "login.microsoftonline.us", "login.partner.microsoftonline.cn")


class PortalSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PORTAL_", extra="ignore")

    # the identity provider: a multi-tenant authority ("organizations" or "common"), callbridge's or Entra's
    authority: str = "https://localhost:8443/organizations"
    client_id: str = ""
    client_secret: SecretStr = SecretStr("")
    # the portal's public URL (its origin): the redirect URI is {redirect_base}/auth/callback
    redirect_base: str = "https://localhost:8444"
    acs_connection_string: SecretStr = SecretStr("")
    graph_base_url: str = "https://localhost:8443/graph/v1.0"
    callbridge_sdk_url: str = "https://localhost:8443/sdk/calling.js"
    # signs the session and sign-in cookies; empty: a random key kept in {data_dir}/session.key (shared by the
    # processes of one machine; several machines must share one value)
    session_secret: SecretStr = SecretStr("")
    data_dir: Path = Path("var/portal")
    database_url: str = ""  # default: sqlite+aiosqlite:///{data_dir}/portal.db
    host: str = "127.0.0.1"
    port: int = 8444
    workers: int = 1  # `portal serve` processes on the port (the server keeps no state between requests)
    tls_cert_file: Path | None = None  # both set: HTTPS; else plain HTTP (behind a TLS-terminating proxy)
    tls_key_file: Path | None = None
    # the CA bundle trusted for the identity provider, ACS and Graph (callbridge's local CA); empty: the system's
    ca_file: Path | None = None
    session_lifetime_s: int = 8 * 3600
    signin_flow_lifetime_s: int = 600  # how long a started sign-in may take before its cookie expires
    http_timeout_s: float = 15.0
    log_level: str = "INFO"
    log_format: str = "json"  # json | text
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 0  # 0: no metrics listener; else Prometheus's /metrics there (plain HTTP)

    @field_validator("authority", "redirect_base", "graph_base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'portal.db'}"

    @property
    def redirect_uri(self) -> str:
        return f"{self.redirect_base}/auth/callback"

    @property
    def origin(self) -> str:
        """The portal's own origin: state-changing requests must come from a page of it."""
        parts = urlsplit(self.redirect_base)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def authority_root(self) -> str:
        """The authority without its tenant segment: a user's own authority is ``{root}/{tenant id}``."""
        return self.authority.rsplit("/", 1)[0]

    def tenant_authority(self, tenant_id: str) -> str:
        return f"{self.authority_root}/{tenant_id}"

    @property
    def instance_discovery(self) -> bool:
        """msal asks Microsoft's instance discovery about Microsoft's hosts only; callbridge is not one of them."""
        return (urlsplit(self.authority).hostname or "") in MICROSOFT_LOGIN_HOSTS
