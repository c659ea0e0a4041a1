"""The JSON the pages send, checked at the edge (pydantic) and turned into the domain's values."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from portal.customers import CustomerFields
from portal.history import Direction, FinishedCall
from portal.numbers import NotE164, e164

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Notes = Annotated[str, StringConstraints(max_length=4000)]


def _numbers(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    try:
        return [e164(v) for v in values]
    except NotE164 as exc:
        raise ValueError(str(exc)) from None


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    company: Text = ""
    phoneNumbers: list[str] = Field(default_factory=list, max_length=10)
    notes: Notes = ""

    _check = field_validator("phoneNumbers")(_numbers)

    def fields(self) -> CustomerFields:
        return CustomerFields(self.name, self.company, tuple(self.phoneNumbers), self.notes)


class CustomerPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    company: Text | None = None
    phoneNumbers: list[str] | None = Field(default=None, max_length=10)
    notes: Notes | None = None

    _check = field_validator("phoneNumbers")(_numbers)

    def applied_to(self, current: CustomerFields) -> CustomerFields:
        return CustomerFields(self.name if self.name is not None else current.name,
                              self.company if self.company is not None else current.company,
                              tuple(self.phoneNumbers) if self.phoneNumbers is not None else current.phone_numbers,
                              self.notes if self.notes is not None else current.notes)


UserId = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class ChatIn(BaseModel):
    """``{userId}``: the 1:1 chat with that colleague (found or created); ``{userIds, topic?}``: a new group chat
    of the signed-in user and those colleagues (a call grown beyond two people calls over it)."""

    model_config = ConfigDict(extra="forbid")
    userId: UserId | None = None
    userIds: list[UserId] | None = Field(default=None, min_length=2, max_length=49)
    topic: Text | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> ChatIn:
        if (self.userId is None) == (self.userIds is None):
            raise ValueError("give either userId (a 1:1 chat) or userIds (a group chat)")
        if self.userId is not None and self.topic:
            raise ValueError("a 1:1 chat has no topic")
        return self


class EndReason(BaseModel):
    code: int
    subCode: int = 0


class CallIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    callId: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    direction: Literal["outgoing", "incoming"]
    peerRawId: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    peerName: Text = ""
    startedAt: datetime
    connectedAt: datetime | None = None
    endedAt: datetime
    endReason: EndReason

    def finished(self) -> FinishedCall:
        if self.endedAt < self.startedAt:
            raise ValueError("the call ended before it started")
        return FinishedCall(self.callId, Direction(self.direction), self.peerRawId, self.peerName, self.startedAt,
                            self.connectedAt, self.endedAt, self.endReason.code, self.endReason.subCode)
