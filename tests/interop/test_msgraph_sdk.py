"""msgraph-sdk (Microsoft's Python Graph client), unchanged, against callbridge's directory API under
``/graph/v1.0``: configured only with the base URL, a bearer token and the CA bundle.

The client is built the way the SDK documents for a custom ``httpx.AsyncClient``: the SDK's own default middleware
(``GraphClientFactory.create_with_default_middleware`` with the options ``GraphRequestAdapter`` uses, which include
the ``/users/me-token-to-replace`` -> ``/me`` rewrite) wrapped around a client that trusts callbridge's CA, and an
authentication provider made of kiota's ``BaseBearerTokenAuthenticationProvider``."""

from __future__ import annotations

import ssl
import warnings
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from kiota_abstractions.api_error import APIError
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_http.middleware.options import HeadersInspectionHandlerOption
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.aad_user_conversation_member import AadUserConversationMember
from msgraph.generated.models.chat import Chat
from msgraph.generated.models.chat_type import ChatType
from msgraph.generated.models.event import Event
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.graph_request_adapter import options as graph_adapter_options
from msgraph_core import GraphClientFactory

from tests.conftest import GRAPH_SCOPES, Demo

# The generated request builders define deprecated per-operation classes, and the SDK warns about them on import
# and on use whatever the caller does.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:msgraph|kiota_abstractions")
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from msgraph.generated.users.count.count_request_builder import CountRequestBuilder
    from msgraph.generated.users.item.calendar.calendar_view.calendar_view_request_builder import (
        CalendarViewRequestBuilder,
    )
    from msgraph.generated.users.users_request_builder import UsersRequestBuilder

# The subjects of the online meetings src/callbridge/demo.py seeds into Alice's calendar, all within -7..+7 days.
SEEDED_MEETINGS = {"Customer escalation: Adatum", "Project kickoff with Contoso", "Weekly team sync",
                   "Quarterly pipeline review"}
SEEDED_PLAIN = {"Lunch with Adele"}
PACIFIC = "Pacific Standard Time"


class StaticTokenProvider(AccessTokenProvider):
    """Hands out one access token, and only for the hosts its validator allows."""

    def __init__(self, token: str, hosts: list[str]) -> None:
        self._token = token
        self._hosts = AllowedHostsValidator(hosts)

    async def get_authorization_token(self, uri: str,
                                      additional_authentication_context: dict[str, Any] | None = None) -> str:
        return self._token if self._hosts.is_url_host_valid(uri) else ""

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return self._hosts


MakeClient = Callable[[str], GraphServiceClient]


@pytest.fixture
async def graph_client(demo: Demo) -> AsyncIterator[MakeClient]:
    """Makes GraphServiceClients holding a given access token; closes their connections afterwards (an open
    keep-alive connection would hold up the test server's shutdown)."""
    made: list[httpx.AsyncClient] = []

    def make(token: str) -> GraphServiceClient:
        http = httpx.AsyncClient(verify=ssl.create_default_context(cafile=demo.ca_file), timeout=30)
        made.append(http)
        http = GraphClientFactory.create_with_default_middleware(client=http, options=graph_adapter_options)
        auth = BaseBearerTokenAuthenticationProvider(StaticTokenProvider(token, ["localhost"]))
        adapter = GraphRequestAdapter(auth, client=http)
        adapter.base_url = f"{demo.base_url}/graph/v1.0"
        return GraphServiceClient(request_adapter=adapter)

    yield make
    for http in made:
        await http.aclose()


@pytest.fixture
def alice_token(demo: Demo) -> str:
    return str(demo.password_token("alice", GRAPH_SCOPES)["access_token"])


def test_allowed_hosts_keep_the_token_on_callbridge() -> None:
    hosts = StaticTokenProvider("t", ["localhost"]).get_allowed_hosts_validator()
    assert hosts.is_url_host_valid("https://localhost:8443/graph/v1.0/me")
    assert not hosts.is_url_host_valid("https://graph.microsoft.com/v1.0/me")


async def test_users_across_pages(demo: Demo, graph_client: MakeClient, alice_token: str) -> None:
    client = graph_client(alice_token)
    query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(top=10, select=["id", "displayName"])
    page = await client.users.get(request_configuration=RequestConfiguration(query_parameters=query))
    assert page is not None and page.value is not None
    assert len(page.value) == 10 and page.odata_next_link
    assert page.odata_next_link.startswith(f"{demo.base_url}/graph/v1.0/users?")
    names: list[str] = []
    for _ in range(20):
        assert page is not None and page.value is not None
        assert len(page.value) <= 10
        for user in page.value:
            assert user.id and user.display_name
            assert user.user_principal_name is None  # $select was honoured
            names.append(user.display_name)
        if not page.odata_next_link:
            break
        page = await client.users.with_url(page.odata_next_link).get()
    else:
        raise AssertionError("paging never ended")
    fabrikam = [u["display_name"] for u in demo.tenant("Fabrikam")["users"]]
    assert len(fabrikam) == 31
    assert len(names) == len(set(names)) == 31
    assert set(names) == set(fabrikam)


async def test_users_count(demo: Demo, graph_client: MakeClient, alice_token: str) -> None:
    """``client.users.count.get()``: ``/users/$count``, with the ConsistencyLevel header Graph's docs set."""
    client = graph_client(alice_token)
    config: RequestConfiguration[Any] = RequestConfiguration()
    config.headers.add("ConsistencyLevel", "eventual")
    assert await client.users.count.get(request_configuration=config) == len(demo.tenant("Fabrikam")["users"])
    query = CountRequestBuilder.CountRequestBuilderGetQueryParameters(filter="startswith(displayName,'Meg')")
    filtered: RequestConfiguration[Any] = RequestConfiguration(query_parameters=query)
    filtered.headers.add("ConsistencyLevel", "eventual")
    assert await client.users.count.get(request_configuration=filtered) == 1
    nina = graph_client(str(demo.password_token("nina", GRAPH_SCOPES)["access_token"]))
    assert await nina.users.count.get(request_configuration=config) == len(demo.tenant("Northwind")["users"])
    with pytest.raises(ODataError) as info:
        await client.users.count.get()
    assert info.value.response_status_code == 400
    assert info.value.error is not None and info.value.error.code == "Request_BadRequest"


def _member(demo: Demo, who: str) -> AadUserConversationMember:
    """A member as Graph's docs write it: roles, and the user bound with ``user@odata.bind``."""
    return AadUserConversationMember(
        odata_type="#microsoft.graph.aadUserConversationMember", roles=["owner"],
        additional_data={"user@odata.bind": f"{demo.base_url}/graph/v1.0/users('{demo.user(who)['id']}')"})


async def test_one_on_one_chat_is_created_once(demo: Demo, graph_client: MakeClient, alice_token: str) -> None:
    client = graph_client(alice_token)
    alice, megan = demo.user("alice")["id"], demo.user("megan")["id"]
    expected = f"19:{'_'.join(sorted((alice, megan)))}@unq.gbl.spaces"

    chat = await client.chats.post(Chat(chat_type=ChatType.OneOnOne,
                                        members=[_member(demo, "alice"), _member(demo, "megan")]))
    assert chat is not None
    assert chat.id == expected
    assert chat.chat_type == ChatType.OneOnOne
    assert chat.tenant_id == demo.tenant("Fabrikam")["id"]
    assert chat.topic is None and chat.created_date_time is not None

    again = await client.chats.post(Chat(chat_type=ChatType.OneOnOne,
                                         members=[_member(demo, "megan"), _member(demo, "alice")]))
    assert again is not None and again.id == expected
    assert again.created_date_time == chat.created_date_time

    members = await client.chats.by_chat_id(expected).members.get()
    assert members is not None and members.value is not None
    assert {m.display_name for m in members.value} == {"Alice Smith", "Megan Bowen"}
    assert all(isinstance(m, AadUserConversationMember) for m in members.value)
    assert {m.user_id for m in members.value if isinstance(m, AadUserConversationMember)} == {alice, megan}


async def _calendar_view(client: GraphServiceClient, zone: str | None = None,
                         inspect: HeadersInspectionHandlerOption | None = None) -> list[Event]:
    now = datetime.now(UTC)
    query = CalendarViewRequestBuilder.CalendarViewRequestBuilderGetQueryParameters(
        start_date_time=(now - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        end_date_time=(now + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    config: RequestConfiguration[Any] = RequestConfiguration(query_parameters=query)
    if zone:
        config.headers.add("Prefer", f'outlook.timezone="{zone}"')
    if inspect:
        config.options = [inspect]
    page = await client.me.calendar.calendar_view.get(request_configuration=config)
    events: list[Event] = []
    for _ in range(20):  # other tests may add events to Alice's calendar: follow the pages to the end
        assert page is not None and page.value is not None
        events += page.value
        if not page.odata_next_link:
            return events
        page = await client.me.calendar.calendar_view.with_url(page.odata_next_link).get()
    raise AssertionError("paging never ended")


async def test_calendar_view_has_the_online_meetings(demo: Demo, graph_client: MakeClient,
                                                     alice_token: str) -> None:
    events = {e.subject: e for e in await _calendar_view(graph_client(alice_token))}
    assert SEEDED_MEETINGS | SEEDED_PLAIN <= set(events)
    for subject in SEEDED_MEETINGS:
        event = events[subject]
        assert event.is_online_meeting is True, subject
        assert event.online_meeting is not None and event.online_meeting.join_url is not None, subject
        assert event.online_meeting.join_url.startswith(f"{demo.base_url}/meet/l/meetup-join/19%3ameeting_")
        assert event.start is not None and event.start.time_zone == "UTC"
        assert event.organizer is not None and event.organizer.email_address is not None
        assert event.organizer.email_address.address == demo.user("alice")["upn"]
    lunch = events["Lunch with Adele"]
    assert lunch.is_online_meeting is False and lunch.online_meeting is None


async def test_calendar_view_in_the_preferred_time_zone(graph_client: MakeClient, alice_token: str) -> None:
    client = graph_client(alice_token)
    utc = {e.id: e for e in await _calendar_view(client)}
    inspect = HeadersInspectionHandlerOption(inspect_response_headers=True)
    pacific = await _calendar_view(client, PACIFIC, inspect)
    assert inspect.response_headers.get("preference-applied") == {f'outlook.timezone="{PACIFIC}"'}
    seen = {e.subject for e in pacific}
    assert SEEDED_MEETINGS <= seen
    los_angeles = ZoneInfo("America/Los_Angeles")
    for event in pacific:
        assert event.start is not None and event.end is not None and event.id in utc
        assert event.start.time_zone == PACIFIC and event.end.time_zone == PACIFIC
        # The same moment, written as Pacific wall time.
        start_utc = utc[event.id].start
        assert start_utc is not None and start_utc.date_time and event.start.date_time
        moment = datetime.fromisoformat(start_utc.date_time[:26]).replace(tzinfo=UTC)
        wall = datetime.fromisoformat(event.start.date_time[:26])
        assert wall == moment.astimezone(los_angeles).replace(tzinfo=None), event.subject


async def test_another_tenants_user_is_an_odata_error(demo: Demo, graph_client: MakeClient,
                                                      alice_token: str) -> None:
    client = graph_client(alice_token)
    with pytest.raises(ODataError) as info:
        await client.users.by_user_id(demo.user("nina")["id"]).get()
    assert info.value.response_status_code == 404
    assert info.value.error is not None
    assert info.value.error.code == "Request_ResourceNotFound"
    assert info.value.error.message and demo.user("nina")["id"] in info.value.error.message
    assert info.value.error.inner_error is not None


async def test_a_bad_token_is_an_odata_error(graph_client: MakeClient) -> None:
    client = graph_client("not-a-token")
    with pytest.raises(ODataError) as info:
        await client.me.get()
    assert isinstance(info.value, APIError)
    assert info.value.response_status_code == 401
    assert info.value.error is not None and info.value.error.code == "InvalidAuthenticationToken"
