"""The callee's side of an INVITE session: the user agent puts an `IncomingSession` on `UserAgent.incoming` for
each INVITE its screening hook accepted.

`ring()` sends a 180 (or 183 with early SDP), `answer(sdp)` the 200 that the dialog resends until the ACK
(without one in 64*T1: BYE and `Ended`), `decline()` a final failure. A CANCEL before the final answer gets 200
and the INVITE 487 (`Cancelled`); a BYE ends the session (`Ended(by_remote=True)`).
"""

from __future__ import annotations

from callbridge.sip.dialog import DialogStateError, IncomingInvite
from callbridge.sip.errors import Headers, SipParseError
from callbridge.sip.fields import NameAddr, parse_name_addr
from callbridge.sip.headers import values_of
from callbridge.sip.message import Request
from callbridge.sip.transaction import ServerKey, via_for
from callbridge.sip.transport import Address
from callbridge.sip.uri import SipUri, TelUri, Uri
from callbridge.sip.useragent_events import Cancelled
from callbridge.sip.useragent_session import SDP, Host, Session, text


class IncomingSession(Session):
    def __init__(self, host: Host, request: Request, source: Address, key: ServerKey) -> None:
        super().__init__(host, source)
        self.request = request
        self.source = source
        self.key = key
        self.invite = IncomingInvite(request, contact=host.contact(source.transport),
                                     via=via_for(host.local(source.transport)), timers=host.timers)
        self.offer = self.remote_sdp = text(request.body)

    # -- what the INVITE says -----------------------------------------------------------------------------------

    @property
    def call_id(self) -> str:
        return self.request.call_id

    @property
    def from_(self) -> NameAddr:
        return self.request.from_

    @property
    def from_name(self) -> str | None:
        return self.request.from_.display_name

    @property
    def from_number(self) -> str | None:
        """The user part of a SIP From URI, or a tel: URI's number."""
        return _number(self.request.from_.uri)

    @property
    def asserted(self) -> NameAddr | None:
        """The identity the peer asserts for the caller (RFC 3325 P-Asserted-Identity: the first value, if it
        reads as a name-addr); only a trusted peer's counts, which every admitted trunk is."""
        values = values_of(self.request.header_fields, "P-Asserted-Identity", limit=2)
        try:
            return parse_name_addr(values[0], "P-Asserted-Identity") if values else None
        except SipParseError:
            return None

    @property
    def withheld(self) -> bool:
        """Whether the caller asked not to be identified (RFC 3323 Privacy: id, user or header)."""
        tokens = {token.strip().lower() for value in values_of(self.request.header_fields, "Privacy")
                  for token in value.split(";")}
        return bool(tokens & {"id", "user", "header"})

    @property
    def caller(self) -> tuple[str | None, str | None]:
        """Who calls, as number and name: the asserted identity over From (its name from From when it has none),
        and (None, None) when withheld."""
        if self.withheld:
            return None, None
        identity = self.asserted or self.request.from_
        return _number(identity.uri), identity.display_name or self.from_name

    @property
    def to(self) -> NameAddr:
        return self.request.to

    @property
    def request_uri(self) -> Uri:
        return self.request.uri

    def header(self, name: str) -> str | None:
        return self.request.header(name)

    @property
    def answered(self) -> bool:
        return self.invite.final is not None

    # -- answering ----------------------------------------------------------------------------------------------

    def ring(self, status: int = 180, sdp: str | None = None) -> None:
        self._answer_invite(status, body=sdp.encode() if sdp else b"")

    def answer(self, sdp: str, header_fields: Headers = ()) -> None:
        self._answer_invite(200, body=sdp.encode(), header_fields=header_fields)
        self.local_sdp = sdp

    def decline(self, status: int = 603, reason: str | None = None, headers: Headers = ()) -> None:
        if status < 300:
            raise ValueError("a decline is a final failure status")
        self._answer_invite(status, reason, header_fields=headers)
        self.ended = True
        self.host.forget(self)

    async def hang_up(self, reason: str = "hang up") -> None:
        """BYE once answered; before that, a 603 decline."""
        if not self.answered:
            self.decline(603)
            return
        await super().hang_up(reason)

    def _answer_invite(self, status: int, reason: str | None = None, *, body: bytes = b"",
                       header_fields: Headers = ()) -> None:
        if self.ended or self.answered:
            raise DialogStateError("the INVITE has its final answer")
        response = self.invite.respond(status, reason, now=self.host.now(), body=body,
                                       content_type=SDP if body else None, header_fields=header_fields)
        if self.invite.dialog is not None and self.dialog is None:
            self.dialog = self.invite.dialog
            self.host.register(self, self.dialog)
        self._send_response(self.key, response)

    def on_cancel(self) -> None:
        """A CANCEL matched our INVITE (its 200 is sent by the user agent)."""
        if self.answered or self.ended:
            return
        self._answer_invite(487)
        self.ended = True
        self._emit(Cancelled())
        self.host.forget(self)


def _number(uri: Uri) -> str | None:
    if isinstance(uri, SipUri):
        return uri.user_text
    if isinstance(uri, TelUri):
        return str(uri).removeprefix("tel:").split(";", 1)[0]
    return None
