"""Digest authentication: the RFC 2069/2617/7616 worked examples to the digit, header parse/print round trips with
awkward quoting, the client's retry of a 401/407, and the verifier's nonces, replay protection and blocking on a
fake clock."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callbridge.sip.dialog import build_invite
from callbridge.sip.digest import (
    DigestVerifier,
    FailureWindow,
    Outcome,
    Verdict,
    answer_challenge,
    authorize,
    digest_response,
    digest_response_from_ha1,
    ha1,
    hash_name,
    supported_challenges,
)
from callbridge.sip.digest_headers import (
    Challenge,
    Credentials,
    DigestError,
    canonical_algorithm,
    parse_digest_params,
    quote,
)
from callbridge.sip.fields import NameAddr, Via
from callbridge.sip.message import Request, Response
from callbridge.sip.responses import make_response
from callbridge.sip.uri import SipUri

PASSWORDS = {"alice": "correct horse", "bob": "s3cret\"quoted\\"}
SECRET = b"0123456789abcdef0123456789abcdef"
REALM = "trunk.example.com"
# What a server keeps: the verifiers below see these HA1 values, never the passwords.
STORED = {(user, realm, algorithm): ha1(user, realm, password, algorithm)
          for user, password in PASSWORDS.items()
          for realm in (REALM, "near.example.com", "far.example.com")
          for algorithm in ("MD5", "SHA-256", "SHA-512-256")}


def ha1_of(username: str, realm: str, algorithm: str) -> str | None:
    return STORED.get((username, realm, algorithm))


# -- the worked examples --------------------------------------------------------------------------------------------

RFC2617_CHALLENGE = ('Digest realm="testrealm@host.com", qop="auth,auth-int", '
                     'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"')
RFC2617_CREDENTIALS = ('Digest username="Mufasa", realm="testrealm@host.com", '
                       'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001, '
                       'cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", '
                       'opaque="5ccc069c403ebaf9f0171e9517f40e41"')
# RFC 7616 3.9.1, as the header reads once unfolded (RFC 3261 7.3.1)
RFC7616_CHALLENGE = ('Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm={algorithm}, '
                     'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
                     'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"')
RFC7616_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"


def test_rfc2617_section_3_5_example() -> None:
    challenge = Challenge.parse(RFC2617_CHALLENGE)
    assert challenge.qop == ("auth", "auth-int") and challenge.algorithm == "MD5"
    assert challenge.opaque == "5ccc069c403ebaf9f0171e9517f40e41" and not challenge.stale
    answer = answer_challenge(challenge, method="GET", uri="/dir/index.html", username="Mufasa",
                              password="Circle Of Life", cnonce="0a4f113b")
    assert answer.response == "6629fae49393a05397450978507c4ef1"
    assert (answer.qop, answer.nc, answer.opaque) == ("auth", "00000001", challenge.opaque)
    sent = Credentials.parse(RFC2617_CREDENTIALS)
    assert sent.response == answer.response and sent.nonce_count == 1 and sent.algorithm is None
    assert Credentials.parse(str(answer)) == answer


def test_rfc2069_example_without_qop() -> None:
    assert digest_response(algorithm="MD5", username="Mufasa", realm="testrealm@host.com", password="CircleOfLife",
                           method="GET", uri="/dir/index.html",
                           nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093") == "1949323746fe6a43ef61f9606e7febea"


@pytest.mark.parametrize(("algorithm", "expected"), [
    ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
    ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
])
def test_rfc7616_section_3_9_1_examples(algorithm: str, expected: str) -> None:
    challenge = Challenge.parse(RFC7616_CHALLENGE.format(algorithm=algorithm))
    answer = answer_challenge(challenge, method="GET", uri="/dir/index.html", username="Mufasa",
                              password="Circle of Life", cnonce=RFC7616_CNONCE)
    assert answer.response == expected and answer.algorithm == algorithm
    assert str(answer).startswith('Digest username="Mufasa", realm="http-auth@example.org", ')
    assert f"algorithm={algorithm}," in str(answer) and "qop=auth, nc=00000001" in str(answer)


RFC2617_HA1 = "939e7578ed9e3c518a452acee763bce9"  # RFC 2617 3.5: MD5("Mufasa:testrealm@host.com:Circle Of Life")


@pytest.mark.parametrize(("algorithm", "expected"), [
    ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
    ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
])
def test_the_worked_examples_from_ha1_alone(algorithm: str, expected: str) -> None:
    assert ha1("Mufasa", "testrealm@host.com", "Circle Of Life", "MD5") == RFC2617_HA1
    for stored in (RFC2617_HA1, RFC2617_HA1.upper()):
        assert digest_response_from_ha1(algorithm="MD5", ha1=stored, method="GET", uri="/dir/index.html",
                                        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", qop="auth", nc="00000001",
                                        cnonce="0a4f113b") == "6629fae49393a05397450978507c4ef1"
    challenge = Challenge.parse(RFC7616_CHALLENGE.format(algorithm=algorithm))
    stored = ha1("Mufasa", "http-auth@example.org", "Circle of Life", algorithm)
    assert len(stored) == (32 if algorithm == "MD5" else 64)
    assert digest_response_from_ha1(algorithm=algorithm, ha1=stored, method="GET", uri="/dir/index.html",
                                    nonce=challenge.nonce, qop="auth", nc="00000001", cnonce=RFC7616_CNONCE
                                    ) == expected
    assert ha1("u", "r", "p", f"{algorithm.lower()}-SESS") == ha1("u", "r", "p", algorithm)  # -sess: same HA1
    with pytest.raises(DigestError):
        ha1("u", "r", "p", "SHA-1")


def test_sess_and_auth_int_and_sha512_256_differ_and_are_stable() -> None:
    common = dict(username="u", realm="r", password="p", method="INVITE", uri="sip:b@example.org", nonce="n",
                  qop="auth", nc="00000001", cnonce="c")
    values = {name: digest_response(algorithm=name, **common) for name in
              ("MD5", "MD5-sess", "SHA-256", "SHA-256-sess", "SHA-512-256", "SHA-512-256-sess")}
    assert len(set(values.values())) == 6 and len(values["SHA-512-256"]) == 64
    int_common = {**common, "qop": "auth-int"}
    assert digest_response(algorithm="MD5", body=b"v=0", **int_common) != digest_response(
        algorithm="MD5", body=b"v=1", **int_common)
    assert canonical_algorithm("sha-256-SESS") == "SHA-256-sess"
    with pytest.raises(DigestError):
        canonical_algorithm("SHA-1")


# -- parsing and printing -------------------------------------------------------------------------------------------


def test_parameter_lists_are_read_like_the_grammar_says() -> None:
    params = parse_digest_params('digest  REALM = "a, \\"b\\" \\\\ c" ,, Nonce=abc/def==,qop="auth" ,')
    assert params == {"realm": 'a, "b" \\ c', "nonce": "abc/def==", "qop": "auth"}
    for bad in ('Basic realm="x"', 'Digest realm="x" nonce="y"', 'Digest realm="unterminated',
                'Digest realm="x", realm="y"', "Digest realm", "Digest =x", 'Digest realm="x\r\n"'):
        with pytest.raises(DigestError):
            parse_digest_params(bad)
    assert parse_digest_params("Digest") == {}
    with pytest.raises(DigestError, match="nonce"):
        Challenge.parse('Digest realm="x"')
    with pytest.raises(DigestError, match="cnonce"):
        Credentials.parse('Digest username="a", realm="r", nonce="n", uri="u", response="x", qop=auth')
    with pytest.raises(DigestError, match="nc"):
        Credentials.parse('Digest username="a", realm="r", nonce="n", uri="u", response="x", qop=auth, nc=1, '
                          'cnonce="c"')


def test_challenge_round_trip_with_tricky_quoting() -> None:
    challenge = Challenge(realm='Mary\'s "big", realm \\ here', nonce="n,o;n=ce", algorithm="SHA-256",
                          qop=("auth", "auth-int"), opaque="", stale=True, domain="sip:a.example sip:b.example",
                          extra=(("charset", "UTF-8"),))
    text = str(challenge)
    assert text.startswith('Digest realm="Mary\'s \\"big\\", realm \\\\ here", domain=')
    assert "stale=TRUE, algorithm=SHA-256, qop=\"auth,auth-int\"" in text
    assert Challenge.parse(text) == challenge
    lower = Challenge.parse('Digest realm="r", nonce="n", stale=true, algorithm=md5-sess')
    assert lower.stale and lower.algorithm == "MD5-sess"


def test_credentials_round_trip_through_the_wire() -> None:
    credentials = Credentials("al\"ice", "r, r", "n=1", "sip:bob@example.org;transport=tcp", "abc123",
                              "SHA-256", "c\\n", "op,aque", "auth", "0000000a", (("userhash", "false"),))
    request = Request("OPTIONS", SipUri.parse("sip:bob@example.org;transport=tcp"), (
        ("Via", "SIP/2.0/UDP a.example.com;branch=z9hG4bK1"), ("From", "<sip:a@example.com>;tag=1"),
        ("To", "<sip:bob@example.org>"), ("Call-ID", "x@y"), ("CSeq", "1 OPTIONS"),
        ("Authorization", str(credentials))))
    read = Request.parse(bytes(request)).header("Authorization")
    assert read is not None and Credentials.parse(read) == credentials and credentials.nonce_count == 10


_TEXT = st.text(st.characters(blacklist_characters="\r\n\0", blacklist_categories=("Cs",)), max_size=30)


@given(realm=_TEXT, nonce=_TEXT, opaque=st.none() | _TEXT)
def test_any_quoted_text_round_trips(realm: str, nonce: str, opaque: str | None) -> None:
    challenge = Challenge(realm, nonce, "SHA-256", ("auth",), opaque)
    assert Challenge.parse(str(challenge)) == challenge


def test_quote_refuses_line_breaks() -> None:
    assert quote('a"b\\') == '"a\\"b\\\\"'
    with pytest.raises(ValueError):
        quote("a\r\nb")


# -- the client's retry ---------------------------------------------------------------------------------------------


def invite(**kwargs: object) -> Request:
    request = build_invite(SipUri.parse("sip:+15551234@trunk.example.com"),
                           from_=NameAddr(SipUri.parse("sip:alice@pbx.example.net")),
                           to=NameAddr(SipUri.parse("sip:+15551234@trunk.example.com")),
                           contact=NameAddr(SipUri.parse("sip:alice@192.0.2.10:5060")),
                           via=Via("UDP", "192.0.2.10", 5060), body=b"v=0\r\n")
    return Request.parse(bytes(request))


def challenge_for(request: Request, verifier: DigestVerifier, now: float = 1000.0) -> Response:
    verdict = verifier.verify(request, source="192.0.2.10", now=now, ha1_of=ha1_of)
    assert verdict.status in (401, 407)
    return Response.parse(bytes(make_response(request, verdict.status, to_tag="t1",
                                              header_fields=verdict.header_fields)))


def test_a_401_is_answered_with_cseq_up_same_call_id_and_tag_new_branch() -> None:
    verifier = DigestVerifier(REALM, SECRET)
    request = invite()
    unauthorized = challenge_for(request, verifier)
    assert unauthorized.status == 401 and len(unauthorized.headers("WWW-Authenticate")) == 2
    retry = Request.parse(bytes(authorize(request, unauthorized, username="alice", password=PASSWORDS["alice"])))
    assert retry.cseq.number == request.cseq.number + 1 and retry.cseq.method == "INVITE"
    assert (retry.call_id, retry.from_.tag, retry.to.tag) == (request.call_id, request.from_.tag, None)
    assert retry.top_via.branch != request.top_via.branch and retry.top_via.has_rfc3261_branch
    assert retry.top_via.sent_by == request.top_via.sent_by and retry.body == request.body
    (value,) = retry.headers("Authorization")
    sent = Credentials.parse(value)
    assert (sent.algorithm, sent.qop, sent.uri, sent.username) == ("SHA-256", "auth", str(request.uri), "alice")
    assert verifier.verify(retry, source="192.0.2.10", now=1001.0, ha1_of=ha1_of).accepted


def test_a_407_from_two_proxies_gets_proxy_authorization_for_each_realm() -> None:
    near = DigestVerifier("near.example.com", SECRET, proxy=True, algorithms=("MD5",))
    far = DigestVerifier("far.example.com", b"another secret", proxy=True)
    request = invite()
    first = challenge_for(request, near)
    both = first.with_header("Proxy-Authenticate", challenge_for(request, far).headers("Proxy-Authenticate")[0])
    assert both.status == 407
    retry = authorize(request, both, username="bob", password=PASSWORDS["bob"], branch="z9hG4bK-retry")
    assert retry.top_via.branch == "z9hG4bK-retry"
    assert sorted(Credentials.parse(value).realm for value in retry.headers("Proxy-Authorization")) == [
        "far.example.com", "near.example.com"]
    for verifier in (near, far):
        assert verifier.verify(retry, source="s", now=1000.0, ha1_of=ha1_of).accepted

    far_again = Response(407, "Proxy Authentication Required", (
        *both.header_fields[:5], ("Proxy-Authenticate", str(Challenge("far.example.com", "fresh", "MD5", ("auth",))))))
    again = authorize(retry, far_again, username="bob", password=PASSWORDS["bob"])
    realms = [Credentials.parse(value) for value in again.headers("Proxy-Authorization")]
    assert [c.realm for c in realms] == ["near.example.com", "far.example.com"] and realms[1].nonce == "fresh"
    assert again.cseq.number == request.cseq.number + 2


def test_the_first_supported_challenge_of_a_realm_wins() -> None:
    request = invite()
    offers = [Challenge(REALM, "n1", "SHA-999"), Challenge(REALM, "n2", "MD5"), Challenge(REALM, "n3", "SHA-256")]
    response = make_response(request, 401, header_fields=tuple(("WWW-Authenticate", str(c)) for c in offers))
    response = response.with_header("WWW-Authenticate", 'Basic realm="x"').with_header("WWW-Authenticate", "Digest ,")
    assert supported_challenges(response) == [offers[1]]
    unanswerable = make_response(request, 401, header_fields=(("WWW-Authenticate", str(offers[0])),))
    with pytest.raises(DigestError, match="no Digest challenge"):
        authorize(request, unanswerable, username="a", password="b")
    with pytest.raises(ValueError, match="no authentication challenge"):
        authorize(request, make_response(request, 403), username="a", password="b")
    with pytest.raises(DigestError, match="qop"):
        answer_challenge(Challenge(REALM, "n", qop=("auth-conf",)), method="INVITE", uri="sip:x", username="a",
                         password="b")


def test_auth_int_covers_the_body() -> None:
    verifier = DigestVerifier(REALM, SECRET)
    request = invite()
    nonce = verifier.new_nonce(1000.0)
    response = make_response(request, 401, header_fields=(
        ("WWW-Authenticate", str(Challenge(REALM, nonce, "SHA-256", ("auth-int",)))),))
    retry = authorize(request, response, username="alice", password=PASSWORDS["alice"])
    assert Credentials.parse(retry.headers("Authorization")[0]).qop == "auth-int"
    tampered = Request(retry.method, retry.uri, retry.header_fields, b"v=0\r\ns=changed\r\n")
    assert verifier.verify(tampered, source="s", now=1000.0, ha1_of=ha1_of).reason == "wrong password"
    assert verifier.verify(retry, source="s", now=1000.0, ha1_of=ha1_of).accepted


# -- the verifier ---------------------------------------------------------------------------------------------------


def credentials_for(request: Request, verifier: DigestVerifier, now: float, *, username: str = "alice",
                    password: str | None = None, nc: int = 1, uri: str | None = None, realm: str | None = None,
                    algorithm: str = "SHA-256", nonce: str | None = None, qop: tuple[str, ...] = ("auth",)
                    ) -> Request:
    challenge = Challenge(realm or verifier.realm, nonce or verifier.new_nonce(now), algorithm, qop)
    answer = answer_challenge(challenge, method=request.method, uri=uri or str(request.uri), username=username,
                              password=PASSWORDS[username] if password is None else password, body=request.body,
                              nc=nc)
    return with_credentials(request, answer, "Proxy-Authorization" if verifier.proxy else "Authorization")


def with_credentials(request: Request, credentials: Credentials, header: str = "Authorization") -> Request:
    return request.without_header(header).with_header(header, str(credentials))


def judge(verifier: DigestVerifier, request: Request, now: float, source: str = "192.0.2.10") -> Verdict:
    return verifier.verify(request, source=source, now=now, ha1_of=ha1_of)


@pytest.mark.parametrize("algorithm", ["MD5", "MD5-sess", "SHA-256", "SHA-256-sess", "SHA-512-256",
                                       "SHA-512-256-sess"])
def test_the_verifier_needs_only_the_stored_ha1(algorithm: str) -> None:
    realm = "http-auth@example.org"  # the RFC 7616 3.9.1 user, as a SIP server would store it
    stored = {name: ha1("Mufasa", realm, "Circle of Life", name) for name in ("MD5", "SHA-256", "SHA-512-256")}
    asked: list[tuple[str, str, str]] = []

    def lookup(username: str, lookup_realm: str, name: str) -> str | None:
        asked.append((username, lookup_realm, name))
        return stored[name] if username == "Mufasa" else None

    verifier = DigestVerifier(realm, SECRET, algorithms=(algorithm,))
    challenge = Challenge(realm, verifier.new_nonce(1000.0), algorithm, ("auth",))
    request = invite()

    def answered(password: str, username: str = "Mufasa") -> Request:
        return with_credentials(request, answer_challenge(challenge, method=request.method, uri=str(request.uri),
                                                          username=username, password=password,
                                                          cnonce=RFC7616_CNONCE))

    assert verifier.verify(answered("Circle of Life"), source="s", now=1000.0, ha1_of=lookup).accepted
    assert asked == [("Mufasa", realm, hash_name(algorithm))] and "sess" not in asked[0][2]
    assert verifier.verify(answered("Circle Of Life"), source="s", now=1000.0, ha1_of=lookup).reason == (
        "wrong password")
    assert verifier.verify(answered("Circle of Life", "mufasa"), source="s", now=1000.0, ha1_of=lookup).reason == (
        "unknown user")


def test_no_credentials_is_a_challenge_per_algorithm_and_never_blocks() -> None:
    verifier = DigestVerifier(REALM, SECRET, max_failures=2)
    for _ in range(5):
        verdict = judge(verifier, invite(), 1000.0)
        assert (verdict.outcome, verdict.status, verdict.reason) == (Outcome.CHALLENGE, 401, "no credentials")
    challenges = [Challenge.parse(value) for name, value in verdict.header_fields if name == "WWW-Authenticate"]
    assert [c.algorithm for c in challenges] == ["SHA-256", "MD5"]
    assert {c.nonce for c in challenges} == {challenges[0].nonce} and challenges[0].qop == ("auth",)
    assert not challenges[0].stale and challenges[0].realm == REALM


def test_a_proxy_verifier_reads_proxy_authorization_and_challenges_with_407() -> None:
    verifier = DigestVerifier(REALM, SECRET, proxy=True)
    assert judge(verifier, invite(), 1000.0).status == 407
    assert judge(verifier, invite(), 1000.0).header_fields[0][0] == "Proxy-Authenticate"
    assert judge(verifier, credentials_for(invite(), verifier, 1000.0), 1000.0).accepted


def test_a_good_answer_is_accepted_and_counts_go_up() -> None:
    verifier = DigestVerifier(REALM, SECRET)
    nonce = verifier.new_nonce(1000.0)
    for nc in (1, 2, 5):
        verdict = judge(verifier, credentials_for(invite(), verifier, 1000.0, nonce=nonce, nc=nc), 1001.0)
        assert (verdict.outcome, verdict.username, verdict.status) == (Outcome.ACCEPTED, "alice", None)
    replay = judge(verifier, credentials_for(invite(), verifier, 1000.0, nonce=nonce, nc=5), 1002.0)
    assert (replay.outcome, replay.reason, replay.status) == (Outcome.CHALLENGE, "replayed nonce count", 401)
    older = judge(verifier, credentials_for(invite(), verifier, 1000.0, nonce=nonce, nc=3), 1002.0)
    assert older.reason == "replayed nonce count"


def test_an_expired_nonce_with_a_good_answer_is_stale_and_a_bad_answer_is_not() -> None:
    verifier = DigestVerifier(REALM, SECRET, nonce_lifetime=60.0, max_failures=2)
    request = credentials_for(invite(), verifier, 1000.0)
    for _ in range(3):  # stale answers are no failures
        stale = judge(verifier, request, 1061.0)
        assert (stale.outcome, stale.reason) == (Outcome.CHALLENGE, "stale nonce")
    assert all(Challenge.parse(value).stale for _, value in stale.header_fields)
    assert judge(verifier, request, 1060.0).accepted
    wrong = judge(verifier, credentials_for(invite(), verifier, 1000.0, password="nope"), 1061.0)
    assert wrong.reason == "wrong password" and not any(Challenge.parse(v).stale for _, v in wrong.header_fields)


@pytest.mark.parametrize(("change", "reason"), [
    ({"password": "Correct Horse"}, "wrong password"),
    ({"username": "bob", "password": "x"}, "wrong password"),
    ({"uri": "sip:+15559999@trunk.example.com"}, "digest uri does not match the Request-URI"),
    ({"algorithm": "SHA-512-256"}, "algorithm SHA-512-256 not offered"),
    ({"qop": ()}, "qop None not offered"),
    ({"nonce": DigestVerifier(REALM, b"someone else's secret").new_nonce(1000.0)}, "forged nonce"),
    ({"nonce": DigestVerifier(REALM, SECRET).new_nonce(5000.0)}, "nonce from the future"),
    ({"nonce": "AAAA"}, "forged nonce"),
    ({"nonce": "not base64 at all!"}, "malformed nonce"),
])
def test_bad_answers_are_failures(change: dict[str, object], reason: str) -> None:
    verifier = DigestVerifier(REALM, SECRET)
    verdict = judge(verifier, credentials_for(invite(), verifier, 1000.0, **change), 1000.0)  # type: ignore[arg-type]
    assert (verdict.outcome, verdict.reason, verdict.status) == (Outcome.CHALLENGE, reason, 401)


def test_an_unknown_user_looks_like_a_wrong_password() -> None:
    verifier = DigestVerifier(REALM, SECRET)
    request = credentials_for(invite(), verifier, 1000.0)
    verdict = verifier.verify(request, source="s", now=1000.0, ha1_of=lambda username, realm, algorithm: None)
    assert (verdict.outcome, verdict.status, verdict.reason) == (Outcome.CHALLENGE, 401, "unknown user")


def test_credentials_for_another_realm_are_not_ours() -> None:
    verifier = DigestVerifier(REALM, SECRET, max_failures=1)
    other = credentials_for(invite(), verifier, 1000.0, realm="elsewhere.example.com")
    for _ in range(3):
        assert judge(verifier, other, 1000.0).reason == "no credentials"
    assert judge(verifier, credentials_for(other, verifier, 1000.0).with_header(
        "Authorization", 'Digest realm="x", garbage'), 1000.0).accepted


def test_an_equivalent_digest_uri_is_accepted() -> None:
    verifier = DigestVerifier(REALM, SECRET)
    request = credentials_for(invite(), verifier, 1000.0, uri="sip:+15551234@TRUNK.example.com")
    assert judge(verifier, request, 1000.0).accepted


def test_without_qop_when_allowed_a_nonce_is_single_use() -> None:
    verifier = DigestVerifier(REALM, SECRET, require_qop=False, algorithms=("MD5",))
    request = credentials_for(invite(), verifier, 1000.0, algorithm="MD5", qop=())
    assert "qop" not in request.headers("Authorization")[0]
    assert judge(verifier, request, 1000.0).accepted
    assert judge(verifier, request, 1000.0).reason == "replayed nonce count"


def test_repeated_failures_block_the_source_and_username_until_the_window_passes() -> None:
    verifier = DigestVerifier(REALM, SECRET, max_failures=3, failure_window=60.0)
    for second in range(3):
        assert judge(verifier, credentials_for(invite(), verifier, 1000.0, password="guess"), 1000.0 + second
                     ).outcome is Outcome.CHALLENGE
    good = credentials_for(invite(), verifier, 1003.0)
    blocked = judge(verifier, good, 1003.0)
    assert (blocked.outcome, blocked.status, blocked.username, blocked.header_fields) == (
        Outcome.FORBIDDEN, 403, "alice", ())
    assert judge(verifier, credentials_for(invite(), verifier, 1003.0), 1003.0, source="198.51.100.1").accepted
    assert judge(verifier, credentials_for(invite(), verifier, 1003.0, username="bob"), 1003.0).accepted
    assert judge(verifier, good, 1059.9).outcome is Outcome.FORBIDDEN  # the first failure was at 1000
    assert judge(verifier, good, 1060.0).accepted


def test_a_success_clears_the_count() -> None:
    verifier = DigestVerifier(REALM, SECRET, max_failures=3)
    for _ in range(2):
        for _ in range(2):
            judge(verifier, credentials_for(invite(), verifier, 1000.0, password="guess"), 1000.0)
        assert judge(verifier, credentials_for(invite(), verifier, 1000.0), 1000.0).accepted


def test_many_usernames_from_one_source_block_the_source() -> None:
    verifier = DigestVerifier(REALM, SECRET, max_failures=100, max_source_failures=4, failure_window=10.0)
    for index in range(4):
        judge(verifier, credentials_for(invite(), verifier, 0.0, password="guess", username="alice"), float(index))
    verdict = judge(verifier, credentials_for(invite(), verifier, 4.0, username="bob"), 4.0)
    assert (verdict.outcome, verdict.reason) == (Outcome.FORBIDDEN, "too many failures from this source")
    assert judge(verifier, invite(), 4.0).outcome is Outcome.FORBIDDEN
    assert judge(verifier, invite().with_header("Authorization", "Digest junk"), 4.0, source="x").outcome is (
        Outcome.CHALLENGE)
    assert judge(verifier, credentials_for(invite(), verifier, 10.5, username="bob"), 10.5).accepted


def test_malformed_credentials_count_against_the_source() -> None:
    verifier = DigestVerifier(REALM, SECRET, max_source_failures=2)
    broken = invite().with_header("Authorization", f'Digest realm="{REALM}", username="alice"')
    assert judge(verifier, broken, 0.0).reason.startswith("malformed credentials")
    judge(verifier, broken, 0.0)
    assert judge(verifier, credentials_for(invite(), verifier, 0.0), 0.0).outcome is Outcome.FORBIDDEN


def test_memory_stays_bounded_and_forgetting_never_opens_a_replay() -> None:
    verifier = DigestVerifier(REALM, SECRET, max_tracked=3, nonce_lifetime=100.0)
    first = credentials_for(invite(), verifier, 0.0)
    assert judge(verifier, first, 0.0).accepted
    for second in range(1, 5):
        assert judge(verifier, credentials_for(invite(), verifier, float(second)), float(second)).accepted
    assert verifier.tracked_nonces == 3
    replay = judge(verifier, first, 5.0)
    assert (replay.outcome, replay.reason) == (Outcome.CHALLENGE, "nonce no longer tracked")
    assert all(Challenge.parse(value).stale for _, value in replay.header_fields)
    assert judge(verifier, credentials_for(invite(), verifier, 150.0), 150.0).accepted
    assert verifier.tracked_nonces == 1  # the expired ones are dropped

    window = FailureWindow(threshold=2, window=10.0, max_keys=2)
    for key in ("a", "b", "c"):
        window.record((key,), 0.0)
        window.record((key,), 0.0)
    assert len(window) == 2 and not window.blocked(("a",), 0.0) and window.blocked(("c",), 0.0)
    window.clear(("c",))
    assert not window.blocked(("c",), 0.0)


def test_the_verifier_refuses_an_unknown_algorithm_in_its_settings() -> None:
    with pytest.raises(DigestError):
        DigestVerifier(REALM, SECRET, algorithms=("SHA-1",))
    assert DigestVerifier(REALM, SECRET, algorithms=("sha-256",)).algorithms == ("SHA-256",)
