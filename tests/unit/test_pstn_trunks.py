"""Picking a tenant's trunk for a number (the longest prefix among enabled trunks), checking a source, and checking
a peer's digest credentials against the HA1 values a trunk stores."""

from __future__ import annotations

import pytest

from callbridge.calling.routing import routes
from callbridge.directory.errors import Invalid
from callbridge.pstn.trunks import ha1, ha1_lookup, parse_prefix, source_allowed
from callbridge.sip import digest
from callbridge.sip.digest import DigestVerifier, Verdict, answer_challenge
from callbridge.sip.digest_headers import Challenge
from callbridge.sip.message import Request
from callbridge.sip.uri import SipUri
from callbridge.store.models import Trunk


def trunk(name: str, *prefixes: str, enabled: bool = True, allow: tuple[str, ...] = ()) -> Trunk:
    return Trunk(name=name, number_prefixes=list(prefixes), enabled=enabled, allow_sources=list(allow))


def test_a_call_tries_the_enabled_trunks_carrying_the_number_longest_prefix_first() -> None:
    trunks = [trunk("world", "+"), trunk("us", "+1"), trunk("seattle", "+1425"), trunk("off", "+14255", enabled=False)]
    assert [t.name for t in routes(trunks, "+14255550101")] == ["seattle", "us", "world"]  # the failover order
    assert [t.name for t in routes(trunks, "+12065550100")] == ["us", "world"]
    assert [t.name for t in routes(trunks, "+442079460958")] == ["world"]
    assert routes(trunks[1:], "+442079460958") == []
    assert [t.name for t in routes([trunk("b", "+1"), trunk("a", "+1", "+15")], "+15550100")] == ["a", "b"]
    assert [t.name for t in routes([trunk("b", "+1"), trunk("a", "+1")], "+15550100")] == ["a", "b"]


def test_sources_are_checked_against_the_allowlist() -> None:
    t = trunk("carrier", "+", allow=("127.0.0.1/32", "192.0.2.0/24", "2001:db8::/32"))
    assert [source_allowed(t, a) for a in ("127.0.0.1", "192.0.2.77", "2001:db8::5", "127.0.0.2", "nonsense")] == [
        True, True, True, False, False]


def test_prefixes_and_ha1() -> None:
    assert parse_prefix(" +1 425 ") == "+1425" and parse_prefix("+") == "+"
    with pytest.raises(Invalid):
        parse_prefix("+1234567890123456")
    assert ha1("Mufasa", "testrealm@host.com", "Circle Of Life") == "939e7578ed9e3c518a452acee763bce9"  # RFC 2617
    assert ha1 is digest.ha1  # one HA1 function, the digest module's


def with_inbound(username: str, realm: str, password: str) -> Trunk:
    """A trunk as `add_trunk` stores inbound credentials: the HA1 hashes, not the password."""
    t = trunk("carrier", "+")
    t.inbound_username, t.inbound_realm = username, realm
    t.inbound_ha1_md5 = ha1(username, realm, password, "MD5")
    t.inbound_ha1_sha256 = ha1(username, realm, password, "SHA-256")
    return t


def check(t: Trunk, verifier: DigestVerifier, *, username: str, password: str, algorithm: str) -> Verdict:
    uri = SipUri.parse("sip:+14255550101@callbridge.example.com")
    request = Request("INVITE", uri, (
        ("Via", "SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bK-trunk"), ("From", "<sip:+12065550100@192.0.2.7>;tag=1"),
        ("To", f"<{uri}>"), ("Call-ID", "trunk-test@192.0.2.7"), ("CSeq", "1 INVITE")), b"v=0\r\n")
    challenge = Challenge(verifier.realm, verifier.new_nonce(1000.0), algorithm, ("auth",))
    answer = answer_challenge(challenge, method="INVITE", uri=str(uri), username=username, password=password,
                              body=request.body)
    return verifier.verify(request.with_header("Authorization", str(answer)), source="192.0.2.7", now=1000.0,
                           ha1_of=ha1_lookup(t))


@pytest.mark.parametrize("algorithm", ["SHA-256", "MD5", "MD5-sess", "SHA-256-sess"])
def test_a_verifier_accepts_the_trunks_password_from_its_stored_ha1(algorithm: str) -> None:
    t = with_inbound("fab", "callbridge", "s3cret pass")
    verifier = DigestVerifier("callbridge", b"k" * 32, algorithms=(algorithm,))
    right = check(t, verifier, username="fab", password="s3cret pass", algorithm=algorithm)
    assert (right.accepted, right.username) == (True, "fab")
    wrong = check(t, verifier, username="fab", password="s3cret Pass", algorithm=algorithm)
    assert (wrong.accepted, wrong.status, wrong.reason) == (False, 401, "wrong password")
    stranger = check(t, verifier, username="other", password="s3cret pass", algorithm=algorithm)
    assert (stranger.accepted, stranger.reason) == (False, "unknown user")


def test_the_lookup_gives_the_column_for_the_algorithm_and_nothing_else() -> None:
    t = with_inbound("fab", "callbridge", "pw")
    lookup = ha1_lookup(t)
    assert lookup("fab", "callbridge", "MD5") == t.inbound_ha1_md5 == ha1("fab", "callbridge", "pw", "MD5")
    assert lookup("fab", "callbridge", "SHA-256") == t.inbound_ha1_sha256
    assert lookup("fab", "callbridge", "sha-256-sess") == t.inbound_ha1_sha256
    assert [lookup("Fab", "callbridge", "MD5"), lookup("fab", "elsewhere", "MD5"), lookup("fab", "callbridge",
            "SHA-512-256"), lookup("fab", "callbridge", "SHA-1")] == [None, None, None, None]
    assert ha1_lookup(trunk("sources-only", "+", allow=("192.0.2.0/24",)))("", "callbridge", "MD5") is None
    t.inbound_ha1_md5 = "changed later"
    assert lookup("fab", "callbridge", "MD5") == ha1("fab", "callbridge", "pw", "MD5")  # read when made


def test_a_verifier_for_another_realm_refuses_the_trunks_credentials() -> None:
    t = with_inbound("fab", "callbridge", "pw")
    verifier = DigestVerifier("elsewhere", b"k" * 32)
    verdict = check(t, verifier, username="fab", password="pw", algorithm="SHA-256")
    assert (verdict.accepted, verdict.reason) == (False, "unknown user")


def test_the_phone_networks_refusals_map_to_acs_end_reasons() -> None:
    from callbridge.calling.end_reasons import from_phone

    assert [from_phone(s).to_wire() for s in (486, 600, 404, 480, 603, 408, 503, 487, 302)] == [
        {"code": 486, "subCode": 560486}, {"code": 486, "subCode": 560486}, {"code": 404, "subCode": 560404},
        {"code": 480, "subCode": 560480}, {"code": 603, "subCode": 560603}, {"code": 408, "subCode": 560408},
        {"code": 503, "subCode": 560503}, {"code": 487, "subCode": 0}, {"code": 302, "subCode": 560302}]
    with pytest.raises(ValueError, match="not a final failure"):
        from_phone(200)
