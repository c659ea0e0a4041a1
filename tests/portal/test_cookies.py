"""The signed cookies on a fake clock: a session is the portal's own (signature and purpose), and it ends."""

from __future__ import annotations

from portal.cookies import FLOW, SESSION, CookieSigner


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_cookie_verifies_until_its_lifetime_ends() -> None:
    clock = Clock()
    signer = CookieSigner(b"k" * 32, clock)
    cookie = signer.sign(SESSION, {"k": "oid.tid", "t": "tid"})
    assert signer.verify(SESSION, cookie, 3600) == {"k": "oid.tid", "t": "tid"}
    clock.now += 3600
    assert signer.verify(SESSION, cookie, 3600) is not None
    clock.now += 1
    assert signer.verify(SESSION, cookie, 3600) is None


def test_forged_altered_or_repurposed_cookies_are_refused() -> None:
    clock = Clock()
    signer = CookieSigner(b"k" * 32, clock)
    cookie = signer.sign(FLOW, {"kind": "signin"})
    assert signer.verify(SESSION, cookie, 600) is None  # a sign-in flow is no session
    assert CookieSigner(b"x" * 32, clock).verify(FLOW, cookie, 600) is None  # another key
    body, issued, mac = cookie.split(".")
    assert signer.verify(FLOW, f"{body}.{int(issued) + 100}.{mac}", 600) is None  # issued later than signed
    assert signer.verify(FLOW, f"{body}x.{issued}.{mac}", 600) is None
    for junk in ("", "a.b", "a.b.c.d", "..", None):
        assert signer.verify(FLOW, junk, 600) is None
    clock.now -= 30  # from a process whose clock is a little ahead: accepted
    assert signer.verify(FLOW, cookie, 600) is not None
    clock.now -= 60  # far "in the future": refused, not trusted for longer
    assert signer.verify(FLOW, cookie, 600) is None
