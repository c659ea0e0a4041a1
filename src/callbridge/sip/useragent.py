"""The SIP user agent (RFC 3261 8, 12-15): INVITE sessions in both roles on one `Endpoint`, whose `on_event` it
owns.

- `await ua.call(request_uri, from_uri=..., sdp=..., destination=...)` -> `OutgoingSession` (events `Ringing`,
  `Answered`, `Failed`, `Ended`; `cancel()`, `hang_up()`, `reinvite(sdp)`).
- `ua.incoming` is a queue of `IncomingSession` (`ring()`, `answer(sdp)`, `decline()`, `hang_up()`; events
  `Cancelled`, `Ended`, `Reinvited`), one per INVITE that `ua.screen(request, source)` accepted.
- Answered here without the owner: OPTIONS (200 with Allow and Accept), methods we do not serve (405 with
  Allow when known, 501 otherwise), option tags in Require (420), in-dialog requests of unknown dialogs (481),
  CANCEL (200 and 487, or 481), ACKs, and the dialogs' 2xx retransmissions until their ACK.
- `await ua.options(destination)` -> the status of an OPTIONS ping, None without an answer.

Dialog timers (T1, T2) follow the endpoint's `TimerSettings`; they and the sessions' no-answer timers run on
one task (`Schedule`); the transaction timers stay on the endpoint's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Final

from callbridge.sip.dialog import (
    CallDoesNotExist,
    Dialog,
    DialogError,
    DialogId,
    Dialogs,
    build_invite,
    new_call_id,
    new_tag,
)
from callbridge.sip.dialog_states import Timers
from callbridge.sip.endpoint import Endpoint, TuEvent
from callbridge.sip.errors import Headers
from callbridge.sip.fields import NameAddr
from callbridge.sip.message import Request
from callbridge.sip.responses import make_response, unsupported_requirements
from callbridge.sip.transaction import RequestReceived, ServerKey, via_for
from callbridge.sip.transport import Address
from callbridge.sip.uri import SipUri, Uri, parse_uri
from callbridge.sip.useragent_events import Drop, Respond, Screen, accept_all
from callbridge.sip.useragent_incoming import IncomingSession
from callbridge.sip.useragent_outbox import Outbox, Schedule
from callbridge.sip.useragent_outgoing import OutgoingSession
from callbridge.sip.useragent_session import ALLOW, CAPABILITIES, SDP, Session

KNOWN_METHODS: Final = frozenset({"REGISTER", "INFO", "UPDATE", "PRACK", "SUBSCRIBE", "NOTIFY", "REFER", "MESSAGE",
                                  "PUBLISH"})  # fmt: skip
SUPPORTED: Final = frozenset[str]()  # option tags we can honour in Require


class _Forgotten:
    """A dropped INVITE's server transaction, forgotten 64*T1 after the drop."""

    def __init__(self, ua: UserAgent, key: ServerKey, request: Request, at: float) -> None:
        self.ua, self.key, self.request = ua, key, request
        self.at: float | None = at

    def next_deadline(self) -> float | None:
        return self.at

    def on_timer(self, now: float) -> None:
        self.ua.endpoint.layer.servers.pop(self.key, None)
        self.ua.dropped.pop(self.key, None)
        self.at = None


class UserAgent:
    def __init__(self, endpoint: Endpoint, *, user: str = "callbridge", ring_timeout: float | None = None) -> None:
        endpoint.on_event = self._on_event
        self.endpoint = endpoint
        self.user = user
        self.ring_timeout = ring_timeout
        settings = endpoint.layer.timers
        self.timers = Timers(t1=settings.t1, t2=settings.t2)
        self.outbox = Outbox(endpoint)
        self.schedule = Schedule(endpoint.clock)
        self.screen: Screen = accept_all
        self.incoming: asyncio.Queue[IncomingSession] = asyncio.Queue()
        self.dialogs = Dialogs()
        self.sessions: dict[DialogId, Session] = {}
        self.invites: dict[ServerKey, IncomingSession] = {}  # INVITE server transaction -> its session
        self.dropped: dict[ServerKey, _Forgotten] = {}

    async def close(self) -> None:
        await self.schedule.close()

    # -- Host (what sessions use) -------------------------------------------------------------------------------

    def now(self) -> float:
        return self.endpoint.clock()

    def local(self, transport: str) -> Address:
        address = self.endpoint.transport.local.get(transport)
        if address is None:
            raise ValueError(f"the endpoint does not listen on {transport}")
        return address

    def contact(self, transport: str) -> NameAddr:
        local = self.local(transport)
        host = f"[{local.host}]" if ":" in local.host else local.host
        params = () if transport == "UDP" else (("transport", transport.lower()),)
        return NameAddr(SipUri(host, user=self.user, port=local.port, params=params))

    def register(self, session: Session, dialog: Dialog) -> None:
        self.dialogs.add(dialog)
        self.sessions[dialog.id] = session

    def reschedule(self, session: Session) -> None:
        self.schedule.file(session)

    def forget(self, session: Session) -> None:
        if session.dialog is not None and session.dialog.next_deadline is None:
            self.dialogs.discard(session.dialog)
            self.sessions.pop(session.dialog.id, None)
        if isinstance(session, IncomingSession):
            self.invites.pop(session.key, None)
        self.schedule.file(session)

    # -- calls we place -----------------------------------------------------------------------------------------

    async def call(self, request_uri: Uri | str, *, from_uri: Uri | str, from_name: str | None = None,
                   to_uri: Uri | str | None = None, sdp: str, destination: Address, headers: Headers = (),
                   credentials: tuple[str, str] | None = None, ring_timeout: float | None = None) -> OutgoingSession:
        target = _uri(request_uri)
        invite = build_invite(
            target, from_=NameAddr(_uri(from_uri), from_name), to=NameAddr(_uri(to_uri or target)),
            contact=self.contact(destination.transport), via=via_for(self.local(destination.transport)),
            call_id=new_call_id(self.local(destination.transport).host), body=sdp.encode(), content_type=SDP,
            header_fields=headers,
        )
        session = OutgoingSession(self, invite, destination, credentials=credentials,
                                  ring_timeout=ring_timeout if ring_timeout is not None else self.ring_timeout)
        session.start()
        return session

    async def options(self, destination: Address, request_uri: Uri | str | None = None) -> int | None:
        """An OPTIONS ping (keep-alive of a trunk): the status answered, None on a timeout or transport failure."""
        local = self.local(destination.transport)
        target = _uri(request_uri) if request_uri is not None else SipUri(destination.host, port=destination.port)
        fields = (
            ("Max-Forwards", "70"),
            ("From", str(self.contact(destination.transport).with_tag(new_tag()))),
            ("To", f"<{target}>"),
            ("Call-ID", new_call_id(local.host)),
            ("CSeq", "1 OPTIONS"),
            ("Accept", SDP),
        )
        response, local_answer = await self.outbox.request(Request("OPTIONS", target, fields), destination)
        return None if local_answer else response.status

    # -- events from the endpoint -------------------------------------------------------------------------------

    def _on_event(self, event: TuEvent) -> None:
        if isinstance(event, RequestReceived):
            self._on_request(event)
        elif not isinstance(event.transaction, ServerKey):
            self.outbox.on_event(event)

    def _on_request(self, event: RequestReceived) -> None:
        request, key = event.request, event.transaction
        if key is None:  # an ACK for a 2xx
            self._on_ack(request)
            return
        refusal = self._refusal(request)
        if refusal is not None:
            self._reply(key, request, *refusal)
        elif request.method == "CANCEL":
            self._on_cancel(request, key, event.cancels)
        elif request.to.tag is not None:
            self._in_dialog(request, key)
        elif request.method == "INVITE":
            self._on_invite(request, event.source, key)
        elif request.method == "OPTIONS":
            self._reply(key, request, 200, None, CAPABILITIES)
        else:
            self._reply(key, request, 481)  # a BYE outside any dialog

    def _refusal(self, request: Request) -> tuple[int, str | None, Headers] | None:
        if request.method not in ALLOW:
            status = 405 if request.method in KNOWN_METHODS else 501
            return status, None, (("Allow", ", ".join(ALLOW)),)
        unsupported = unsupported_requirements(request, SUPPORTED) if request.method != "CANCEL" else ()
        if unsupported:
            return 420, None, (("Unsupported", ", ".join(unsupported)),)
        return None

    def _reply(self, key: ServerKey, request: Request, status: int, reason: str | None = None,
               header_fields: Headers = (), *, to_tag: str | None = None) -> None:
        response = make_response(request, status, reason, to_tag=to_tag or new_tag(), header_fields=header_fields)
        self.endpoint.send_response(key, response)

    def _on_ack(self, ack: Request) -> None:
        session = self.sessions.get(DialogId.of_received_request(ack))
        if session is not None and session.dialog is not None:
            session.dialog.receive_request(ack)
            session.on_ack()
            if session.ended:
                self.forget(session)

    def _on_cancel(self, cancel: Request, key: ServerKey, cancels: ServerKey | None) -> None:
        session = self.invites.get(cancels) if cancels is not None else None
        dropped = self.dropped.get(cancels) if cancels is not None else None
        if session is None and dropped is None:
            self._reply(key, cancel, 481)
            return
        to_tag = session.invite.local_tag if session is not None else new_tag()
        self._reply(key, cancel, 200, to_tag=to_tag)
        if session is not None:
            session.on_cancel()
        elif dropped is not None:
            self.endpoint.send_response(dropped.key, make_response(dropped.request, 487, to_tag=to_tag))

    def _in_dialog(self, request: Request, key: ServerKey) -> None:
        try:
            dialog = self.dialogs.receive(request)
        except DialogError as error:
            self.endpoint.send_response(key, error.response_to(request))
            return
        session = self.sessions.get(dialog.id)
        if session is None:
            self.endpoint.send_response(key, CallDoesNotExist("no session").response_to(request))
            return
        session.on_request(request, key)
        if session.ended:
            self.forget(session)

    def _on_invite(self, request: Request, source: Address, key: ServerKey) -> None:
        screening = self.screen(request, source)
        if isinstance(screening, Respond):
            self._reply(key, request, screening.status, screening.reason, screening.header_fields)
        elif isinstance(screening, Drop):
            forgotten = _Forgotten(self, key, request, self.now() + self.timers.give_up_after)
            self.dropped[key] = forgotten
            self.schedule.file(forgotten)
        elif not request.contacts:
            self._reply(key, request, 400, "Missing Contact header")
        else:
            session = IncomingSession(self, request, source, key)
            self.invites[key] = session
            self.incoming.put_nowait(session)


def _uri(value: Uri | str) -> Uri:
    return parse_uri(value) if isinstance(value, str) else value


__all__: Sequence[str] = ("IncomingSession", "OutgoingSession", "UserAgent")
