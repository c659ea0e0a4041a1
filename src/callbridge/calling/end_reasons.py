"""Why a call or a participant's leg ended: ACS's ``{code, subCode}`` pairs, so apps written for ACS read them
unchanged (reference: the Calling SDK's call-end codes)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EndReason:
    code: int
    sub_code: int
    meaning: str

    def to_wire(self) -> dict[str, int]:
        return {"code": self.code, "subCode": self.sub_code}


HUNG_UP = EndReason(0, 0, "the call was hung up")
CANCELLED = EndReason(487, 0, "the caller cancelled before the call was answered")
DECLINED = EndReason(603, 0, "the callee declined")
ACCEPTED_ELSEWHERE = EndReason(487, 10003, "the call was accepted on another endpoint")
NOT_ANSWERED = EndReason(487, 10004, "the callee did not answer in time")
NO_ENDPOINT = EndReason(480, 10037, "the callee has no registered endpoint")
NETWORK_LOST = EndReason(0, 4521, "an endpoint's connection was lost and did not come back in time")
UNAUTHENTICATED = EndReason(401, 10009, "the token is missing, invalid or expired")
NOT_LICENSED = EndReason(403, 10100, "the caller or the callee lacks a Teams licence")
INTEROP_OFF = EndReason(403, 5222, "Teams interop is not enabled for the tenant")
CROSS_TENANT = EndReason(403, 5223, "the target is in another tenant that does not federate")
BAD_THREAD = EndReason(400, 10101, "the thread is missing or does not have both people as members")
NOT_FOUND = EndReason(404, 0, "the target does not exist")
NOT_CALLABLE = EndReason(400, 10102, "the target is not a Teams user that can be called")
SELF_CALL = EndReason(400, 10103, "a user cannot call themselves")
NOT_A_TEAMS_CALLER = EndReason(403, 10104, "only Teams users can place these calls")
NO_PHONE_CONNECTIVITY = EndReason(403, 10110, "the tenant has no phone connectivity configured")
TOO_MANY_CALLS = EndReason(429, 10116, "the caller has as many calls in progress as allowed (caller_max_calls)")
CALLING_TOO_FAST = EndReason(429, 10117, "the caller starts calls faster than allowed (caller_call_attempts_*)")

# -- the phone network (use cases 1 and 2) ---------------------------------------------------------------------
NOT_PHONE_LICENSED = EndReason(403, 10111, "the caller has no Teams Phone licence")
NO_ENTERPRISE_VOICE = EndReason(412, 41056, "Teams Enterprise voice policy isn't enabled for the caller")
NO_CALLER_NUMBER = EndReason(403, 10112, "the caller has no phone number assigned")
NO_ROUTE = EndReason(403, 10113, "none of the tenant's trunks carries this number")
BAD_NUMBER = EndReason(400, 10114, "the target is not a valid E.164 phone number")
BAD_OFFER = EndReason(488, 10115, "the offer is not one audio stream within the limits of a call (or is missing)")
PHONE_HUNG_UP = EndReason(0, 560000, "the phone hung up")
PHONE_BUSY = EndReason(486, 560486, "the phone was busy")
TRUNK_BUSY = EndReason(503, 560503, "the trunk is at its limit of calls, or refused the call for now")
MEDIA_LOST = EndReason(410, 301005, "the phone's media stopped arriving (dead media)")


def from_phone(status: int) -> EndReason:
    """The end of a call the phone network refused with a SIP final ``status``: ACS's pattern, the status as the
    code and 560000 + the status as the subcode (486/560486 busy, 404/560404, 480/560480, 603/560603...)."""
    if status in (486, 600):
        return PHONE_BUSY
    if status == 487:
        return CANCELLED
    if not 300 <= status <= 699:  # a redirect (3xx) is not followed: it ends the call like a refusal
        raise ValueError(f"{status} is not a final failure")
    return EndReason(status, 560000 + status, f"the phone network answered {status}")

# -- calls of more than two parties (group calls, meetings) ----------------------------------------------------
ENDED_FOR_EVERYONE = EndReason(0, 4097, "the call was ended for all users by the organizer (hang up for everyone)")
REMOVED = EndReason(0, 5300, "another participant removed this one from the call")
MIXER_FAILED = EndReason(503, 10140, "the conference mixer could not take this participant's media")
LOBBY_DENIED = EndReason(0, 5854, "an organizer or presenter did not let this participant in from the lobby")
LOBBY_TIMEOUT = EndReason(0, 5855, "nobody let this participant in from the lobby in time (lobby_timeout_s)")
