"""The carrier: one SIP endpoint (its own port) with many virtual phones. Calls from callbridge's trunk reach the
phone whose number the Request-URI names (an unknown number: 404); the phones' calls go to callbridge's trunk
address. It is a peer of callbridge's trunk like any carrier: callbridge only knows its address."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from callbridge.carrier.phone import AnswerMode, VirtualPhone
from callbridge.logs import Throttled
from callbridge.media.rtp_endpoint import PortRange
from callbridge.sip.endpoint import Endpoint
from callbridge.sip.transport import Address
from callbridge.sip.useragent import UserAgent
from callbridge.sip.useragent_incoming import IncomingSession

log = logging.getLogger("callbridge.carrier")
throttled = Throttled(log)  # for what others can repeat at will: one line a minute per kind


@dataclass(frozen=True)
class PhoneSpec:
    number: str  # E.164
    name: str
    answer_mode: AnswerMode = AnswerMode.MANUAL


class Carrier:
    def __init__(self, trunk: Address, *, host: str = "127.0.0.1", port: int = 0, transport: str = "UDP",
                 rtp_ports: PortRange | None = None, tls_server: ssl.SSLContext | None = None,
                 tls_client: ssl.SSLContext | None = None) -> None:
        """``tls_server`` and ``tls_client`` are needed when ``transport`` (this side) or the trunk is TLS."""
        self.trunk, self.host, self.port, self.transport = trunk, host, port, transport
        self.rtp_ports = rtp_ports or PortRange(42_000, 42_999)
        self.phones: dict[str, VirtualPhone] = {}
        self.endpoint = Endpoint(lambda event: None, tls_server=tls_server, tls_client=tls_client)
        self.ua = UserAgent(self.endpoint, user="carrier")
        self.address: Address | None = None
        self.on_change: Callable[[VirtualPhone], None] | None = None
        self._answering: asyncio.Task[None] | None = None
        self._offers: set[asyncio.Task[None]] = set()

    async def start(self, phones: Iterable[PhoneSpec] = ()) -> Address:
        self.address = await self.endpoint.listen(self.transport, self.host, self.port)
        for spec in phones:
            self.add(spec)
        self._answering = asyncio.create_task(self._route_incoming())
        log.info("carrier ready", extra={"sip": f"{self.address.transport}:{self.address.host}:{self.address.port}",
                                         "phones": len(self.phones)})
        return self.address

    async def stop(self) -> None:
        for phone in self.phones.values():
            with contextlib.suppress(Exception):
                await phone.hang_up()
        for task in (self._answering, *self._offers):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await self.endpoint.close()

    def add(self, spec: PhoneSpec) -> VirtualPhone:
        phone = VirtualPhone(spec.number, spec.name, self.ua, self.trunk, rtp_ports=self.rtp_ports,
                             answer_mode=spec.answer_mode, on_change=self._changed)
        self.phones[spec.number] = phone
        return phone

    def phone(self, number: str) -> VirtualPhone:
        try:
            return self.phones[number]
        except KeyError:
            raise KeyError(f"no virtual phone {number}") from None

    def _changed(self, phone: VirtualPhone) -> None:
        if self.on_change is not None:
            self.on_change(phone)

    async def _route_incoming(self) -> None:
        while True:
            session = await self.ua.incoming.get()
            number = _number(getattr(session.request_uri, "user", None))
            phone = self.phones.get(number or "")
            if phone is None:
                session.decline(404, "Not Found")
                continue
            task = asyncio.create_task(self._offer(phone, session))
            self._offers.add(task)
            task.add_done_callback(self._offers.discard)

    @staticmethod
    async def _offer(phone: VirtualPhone, session: IncomingSession) -> None:
        try:
            await phone.offered(session)
        except Exception:
            throttled.exception("a virtual phone failed to take a call", extra={"number": phone.number})
            if not session.answered:
                session.decline(500, "Server Internal Error")


def _number(user: str | None) -> str | None:
    if not user:
        return None
    digits = user.split(";", 1)[0]
    return digits if digits.startswith("+") else f"+{digits}"
