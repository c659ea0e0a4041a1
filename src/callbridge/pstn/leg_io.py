"""What a phone leg (`pstn.leg.PhoneLeg`) takes in besides the call's events and the SIP session's, and the actions
it asks of its I/O shell (`pstn.bridge`): frozen values, so a test reads them as plainly as the shell does.

Inputs here are the outcomes of the shell's own work (the gateway's SDP, the trunk refusing a place, the call
placed, our re-INVITE answered) and what the gateway or the clock says on their own (dead media, a timer).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from callbridge.calling.protocol import CallCommand
from callbridge.media.gateway import Side
from callbridge.pstn.inbound import InboundRoute

# -- inputs ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PhoneInvite:
    """An INVITE the screening admitted (use case 2): its offer and the Request-URI's user part."""

    offer: str | None
    called: str | None


@dataclass(frozen=True)
class PhoneReoffered:
    """The phone's re-INVITE (``sip.useragent_events.Reinvited``) with the session's current SDP both ways, which a
    session refresh repeats."""

    offer: str | None
    local_sdp: str | None
    remote_sdp: str | None


@dataclass(frozen=True)
class NumberFound:
    """The directory's row for the called number (``pstn.inbound.CALLED_USER``), None when nobody has it."""

    user: Any | None


@dataclass(frozen=True)
class CallPlaced:
    call_id: str


@dataclass(frozen=True)
class TrunkUnusable:
    why: str


@dataclass(frozen=True)
class MediaReady:
    sdp: str


@dataclass(frozen=True)
class MediaRefused:
    why: str
    bad_sdp: bool = False  # the gateway could not read an SDP from the phone (its INVITE gets 488, not 503)


@dataclass(frozen=True)
class ReinviteAnswered:
    sdp: str | None


@dataclass(frozen=True)
class ReinviteRefused:
    status: int


@dataclass(frozen=True)
class MediaDead:
    pass


@dataclass(frozen=True)
class TimerFired:
    pass


LegInput = (PhoneInvite | PhoneReoffered | NumberFound | CallPlaced | TrunkUnusable | MediaReady | MediaRefused
            | ReinviteAnswered | ReinviteRefused | MediaDead | TimerFired)

# -- actions -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MediaOffer:
    """Ask the gateway to rewrite an offer for ``towards``; ``MediaReady`` or ``MediaRefused`` comes back."""

    sdp: str
    towards: Side


@dataclass(frozen=True)
class MediaAnswer:
    sdp: str
    towards: Side


@dataclass(frozen=True)
class SendDtmf:
    tone: str


@dataclass(frozen=True)
class DeleteMedia:
    """The leg is over: its gateway session goes (the last action of every transition to ``Ended``)."""


@dataclass(frozen=True)
class Invite:
    """An INVITE with ``sdp`` over the trunk ``trunk_id``, the ``attempt``-th tried; ``TrunkUnusable`` comes back when
    the trunk cannot take it (its limits, disabled since, a transport not listened on), else the session's events."""

    trunk_id: str
    attempt: int
    sdp: str


@dataclass(frozen=True)
class TakeTrunkPlace:
    """Count the call among the trunk's concurrent calls (``TrunkLimits``) until the leg ends."""

    trunk_id: str


@dataclass(frozen=True)
class FailedOver:
    """The trunk of the current INVITE failed the call itself; the next one is tried (a metric and a log line)."""

    trunk_id: str
    status: int


@dataclass(frozen=True)
class CancelInvite:
    pass


@dataclass(frozen=True)
class HangUpPhone:
    """BYE the phone (a CANCEL while our INVITE is unanswered)."""


@dataclass(frozen=True)
class Ring:
    """180 to the phone's INVITE."""


@dataclass(frozen=True)
class AnswerPhone:
    sdp: str


@dataclass(frozen=True)
class Decline:
    status: int
    reason: str
    warning: str | None = None  # a Warning header field's value (RFC 3261 20.43)


@dataclass(frozen=True)
class Reinvite:
    """Our re-INVITE with ``sdp``; ``ReinviteAnswered`` or ``ReinviteRefused`` comes back."""

    sdp: str


@dataclass(frozen=True)
class AcceptReinvite:
    sdp: str


@dataclass(frozen=True)
class RejectReinvite:
    status: int
    why: str


@dataclass(frozen=True)
class Command:
    """A command to the leg's call, as an agent sends it (a ``CallError`` back means the call moved on)."""

    command: CallCommand


@dataclass(frozen=True)
class LookUpNumber:
    """The directory's row for ``number``; ``NumberFound`` comes back."""

    number: str


@dataclass(frozen=True)
class RecordRefused:
    caller_raw_id: str
    callee_raw_id: str
    tenant_id: str
    status: int


@dataclass(frozen=True)
class PlaceCall:
    """Ring the route's user from the phone, with the gateway's WebRTC ``offer``; ``CallPlaced`` comes back."""

    caller_raw_id: str
    caller_name: str | None
    route: InboundRoute
    offer: str


Action = (MediaOffer | MediaAnswer | SendDtmf | DeleteMedia | Invite | TakeTrunkPlace | FailedOver | CancelInvite
          | HangUpPhone | Ring | AnswerPhone | Decline | Reinvite | AcceptReinvite | RejectReinvite | Command
          | LookUpNumber | RecordRefused | PlaceCall)
