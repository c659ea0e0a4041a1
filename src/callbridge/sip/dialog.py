"""INVITE dialogs (RFC 3261 12-15), sans-I/O: building the requests a dialog sends, reading the responses and
requests it receives, and the 2xx retransmission a UAS owes until the ACK, as `next_deadline`/`on_timer(now)`.

Depends on the message layer, and on `transaction` for its Via and CANCEL builders (`new_branch`, `with_branch`,
`cancel_for`: one of each in the stack). The states live in `dialog_states` (one table); this module owns the data of a
dialog (RFC 3261 12.1: id, sequence numbers, URIs, remote target, route set, secure flag) and the rules:

- **Via.** Every builder puts a top Via with a fresh RFC 3261 branch (`new_branch()`), or the `branch=` passed
  in. The transport and sent-by come from a template Via a dialog keeps: at the UAC the INVITE's own top Via, at
  the UAS the `via` given to `IncomingInvite`. The transaction layer keys its client transaction on that branch;
  the transport may add `rport`/`received` as it sends.
- **Route set.** From Record-Route, reversed at the UAC (12.1.2), as received at the UAS (12.1.1). A first
  route with `;lr` keeps the remote target as the Request-URI; a strict router (no `;lr`) becomes the
  Request-URI and the remote target goes last in Route (12.2.1.1).
- **Secure** is true when the dialog-creating INVITE's Request-URI is a SIPS URI (which requires TLS on every
  hop, so the transport need not be consulted).
- **Forking.** `OutgoingInvite` keeps one dialog per remote tag; every 2xx gets an ACK, and the user agent ends
  the dialogs it does not want with a BYE (13.2.2.4).
- Session timers (RFC 4028), PRACK (RFC 3262) and UPDATE-based early offers are out of scope.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Final

from callbridge.sip.dialog_states import (
    DEFAULT_TIMERS,
    DialogEvent,
    DialogState,
    Retransmit,
    SuccessRetransmission,
    Timers,
    dialog_next,
    glare_delay,
)
from callbridge.sip.errors import Headers
from callbridge.sip.fields import NameAddr, Via, Wildcard
from callbridge.sip.message import Request, Response
from callbridge.sip.responses import make_response, reason_phrase
from callbridge.sip.transaction import cancel_for, with_branch
from callbridge.sip.uri import SipUri, Uri

MAX_FORWARDS: Final = 70
TARGET_REFRESH: Final = frozenset({"INVITE", "UPDATE"})  # RFC 3261 12.2, RFC 3311
_CREDENTIALS: Final = ("Authorization", "Proxy-Authorization")


def new_tag() -> str:
    """A From/To tag with 64 random bits (RFC 3261 19.3 asks for at least 32)."""
    return secrets.token_hex(8)


def new_call_id(host: str) -> str:
    return f"{secrets.token_hex(16)}@{host}"


@dataclass(frozen=True)
class DialogId:
    """RFC 3261 12: Call-ID, local tag, remote tag (empty when an RFC 2543 peer sent none)."""

    call_id: str
    local_tag: str
    remote_tag: str

    @classmethod
    def of_received_request(cls, request: Request) -> DialogId:
        return cls(request.call_id, request.to.tag or "", request.from_.tag or "")

    @classmethod
    def of_received_response(cls, response: Response) -> DialogId:
        return cls(response.call_id, response.from_.tag or "", response.to.tag or "")


class DialogError(Exception):
    """An in-dialog request the dialog refuses; `response_to(request)` is the answer on the wire."""

    status: int = 500

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def response_to(self, request: Request, *, to_tag: str | None = None) -> Response:
        fields: Headers = (("Retry-After", str(self.retry_after)),) if self.retry_after is not None else ()
        return make_response(request, self.status, reason_phrase(self.status), to_tag=to_tag, header_fields=fields)


class CallDoesNotExist(DialogError):
    """481: a request with a To tag matching no live dialog (12.2.2)."""

    status = 481


class CSeqOutOfOrder(DialogError):
    """500: a CSeq number not higher than the remote sequence number (12.2.2)."""

    status = 500


class InviteInProgress(DialogError):
    """500 with Retry-After 0-10 s: an INVITE while an earlier one we received is unanswered (14.2)."""

    status = 500


class RequestPending(DialogError):
    """491: an INVITE while one we sent on the dialog is in progress (14.2); see `Dialog.glare_delay`."""

    status = 491


class DialogStateError(Exception):
    """A request this side may not send now (terminated dialog, INVITE in progress, early BYE from the callee)."""


def _first_contact(message: Request | Response) -> NameAddr | None:
    contacts = message.contacts
    if isinstance(contacts, Wildcard) or not contacts:
        return None
    return contacts[0]


def _is_loose(route: Uri) -> bool:
    return isinstance(route, SipUri) and route.has_param("lr")


def _request_uri_form(uri: Uri) -> Uri:
    """`uri` without what a Request-URI may not carry (RFC 3261 19.1.1 table: the method parameter, headers)."""
    if not isinstance(uri, SipUri):
        return uri
    return replace(uri, params=tuple((k, v) for k, v in uri.params if k.lower() != "method"), headers=())


def request_target(remote_target: Uri, route_set: Sequence[Uri]) -> tuple[Uri, tuple[Uri, ...]]:
    """The Request-URI and the Route values for a request along `route_set` (RFC 3261 12.2.1.1)."""
    if not route_set or _is_loose(route_set[0]):
        return remote_target, tuple(route_set)
    return _request_uri_form(route_set[0]), (*route_set[1:], remote_target)


def _route_fields(routes: Sequence[Uri]) -> list[tuple[str, str]]:
    return [("Route", f"<{route}>") for route in routes]


def _body_fields(body: bytes, content_type: str | None) -> list[tuple[str, str]]:
    """Content-Type for a body (application/sdp unless said otherwise)."""
    return [("Content-Type", content_type or "application/sdp")] if body else []


def build_invite(
    request_uri: Uri,
    *,
    from_: NameAddr,
    to: NameAddr,
    contact: NameAddr,
    via: Via,
    call_id: str | None = None,
    cseq: int = 1,
    route_set: Sequence[Uri] = (),
    body: bytes = b"",
    content_type: str | None = None,
    header_fields: Headers = (),
) -> Request:
    """The dialog-creating INVITE (RFC 3261 8.1.1, 13.2.1): From gets a fresh tag unless it has one, To must have
    none; Call-ID fresh unless given; `route_set` is a preloaded route (an outbound proxy), strict or loose."""
    if to.tag is not None:
        raise ValueError("the To of a request outside a dialog has no tag")
    target, routes = request_target(request_uri, route_set)
    fields = [
        ("Via", str(via if via.branch else with_branch(via))),
        ("Max-Forwards", str(MAX_FORWARDS)),
        *_route_fields(routes),
        ("From", str(from_ if from_.tag else from_.with_tag(new_tag()))),
        ("To", str(to)),
        ("Call-ID", call_id or new_call_id(via.host)),
        ("CSeq", f"{cseq} INVITE"),
        ("Contact", str(contact)),
        *header_fields,
        *_body_fields(body, content_type),
    ]
    return Request("INVITE", target, tuple(fields), body)


class BadRequest(DialogError):
    """400: a dialog-creating INVITE without a Contact (RFC 3261 8.1.1.8)."""

    status = 400


class Role(StrEnum):
    UAC = "uac"  # sent the dialog-creating INVITE, and so owns the Call-ID
    UAS = "uas"


def _template(via: Via) -> Via:
    return replace(via, params=tuple((key, value) for key, value in via.params if key.lower() != "branch"))


@dataclass(eq=False)
class Dialog:
    """One INVITE dialog as one side sees it (RFC 3261 12.1); made by `OutgoingInvite` or `IncomingInvite`."""

    id: DialogId
    role: Role
    local: NameAddr  # our From (UAC) or To (UAS), with the local tag
    remote: NameAddr  # theirs, with the remote tag
    local_target: NameAddr  # our Contact
    remote_target: Uri
    via: Via  # template of the Via of our requests: transport and sent-by, no branch
    secure: bool
    route_set: tuple[Uri, ...] = ()
    local_seq: int | None = None
    remote_seq: int | None = None
    state: DialogState = DialogState.NONE
    timers: Timers = DEFAULT_TIMERS
    invite: Request | None = None  # the latest INVITE we sent: its ACK copies CSeq number and credentials
    last_ack: Request | None = None  # sent again on every repeat of the 2xx it acknowledges
    client_invite: int | None = None  # CSeq number of our INVITE awaiting its final response
    server_invite: int | None = None  # CSeq number of a received INVITE not finally answered yet
    _success: Response | None = field(default=None, init=False, repr=False)
    _retransmission: SuccessRetransmission | None = field(default=None, init=False, repr=False)

    @classmethod
    def for_uac(cls, invite: Request, response: Response, timers: Timers = DEFAULT_TIMERS) -> Dialog:
        """The UAC's dialog for the To tag of `response` (12.1.2); `on_response(response)` then moves it."""
        contact, remote_tag = _first_contact(invite), response.to.tag
        if contact is None or not remote_tag:
            raise ValueError("a UAC dialog needs the INVITE's Contact and the response's To tag")
        return cls(
            DialogId(invite.call_id, invite.from_.tag or "", remote_tag), Role.UAC, invite.from_, response.to,
            contact, invite.uri, _template(invite.top_via), invite.uri.scheme == "sips",
            local_seq=invite.cseq.number, timers=timers, invite=invite, client_invite=invite.cseq.number,
        )

    @classmethod
    def for_uas(cls, invite: Request, *, local_tag: str, contact: NameAddr, via: Via,
                timers: Timers = DEFAULT_TIMERS) -> Dialog:
        """The UAS's dialog for `invite` (12.1.1); `respond(invite, ...)` with a 101-299 then moves it."""
        remote_contact = _first_contact(invite)
        if remote_contact is None:
            raise BadRequest("the INVITE has no Contact")
        return cls(
            DialogId(invite.call_id, local_tag, invite.from_.tag or ""), Role.UAS, invite.to.with_tag(local_tag),
            invite.from_, contact, remote_contact.uri, _template(via), invite.uri.scheme == "sips",
            route_set=tuple(route.uri for route in invite.record_routes), remote_seq=invite.cseq.number,
            timers=timers, server_invite=invite.cseq.number,
        )

    # -- reading ---------------------------------------------------------------------------------------------

    @property
    def awaiting_ack(self) -> bool:
        return self._retransmission is not None

    @property
    def invite_in_progress(self) -> bool:
        """An INVITE transaction in either direction, or our 2xx not yet acknowledged (14.1, 14.2)."""
        return self.client_invite is not None or self.server_invite is not None or self.awaiting_ack

    @property
    def next_deadline(self) -> float | None:
        return self._retransmission.next_deadline if self._retransmission is not None else None

    def glare_delay(self, rng: random.Random | None = None) -> float:
        """Seconds to wait before retrying a re-INVITE answered 491 (14.1)."""
        return glare_delay(self.role is Role.UAC, rng or random.Random())

    def _step(self, event: DialogEvent) -> None:
        self.state = dialog_next(self.state, event)

    def _refresh_target(self, message: Request | Response) -> None:
        contact = _first_contact(message)
        if contact is not None:
            self.remote_target = contact.uri

    # -- sending requests --------------------------------------------------------------------------------------

    def build_request(self, method: str, *, body: bytes = b"", content_type: str | None = None,
                      header_fields: Headers = (), branch: str | None = None) -> Request:
        """A request within the dialog (12.2.1.1): BYE, re-INVITE, INFO, OPTIONS, UPDATE...; the CSeq goes up."""
        self._check_can_send(method)
        self.local_seq = (secrets.randbelow(2**31) if self.local_seq is None else self.local_seq) + 1
        request = self._request(method, self.local_seq, branch, body, content_type, header_fields)
        if method == "INVITE":
            self.invite, self.client_invite = request, self.local_seq
        elif method == "BYE":
            self._step(DialogEvent.BYE_SENT)
        return request

    def _check_can_send(self, method: str) -> None:
        if method in ("ACK", "CANCEL"):
            raise ValueError("an ACK comes from build_ack, a CANCEL from build_cancel")
        if self.state not in (DialogState.EARLY, DialogState.CONFIRMED):
            raise DialogStateError(f"no {method} in a dialog that is {self.state}")
        if method == "INVITE" and (self.state is DialogState.EARLY or self.invite_in_progress):
            raise DialogStateError("an INVITE transaction is in progress on the dialog (RFC 3261 14.1)")
        if method == "BYE" and self.role is Role.UAS and (self.state is DialogState.EARLY or self.awaiting_ack):
            raise DialogStateError("the callee sends no BYE before the ACK of its 2xx (RFC 3261 15)")

    def _request(self, method: str, seq: int, branch: str | None, body: bytes, content_type: str | None,
                 header_fields: Headers) -> Request:
        target, routes = request_target(self.remote_target, self.route_set)
        contact = [("Contact", str(self.local_target))] if method in TARGET_REFRESH else []
        fields = [
            ("Via", str(with_branch(self.via, branch))),
            ("Max-Forwards", str(MAX_FORWARDS)),
            *_route_fields(routes),
            ("From", str(self.local)),
            ("To", str(self.remote)),
            ("Call-ID", self.id.call_id),
            ("CSeq", f"{seq} {method}"),
            *contact,
            *header_fields,
            *_body_fields(body, content_type),
        ]
        return Request(method, target, tuple(fields), body)

    def build_ack(self, *, body: bytes = b"", content_type: str | None = None, branch: str | None = None) -> Request:
        """The ACK for a 2xx to our latest INVITE (13.2.2.4): its CSeq number, a new branch, the route set and the
        INVITE's credentials. Kept as `last_ack`, which `on_response` returns for each repeat of that 2xx."""
        if self.invite is None:
            raise DialogStateError("no INVITE to acknowledge")
        credentials = tuple((name, value) for name, value in self.invite.header_fields if name in _CREDENTIALS)
        self.last_ack = self._request("ACK", self.invite.cseq.number, branch, body, content_type, credentials)
        return self.last_ack

    # -- responses to our requests -----------------------------------------------------------------------------

    def on_response(self, response: Response) -> Request | None:
        """A response to a request the dialog sent. Returns the ACK to send again when `response` repeats an
        acknowledged 2xx; after a first 2xx to an INVITE the user agent calls `build_ack`."""
        method = response.cseq.method
        if method == "INVITE":
            return self._on_invite_response(response)
        if self.state is DialogState.TERMINATED or response.is_provisional:
            return None
        if method == "BYE":
            self._step(DialogEvent.BYE_ANSWERED)
        elif response.status in (408, 481):
            self._step(DialogEvent.GONE)
        elif response.status_class == 2 and method in TARGET_REFRESH:
            self._refresh_target(response)
        return None

    def on_timeout(self, request: Request) -> None:
        """The client transaction of `request` ended without a final response: taken as a 408 (12.2.1.2)."""
        self.on_response(make_response(request, 408))

    def _on_invite_response(self, response: Response) -> Request | None:
        if self.invite is None or response.cseq.number != self.invite.cseq.number:
            return None  # an answer to an earlier INVITE
        if response.is_provisional:
            if self.state in (DialogState.NONE, DialogState.EARLY) and response.status > 100:
                if self.state is DialogState.NONE:
                    self._adopt(response)
                self._step(DialogEvent.PROVISIONAL)
            return None
        if self.client_invite != response.cseq.number:  # a repeated final response
            return self.last_ack if response.status_class == 2 else None
        self.client_invite = None
        self._on_invite_final(response)
        return None

    def _on_invite_final(self, response: Response) -> None:
        if response.status_class == 2:
            if self.state in (DialogState.NONE, DialogState.EARLY):
                self._adopt(response)
                self._step(DialogEvent.SUCCESS)
            elif self.state is not DialogState.TERMINATED:
                self._refresh_target(response)
        elif self.state is DialogState.EARLY:
            self._step(DialogEvent.FAILURE)
        elif response.status in (408, 481) and self.state is not DialogState.TERMINATED:
            self._step(DialogEvent.GONE)

    def _adopt(self, response: Response) -> None:
        """Route set and remote target from the response that creates or confirms the dialog (12.1.2, 13.2.2.4)."""
        self.route_set = tuple(route.uri for route in reversed(response.record_routes))
        self._refresh_target(response)

    # -- requests we receive -----------------------------------------------------------------------------------

    def receive_request(self, request: Request) -> None:
        """An in-dialog request (12.2.2); raises a `DialogError` whose `response_to(request)` is the answer."""
        if request.method == "ACK":
            self._on_ack(request)
            return
        if self.state in (DialogState.NONE, DialogState.TERMINATED):
            raise CallDoesNotExist(f"the dialog is {self.state}")
        if request.method == "CANCEL":
            return  # the transaction layer answers it; the user agent then answers the INVITE with 487
        number = request.cseq.number
        if self.remote_seq is not None and number <= self.remote_seq:
            raise CSeqOutOfOrder(f"CSeq {number} is not above {self.remote_seq}")
        self.remote_seq = number
        if request.method == "INVITE":
            self._on_reinvite(request)
        elif request.method == "BYE":
            self._step(DialogEvent.BYE_RECEIVED)
        elif request.method in TARGET_REFRESH:
            self._refresh_target(request)

    def _on_reinvite(self, request: Request) -> None:
        if self.server_invite is not None or self.awaiting_ack:
            raise InviteInProgress("an earlier INVITE is not answered yet", retry_after=secrets.randbelow(11))
        if self.client_invite is not None:
            raise RequestPending("our own INVITE on this dialog is in progress")
        self.server_invite = request.cseq.number
        self._refresh_target(request)

    def _on_ack(self, request: Request) -> None:
        if self._retransmission is not None and request.cseq.number == self._retransmission.cseq:
            self._retransmission = self._success = None

    def respond(self, request: Request, status: int, reason: str | None = None, *, now: float, body: bytes = b"",
                content_type: str | None = None, header_fields: Headers = ()) -> Response:
        """The response to `request`, received on this dialog or creating it. A 2xx to an INVITE is resent by
        `on_timer` until its ACK arrives (13.3.1.4)."""
        fields = (*self._dialog_fields(request, status), *header_fields, *_body_fields(body, content_type))
        response = make_response(request, status, reason, to_tag=self.id.local_tag, header_fields=fields, body=body)
        if request.method == "INVITE" and request.cseq.number == self.server_invite:
            self._sent_invite_response(response, now)
        return response

    def _dialog_fields(self, request: Request, status: int) -> list[tuple[str, str]]:
        fields: list[tuple[str, str]] = []
        if request.method == "INVITE" and 100 < status < 300 and self.state in (DialogState.NONE, DialogState.EARLY):
            fields += [("Record-Route", value) for value in request.headers("Record-Route")]  # 12.1.1, in order
        if request.method in TARGET_REFRESH and 100 < status < 300:
            fields.append(("Contact", str(self.local_target)))
        return fields

    def _sent_invite_response(self, response: Response, now: float) -> None:
        early = self.state in (DialogState.NONE, DialogState.EARLY)
        if response.is_provisional:
            if early:
                self._step(DialogEvent.PROVISIONAL)
            return
        self.server_invite = None
        if response.status_class != 2:
            if self.state is DialogState.EARLY:
                self._step(DialogEvent.FAILURE)
            return
        if early:
            self._step(DialogEvent.SUCCESS)
        self._success = response
        self._retransmission = SuccessRetransmission(response.cseq.number, now, self.timers)

    # -- timers ------------------------------------------------------------------------------------------------

    def on_timer(self, now: float) -> list[Request | Response]:
        """What is due at `now`: the 2xx sent again, or after 64*T1 without an ACK, the BYE ending the session
        (13.3.1.4)."""
        if self._retransmission is None or self._success is None:
            return []
        action = self._retransmission.on_timer(now)
        if action is Retransmit.SEND:
            return [self._success]
        if action is Retransmit.GIVE_UP:
            self._retransmission = self._success = None
            return [self.build_request("BYE")] if self.state is DialogState.CONFIRMED else []
        return []


@dataclass(frozen=True)
class InviteResponse:
    """What a response to our INVITE meant: its dialog (None for a 100, a tagless 1xx, or a failure with no early
    dialog of that tag), whether it created the dialog, and the ACK to send again for a repeated 2xx."""

    dialog: Dialog | None
    created: bool = False
    ack_again: Request | None = None


class OutgoingInvite:
    """A dialog-creating INVITE we sent, and its dialogs: one per remote tag when a proxy forks it (13.2.2.4)."""

    def __init__(self, request: Request, *, timers: Timers = DEFAULT_TIMERS) -> None:
        if request.method != "INVITE" or request.to.tag is not None:
            raise ValueError("not a dialog-creating INVITE")
        self.request = request
        self.timers = timers
        self.dialogs: dict[str, Dialog] = {}
        self.final_status: int | None = None

    def on_response(self, response: Response) -> InviteResponse:
        tag = response.to.tag
        if response.is_final and self.final_status is None:
            self.final_status = response.status
        if response.status >= 300:
            for dialog in self.dialogs.values():
                dialog.on_response(response)  # early dialogs end (12.3)
            return InviteResponse(self.dialogs.get(tag) if tag else None)
        if not tag or response.status == 100:
            return InviteResponse(None)
        known = self.dialogs.get(tag)
        if known is not None:
            return InviteResponse(known, ack_again=known.on_response(response))
        dialog = self.dialogs[tag] = Dialog.for_uac(self.request, response, self.timers)
        dialog.on_response(response)
        return InviteResponse(dialog, created=True)

    def cancel(self) -> Request:
        """CANCEL for the INVITE (9.1): send it once a provisional response has come, and before a final one."""
        if self.final_status is not None:
            raise DialogStateError("the INVITE has a final response")
        return cancel_for(self.request)

    def finish(self) -> tuple[Dialog, ...]:
        """The INVITE's client transaction has ended: early dialogs left without a final response end too."""
        ended = tuple(dialog for dialog in self.dialogs.values() if dialog.state is DialogState.EARLY)
        for dialog in ended:
            dialog.on_timeout(self.request)
        return ended


class IncomingInvite:
    """A dialog-creating INVITE we received: the first 101-299 we answer creates the dialog (12.1.1)."""

    def __init__(self, request: Request, *, contact: NameAddr, via: Via, local_tag: str | None = None,
                 timers: Timers = DEFAULT_TIMERS) -> None:
        if request.method != "INVITE" or request.to.tag is not None:
            raise ValueError("not a dialog-creating INVITE")
        self.request = request
        self.contact = contact
        self.via = via
        self.local_tag = local_tag or new_tag()
        self.timers = timers
        self.dialog: Dialog | None = None
        self.final: Response | None = None

    def respond(self, status: int, reason: str | None = None, *, now: float, body: bytes = b"",
                content_type: str | None = None, header_fields: Headers = ()) -> Response:
        if self.final is not None:
            raise DialogStateError("the INVITE has its final response")
        if self.dialog is None and 100 < status < 300:
            self.dialog = Dialog.for_uas(self.request, local_tag=self.local_tag, contact=self.contact, via=self.via,
                                         timers=self.timers)
        if self.dialog is not None:
            response = self.dialog.respond(self.request, status, reason, now=now, body=body,
                                           content_type=content_type, header_fields=header_fields)
        else:
            fields = (*header_fields, *_body_fields(body, content_type))
            to_tag = None if status == 100 else self.local_tag
            response = make_response(self.request, status, reason, to_tag=to_tag, header_fields=fields, body=body)
        if response.is_final:
            self.final = response
        return response


class Dialogs:
    """A user agent's dialogs by id: an incoming request with a To tag finds its dialog, or 481 (12.2.2)."""

    def __init__(self) -> None:
        self._by_id: dict[DialogId, Dialog] = {}

    def add(self, dialog: Dialog) -> None:
        self._by_id[dialog.id] = dialog

    def discard(self, dialog: Dialog) -> None:
        self._by_id.pop(dialog.id, None)

    def get(self, dialog_id: DialogId) -> Dialog | None:
        return self._by_id.get(dialog_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[Dialog]:
        return iter(tuple(self._by_id.values()))

    def receive(self, request: Request) -> Dialog:
        """The dialog `request` belongs to, after `Dialog.receive_request`; raises `DialogError` to answer."""
        dialog = self._by_id.get(DialogId.of_received_request(request))
        if dialog is None:
            raise CallDoesNotExist("no dialog matches the request")
        dialog.receive_request(request)
        return dialog
