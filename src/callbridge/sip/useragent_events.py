"""What a user-agent session tells its owner, and what the screening hook answers for a new INVITE.

Events are frozen dataclasses put on the session's `events` queue (`await session.next_event()`), in the order
they happened; SDP travels as text. Screening runs before an incoming session exists, so the trunk layer can
refuse (403, 404, 503), challenge (401 with `DigestVerifier` headers) or drop a request without the UA ever
creating a dialog.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from callbridge.sip.errors import Headers
from callbridge.sip.message import Request
from callbridge.sip.transport import Address


@dataclass(frozen=True)
class Ringing:
    """A 180 or 183 to our INVITE, with its SDP (early media) if any."""

    status: int
    sdp: str | None = None


@dataclass(frozen=True)
class Answered:
    """The first 2xx to our INVITE; the ACK has been sent."""

    sdp: str | None


@dataclass(frozen=True)
class Failed:
    """Our INVITE got no session: the final response (408 made locally on a timeout, 503 on a transport failure,
    487 after our CANCEL)."""

    status: int
    reason: str


@dataclass(frozen=True)
class Ended:
    """The established session is over: a BYE sent (`by_remote` False) or received, or the dialog gone."""

    by_remote: bool
    reason: str


@dataclass(frozen=True)
class Cancelled:
    """The caller cancelled an INVITE we had not answered (200 sent to the CANCEL, 487 to the INVITE)."""


@dataclass(frozen=True)
class Reinvited:
    """A re-INVITE with `offer`: answer with `session.accept_reinvite(sdp)` or `reject_reinvite(status)`
    (sessions with an `on_reinvite` callback answer by themselves and get no such event)."""

    offer: str | None


SessionEvent = Ringing | Answered | Failed | Ended | Cancelled | Reinvited


class ReinviteFailed(Exception):
    """Our re-INVITE was refused (the session goes on unchanged unless the answer was 408/481)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason


# -- screening ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Accept:
    """Create an `IncomingSession` for the INVITE."""


@dataclass(frozen=True)
class Respond:
    """Answer the INVITE with `status` (>= 300) and these header fields (e.g. a Digest challenge); no session."""

    status: int
    reason: str | None = None
    header_fields: Headers = ()

    def __post_init__(self) -> None:
        if self.status < 300:
            raise ValueError("screening answers with a final failure status")


@dataclass(frozen=True)
class Drop:
    """Say nothing more (the transaction layer has sent 100 Trying); retransmissions are absorbed until the
    transaction is forgotten 64*T1 later."""


Screening = Accept | Respond | Drop
ACCEPT = Accept()
DROP = Drop()
Screen = Callable[[Request, Address], Screening]


def accept_all(request: Request, source: Address) -> Screening:
    return ACCEPT
