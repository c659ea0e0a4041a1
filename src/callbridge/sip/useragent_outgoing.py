"""The caller's side of an INVITE session: `UserAgent.call()` returns an `OutgoingSession`.

The INVITE goes out in one client transaction; responses come back through `OutgoingInvite`, which keeps one
dialog per remote tag. The first 2xx is ACKed and becomes the session (`Answered`); a 2xx from another fork, or
one arriving after our CANCEL, is ACKed and then ended with a BYE (RFC 3261 13.2.2.4). A 401/407 is answered
once with the call's credentials (`digest.authorize`); a second challenge is `Failed`.

Timers (on the user agent's schedule): `ring_timeout` after the INVITE, a CANCEL ("No answer", 408); 64*T1
with nothing above 100 Trying, a CANCEL too ("Request Timeout", 408); 64*T1 after a CANCEL without a final
response, the INVITE is given up (RFC 3261 9.1). Without any response, the transaction's Timer B gives the 408.
"""

from __future__ import annotations

from callbridge.sip.dialog import Dialog, DialogStateError, OutgoingInvite
from callbridge.sip.dialog_states import DialogState
from callbridge.sip.digest import DigestError, authorize
from callbridge.sip.message import Request, Response
from callbridge.sip.transaction import ClientKey
from callbridge.sip.transport import Address
from callbridge.sip.useragent_events import Answered, Failed, Ringing
from callbridge.sip.useragent_session import Host, Session, text


class OutgoingSession(Session):
    def __init__(self, host: Host, invite: Request, destination: Address, *,
                 credentials: tuple[str, str] | None = None, ring_timeout: float | None = None) -> None:
        super().__init__(host, destination)
        self.invite = OutgoingInvite(invite, timers=host.timers)
        self.local_sdp = text(invite.body)
        self.credentials = credentials
        self.answered = False
        self.failed: Failed | None = None
        self._key: ClientKey | None = None
        self._challenged = False
        self._provisional = False  # any 1xx, 100 included: a CANCEL may go
        self._ringing = False  # a 101-199
        self._cancel: Failed | None = None  # what to report once our CANCEL is answered; None: not cancelling
        self._cancel_sent = False
        now = host.now()
        self._trying_until: float | None = now + host.timers.give_up_after
        self._ring_until = None if ring_timeout is None else now + ring_timeout
        self._cancel_until: float | None = None

    @property
    def call_id(self) -> str:
        return self.invite.request.call_id

    def start(self) -> None:
        self._key = self.host.outbox.send(self.invite.request, self.peer, self._on_response)
        self.host.reschedule(self)

    @property
    def settled(self) -> bool:
        return self.answered or self.failed is not None or self.ended

    # -- the owner's calls ----------------------------------------------------------------------------------------

    def cancel(self, status: int = 487, reason: str = "Request Terminated") -> None:
        """CANCEL the INVITE (sent once a provisional response has come); `Failed(status, reason)` follows."""
        if self.settled or self._cancel is not None:
            return
        self._cancel = Failed(status, reason)
        if self._provisional:
            self._send_cancel()

    async def hang_up(self, reason: str = "hang up") -> None:
        if not self.answered:
            self.cancel()
            return
        await super().hang_up(reason)

    def _send_cancel(self) -> None:
        if self._cancel_sent or self.invite.final_status is not None:
            return
        self._cancel_sent = True
        self.host.outbox.send(self.invite.cancel(), self.peer)
        self._cancel_until = self.host.now() + self.host.timers.give_up_after
        self.host.reschedule(self)

    # -- responses ----------------------------------------------------------------------------------------------

    def _on_response(self, response: Response, local: bool) -> None:
        if response.cseq.method != "INVITE" or response.cseq.number != self.invite.request.cseq.number:
            return  # the CANCEL's answer, or an answer to the INVITE we retried with credentials
        outcome = self.invite.on_response(response)
        if response.is_provisional:
            self._on_provisional(response)
        elif response.status_class == 2:
            if outcome.ack_again is not None:
                self.host.outbox.stateless(outcome.ack_again, self.peer)
            elif outcome.dialog is not None and outcome.dialog.last_ack is None:  # its first 2xx
                self._on_success(outcome.dialog, response)
        else:
            self._on_failure(response, local)
        self.host.reschedule(self)

    def _on_provisional(self, response: Response) -> None:
        self._provisional = True
        if response.status > 100 and not self.settled:
            self._ringing = True
            if self._cancel is None:
                self._emit(Ringing(response.status, text(response.body)))
        if self._cancel is not None:
            self._send_cancel()

    def _on_success(self, dialog: Dialog, response: Response) -> None:
        self.host.outbox.stateless(dialog.build_ack(), self.peer)
        if self.settled or self._cancel is not None:  # another fork, or too late for our CANCEL
            self._send_bye_on(dialog)
            if not self.settled and self._cancel is not None:
                self._fail(self._cancel)
            return
        self.answered = True
        self.dialog = dialog
        self.remote_sdp = text(response.body)
        self.host.register(self, dialog)
        self._emit(Answered(self.remote_sdp))

    def _send_bye_on(self, dialog: Dialog) -> None:
        if dialog.state is DialogState.CONFIRMED:
            bye = dialog.build_request("BYE")
            self.host.outbox.send(bye, self.peer, lambda response, _: self._bye_answered(dialog, response))

    @staticmethod
    def _bye_answered(dialog: Dialog, response: Response) -> None:
        dialog.on_response(response)

    def _on_failure(self, response: Response, local: bool) -> None:
        if self.settled:
            return
        if response.status in (401, 407) and not local and self._retry_with_credentials(response):
            return
        if self._cancel is not None and not local:
            self._fail(self._cancel if response.status == 487 else Failed(response.status, response.reason))
        else:
            self._fail(Failed(response.status, response.reason))

    def _retry_with_credentials(self, response: Response) -> bool:
        if self.credentials is None or self._challenged or self._cancel is not None:
            return False
        username, password = self.credentials
        try:
            retry = authorize(self.invite.request, response, username=username, password=password)
        except DigestError:
            return False
        self._challenged = True
        self.invite = OutgoingInvite(retry, timers=self.host.timers)
        self._provisional = False
        self.start()
        return True

    def _fail(self, failed: Failed) -> None:
        self.failed = failed
        self._emit(failed)
        self.host.forget(self)

    # -- timers -------------------------------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        if self.settled:
            return super().next_deadline()
        pending = [self._cancel_until] if self._cancel_sent else [self._ring_until, self._trying_until]
        if self._ringing:
            pending = [self._cancel_until if self._cancel_sent else self._ring_until]
        return min((deadline for deadline in pending if deadline is not None), default=None)

    def on_timer(self, now: float) -> None:
        if self.settled:
            super().on_timer(now)
            return
        if self._cancel_until is not None and now >= self._cancel_until:
            if self._key is not None:
                self.host.outbox.abandon(self._key)
            self._fail(self._cancel or Failed(408, "Request Timeout"))
        elif self._ring_until is not None and now >= self._ring_until:
            self._ring_until = None
            self._cancel_or_wait(Failed(408, "No answer"))
        elif not self._ringing and self._trying_until is not None and now >= self._trying_until:
            self._trying_until = None
            self._cancel_or_wait(Failed(408, "Request Timeout"))

    def _cancel_or_wait(self, failed: Failed) -> None:
        """With a provisional response, CANCEL; without any, Timer B is about to report the 408."""
        try:
            self.cancel(failed.status, failed.reason)
        except DialogStateError:
            self._fail(failed)
