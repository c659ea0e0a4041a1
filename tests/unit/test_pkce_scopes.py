import pytest

from callbridge.directory.values import COMMUNICATION_APP_ID, GRAPH_APP_ID
from callbridge.identity.minting import code_hash
from callbridge.identity.pkce import s256, valid_challenge, verifier_matches
from callbridge.identity.scopes import ScopeError, parse_scopes

VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"


def test_pkce_rfc7636_appendix_b() -> None:
    assert s256(VERIFIER) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert valid_challenge(s256(VERIFIER))
    assert verifier_matches(VERIFIER, s256(VERIFIER))


@pytest.mark.parametrize("verifier", [None, "", "short", VERIFIER[:-1] + "l", VERIFIER + "!"])
def test_pkce_wrong_verifier(verifier: str | None) -> None:
    assert not verifier_matches(verifier, s256(VERIFIER))


def test_scopes_spelled_as_microsoft_spells_them() -> None:
    req = parse_scopes("https://auth.msft.communication.azure.com/Teams.ManageCalls "
                       "https://auth.msft.communication.azure.com/Teams.ManageChats openid offline_access")
    assert req.resource_app_id == COMMUNICATION_APP_ID
    assert req.permissions == {"Teams.ManageCalls", "Teams.ManageChats"}
    assert req.oidc == {"openid", "offline_access"}
    assert parse_scopes("User.Read").resource_app_id == GRAPH_APP_ID
    assert parse_scopes("https://graph.microsoft.com/User.ReadBasic.All").permissions == {"User.ReadBasic.All"}
    assert parse_scopes("https://graph.microsoft.com/.default").default


@pytest.mark.parametrize("raw,aadsts", [
    ("User.Read https://auth.msft.communication.azure.com/Teams.ManageCalls", 28000),
    ("https://evil.example/Thing", 500011),
    ("Not.A.Scope", 70011),
    ("https://graph.microsoft.com/.default User.Read", 70011),
    ("", 900144),
])
def test_bad_scopes(raw: str, aadsts: int) -> None:
    with pytest.raises(ScopeError) as info:
        parse_scopes(raw)
    assert info.value.aadsts == aadsts


@pytest.mark.parametrize(("raw", "admin_only"), [
    ("User.Read User.ReadBasic.All Calendars.Read Chat.Create Chat.Read openid profile email offline_access", set()),
    ("User.Read User.Read.All", {"User.Read.All"}),
    ("https://graph.microsoft.com/Directory.Read.All Group.ReadWrite.All",
     {"Directory.Read.All", "Group.ReadWrite.All"}),
    ("https://auth.msft.communication.azure.com/Teams.ManageCalls", set()),
])
def test_permissions_only_an_administrator_may_grant(raw: str, admin_only: set[str]) -> None:
    assert parse_scopes(raw).admin_only == admin_only


def test_scopes_are_said_back_as_asked() -> None:
    req = parse_scopes("https://graph.microsoft.com/User.Read Calendars.Read openid offline_access")
    assert sorted(req.spelled(req.permissions)) == ["Calendars.Read", "https://graph.microsoft.com/User.Read"]
    teams = parse_scopes("https://auth.msft.communication.azure.com/Teams.ManageCalls")
    assert teams.spelled(teams.permissions) == ["https://auth.msft.communication.azure.com/Teams.ManageCalls"]
    # A .default's grants take its prefix; a bare Graph .default stays bare.
    full = parse_scopes("https://graph.microsoft.com/.default")
    assert full.spelled({"User.Read", "Chat.Read"}) == ["https://graph.microsoft.com/Chat.Read",
                                                        "https://graph.microsoft.com/User.Read"]
    bare = parse_scopes(".default")
    assert bare.spelled({"User.Read"}) == ["User.Read"]


def test_c_hash_of_openid_connect_cores_example() -> None:
    # OpenID Connect Core 1.0, A.4 (code id_token): the code and the c_hash of its ID token.
    assert code_hash("Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk") == "LDktKdoQak3Pk0cnXxCltA"
