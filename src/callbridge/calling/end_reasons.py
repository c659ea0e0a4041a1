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
