"""Request bodies are bounded per route family before they are read: a declared 10 MB body is refused with a 413
in the family's shape before its first bytes are awaited, a chunked one at the first chunk past the limit, and an
ACS request whose signature fails is refused before its body is read at all."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import formatdate

import pytest

from callbridge.acs.hmac_auth import sign_headers
from tests.conftest import Demo
from tests.integration.test_exchange import _key

TEN_MB = 10 * 1024 * 1024
CHUNK = 64 * 1024
PROMPT_S = 5.0  # far longer than a refusal takes, far shorter than the old wait for ten megabytes


@contextmanager
def tls_socket(demo: Demo) -> Iterator[ssl.SSLSocket]:
    context = ssl.create_default_context(cafile=demo.ca_file)
    with socket.create_connection(("127.0.0.1", demo.settings.https_port), timeout=PROMPT_S) as raw, \
            context.wrap_socket(raw, server_hostname="localhost") as tls:
        yield tls


def early_answer(tls: ssl.SSLSocket) -> bytes | None:
    """What the server has answered so far, without waiting (None: nothing yet; TLS session tickets are not an
    answer, which is why this is not a select())."""
    tls.setblocking(False)
    try:
        return tls.recv(65536)
    except ssl.SSLWantReadError:
        return None
    finally:
        tls.settimeout(PROMPT_S)


def read_response(tls: ssl.SSLSocket, data: bytes = b"") -> tuple[int, bytes]:
    """The status and body of the answer (read to the connection's end: the refusal closes it)."""
    try:
        while chunk := tls.recv(65536):
            data += chunk
    except (ConnectionResetError, ssl.SSLError):
        pass
    head, _, body = data.partition(b"\r\n\r\n")
    assert head, "no answer"
    return int(head.split(b" ", 2)[1]), body


def head(method: str, path: str, *fields: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: localhost", *fields, "", ""]
    return "\r\n".join(lines).encode()


def peak_rss_kib(*, reset: bool = False) -> int:
    """This process's peak resident set since the last reset (the server runs in its threads)."""
    if reset:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")  # Linux: the peak starts again from the current resident set
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


def _paths(demo: Demo) -> dict[str, str]:
    tenant = demo.user("alice")["tenant_id"]
    return {"acs": "/identities?api-version=2023-10-01", "graph": "/graph/v1.0/me/events",
            "login": f"/{tenant}/oauth2/v2.0/token", "carrier": "/carrier/api/phones/x/dial"}


def _family_shape(family: str, body: bytes) -> None:
    import json

    error = json.loads(body)
    if family == "login":
        assert error["error"] == "invalid_request" and "error_codes" in error
    elif family == "graph":
        assert error["error"]["code"] == "RequestEntityTooLarge" and "innerError" in error["error"]
    else:
        assert error["error"]["code"] == "RequestEntityTooLarge"


@pytest.mark.parametrize("family", ["acs", "graph", "login", "carrier"])
def test_a_declared_ten_megabytes_is_refused_before_the_body(demo: Demo, family: str) -> None:
    start = time.monotonic()
    with tls_socket(demo) as tls:
        tls.sendall(head("POST", _paths(demo)[family], "Content-Type: application/json",
                         f"Content-Length: {TEN_MB}") + b"{" * 1024)  # and not one byte more
        status, body = read_response(tls)
    assert status == 413, body
    assert time.monotonic() - start < PROMPT_S
    _family_shape(family, body)


@pytest.mark.parametrize("family", ["acs", "graph", "login"])
def test_a_chunked_body_is_refused_at_its_limit(demo: Demo, family: str) -> None:
    kind = "application/x-www-form-urlencoded" if family == "login" else "application/json"
    fields = [f"Content-Type: {kind}", "Transfer-Encoding: chunked"]
    if family == "graph":  # authenticated: the body is read (an anonymous one is refused before it)
        fields.append(f"Authorization: Bearer {demo.password_token('alice', ['Calendars.ReadWrite'])['access_token']}")
    if family == "acs":
        signed = sign_headers("POST", _paths(demo)["acs"], "localhost", b"", _key(demo), formatdate(usegmt=True))
        fields += [f"{name}: {value}" for name, value in signed.items()]
    before, sent, early = peak_rss_kib(reset=True), 0, None
    with tls_socket(demo) as tls:
        tls.sendall(head("POST", _paths(demo)[family], *fields))
        while sent < TEN_MB and (early := early_answer(tls)) is None:
            try:
                tls.sendall(f"{CHUNK:x}\r\n".encode() + b" " * CHUNK + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += CHUNK
        else:
            if sent >= TEN_MB:
                tls.sendall(b"0\r\n\r\n")
        status, body = read_response(tls, early or b"")
    assert status == 413, body
    assert sent < TEN_MB  # refused before the end (how long before depends on how busy the machine is)
    assert peak_rss_kib() - before < 20 * 1024  # reading ten megabytes whole grew it by more
    _family_shape(family, body)


def test_an_unsigned_acs_request_is_refused_before_its_body(demo: Demo) -> None:
    with tls_socket(demo) as tls:
        tls.sendall(head("POST", _paths(demo)["acs"], "Content-Type: application/json", "Content-Length: 1000",
                         "x-ms-date: Sun, 06 Dec 2026 00:00:00 GMT", "x-ms-content-sha256: x",
                         "Authorization: HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=x"))
        tls.sendall(b"{")  # the body never comes: the signature is checked without it
        tls.settimeout(PROMPT_S)
        data = tls.recv(65536)
    assert data.startswith(b"HTTP/1.1 401 "), data[:200]


@pytest.mark.parametrize("path", ["/identities?api-version=2023-10-01",
                                  "/identities/8:acs:x_1/:issueAccessToken?api-version=2023-10-01",
                                  "/teamsUser/:exchangeAccessToken?api-version=2023-10-01"])
def test_acs_paths_at_the_root_have_acs_limit(demo: Demo, path: str) -> None:
    """ACS's own limit (64 KiB), not the default megabyte, on every path of the API served at the root."""
    declared = demo.settings.http_body_limits["/identities"] + 1
    assert declared < demo.settings.http_body_limit_bytes
    with tls_socket(demo) as tls:
        tls.sendall(head("POST", path, "Content-Type: application/json", f"Content-Length: {declared}") + b"{")
        status, body = read_response(tls)
    assert status == 413, body
    _family_shape("acs", body)
