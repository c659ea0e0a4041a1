"""The lobby decision for every ``lobbyBypassSettings.scope`` and every kind of joiner, as the docs state it."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from callbridge.meetings.lobby import (
    Admission,
    CommunicationGuest,
    Joiner,
    JoinerKind,
    PhoneCaller,
    TeamsUser,
    Who,
    admission,
    classify,
    decide,
)
from callbridge.meetings.model import AllowedPresenters, AttendeeRole, Invitee, LobbyScope, LobbySettings, Meeting
from callbridge.meetings.refusals import MeetingRefusal, MeetingRefused

HOME, PARTNER, STRANGER = (str(uuid.uuid4()) for _ in range(3))
ORGANIZER = str(uuid.uuid4())
INVITED_MEMBER, INVITED_GUEST, INVITED_PARTNER, CO_ORGANIZER = (str(uuid.uuid4()) for _ in range(4))
PARTNER_ADDRESS = "pat@partner.example"  # an invitee of another tenant: the event knows only the address
J, L = Admission.JOIN, Admission.LOBBY
S = LobbyScope


def meeting(scope: LobbyScope, *, dial_in_bypass: bool = False, federates: bool = True,
            interop: bool = True) -> Meeting:
    now = datetime(2026, 12, 7, 9, tzinfo=UTC)
    return Meeting("evt", HOME, ORGANIZER, "19:meeting_x@thread.v2", "Review", "https://x/meet/l/meetup-join/a/0",
                   "123456789", "37124488901122", now, now, LobbySettings(scope, dial_in_bypass),
                   AllowedPresenters.EVERYONE,
                   (Invitee("m@home", INVITED_MEMBER), Invitee("g@home", INVITED_GUEST),
                    Invitee(PARTNER_ADDRESS, None), Invitee("c@home", CO_ORGANIZER, AttendeeRole.COORGANIZER),
                    Invitee("ext@nowhere", None)),
                   federates, interop)


# Every kind of joiner, each as the identity the meeting service would see.
JOINERS: dict[str, Who] = {
    "organizer": TeamsUser(ORGANIZER.upper(), HOME, True),
    "member": TeamsUser(str(uuid.uuid4()), HOME, True),
    "invited member": TeamsUser(INVITED_MEMBER, HOME, True),
    "co-organizer": TeamsUser(CO_ORGANIZER, HOME, True),
    "guest account": TeamsUser(str(uuid.uuid4()), HOME, True, is_guest_account=True),
    "invited guest account": TeamsUser(INVITED_GUEST, HOME, True, is_guest_account=True),
    "federated": TeamsUser(str(uuid.uuid4()), PARTNER, True),
    "invited federated": TeamsUser(INVITED_PARTNER, PARTNER, True, email="Pat@Partner.example"),
    "acs guest": CommunicationGuest("8:acs:res_" + str(uuid.uuid4()), "Kim (visitor)"),
    "phone": PhoneCaller("+12065550100"),
}

# The policy (docs/protocol.md, "Meetings: lobby"): scope -> who joins at once; the rest wait.
EXPECTED: dict[LobbyScope, set[str]] = {
    S.ORGANIZER: {"organizer", "co-organizer"},
    S.INVITED: {"organizer", "co-organizer", "invited member", "invited guest account", "invited federated"},
    S.ORGANIZATION_EXCLUDING_GUESTS: {"organizer", "co-organizer", "member", "invited member"},
    S.ORGANIZATION: {"organizer", "co-organizer", "member", "invited member", "guest account",
                     "invited guest account"},
    S.ORGANIZATION_AND_FEDERATED: {"organizer", "co-organizer", "member", "invited member", "guest account",
                                   "invited guest account", "federated", "invited federated"},
    S.EVERYONE: set(JOINERS),
}


@pytest.mark.parametrize("scope", list(LobbyScope))
@pytest.mark.parametrize("name", list(JOINERS))
def test_who_joins_at_once_and_who_waits(scope: LobbyScope, name: str) -> None:
    joiner, decision = admission(meeting(scope), JOINERS[name])
    assert decision is (J if name in EXPECTED[scope] else L), (scope, name, joiner)


@pytest.mark.parametrize("scope", list(LobbyScope))
def test_phone_callers_bypass_when_dial_in_bypass_is_on(scope: LobbyScope) -> None:
    assert admission(meeting(scope, dial_in_bypass=True), JOINERS["phone"])[1] is J
    assert admission(meeting(scope, dial_in_bypass=False), JOINERS["phone"])[1] is (J if scope is S.EVERYONE else L)


@pytest.mark.parametrize("scope", list(LobbyScope))
@pytest.mark.parametrize("joiner_federates", [True, False])
def test_a_user_of_an_unfederated_tenant_is_refused_under_every_scope(scope: LobbyScope,
                                                                      joiner_federates: bool) -> None:
    # federation needs both tenants to allow it: here one of the two does not
    stranger = TeamsUser(str(uuid.uuid4()), STRANGER, joiner_federates)
    with pytest.raises(MeetingRefused) as caught:
        admission(meeting(scope, federates=not joiner_federates), stranger)
    assert caught.value.refusal is MeetingRefusal.NOT_FEDERATED
    assert caught.value.to_wire()["code"] == 403 and caught.value.to_wire()["subCode"] == 5223
    with pytest.raises(MeetingRefused):
        decide(meeting(scope), Joiner(JoinerKind.UNFEDERATED, stranger.user_id))


def test_kinds_are_sorted_from_the_identity() -> None:
    m = meeting(S.EVERYONE)
    kinds = {name: classify(m, who).kind for name, who in JOINERS.items()}
    assert kinds == {"organizer": JoinerKind.ORGANIZER, "member": JoinerKind.MEMBER,
                     "invited member": JoinerKind.MEMBER, "co-organizer": JoinerKind.MEMBER,
                     "guest account": JoinerKind.TENANT_GUEST, "invited guest account": JoinerKind.TENANT_GUEST,
                     "federated": JoinerKind.FEDERATED, "invited federated": JoinerKind.FEDERATED,
                     "acs guest": JoinerKind.ACS_GUEST, "phone": JoinerKind.PHONE}
    assert classify(m, JOINERS["acs guest"]).display_name == "Kim (visitor)"
    assert classify(m, JOINERS["phone"]).display_name == "+12065550100"


@pytest.mark.parametrize("name", ["", "   ", None, "x" * 257])
def test_a_guest_without_a_display_name_is_refused(name: str | None) -> None:
    with pytest.raises(MeetingRefused) as caught:
        classify(meeting(S.EVERYONE), CommunicationGuest("8:acs:r_1", name))
    assert caught.value.refusal is MeetingRefusal.NO_DISPLAY_NAME


def test_guests_are_refused_when_the_organizers_tenant_has_interop_off() -> None:
    with pytest.raises(MeetingRefused) as caught:
        classify(meeting(S.EVERYONE, interop=False), JOINERS["acs guest"])
    assert caught.value.to_wire()["subCode"] == 5222


def test_a_co_organizer_role_is_only_for_the_organizers_tenant() -> None:
    m = meeting(S.ORGANIZER)
    promoted = replace(m, invitees=(Invitee(PARTNER_ADDRESS, None, AttendeeRole.COORGANIZER),))
    assert admission(promoted, JOINERS["invited federated"])[1] is L
    assert admission(replace(m, lobby=LobbySettings(S.INVITED)), JOINERS["invited federated"])[1] is J


def test_an_address_matches_only_an_invitation_the_event_could_not_resolve_to_a_user() -> None:
    m = meeting(S.INVITED)
    # a colleague whose address is an invitee resolved to another user is not that invitee
    impostor = TeamsUser(str(uuid.uuid4()), HOME, True, email="m@home")
    assert admission(m, impostor)[1] is L
    stranger_with_address = TeamsUser(str(uuid.uuid4()), PARTNER, True, email=PARTNER_ADDRESS)
    assert admission(m, stranger_with_address)[1] is J
