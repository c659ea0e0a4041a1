"""Why a join is refused, as ACS's ``{code, subCode}`` end reasons, so an app written for ACS reads them unchanged.

Where ACS (or Graph, for the same Teams backend) has a code it is kept; where it has none callbridge picks one in
its own 101xx block, next to the calling refusals (docs/protocol.md "Meetings: refusals" has this same table).

| code | subCode | refusal | when |
|---|---|---|---|
| 400 | 10120 | ``BAD_LOCATOR`` | the link, meeting id, passcode or conference id is malformed or absurdly long |
| 400 | 10121 | ``FOREIGN_LINK`` | a well-formed meeting link of another deployment (not this one's public base URL) |
| 404 | 0 | ``NOT_FOUND`` | no meeting has this thread id (link) or conference id (dial-in) |
| 404 | 10122 | ``WRONG_ID_OR_PASSCODE`` | id + passcode: the id is unknown *or* the passcode is wrong (one answer) |
| 410 | 10123 | ``CANCELLED`` | the organizer cancelled the event |
| 410 | 10124 | ``DELETED`` | the organizer deleted the event (with id + passcode: only when the passcode is right) |
| 400 | 10125 | ``NO_DISPLAY_NAME`` | a guest (``8:acs:``) joins without a display name |
| 403 | 5222 | ``INTEROP_OFF`` | a guest (``8:acs:``) joins a meeting of a tenant with Teams interop off (ACS) |
| 403 | 5223 | ``NOT_FEDERATED`` | a Teams user of another tenant, where the two tenants do not both federate (ACS) |
| 0 | 5854 | ``LOBBY_DENIED`` | someone in the lobby was rejected (ACS) |
| 0 | 5855 | ``LOBBY_TIMEOUT`` | someone waited in the lobby past the timeout (Graph's 5855; code 0 as ACS ends) |

A wrong passcode and an unknown meeting id are one refusal with one message, and the passcode is compared in
constant time against a stand-in when there is no meeting: neither the answer nor its timing tells whether a
meeting id exists.
"""

from __future__ import annotations

from enum import Enum

from callbridge.calling.end_reasons import EndReason


class MeetingRefusal(Enum):
    BAD_LOCATOR = (EndReason(400, 10120, "the meeting locator is malformed"),
                   "This is not a meeting link, meeting id or conference id callbridge can read.")
    FOREIGN_LINK = (EndReason(400, 10121, "the meeting link is another deployment's"),
                    "The meeting link belongs to another service.")
    NOT_FOUND = (EndReason(404, 0, "the meeting does not exist"), "The meeting was not found.")
    WRONG_ID_OR_PASSCODE = (EndReason(404, 10122, "no meeting has this id and passcode"),
                            "No meeting has this meeting id and passcode.")
    CANCELLED = (EndReason(410, 10123, "the meeting was cancelled"), "The organizer cancelled this meeting.")
    DELETED = (EndReason(410, 10124, "the meeting was deleted"), "The organizer deleted this meeting.")
    NO_DISPLAY_NAME = (EndReason(400, 10125, "a guest needs a display name"),
                       "A guest joins with a display name.")
    INTEROP_OFF = (EndReason(403, 5222, "Teams interop is not enabled for the tenant"),
                   "The organizer's organisation does not admit guests (Teams interop is off).")
    NOT_FEDERATED = (EndReason(403, 5223, "the meeting is in another tenant that does not federate"),
                     "The meeting is in another organisation, and the two do not federate.")
    LOBBY_DENIED = (EndReason(0, 5854, "the participant was rejected from the lobby"),
                    "You were not admitted to the meeting.")
    LOBBY_TIMEOUT = (EndReason(0, 5855, "the participant waited in the lobby past the timeout"),
                     "Nobody admitted you to the meeting in time.")

    @property
    def reason(self) -> EndReason:
        return self.value[0]

    @property
    def message(self) -> str:
        return str(self.value[1])


class MeetingRefused(Exception):
    """A join refused: raised deep, rendered once at the edge as an error frame ``{code, subCode, message}``."""

    def __init__(self, refusal: MeetingRefusal, detail: str | None = None) -> None:
        super().__init__(detail or refusal.message)
        self.refusal = refusal
        self.message = detail or refusal.message

    def to_wire(self) -> dict[str, int | str]:
        return {**self.refusal.reason.to_wire(), "message": self.message}
