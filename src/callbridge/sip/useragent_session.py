"""What both kinds of user-agent session share once a dialog exists: in-dialog requests received (BYE, re-INVITE,
OPTIONS), the ACK, the 2xx retransmission of the dialog until its ACK, `hang_up()` and `reinvite(sdp)`.

In-dialog requests go to the session's `peer`: the address the call was placed to, or the source of the INVITE
(no RFC 3263 lookup of the remote target; a trunk's peer is its proxy or SBC).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Final, Protocol

from callbridge.sip.dialog import Dialog, DialogStateError
from callbridge.sip.dialog_states import DialogState, Timers
from callbridge.sip.fields import NameAddr
from callbridge.sip.message import Request, Response
from callbridge.sip.transaction import ServerKey
from callbridge.sip.transport import Address
from callbridge.sip.useragent_events import Ended, Reinvited, ReinviteFailed, SessionEvent
from callbridge.sip.useragent_outbox import Outbox

ALLOW: Final = ("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS")
CAPABILITIES: Final = (("Allow", ", ".join(ALLOW)), ("Accept", "application/sdp"))
SDP: Final = "application/sdp"


class Host(Protocol):
    """What a session needs of its user agent."""

    outbox: Outbox
    timers: Timers

    def now(self) -> float: ...

    def contact(self, transport: str) -> NameAddr: ...

    def local(self, transport: str) -> Address: ...

    def register(self, session: Session, dialog: Dialog) -> None: ...

    def reschedule(self, session: Session) -> None: ...

    def forget(self, session: Session) -> None: ...


def text(body: bytes) -> str | None:
    return body.decode("utf-8", "replace") if body else None


class Session:
    def __init__(self, host: Host, peer: Address) -> None:
        self.host = host
        self.peer = peer
        self.events: asyncio.Queue[SessionEvent] = asyncio.Queue()
        self.dialog: Dialog | None = None
        self.local_sdp: str | None = None
        self.remote_sdp: str | None = None
        self.on_reinvite: Callable[[str | None], str] | None = None  # answers re-INVITEs by itself when set
        self.ended = False
        self.acknowledged = asyncio.Event()  # our 2xx to an INVITE has its ACK (or was given up)
        self._success_key: ServerKey | None = None  # the server transaction of the INVITE our 2xx answers
        self._reinvite: tuple[Request, ServerKey] | None = None

    async def next_event(self) -> SessionEvent:
        return await self.events.get()

    def _emit(self, event: SessionEvent) -> None:
        self.events.put_nowait(event)

    def _end(self, by_remote: bool, reason: str) -> None:
        if not self.ended:
            self.ended = True
            self._emit(Ended(by_remote, reason))
            self.host.forget(self)

    # -- requests in the dialog -------------------------------------------------------------------------------

    def on_request(self, request: Request, key: ServerKey) -> None:
        """An in-dialog request the dialog has accepted (`Dialogs.receive`)."""
        if request.method == "BYE":
            self._respond(request, key, 200)
            self._end(True, "BYE")
        elif request.method == "INVITE":
            self._reinvite = (request, key)
            if self.on_reinvite is not None:
                self.accept_reinvite(self.on_reinvite(text(request.body)))
            else:
                self._emit(Reinvited(text(request.body)))
        else:
            self._respond(request, key, 200, header_fields=CAPABILITIES)

    def on_ack(self) -> None:
        self.acknowledged.set()
        self.host.reschedule(self)

    def accept_reinvite(self, sdp: str) -> None:
        request, key = self._pending_reinvite()
        self._respond(request, key, 200, body=sdp.encode())
        self.local_sdp, self.remote_sdp = sdp, text(request.body)

    def reject_reinvite(self, status: int = 488, reason: str | None = None) -> None:
        request, key = self._pending_reinvite()
        self._respond(request, key, status, reason)

    def _pending_reinvite(self) -> tuple[Request, ServerKey]:
        if self._reinvite is None:
            raise DialogStateError("no re-INVITE to answer")
        pending, self._reinvite = self._reinvite, None
        return pending

    def _respond(self, request: Request, key: ServerKey, status: int, reason: str | None = None, *,
                 body: bytes = b"", header_fields: tuple[tuple[str, str], ...] = ()) -> None:
        assert self.dialog is not None
        response = self.dialog.respond(request, status, reason, now=self.host.now(), body=body,
                                       content_type=SDP if body else None, header_fields=header_fields)
        self._send_response(key, response)

    def _send_response(self, key: ServerKey, response: Response) -> None:
        if response.cseq.method == "INVITE" and response.status_class == 2:
            self._success_key = key
            self.acknowledged.clear()
            self.host.reschedule(self)
        self.host.outbox.respond(key, response, self.peer)

    # -- timers: the 2xx until its ACK --------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        return self.dialog.next_deadline if self.dialog is not None else None

    def on_timer(self, now: float) -> None:
        if self.dialog is None:
            return
        for message in self.dialog.on_timer(now):
            if isinstance(message, Response):
                if self._success_key is not None:
                    self.host.outbox.respond(self._success_key, message, self.peer)
            else:  # the BYE after 64*T1 without an ACK (RFC 3261 13.3.1.4)
                self.acknowledged.set()
                self._send_bye(message)
                self._end(False, "no ACK")
        if not self.dialog.awaiting_ack:
            self.acknowledged.set()

    # -- our requests in the dialog -----------------------------------------------------------------------------

    async def hang_up(self, reason: str = "hang up") -> None:
        """BYE for an established session (after our 2xx's ACK if it is still awaited); Ended is emitted at once,
        and this returns when the BYE has its answer (or its transaction timed out)."""
        dialog = self.dialog
        if self.ended or dialog is None:
            return
        if dialog.awaiting_ack:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.acknowledged.wait(), self.host.timers.give_up_after)
        if self.ended or dialog.state is not DialogState.CONFIRMED:
            return
        bye = dialog.build_request("BYE")
        self._end(False, reason)
        response, _ = await self.host.outbox.request(bye, self.peer)
        dialog.on_response(response)

    def _send_bye(self, bye: Request) -> None:
        dialog = self.dialog

        def answered(response: Response, local: bool) -> None:
            if dialog is not None:
                dialog.on_response(response)

        self.host.outbox.send(bye, self.peer, answered)

    async def reinvite(self, sdp: str) -> str | None:
        """A re-INVITE offering `sdp` (hold: sendonly; resume: sendrecv); returns the answer's SDP after the ACK
        is sent. Raises `ReinviteFailed` for a non-2xx (and ends the session on 408/481, RFC 3261 12.2.1.2)."""
        dialog = self.dialog
        if dialog is None or self.ended:
            raise DialogStateError("no established session")
        request = dialog.build_request("INVITE", body=sdp.encode(), content_type=SDP)

        def again(response: Response, local: bool) -> None:
            ack = dialog.on_response(response)
            if ack is not None:
                self.host.outbox.stateless(ack, self.peer)

        response, _ = await self.host.outbox.request(request, self.peer, after=again)
        dialog.on_response(response)
        if response.status_class != 2:
            if dialog.state is DialogState.TERMINATED:
                self._end(False, f"{response.status} {response.reason}")
            raise ReinviteFailed(response.status, response.reason)
        self.host.outbox.stateless(dialog.build_ack(), self.peer)
        self.local_sdp, self.remote_sdp = sdp, text(response.body)
        return self.remote_sdp
