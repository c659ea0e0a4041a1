"""HTTP routes under ``/graph/v1.0``, in Microsoft Graph's shapes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Match

from callbridge.graph import calendar, chats, odata, online_meetings, organization, schemas, users
from callbridge.graph.auth import Caller, authenticate
from callbridge.graph.context import GraphContext
from callbridge.graph.errors import GraphError, bad_request, new_request_id, odata_error, throttled
from callbridge.graph.paging import fingerprint
from callbridge.graph.timezones import parse_query_datetime, preferred
from callbridge.json_body import JsonRejected, read_json
from callbridge.store.db import ReadSession

router = APIRouter(prefix="/graph/v1.0", tags=["directory (Graph)"], responses=schemas.ERROR_RESPONSES)
CONTENT_TYPE = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"

Action = Callable[[Any, Caller, GraphContext], Awaitable[tuple[int, Any, dict[str, str]]]]


@dataclass(frozen=True)
class Count:
    """A ``$count`` segment's answer: the number alone, in ``text/plain``."""

    value: int


def _headers(request: Request, request_id: str) -> dict[str, str]:
    headers = {"request-id": request_id, "OData-Version": "4.0"}
    if client_id := request.headers.get("client-request-id"):
        headers["client-request-id"] = client_id
    return headers


async def _handle(request: Request, action: Action, *, writes: bool = False) -> Response:
    """Authenticate, throttle, run ``action`` (in a transaction if it ``writes``, else on a read session) and
    render the result or the error in Graph's shape."""
    ctx: GraphContext = request.app.state.graph
    request_id = new_request_id()
    headers = _headers(request, request_id)
    now = ctx.clock.now()
    try:
        caller = await authenticate(request.headers.get("authorization"), ctx.ring, ctx.settings.public_base_url, now)
        wait = ctx.buckets.take(caller.app_id, caller.tenant_id, caller.user_id, now)
        if wait:
            raise throttled(wait)
        if writes:
            async with ctx.db.transaction() as s:
                status, body, extra = await action(s, caller, ctx)
        else:
            async with ctx.db.reading() as r:
                status, body, extra = await action(r, caller, ctx)
    except odata.ODataError as exc:
        return _error(odata_error(exc), request, request_id, headers)
    except GraphError as exc:
        return _error(exc, request, request_id, headers)
    if body is None:
        return Response(status_code=status, headers={**headers, **extra})
    if isinstance(body, Count):
        return PlainTextResponse(str(body.value), status_code=status, headers={**headers, **extra})
    return JSONResponse(body, status_code=status, headers={**headers, **extra}, media_type=CONTENT_TYPE)


def _error(exc: GraphError, request: Request, request_id: str, headers: dict[str, str]) -> Response:
    body = exc.body(request_id, request.headers.get("client-request-id"))
    return JSONResponse(body, status_code=exc.status, headers={**headers, **exc.headers})


async def _json(request: Request) -> Any:
    try:
        return read_json(await request.body())
    except JsonRejected:
        raise bad_request("Unable to read JSON request payload. Please ensure Content-Type header is set and "
                          "payload is of valid JSON format.") from None


def _next_link(ctx: GraphContext, request: Request, token: str | None) -> dict[str, str]:
    if token is None:
        return {}
    params = [(k, v) for k, v in request.query_params.multi_items() if k.lower() != "$skiptoken"]
    return {"@odata.nextLink": f"{ctx.root}{request.url.path.removeprefix('/graph/v1.0')}?"
                               f"{urlencode([*params, ('$skiptoken', token)])}"}


# -- organization ---------------------------------------------------------------------------------------------
@router.get("/organization")
async def list_organization(request: Request, select_: str | None = Query(None, alias="$select")) -> Response:
    """The caller's tenant: a collection of one, as Graph answers it."""
    async def act(s: Any, caller: Caller, ctx: GraphContext) -> tuple[int, Any, dict[str, str]]:
        body = await organization.organization(s, caller, None, odata.parse_select(select_))
        return 200, {"@odata.context": f"{ctx.root}/$metadata#organization", "value": [body]}, {}

    return await _handle(request, act)


@router.get("/organization/{organization_id}")
async def get_organization(request: Request, organization_id: str,
                           select_: str | None = Query(None, alias="$select")) -> Response:
    async def act(s: Any, caller: Caller, ctx: GraphContext) -> tuple[int, Any, dict[str, str]]:
        body = await organization.organization(s, caller, organization_id, odata.parse_select(select_))
        return 200, {"@odata.context": f"{ctx.root}/$metadata#organization/$entity", **body}, {}

    return await _handle(request, act)


# -- users ----------------------------------------------------------------------------------------------------
@router.get("/users")
async def list_users(
    request: Request,
    filter_: str | None = Query(None, alias="$filter"),
    search: str | None = Query(None, alias="$search"),
    orderby: str | None = Query(None, alias="$orderby"),
    select_: str | None = Query(None, alias="$select"),
    top: str | None = Query(None, alias="$top"),
    count: str | None = Query(None, alias="$count"),
    skiptoken: str | None = Query(None, alias="$skiptoken"),
    consistency_level: str | None = Header(None, alias="ConsistencyLevel"),
) -> Response:
    query = users.UserQuery(filter_, search, orderby, select_, top, (count or "").lower() == "true",
                            (consistency_level or "").lower() == "eventual", skiptoken)
    shape = fingerprint({k: v for k, v in request.query_params.items()})

    async def act(s: Any, caller: Caller, ctx: GraphContext) -> tuple[int, Any, dict[str, str]]:
        page, token, total = await users.list_users(s, caller, query, ctx.pages, shape, ctx.clock.now(),
                                                   ctx.db.dialect)
        body: dict[str, Any] = {"@odata.context": f"{ctx.root}/$metadata#users"}
        if total is not None:
            body["@odata.count"] = total
        return 200, {**body, **_next_link(ctx, request, token), "value": page}, {}

    return await _handle(request, act)


@router.get("/users/$count", response_class=PlainTextResponse)
async def count_users(
    request: Request,
    filter_: str | None = Query(None, alias="$filter"),
    search: str | None = Query(None, alias="$search"),
    consistency_level: str | None = Header(None, alias="ConsistencyLevel"),
) -> Response:
    """The number of users ``/users`` lists with the same ``$filter`` and ``$search`` (a route before
    ``/users/{user_ref}``: ``$count`` is not a user)."""
    query = users.UserQuery(filter_, search, None, None, None, True, (consistency_level or "").lower() == "eventual",
                            None)

    async def act(s: Any, caller: Caller, ctx: GraphContext) -> tuple[int, Any, dict[str, str]]:
        return 200, Count(await users.count_users(s, caller, query, ctx.db.dialect)), {}

    return await _handle(request, act)


@router.get("/users/{user_ref}")
async def get_user(request: Request, user_ref: str, select_: str | None = Query(None, alias="$select")) -> Response:
    async def act(s: Any, caller: Caller, ctx: GraphContext) -> tuple[int, Any, dict[str, str]]:
        body = await users.get_user(s, caller, user_ref, select_)
        return 200, {"@odata.context": f"{ctx.root}/$metadata#users/$entity", **body}, {}

    return await _handle(request, act)


@router.get("/me")
async def me(request: Request, select_: str | None = Query(None, alias="$select")) -> Response:
    async def act(s: Any, caller: Caller, ctx: GraphContext) -> tuple[int, Any, dict[str, str]]:
        body = await users.get_user(s, caller, caller.me(), select_)
        return 200, {"@odata.context": f"{ctx.root}/$metadata#users/$entity", **body}, {}

    return await _handle(request, act)


@router.get("/users/{user_ref}/licenseDetails")
async def license_details(request: Request, user_ref: str) -> Response:
    return await _license_details(request, lambda caller: user_ref)


@router.get("/me/licenseDetails")
async def my_license_details(request: Request) -> Response:
    return await _license_details(request, lambda caller: caller.me())


async def _license_details(request: Request, whose: Callable[[Caller], str]) -> Response:
    async def act(s: Any, caller: Caller, ctx: GraphContext) -> tuple[int, Any, dict[str, str]]:
        ref = whose(caller)
        value = await users.license_details(s, caller, ref)
        return 200, {"@odata.context": f"{ctx.root}/$metadata#users('{ref}')/licenseDetails", "value": value}, {}

    return await _handle(request, act)


# -- chats ----------------------------------------------------------------------------------------------------
@router.post("/chats", status_code=201, openapi_extra=schemas.CHAT_BODY,
             responses={200: {"description": "The one-on-one chat this pair already has"}})
async def create_chat(request: Request) -> Response:
    async def act(s: Any, caller: Caller, ctx: GraphContext) -> tuple[int, Any, dict[str, str]]:
        chat, created = await chats.create_chat(s, caller, await _json(request), ctx.clock.now())
        body = {"@odata.context": f"{ctx.root}/$metadata#chats/$entity", **chats.chat_to_graph(chat, ctx.root)}
        return (201 if created else 200), body, {"Location": f"{ctx.root}/chats('{chat.id}')"}

    return await _handle(request, act, writes=True)


@router.get("/chats/{chat_id}")
async def get_chat(request: Request, chat_id: str) -> Response:
    async def act(s: Any, caller: Caller, ctx: GraphContext) -> tuple[int, Any, dict[str, str]]:
        chat = await chats.readable_chat(s, caller, chat_id)
        return 200, {"@odata.context": f"{ctx.root}/$metadata#chats/$entity", **chats.chat_to_graph(chat, ctx.root)}, {}

    return await _handle(request, act)


@router.get("/chats/{chat_id}/members")
async def chat_members(request: Request, chat_id: str) -> Response:
    async def act(s: Any, caller: Caller, ctx: GraphContext) -> tuple[int, Any, dict[str, str]]:
        chat = await chats.readable_chat(s, caller, chat_id)
        return 200, {"@odata.context": f"{ctx.root}/$metadata#chats('{chat_id}')/members",
                     "@odata.count": len(value := await chats.members(s, chat)), "value": value}, {}

    return await _handle(request, act)


@router.get("/chats/{chat_id}/members/$count", response_class=PlainTextResponse)
async def count_chat_members(request: Request, chat_id: str) -> Response:
    async def act(s: Any, caller: Caller, ctx: GraphContext) -> tuple[int, Any, dict[str, str]]:
        return 200, Count(await chats.count_members(s, await chats.readable_chat(s, caller, chat_id))), {}

    return await _handle(request, act)


@router.get("/me/chats/$count", response_class=PlainTextResponse)
async def count_my_chats(request: Request) -> Response:
    async def act(s: Any, caller: Caller, ctx: GraphContext) -> tuple[int, Any, dict[str, str]]:
        return 200, Count(await chats.count_my_chats(s, caller)), {}

    return await _handle(request, act)


@router.get("/me/chats")
async def my_chats(request: Request) -> Response:
    async def act(s: Any, caller: Caller, ctx: GraphContext) -> tuple[int, Any, dict[str, str]]:
        value = await chats.my_chats(s, caller, ctx.root)
        return 200, {"@odata.context": f"{ctx.root}/$metadata#chats", "@odata.count": len(value), "value": value}, {}

    return await _handle(request, act)


# -- calendar -------------------------------------------------------------------------------------------------
def _calendar_ctx(ctx: GraphContext, request: Request) -> tuple[calendar.CalendarContext, dict[str, str]]:
    zone = preferred(request.headers.get("prefer"))
    applied = {"Preference-Applied": f'outlook.timezone="{zone}"'} if zone else {}
    return calendar.CalendarContext(ctx.settings.public_base_url, ctx.settings.meeting_toll_number,
                                    calendar.check_zone(zone)), applied


async def _events_body(s: ReadSession, caller: Caller, ctx: GraphContext, request: Request,
                       events: list[Any], token: str | None, context: str) -> tuple[int, Any, dict[str, str]]:
    cal, applied = _calendar_ctx(ctx, request)
    people = await calendar.organizers(s, events)
    value = [calendar.event_to_graph(e, people[e.organizer_id], caller.user_id, cal) for e in events]
    return 200, {"@odata.context": f"{ctx.root}/$metadata#{context}", **_next_link(ctx, request, token),
                 "value": value}, applied


@router.get("/me/calendar/calendarView")
@router.get("/me/calendarView")
async def calendar_view(
    request: Request,
    start: str | None = Query(None, alias="startDateTime"),
    end: str | None = Query(None, alias="endDateTime"),
    top: str | None = Query(None, alias="$top"),
    skiptoken: str | None = Query(None, alias="$skiptoken"),
) -> Response:
    shape = fingerprint(dict(request.query_params))

    async def act(s: Any, caller: Caller, ctx: GraphContext) -> tuple[int, Any, dict[str, str]]:
        window = (parse_query_datetime(start, "startDateTime"), parse_query_datetime(end, "endDateTime"))
        events, token = await calendar.page_of_events(s, caller, window, top, skiptoken, ctx.pages, shape,
                                                      ctx.clock.now())
        return await _events_body(s, caller, ctx, request, events, token, "users('me')/calendar/calendarView")

    return await _handle(request, act)


@router.get("/me/events")
@router.get("/me/calendar/events")
async def list_events(request: Request, top: str | None = Query(None, alias="$top"),
                      skiptoken: str | None = Query(None, alias="$skiptoken")) -> Response:
    shape = fingerprint(dict(request.query_params))

    async def act(s: Any, caller: Caller, ctx: GraphContext) -> tuple[int, Any, dict[str, str]]:
        events, token = await calendar.page_of_events(s, caller, None, top, skiptoken, ctx.pages, shape,
                                                      ctx.clock.now())
        return await _events_body(s, caller, ctx, request, events, token, "users('me')/events")

    return await _handle(request, act)


@router.get("/me/calendar/calendarView/$count", response_class=PlainTextResponse)
@router.get("/me/calendarView/$count", response_class=PlainTextResponse)
async def count_calendar_view(request: Request, start: str | None = Query(None, alias="startDateTime"),
                              end: str | None = Query(None, alias="endDateTime")) -> Response:
    async def act(s: Any, caller: Caller, ctx: GraphContext) -> tuple[int, Any, dict[str, str]]:
        window = (parse_query_datetime(start, "startDateTime"), parse_query_datetime(end, "endDateTime"))
        return 200, Count(await calendar.count_events(s, caller, window)), {}

    return await _handle(request, act)


@router.get("/me/events/$count", response_class=PlainTextResponse)
@router.get("/me/calendar/events/$count", response_class=PlainTextResponse)
async def count_events(request: Request) -> Response:
    """Before ``/me/events/{event_id}``: ``$count`` is not an event."""

    async def act(s: Any, caller: Caller, ctx: GraphContext) -> tuple[int, Any, dict[str, str]]:
        return 200, Count(await calendar.count_events(s, caller, None)), {}

    return await _handle(request, act)


async def _one_event(s: ReadSession, caller: Caller, ctx: GraphContext, request: Request, event: Any,
                     status: int = 200) -> tuple[int, Any, dict[str, str]]:
    cal, applied = _calendar_ctx(ctx, request)
    people = await calendar.organizers(s, [event])
    body = calendar.event_to_graph(event, people[event.organizer_id], caller.user_id, cal)
    return status, {"@odata.context": f"{ctx.root}/$metadata#users('me')/events/$entity", **body}, applied


@router.post("/me/events", status_code=201, openapi_extra=schemas.NEW_EVENT_BODY)
@router.post("/me/calendar/events", status_code=201, openapi_extra=schemas.NEW_EVENT_BODY)
async def create_event(request: Request) -> Response:
    async def act(s: Any, caller: Caller, ctx: GraphContext) -> tuple[int, Any, dict[str, str]]:
        cal, _ = _calendar_ctx(ctx, request)
        event = await calendar.create_event(s, caller, await _json(request), cal, ctx.clock.now())
        return await _one_event(s, caller, ctx, request, event, 201)

    return await _handle(request, act, writes=True)


@router.get("/me/events/{event_id}")
async def get_event(request: Request, event_id: str) -> Response:
    async def act(s: Any, caller: Caller, ctx: GraphContext) -> tuple[int, Any, dict[str, str]]:
        return await _one_event(s, caller, ctx, request, await calendar.visible_event(s, caller, event_id))

    return await _handle(request, act)


@router.patch("/me/events/{event_id}", openapi_extra=schemas.EVENT_PATCH_BODY)
async def update_event(request: Request, event_id: str) -> Response:
    async def act(s: Any, caller: Caller, ctx: GraphContext) -> tuple[int, Any, dict[str, str]]:
        cal, _ = _calendar_ctx(ctx, request)
        event = await calendar.update_event(s, caller, event_id, await _json(request), cal, ctx.clock.now())
        return await _one_event(s, caller, ctx, request, event)

    return await _handle(request, act, writes=True)


@router.delete("/me/events/{event_id}", status_code=204)
async def delete_event(request: Request, event_id: str) -> Response:
    async def act(s: Any, caller: Caller, ctx: GraphContext) -> tuple[int, Any, dict[str, str]]:
        await calendar.delete_event(s, caller, event_id)
        return 204, None, {}

    return await _handle(request, act, writes=True)


@router.post("/me/events/{event_id}/cancel", status_code=202)
async def cancel_event(request: Request, event_id: str) -> Response:
    async def act(s: Any, caller: Caller, ctx: GraphContext) -> tuple[int, Any, dict[str, str]]:
        await calendar.cancel_event(s, caller, event_id, ctx.clock.now())
        return 202, None, {}

    return await _handle(request, act, writes=True)


# -- online meetings ------------------------------------------------------------------------------------------
def _meeting_ctx(ctx: GraphContext) -> online_meetings.MeetingContext:
    return online_meetings.MeetingContext(ctx.settings.public_base_url, ctx.settings.meeting_toll_number)


def _meetings_root(ctx: GraphContext, owner_ref: str | None) -> str:
    return f"{ctx.root}/$metadata#users('{owner_ref or 'me'}')/onlineMeetings"


@router.get("/me/onlineMeetings")
async def find_my_online_meetings(request: Request, filter_: str | None = Query(None, alias="$filter")) -> Response:
    """Only ``$filter=JoinWebUrl eq '<join link>'``, as Graph."""
    return await _find_online_meetings(request, None, filter_)


@router.get("/users/{owner_ref}/onlineMeetings")
async def find_online_meetings(request: Request, owner_ref: str,
                               filter_: str | None = Query(None, alias="$filter")) -> Response:
    return await _find_online_meetings(request, owner_ref, filter_)


async def _find_online_meetings(request: Request, owner_ref: str | None, filter_: str | None) -> Response:
    async def act(s: Any, caller: Caller, ctx: GraphContext) -> tuple[int, Any, dict[str, str]]:
        owner = await online_meetings.owner_of(s, caller, owner_ref)
        events = await online_meetings.by_join_url(s, caller, owner, filter_, ctx.settings.public_base_url)
        value = [await online_meetings.to_graph(s, e, _meeting_ctx(ctx)) for e in events]
        return 200, {"@odata.context": _meetings_root(ctx, owner_ref), "value": value}, {}

    return await _handle(request, act)


@router.get("/me/onlineMeetings/{meeting_id}")
async def get_my_online_meeting(request: Request, meeting_id: str) -> Response:
    return await _get_online_meeting(request, None, meeting_id)


@router.get("/users/{owner_ref}/onlineMeetings/{meeting_id}")
async def get_online_meeting(request: Request, owner_ref: str, meeting_id: str) -> Response:
    return await _get_online_meeting(request, owner_ref, meeting_id)


async def _get_online_meeting(request: Request, owner_ref: str | None, meeting_id: str) -> Response:
    async def act(s: Any, caller: Caller, ctx: GraphContext) -> tuple[int, Any, dict[str, str]]:
        owner = await online_meetings.owner_of(s, caller, owner_ref)
        event = await online_meetings.meeting_of(s, caller, owner, meeting_id)
        body = await online_meetings.to_graph(s, event, _meeting_ctx(ctx))
        return 200, {"@odata.context": f"{_meetings_root(ctx, owner_ref)}/$entity", **body}, {}

    return await _handle(request, act)


@router.patch("/me/onlineMeetings/{meeting_id}", openapi_extra=schemas.ONLINE_MEETING_PATCH_BODY)
async def update_my_online_meeting(request: Request, meeting_id: str) -> Response:
    return await _update_online_meeting(request, None, meeting_id)


@router.patch("/users/{owner_ref}/onlineMeetings/{meeting_id}", openapi_extra=schemas.ONLINE_MEETING_PATCH_BODY)
async def update_online_meeting(request: Request, owner_ref: str, meeting_id: str) -> Response:
    return await _update_online_meeting(request, owner_ref, meeting_id)


async def _update_online_meeting(request: Request, owner_ref: str | None, meeting_id: str) -> Response:
    changed: list[str] = []  # the meeting's thread, once its settings are written

    async def act(s: Any, caller: Caller, ctx: GraphContext) -> tuple[int, Any, dict[str, str]]:
        owner = await online_meetings.owner_of(s, caller, owner_ref)
        event = await online_meetings.update(s, caller, owner, meeting_id, await _json(request), ctx.clock.now())
        body = await online_meetings.to_graph(s, event, _meeting_ctx(ctx))
        if event.meeting_thread_id:
            changed.append(event.meeting_thread_id)
        return 200, {"@odata.context": f"{_meetings_root(ctx, owner_ref)}/$entity", **body}, {}

    response = await _handle(request, act, writes=True)
    ctx: GraphContext = request.app.state.graph
    if response.status_code == 200 and changed and ctx.meeting_changed is not None:
        await ctx.meeting_changed(changed[0])  # after the commit: a meeting in progress reads the new settings
    return response


@router.api_route("/{segment:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
async def unknown_segment(request: Request, segment: str) -> Response:
    """Anything else under /graph/v1.0 is answered as Graph answers it, not with the framework's 404."""
    request_id = new_request_id()
    known = router.routes[:-1]  # every route but this one, which is the last
    if any(route.matches(request.scope)[0] == Match.PARTIAL for route in known):
        error = GraphError(405, "Request_BadRequest", f"The {request.method} method is not supported here.")
    else:
        error = bad_request(f"Resource not found for the segment '{segment.split('/', 1)[0]}'.")
    return _error(error, request, request_id, _headers(request, request_id))

