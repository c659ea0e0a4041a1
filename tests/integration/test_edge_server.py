"""The edge of a server with tight limits of its own (served as ``serve`` serves: the same server, protocol and
options): slow request heads and unfinished TLS handshakes are cut off, one address cannot hold more than its
share of connections, one user's Graph burst leaves the tenant to the others, and metrics live on a listener of
their own while the API explorers stay off."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Demo, seeded_platform
from tests.support.server import free_port

HEADER_TIMEOUT_S = 1.0
PER_ADDRESS = 6
USER_BURST = 4


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with seeded_platform(tmp_path_factory.mktemp("callbridge-edge"), sip_enabled=False,
                         log_level="CRITICAL", http_header_timeout_s=HEADER_TIMEOUT_S, tls_handshake_timeout_s=1.0,
                         http_max_connections_per_address=PER_ADDRESS, graph_requests_per_second=0.001,
                         graph_burst=3 * USER_BURST, graph_user_requests_per_second=0.001, graph_user_burst=USER_BURST,
                         metrics_enabled=True, metrics_port=free_port()) as served:
        yield served


def tls_connect(demo: Demo) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=demo.ca_file)
    raw = socket.create_connection(("127.0.0.1", demo.settings.https_port), timeout=5)
    return context.wrap_socket(raw, server_hostname="localhost")


def closed_by_server(sock: socket.socket, within_s: float) -> bool:
    """True when the server ends the connection within ``within_s`` (end of stream or reset); what it sends
    meanwhile is read and dropped."""
    deadline = time.monotonic() + within_s
    try:
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            if sock.recv(65536) == b"":
                return True
    except (ConnectionResetError, ssl.SSLError):
        return True
    except TimeoutError:
        return False
    return False


def test_a_trickled_request_head_is_cut_off_at_the_deadline(edge: Demo) -> None:
    head = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"a" * 100
    with tls_connect(edge) as tls:
        start = time.monotonic()
        cut = False
        for byte in head:  # one byte every 0.25 s: 25 s for the head, were it let through
            try:
                tls.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                cut = True
                break
            if closed_by_server(tls, 0.25):
                cut = True
                break
        took = time.monotonic() - start
    assert cut
    assert HEADER_TIMEOUT_S - 0.1 <= took < HEADER_TIMEOUT_S + 2


def test_the_deadline_spares_prompt_clients_and_applies_again_after_an_answer(edge: Demo) -> None:
    with tls_connect(edge) as tls:
        tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        tls.settimeout(5)
        assert tls.recv(65536).startswith(b"HTTP/1.1 200 ")
        tls.sendall(b"GET /healthz HTTP/1.1\r\n")  # the next head, never finished
        assert closed_by_server(tls, HEADER_TIMEOUT_S + 2)


def test_an_unfinished_tls_handshake_is_dropped(edge: Demo) -> None:
    with socket.create_connection(("127.0.0.1", edge.settings.https_port), timeout=5) as raw:
        raw.sendall(b"\x16\x03\x01")  # the start of a ClientHello, and nothing more
        start = time.monotonic()
        assert closed_by_server(raw, 4)
        assert time.monotonic() - start < 3


def test_connections_over_the_per_address_cap_are_closed_at_once(edge: Demo) -> None:
    held = [tls_connect(edge) for _ in range(PER_ADDRESS)]
    try:
        extra = tls_connect(edge)
        with extra:
            assert closed_by_server(extra, 0.5)
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.1)  # the server sees the closes
    deadline = time.monotonic() + 5
    while True:  # the address has its share back
        try:
            with edge.client() as c:
                assert c.get("/healthz").status_code == 200
            break
        except httpx.TransportError:
            assert time.monotonic() < deadline


def test_one_users_burst_does_not_throttle_the_tenant(edge: Demo) -> None:
    with edge.graph("alice") as alice:
        statuses = [alice.get("/me").status_code for _ in range(USER_BURST + 2)]
        refused = alice.get("/me")
    assert statuses[:USER_BURST] == [200] * USER_BURST and statuses[USER_BURST:] == [429, 429]
    assert refused.json()["error"]["code"] == "TooManyRequests" and int(refused.headers["Retry-After"]) >= 1
    with edge.graph("megan") as megan:
        assert megan.get("/me").status_code == 200  # same tenant, own bucket


def test_metrics_on_their_own_listener_and_no_api_explorers(edge: Demo) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{edge.settings.metrics_port}", timeout=5) as plain:
        metrics = plain.get("/metrics")
    assert metrics.status_code == 200 and "callbridge_http_requests_total" in metrics.text
    with edge.client() as c:
        assert [c.get(path).status_code for path in ("/metrics", "/docs", "/redoc", "/openapi.json")] == [404] * 4
