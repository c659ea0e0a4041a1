"""The join link in a browser: opening a meeting's link on callbridge's origin shows the join page (server-rendered,
its script /sdk/join.js under the edge's CSP, nothing from elsewhere); a guest gives a name, the page gets a
communication identity for the visit (POST /meet/guest), waits in the lobby, is admitted by the organizer (a Python
agent), sees who is in the meeting, is heard (FFT), and leaves. An organisation user signs in on the page (the
identity provider's sign-in, a public client with PKCE) and joins her meeting as its organizer.

The guest endpoint: a link of this deployment's only, JSON only, rate-limited per client address (429 with
Retry-After); the page for a link that is not a meeting's says so (404)."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
from playwright.async_api import Browser, expect

from callbridge.sdk import TeamsCallAgent, TeamsMeetingLinkLocator, ToneSource
from tests.browser.conftest import TIMEOUT_MS
from tests.browser.test_browser_meetings import hears_the_browser, python_agents
from tests.conftest import Demo
from tests.integration.test_meetings import the_meeting, until

__all__ = ["python_agents"]

pytestmark = [pytest.mark.browser, pytest.mark.skipif(shutil.which("janus") is None,
                                                      reason="meetings need the conference mixer (janus)")]


@pytest.fixture(scope="module", autouse=True)
def loopback_ice() -> Iterator[None]:
    """The Python agents gather on the host's addresses, where the mixer is (it offers no loopback candidate)."""
    yield


def elsewhere() -> dict[str, str]:
    """A client address of its own (the test server trusts 127.0.0.1 as a proxy), so buckets do not mix."""
    return {"X-Forwarded-For": f"198.51.100.{uuid.uuid4().int % 250 + 1}"}


@pytest.fixture
async def tab(browser: Browser) -> AsyncIterator[object]:
    context = await browser.new_context(ignore_https_errors=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors  # type: ignore[attr-defined]
    yield page
    await context.close()


async def test_b_a_guest_opens_the_link_waits_in_the_lobby_is_admitted_and_leaves(
        demo: Demo, tab: object, python_agents: Callable[[str], Awaitable[TeamsCallAgent]]) -> None:
    page = tab  # type: ignore[assignment]
    link = the_meeting(demo)["onlineMeeting"]["joinUrl"]
    alice = await (await python_agents("alice")).join(TeamsMeetingLinkLocator(link), audio=ToneSource(440.0))
    await alice.wait_for_state("Connected")

    opened = await page.goto(link)  # type: ignore[attr-defined]
    assert opened.status == 200 and "script-src 'self'" in opened.headers["content-security-policy"]
    await page.fill("#guest-name", "Pat Guest")  # type: ignore[attr-defined]
    await page.click("#join-as-guest")  # type: ignore[attr-defined]
    state = page.locator("#state")  # type: ignore[attr-defined]
    await expect(state).to_have_attribute("data-state", "InLobby")
    await expect(state).to_contain_text("Waiting in the lobby")
    await until(lambda: len(alice.lobby.participants) == 1)
    waiting = alice.lobby.participants[0]
    assert waiting.display_name == "Pat Guest" and waiting.identifier.raw_id.startswith("8:acs:")

    await alice.lobby.admit(waiting)
    await expect(state).to_have_attribute("data-state", "Connected")
    await expect(page.locator("#roster")).to_contain_text("Alice Smith")  # type: ignore[attr-defined]
    await hears_the_browser(alice)

    await page.click("#leave")  # type: ignore[attr-defined]
    await expect(state).to_have_attribute("data-state", "Disconnected")
    await expect(state).to_have_text("You left the meeting. (0/0)")
    await until(lambda: all(p.state == "Disconnected" for p in alice.remote_participants
                            if p.display_name == "Pat Guest"))
    await alice.hang_up()
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_page_of_a_link_that_is_no_meetings_says_so(demo: Demo) -> None:
    with demo.client() as c:
        r = c.get("/meet/l/meetup-join/not-a-thread/0")
    assert r.status_code == 404 and "does not name a meeting thread" in r.text
    assert "<script type=\"module\" src=\"/sdk/join.js\"></script>" in r.text and "<style" not in r.text


def test_the_guest_endpoint_takes_this_deployments_links_as_json_and_is_rate_limited(demo: Demo) -> None:
    link = the_meeting(demo)["onlineMeeting"]["joinUrl"]
    with demo.client() as c:
        headers = elsewhere()
        made = c.post("/meet/guest", json={"meetingLink": link}, headers=headers)
        assert made.status_code == 200, made.text
        assert made.json()["identity"].startswith("8:acs:") and made.json()["token"].count(".") == 2
        form = c.post("/meet/guest", data={"meetingLink": link}, headers=headers)  # a form from another site
        assert form.status_code == 400
        foreign = c.post("/meet/guest", json={"meetingLink": link.replace(demo.base_url, "https://else.example")},
                         headers=headers)
        assert foreign.status_code == 400, foreign.text
        answers = [c.post("/meet/guest", json={"meetingLink": link}, headers=headers)
                   for _ in range(demo.settings.join_guest_burst)]
        refused = [r for r in answers if r.status_code == 429]
        assert refused and int(refused[0].headers["Retry-After"]) >= 1
        assert c.post("/meet/guest", json={"meetingLink": link}, headers=elsewhere()).status_code == 200


@pytest.fixture
def sign_in_on_the_join_page(demo: Demo) -> Iterator[None]:
    """The demo's public client as the join page's, as `callbridge demo` sets it (the demo registers its redirect
    URI, <base>/meet/signed-in)."""
    settings = demo.app.state.acs.settings
    settings.join_page_client_id = demo.client_id
    yield
    settings.join_page_client_id = ""


async def test_an_organisation_user_signs_in_on_the_join_page_and_joins(
        demo: Demo, tab: object, sign_in_on_the_join_page: None,
        python_agents: Callable[[str], Awaitable[TeamsCallAgent]]) -> None:
    page = tab  # type: ignore[assignment]
    link = the_meeting(demo)["onlineMeeting"]["joinUrl"]
    await page.goto(link)  # type: ignore[attr-defined]
    await page.click("#sign-in")  # type: ignore[attr-defined]
    alice = demo.user("alice")
    await page.fill("#username", alice["upn"])  # type: ignore[attr-defined]
    await page.fill("#password", alice["password"])  # type: ignore[attr-defined]
    await page.click("button.primary")  # type: ignore[attr-defined]
    state = page.locator("#state")  # type: ignore[attr-defined]
    await expect(state).to_have_attribute("data-state", "Connected")  # the organizer: no lobby
    assert "code=" not in page.url  # type: ignore[attr-defined]

    megan = await (await python_agents("megan")).join(TeamsMeetingLinkLocator(link), audio=ToneSource(1000.0))
    await megan.wait_for_state("Connected")
    await expect(page.locator("#roster")).to_contain_text("Megan Bowen")  # type: ignore[attr-defined]
    assert {p.display_name for p in megan.remote_participants} == {"Alice Smith"}
    await page.click("#leave")  # type: ignore[attr-defined]
    await expect(state).to_have_text("You left the meeting. (0/0)")
    await megan.hang_up()
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_token_endpoint_is_off_without_a_client(demo: Demo) -> None:
    with demo.client() as c:
        assert c.post("/meet/token", json={"accessToken": "x"}, headers=elsewhere()).status_code == 404
