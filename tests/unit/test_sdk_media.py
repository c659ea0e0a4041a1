"""The SDK's media session takes candidates a browser trickles (``call.ice``, as ``RTCIceCandidate.toJSON()``)
and ignores what it cannot read."""

from __future__ import annotations

from typing import Any

from callbridge.sdk.calls import MediaSession
from callbridge.sdk.media import SilenceSource


async def test_trickled_candidates_are_read_and_unreadable_ones_ignored() -> None:
    media = MediaSession(SilenceSource())
    added: list[Any] = []

    async def add(candidate: Any) -> None:
        added.append(candidate)

    media.pc.addIceCandidate = add  # type: ignore[method-assign]
    try:
        await media.add_remote_candidate({"candidate": "candidate:842163049 1 udp 1677729535 127.0.0.1 50000 typ "
                                                       "srflx raddr 0.0.0.0 rport 0 generation 0 ufrag Xy9z",
                                          "sdpMid": "0", "sdpMLineIndex": 0})
        for junk in (None, "x", {}, {"candidate": ""}, {"candidate": "candidate:garbage"}, {"candidate": 5}):
            await media.add_remote_candidate(junk)
        [candidate] = added
        assert (candidate.ip, candidate.port, candidate.type, candidate.protocol, candidate.sdpMid,
                candidate.sdpMLineIndex) == ("127.0.0.1", 50000, "srflx", "udp", "0", 0)
    finally:
        await media.close()
