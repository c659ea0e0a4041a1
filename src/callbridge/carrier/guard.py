"""What keeps the built-in carrier to its operator: it has no sign-in, so whoever can send it a request can dial
its phones. These guards decide, before any action runs, who may:

- **the same origin only**: a browser tells where a request comes from (``Origin``, ``Sec-Fetch-Site``); a request
  that a page of another origin sent (a cross-site ``fetch`` in ``no-cors`` mode, a form post) is refused with
  403. A client that is no browser (``callbridge phone``, curl) sends neither header and passes.
- **JSON only**: a state-changing call must say ``Content-Type: application/json``. A page of another origin cannot
  send that without a CORS preflight, which the carrier never answers; ``text/plain`` and form bodies get 415.
- **loopback only**: the carrier is served on a loopback address unless the operator allows more
  (``CALLBRIDGE_CARRIER_ALLOW_REMOTE``).
- **one audio directory**: ``play wav:<name>`` plays files of ``CALLBRIDGE_CARRIER_WAV_DIR`` only, and any other
  path gets the answer a missing file gets, so the API tells nothing of the server's files.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import Request

from callbridge.config import Settings

LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost"})
OWN_SITE = frozenset({"same-origin", "none"})  # "none": the user typed the address or used a bookmark


class ApiError(Exception):
    """An error of the carrier's API, rendered as ``{"error": {"code", "message"}}`` with its status."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1); not 0.0.0.0 or :: (every address)."""
    host = host.strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


@dataclass(frozen=True)
class OriginGuard:
    """The origins the carrier's own page is served from: the configured base URL's, and the request's own
    address when that is a loopback one (the page opened as https://127.0.0.1:8443/carrier)."""

    base_origin: str

    def own(self, request: Request) -> set[str]:
        origins = {self.base_origin}
        host = request.headers.get("host", "")
        if is_loopback(urlsplit(f"//{host}").hostname or ""):
            origins.add(f"{request.url.scheme}://{host}".lower())
        return origins

    def check(self, request: Request) -> None:
        site = request.headers.get("sec-fetch-site")
        origin = request.headers.get("origin")
        if (site is not None and site not in OWN_SITE) or (origin is not None and
                                                            origin.lower() not in self.own(request)):
            raise ApiError(403, "CrossOriginRequest", "The carrier answers its own page only, not pages of other "
                                                      "origins.")


def require_json(request: Request) -> None:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise ApiError(415, "UnsupportedMediaType", "Send the body as JSON, with Content-Type: application/json.")


@dataclass(frozen=True)
class WavDirectory:
    """Where ``play wav:<name>`` finds its files: ``name`` relative to the directory, or a path inside it."""

    directory: Path

    def resolve(self, name: str) -> Path:
        root = self.directory.resolve()
        try:
            path = (root / name).resolve()
            found = path.is_relative_to(root) and path.is_file()
        except (OSError, ValueError):
            found = False
        if not found:
            raise ValueError("wav:<name> plays a WAV file of the carrier's audio directory "
                             "(CALLBRIDGE_CARRIER_WAV_DIR); there is none by that name.")
        return path


@dataclass(frozen=True)
class StreamLimits:
    """Event streams: at most ``per_client`` from one address and ``total`` in all; one that carried no change for
    ``idle_s`` ends (the page's EventSource opens a new one), so a held stream frees its place."""

    per_client: int = 4
    total: int = 32
    idle_s: float = 300.0


@dataclass(frozen=True)
class Guards:
    origin: OriginGuard
    wav: WavDirectory
    streams: StreamLimits

    @classmethod
    def of(cls, settings: Settings, base_url: str | None = None) -> Guards:
        return cls(OriginGuard(origin_of(base_url or settings.public_base_url)),
                   WavDirectory(settings.carrier_wav_dir or settings.data_dir / "wav"),
                   StreamLimits(settings.carrier_streams_per_client, settings.carrier_streams_total,
                                settings.carrier_stream_idle_s))
