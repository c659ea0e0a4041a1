"""Settings from CALLBRIDGE_* environment variables and an optional TOML file.

Precedence (highest first): environment, the TOML file named by CALLBRIDGE_CONFIG (or ``callbridge.toml`` in
the working directory), the defaults below.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CALLBRIDGE_", extra="ignore")

    host: str = "127.0.0.1"
    https_port: int = 8443
    workers: int = 1  # HTTP worker processes; one per core on a busy node
    base_url: str = ""  # default: https://localhost:{https_port}
    data_dir: Path = Path("var")
    database_url: str = ""  # default: sqlite+aiosqlite:///{data_dir}/callbridge.db
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    log_level: str = "INFO"
    log_format: str = "json"  # json | text
    # the garbage collector, paced off the latency tail (callbridge.heap): survivors are frozen this often, so
    # collections walk only newer objects (0: CPython's own pacing), and everything is unfrozen and collected once
    # each sweep interval (frees cycles that became garbage after they were frozen; 0: never)
    gc_freeze_interval_s: float = 1.0
    gc_sweep_interval_s: float = 600.0

    # identity provider
    access_token_lifetime_s: int = 3600
    id_token_lifetime_s: int = 3600
    refresh_token_lifetime_s: int = 90 * 24 * 3600
    auth_code_lifetime_s: int = 600
    session_lifetime_s: int = 8 * 3600
    key_rotation_overlap_s: int = Field(default=0, description="extra time retired keys stay published")
    signing_key_max_age_days: int = 30  # an older active signing key is rotated automatically
    signin_failures_per_user: int = 5  # failures of a user (from one address, or from anywhere) before tries wait
    signin_backoff_s: float = 1.0  # the first wait after those; it doubles with each further failure
    signin_backoff_max_s: float = 3600.0  # the longest wait of one user from one address
    signin_user_backoff_max_s: float = 60.0  # the longest wait of a user from anywhere: the owner is slowed, not locked
    signin_failure_memory_s: int = 86400  # a user's failures are forgotten this long after the last (or on success)
    signin_failures_per_address: int = 100  # failures from one address within the window before it waits the window
    signin_failure_window_s: int = 300
    trusted_proxies: list[str] = []  # networks of proxies whose X-Forwarded-For is believed, e.g. ["10.0.0.0/8"]

    # the HTTP edge (what every request meets before a route)
    http_body_limit_bytes: int = 1024 * 1024  # request bodies on paths no prefix of http_body_limits names
    # ACS at the root; "/{tenant}/" names the identity provider's routes, whose first segment is the tenant
    http_body_limits: dict[str, int] = {"/identities": 64 * 1024, "/teamsUser/": 64 * 1024,
                                        "/carrier/api/": 64 * 1024, "/{tenant}/": 32 * 1024}
    http_header_timeout_s: float = 10.0  # a request head must arrive within this of the connection or last answer
    http_max_connections: int = 10_000  # open HTTP connections in all; one more is closed at once
    http_max_connections_per_address: int = 256  # open HTTP connections from one client address
    tls_handshake_timeout_s: float = 10.0  # a TLS handshake not done by then is dropped
    # how long a closing TLS connection waits for the peer's close_notify (asyncio's default, 30 s, held every stop
    # of the server for as long as one idle keep-alive client stayed connected)
    tls_shutdown_timeout_s: float = 2.0
    hsts_max_age_s: int = 365 * 24 * 3600  # Strict-Transport-Security max-age (0: no header)
    api_docs_enabled: bool = False  # serve /docs, /redoc and /openapi.json (`callbridge demo` does)
    metrics_enabled: bool = False  # serve Prometheus metrics (`callbridge demo` does, on the HTTPS port)
    metrics_host: str = "127.0.0.1"  # the metrics listener's address (plain HTTP)
    metrics_port: int = 9464  # the metrics listener's port; 0: /metrics on the HTTPS port instead

    # directory API (Graph shape)
    graph_requests_per_second: float = 100.0  # per app and tenant
    graph_burst: int = 200
    graph_user_requests_per_second: float = 20.0  # per signed-in user (delegated tokens), beside the tenant's
    graph_user_burst: int = 60
    meeting_toll_number: str = "+14255550100"  # dial-in number shown in online meetings
    lobby_timeout_s: float = 600.0  # nobody lets a waiting participant in this long: removed from the lobby 0/5855
    # the join page (/meet/..., web/join.py): what opening a meeting's link in a browser shows
    join_guest_per_minute: float = 6.0  # guest identities (POST /meet/guest) one client address gets per minute
    join_guest_burst: int = 10  # ... and at once (a token bucket's depth; /meet/token shares the bucket)
    join_guest_token_minutes: int = 60  # a guest's voip token lives this long (60-1440, ACS's bounds)
    join_page_client_id: str = ""  # the public client (PKCE) the page signs organisation users in with; "": guests only

    # calling
    ring_time_s: float = 120.0  # unanswered calls end with 487/10004 after this
    reconnect_grace_s: float = 60.0  # a call survives its agent's lost socket this long
    turn_urls: list[str] = []  # e.g. ["turn:turn.example.com:3478?transport=udp"]; empty: no TURN server
    turn_secret: str = ""  # coturn's static-auth-secret (use-auth-secret)
    turn_ttl_s: int = 86400
    caller_max_calls: int = 8  # calls one caller identity may have in progress; the next is refused 429/10116
    caller_call_attempts_per_s: float = 2.0  # call.start per caller identity, a token bucket: over it 429/10117
    caller_call_attempts_burst: int = 10  # the bucket's depth
    identity_max_sockets: int = 16  # open /calling/ws sockets per identity; the next one is closed with 4029
    identity_recheck_s: float = 5.0  # open sockets' identities re-read this often: revoked/disabled/gone -> 4001

    # the phone network (SIP trunks, media gateway)
    sip_enabled: bool = True
    sip_host: str = "127.0.0.1"  # the address SIP listens on and puts in Via and Contact
    sip_port: int = 5060
    sip_transports: list[str] = ["udp", "tcp"]  # add "tls" for SIP over TLS on sip_tls_port (the HTTPS certificate)
    sip_tls_port: int = 5061
    sip_options_interval_s: float = 30.0  # OPTIONS keep-alive to every enabled trunk
    sip_unlisted: str = "reject"  # INVITEs from sources no trunk lists: reject (403) | drop (no answer)
    media_engine: str = "auto"  # auto (rtpengine when installed, else aiortc) | rtpengine | aiortc
    media_address: str = "127.0.0.1"  # advertised in SDP and ICE candidates: an address of this machine
    rtp_port_min: int = 40000
    rtp_port_max: int = 40999
    rtpengine_ng_port: int = 0  # its control port on 127.0.0.1; 0: a free one at each start (fix it to firewall it)
    dead_media_timeout_s: float = 30.0  # no RTP from the phone this long ends the call (0: never)
    # the conference mixer (meetings, group calls): a Janus AudioBridge child process (docs/operations.md)
    conference_engine: str = "auto"  # auto (janus if installed, else none: no group calls, meetings) | janus | none
    janus_binary: str = "janus"  # the Debian package janus
    janus_api_port: int = 0  # its WebSocket API on 127.0.0.1; 0: a free one at each start (fix it to firewall it)
    janus_webrtc_port_min: int = 41000  # ICE/WebRTC legs of the mixer; apart from rtp_port_min..rtp_port_max
    janus_webrtc_port_max: int = 41499
    janus_rtp_port_min: int = 41500  # plain-RTP legs of the mixer (load generators, phones without rtpengine)
    janus_rtp_port_max: int = 41999
    janus_rtp_address: str = "127.0.0.1"  # the mixer's plain-RTP legs bind here
    conference_sampling_rate: int = 8000  # Hz of a room's mix; 8000 keeps G.711 phone legs clean (no resampling)
    # the vendor's portal (package `portal`, its own process): `callbridge demo` registers
    # {demo_portal_url}/auth/callback as the demo app's redirect URI and runs the portal on this URL's port;
    # "": the demo runs no portal
    demo_portal_url: str = "https://localhost:8444"
    carrier_enabled: bool = False  # run the built-in carrier (virtual phones) in this process; `callbridge demo` does
    carrier_port: int = 5070  # its SIP port (UDP); the demo's trunk points here
    carrier_allow_remote: bool = False  # serve the carrier (no sign-in!) on a non-loopback CALLBRIDGE_HOST too
    carrier_wav_dir: Path | None = None  # `play wav:<name>` plays files of this directory only; default {data_dir}/wav
    carrier_streams_per_client: int = 4  # open event streams of the carrier page from one address
    carrier_streams_total: int = 32  # open event streams of the carrier page in all
    carrier_stream_idle_s: float = 300.0  # an event stream that carried no change this long ends (the page reopens)

    # phone dial-in to meetings (meetings/dialin.py): espeak-ng prompts, cached under {data_dir}/prompts
    dialin_voice: str = "en-us"  # the espeak-ng voice of the prompts (`espeak-ng --voices`)
    dialin_words_per_minute: int = 150  # how fast the prompts are spoken (80-450)
    dialin_synthesis_timeout_s: float = 20.0  # espeak-ng must make each prompt within this at start-up
    dialin_first_digit_timeout_s: float = 10.0  # after a prompt, no key within this: goodbye
    dialin_inter_digit_timeout_s: float = 5.0  # a pause this long after a key submits the entry (as # does)
    dialin_max_attempts: int = 3  # conference ids not found before goodbye
    # wrong conference ids one calling number may try over all its calls in the window, before it is told to call
    # again later (guessing a meeting's id by calling again and again)
    dialin_wrong_ids_per_number: int = 10
    dialin_wrong_ids_window_s: float = 900.0
    dialin_max_digits: int = 15  # keys past this many are dropped
    dialin_lookup_timeout_s: float = 10.0  # the meeting service must answer a lookup within this, else goodbye

    # token exchange
    hmac_max_skew_s: int = 900
    communication_user_token_lifetime_s: int = 24 * 3600

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def public_base_url(self) -> str:
        return self.base_url or f"https://localhost:{self.https_port}"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir.resolve() / 'callbridge.db'}"

    def longest_token_lifetime_s(self, purpose: str) -> int:
        """How long a retired key of ``purpose`` must stay published: the longest life of what it signed."""
        if purpose == "communication":
            longest = max(self.access_token_lifetime_s, self.communication_user_token_lifetime_s)
        else:
            longest = max(self.access_token_lifetime_s, self.id_token_lifetime_s, self.session_lifetime_s)
        return longest + self.key_rotation_overlap_s

    @property
    def tls_dir(self) -> Path:
        return self.data_dir / "tls"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls))


class _TomlSource(PydanticBaseSettingsSource):
    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = Path(os.environ.get("CALLBRIDGE_CONFIG", "callbridge.toml"))
        if not path.is_file():
            return {}
        with path.open("rb") as f:
            data = tomllib.load(f)
        section = data.get("callbridge", data)
        return {k: v for k, v in section.items() if k in self.settings_cls.model_fields}
