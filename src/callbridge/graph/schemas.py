"""OpenAPI descriptions of the directory API's bodies and errors (the handlers read raw JSON themselves, so that
a malformed body gets Graph's error shape; these schemas document what they accept and answer)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class InnerError(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    date: str
    request_id: str = Field(alias="request-id")
    client_request_id: str = Field(alias="client-request-id")


class ErrorDetail(BaseModel):
    code: str
    message: str
    innerError: InnerError


class GraphErrorBody(BaseModel):
    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": GraphErrorBody, "description": text}
    for status, text in ((400, "Malformed request or OData option"), (401, "Missing or invalid bearer token"),
                         (403, "The token lacks the permission"), (404, "Not found in the caller's tenant"),
                         (429, "Throttled; see Retry-After"))
}

_DATE_TIME_ZONE = {"type": "object", "required": ["dateTime", "timeZone"],
                   "properties": {"dateTime": {"type": "string"}, "timeZone": {"type": "string"}}}
_EMAIL = {"type": "object", "properties": {"address": {"type": "string"}, "name": {"type": "string"}}}
_EVENT_PROPERTIES = {
    "subject": {"type": "string", "maxLength": 255},
    "body": {"type": "object", "properties": {"contentType": {"enum": ["text", "html"]},
                                              "content": {"type": "string"}}},
    "start": _DATE_TIME_ZONE, "end": _DATE_TIME_ZONE,
    "location": {"type": "object", "properties": {"displayName": {"type": "string"}}},
    "attendees": {"type": "array", "items": {"type": "object", "properties": {
        "emailAddress": _EMAIL, "type": {"enum": ["required", "optional", "resource"]}}}},
    "isOnlineMeeting": {"type": "boolean"},
    "onlineMeetingProvider": {"enum": ["teamsForBusiness", "skypeForBusiness", "skypeForConsumer", "unknown"]},
    "isAllDay": {"type": "boolean"},
    "showAs": {"enum": ["free", "tentative", "busy", "oof", "workingElsewhere", "unknown"]},
    "importance": {"enum": ["low", "normal", "high"]},
    "lobbyBypassSettings": {"type": "object", "properties": {"scope": {"enum": [
        "organizer", "organization", "organizationAndFederated", "everyone", "invited",
        "organizationExcludingGuests"]}, "isDialInBypassEnabled": {"type": "boolean"}}},
}
_ONLINE_MEETING_PROPERTIES = {
    "subject": {"type": "string", "maxLength": 255},
    "startDateTime": {"type": "string", "format": "date-time"},
    "endDateTime": {"type": "string", "format": "date-time"},
    "lobbyBypassSettings": _EVENT_PROPERTIES["lobbyBypassSettings"],
    "allowedPresenters": {"enum": ["everyone", "organization", "roleIsPresenter", "organizer"]},
    "participants": {"type": "object", "properties": {"attendees": {"type": "array", "items": {
        "type": "object", "properties": {
            "upn": {"type": "string"}, "role": {"enum": ["attendee", "presenter", "coorganizer"]},
            "identity": {"type": "object", "properties": {"user": {"type": "object", "properties": {
                "id": {"type": "string"}}}}}}}}}},
}


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


CHAT_BODY = json_body({"type": "object", "required": ["chatType", "members"], "properties": {
    "chatType": {"enum": ["oneOnOne", "group"]}, "topic": {"type": "string", "maxLength": 250},
    "members": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["user@odata.bind"],
                                                          "properties": {
        "@odata.type": {"type": "string"}, "roles": {"type": "array", "items": {"enum": ["owner", "guest"]}},
        "user@odata.bind": {"type": "string"}}}}}})
NEW_EVENT_BODY = json_body({"type": "object", "required": ["start", "end"], "properties": _EVENT_PROPERTIES})
EVENT_PATCH_BODY = json_body({"type": "object", "properties": _EVENT_PROPERTIES})
ONLINE_MEETING_PATCH_BODY = json_body({"type": "object", "properties": _ONLINE_MEETING_PROPERTIES})
