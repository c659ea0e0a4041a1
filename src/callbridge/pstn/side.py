"""The phone side of a node, wired from settings: SIP on its transports, the user agent, the media gateway
(rtpengine when installed or asked for, else the in-process aiortc bridge), the trunk screening and the bridge
that makes phone legs of calls. Started and stopped with the application."""

from __future__ import annotations

import hashlib
import hmac
import logging
import shutil
import ssl
from dataclasses import dataclass

from callbridge.calling.service import CallingService
from callbridge.clock import Clock
from callbridge.config import Settings
from callbridge.directory.errors import Invalid
from callbridge.directory.values import parse_e164
from callbridge.graph.paging import load_secret
from callbridge.media.aiortc_bridge import AiortcGateway
from callbridge.media.gateway import MediaConfig, MediaGateway
from callbridge.media.rtp_endpoint import PortRange
from callbridge.media.rtpengine import RtpengineGateway
from callbridge.media.rtpengine_process import RtpengineProcess
from callbridge.meetings.dialin_session import prepare_prompts
from callbridge.meetings.prompts import PromptError
from callbridge.pstn.bridge import Bridge
from callbridge.pstn.dialin import DialIn
from callbridge.pstn.keepalive import TrunkKeepAlive
from callbridge.pstn.screening import Screening
from callbridge.sip.endpoint import Endpoint
from callbridge.sip.transport import Address
from callbridge.sip.useragent import UserAgent
from callbridge.store.db import Database
from callbridge.tls import tls_files

log = logging.getLogger("callbridge.pstn")


def media_gateway(settings: Settings) -> MediaGateway:
    config = MediaConfig(PortRange(settings.rtp_port_min, settings.rtp_port_max), settings.media_address,
                         settings.dead_media_timeout_s)
    engine = settings.media_engine
    if engine == "auto":
        engine = "rtpengine" if shutil.which("rtpengine") else "aiortc"
    if engine == "rtpengine":
        process = RtpengineProcess(settings.data_dir / "rtpengine", interface=settings.media_address,
                                   ports=config.ports, ng_port=settings.rtpengine_ng_port)
        return RtpengineGateway(config, process=process)
    if engine == "aiortc":
        return AiortcGateway(config)
    raise ValueError(f"media_engine {settings.media_engine!r}: auto, rtpengine or aiortc")


@dataclass
class PhoneSide:
    endpoint: Endpoint
    ua: UserAgent
    media: MediaGateway
    screening: Screening
    bridge: Bridge
    keepalive: TrunkKeepAlive
    addresses: list[Address]

    async def stop(self) -> None:
        await self.keepalive.stop()
        await self.bridge.stop()
        await self.screening.stop()
        await self.endpoint.close()
        await self.media.close()


def _tls(settings: Settings) -> tuple[ssl.SSLContext, ssl.SSLContext] | None:
    """SIP over TLS uses the HTTPS certificate (the operator's, or the local CA's) and trusts the system's CAs
    and the local CA when it calls out."""
    if "tls" not in [t.lower() for t in settings.sip_transports]:
        return None

    files = tls_files(settings)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(files.cert_file, files.key_file)
    client = ssl.create_default_context()
    if files.ca_file is not None:
        client.load_verify_locations(files.ca_file)
    return server, client


async def _dial_in(settings: Settings, bridge: Bridge, clock: Clock) -> None:
    """Calls to the meetings' toll number are answered by the dial-in, whose spoken prompts are made now (once,
    cached); without espeak-ng they are refused with 503 and the log says why."""
    if not settings.meeting_toll_number:
        return
    try:
        bridge.toll_numbers = frozenset({parse_e164(settings.meeting_toll_number)})
    except Invalid as exc:
        log.error("phone dial-in is off: CALLBRIDGE_MEETING_TOLL_NUMBER is not E.164", extra={"why": str(exc)})
        return
    try:
        prompts = await prepare_prompts(settings)
    except PromptError as exc:
        log.error("phone dial-in is off: its prompts cannot be made", extra={"why": str(exc)})
        return
    bridge.dialin = DialIn(bridge.ports, prompts, settings, bridge.drive, clock.now)


async def start_phone_side(settings: Settings, calling: CallingService, db: Database, clock: Clock) -> PhoneSide:
    tls = _tls(settings)
    endpoint = Endpoint(lambda event: None, tls_server=tls[0] if tls else None, tls_client=tls[1] if tls else None)
    addresses = [await endpoint.listen(t.upper(), settings.sip_host,
                                       settings.sip_tls_port if t.lower() == "tls" else settings.sip_port)
                 for t in settings.sip_transports]
    ua = UserAgent(endpoint)
    media = media_gateway(settings)
    await media.start()
    secret = hmac.new(await load_secret(db), b"sip digest nonces", hashlib.sha256).digest()
    screening = Screening(db.fetch_all, clock.now, secret, unlisted=settings.sip_unlisted)
    await screening.start()
    bridge = Bridge(calling, ua, media, screening)
    await _dial_in(settings, bridge, clock)
    await bridge.start()
    calling.phones = bridge
    keepalive = TrunkKeepAlive(ua, screening, settings.sip_options_interval_s)
    bridge.trunk_down = keepalive.down
    keepalive.start()
    log.info("phone side ready", extra={"sip": [f"{a.transport}:{a.host}:{a.port}" for a in addresses],
                                        "media": type(media).__name__})
    return PhoneSide(endpoint, ua, media, screening, bridge, keepalive, addresses)
