"""rtpengine's ng protocol: bencode, the client against a fake responder (replies, errors, retries, timeouts), and
the daemon runner's config and missing-binary error."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from callbridge.media import bencode
from callbridge.media.bencode import BencodeError
from callbridge.media.errors import EngineRejected, EngineUnavailable, MediaError
from callbridge.media.ng import NgClient
from callbridge.media.rtp_endpoint import PortRange
from callbridge.media.rtpengine_process import RtpengineProcess, config_text


def test_bencode_round_trip() -> None:
    value: bencode.Value = {"command": "offer", "flags": ["trust-address", "inject DTMF"], "n": -42,
                            "nested": {"b": [], "a": {"x": 0}}, "sdp": "v=0\r\nm=audio 1 RTP/AVP 0\r\n", "é": "ü"}
    data = bencode.encode(value)
    assert data.startswith(b"d7:command5:offer5:flagsl13:trust-address11:inject DTMFe1:ni-42e")  # keys sorted
    assert bencode.decode(data) == value
    assert bencode.encode(b"\x00\xff") == b"2:\x00\xff"


@pytest.mark.parametrize("data", [b"", b"i12", b"ixe", b"5:abc", b"l", b"d3:keye", b"di1ei2ee", b"x", b"i1ei2e",
                                  b"2:\xff\xfe", b"-1:", b"l" * 100 + b"e" * 100, b"i" + b"1" * 40 + b"e"])
def test_bencode_rejects_malformed_input(data: bytes) -> None:
    with pytest.raises(BencodeError) as error:
        bencode.decode(data)
    assert isinstance(error.value, MediaError)


def test_bencode_refuses_what_it_cannot_encode() -> None:
    with pytest.raises(BencodeError):
        bencode.encode(True)
    with pytest.raises(BencodeError):
        bencode.encode(1.5)  # type: ignore[arg-type]


Responder = Callable[[bytes, bytes], bytes | None]  # (cookie, body) -> reply datagram or nothing


class FakeRtpengine(asyncio.DatagramProtocol):
    def __init__(self, respond: Responder) -> None:
        self.respond = respond
        self.received: list[bytes] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received.append(data)
        cookie, _, body = data.partition(b" ")
        reply = self.respond(cookie, body)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


Start = Callable[[Responder], Awaitable[tuple[FakeRtpengine, NgClient]]]


@pytest.fixture
async def fake() -> AsyncIterator[Start]:
    made: list[tuple[asyncio.DatagramTransport, NgClient]] = []

    async def start(respond: Responder) -> tuple[FakeRtpengine, NgClient]:
        transport, server = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: FakeRtpengine(respond), local_addr=("127.0.0.1", 0))
        client = NgClient("127.0.0.1", transport.get_extra_info("sockname")[1], timeout=0.05, attempts=3)
        made.append((transport, client))
        return server, client

    yield start
    for transport, client in made:
        await client.close()
        transport.close()


async def test_ng_request_and_reply(fake: Start) -> None:
    def respond(cookie: bytes, body: bytes) -> bytes:
        request = bencode.decode(body)
        assert isinstance(request, dict)
        if request["command"] == "ping":
            return cookie + b" " + bencode.encode({"result": "pong"})
        return cookie + b" " + bencode.encode({"result": "ok", "sdp": f"echo {request['sdp']}"})

    server, client = await fake(respond)
    reply = await client.request("offer", **{"call-id": "c", "from-tag": "a", "sdp": "v=0"})
    assert reply == {"result": "ok", "sdp": "echo v=0"}
    cookie, _, body = server.received[0].partition(b" ")
    assert len(cookie) == 16 and bencode.decode(body) == {"command": "offer", "call-id": "c", "from-tag": "a",
                                                         "sdp": "v=0"}
    await client.request("ping")
    assert server.received[1].partition(b" ")[0] != cookie  # a cookie per request


async def test_ng_retries_with_the_same_cookie_then_gives_up(fake: Start) -> None:
    answered_on = 2

    def respond(cookie: bytes, body: bytes) -> bytes | None:
        nonlocal answered_on
        answered_on -= 1
        return cookie + b" d6:result4:ponge" if answered_on == 0 else None

    server, client = await fake(respond)
    assert await client.request("ping") == {"result": "pong"}
    assert len(server.received) == 2 and server.received[0] == server.received[1]

    silent, client = await fake(lambda cookie, body: None)
    with pytest.raises(EngineUnavailable, match="did not answer 'ping'"):
        await client.request("ping")
    assert len(silent.received) == 3


async def test_ng_errors_are_media_errors(fake: Start) -> None:
    _, client = await fake(lambda cookie, body: cookie + b" " + bencode.encode(
        {"result": "error", "error-reason": "Unknown call-id"}))
    with pytest.raises(EngineRejected, match="Unknown call-id"):
        await client.request("delete", **{"call-id": "x"})
    _, garbled = await fake(lambda cookie, body: cookie + b" d6:result")
    with pytest.raises(BencodeError):
        await garbled.request("ping")
    _, wrong = await fake(lambda cookie, body: cookie + b" li1ee")
    with pytest.raises(MediaError, match="dictionary"):
        await wrong.request("ping")
    _, stray = await fake(lambda cookie, body: b"othercookie d6:result4:ponge")
    with pytest.raises(EngineUnavailable):
        await stray.request("ping")


async def test_runner_says_how_to_install_a_missing_binary(tmp_path: Path) -> None:
    with pytest.raises(EngineUnavailable, match="rtpengine-daemon"):
        await RtpengineProcess(tmp_path, binary="no-such-rtpengine").start()


def test_runner_config_is_userspace_only_on_one_interface(tmp_path: Path) -> None:
    text = config_text(interface="192.0.2.2", ports=PortRange(30_000, 30_099), ng_port=2223,
                       pidfile=tmp_path / "pid")
    lines = set(text.splitlines())
    assert text.startswith("[rtpengine]\n")
    assert {"table = -1", "interface = 192.0.2.2", "listen-ng = 127.0.0.1:2223", "port-min = 30000",
            "port-max = 30099", "foreground = true", "delete-delay = 0"} <= lines
