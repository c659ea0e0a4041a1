"""The rtpengine child as a local process sees it: its one control socket (ng, which has no authentication) listens
on loopback only, on a port chosen at start (not the well-known 22222), with no CLI or HTTP control beside it; and
its working directory (config naming that port, pid file, log with call IDs) is private to callbridge's account."""

from __future__ import annotations

import stat
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callbridge.media.rtp_endpoint import PortRange
from callbridge.media.rtpengine_process import RtpengineProcess


@pytest.fixture
async def rtpengine(tmp_path: Path) -> AsyncIterator[RtpengineProcess]:
    process = RtpengineProcess(tmp_path / "var" / "rtpengine", ports=PortRange(43_400, 43_419))
    await process.start()
    yield process
    await process.stop()


def listening(pid: int) -> list[str]:
    """The local addresses of the sockets process ``pid`` listens on (UDP and TCP)."""
    table = subprocess.run(["ss", "-H", "-lnpu", "-lnpt"], capture_output=True, text=True, check=True).stdout
    return sorted(line.split()[4] for line in table.splitlines() if f"pid={pid}," in line)


async def test_the_control_port_is_on_loopback_only(rtpengine: RtpengineProcess) -> None:
    assert rtpengine._process is not None
    assert listening(rtpengine._process.pid) == [f"127.0.0.1:{rtpengine.ng_port}"]
    assert rtpengine.ng_port != 22222


async def test_its_working_directory_is_private(rtpengine: RtpengineProcess) -> None:
    def mode(path: Path) -> str:
        return oct(stat.S_IMODE(path.stat().st_mode))

    files = sorted(rtpengine.workdir.iterdir())
    assert {p.name for p in files} >= {"rtpengine.conf", "rtpengine.log"}
    assert (mode(rtpengine.workdir), {p.name: mode(p) for p in files}) == ("0o700", {p.name: "0o600" for p in files})


async def test_a_fixed_control_port_for_a_firewall_rule(tmp_path: Path) -> None:
    from callbridge.media.rtpengine_process import free_udp_port

    port = free_udp_port()
    process = RtpengineProcess(tmp_path / "rtpengine", ports=PortRange(43_420, 43_429), ng_port=port)
    await process.start()
    try:
        assert process._process is not None and listening(process._process.pid) == [f"127.0.0.1:{port}"]
    finally:
        await process.stop()
