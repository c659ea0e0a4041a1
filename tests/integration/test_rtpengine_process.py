"""The rtpengine child as a local process sees it: its one control socket (ng, which has no authentication) listens
on loopback only, on a port chosen at start (not the well-known 22222) or fixed for a firewall rule, with no CLI or
HTTP control beside it; and its working directory (config naming that port, pid file, log with call IDs) is private
to callbridge's account. Started on uvloop, the loop ``callbridge serve`` runs."""

from __future__ import annotations

import stat
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

import uvloop

from callbridge.media.rtp_endpoint import PortRange
from callbridge.media.rtpengine_process import RtpengineProcess, free_udp_port


def with_rtpengine(process: RtpengineProcess, check: Callable[[RtpengineProcess], None]) -> None:
    async def scenario() -> None:
        await process.start()
        try:
            check(process)
        finally:
            await process.stop()

    run: Callable[[Awaitable[None]], None] = uvloop.run  # type: ignore[assignment]
    run(scenario())


def listening(process: RtpengineProcess) -> list[str]:
    """The local addresses of the sockets the daemon listens on (UDP and TCP)."""
    assert process.pid is not None
    table = subprocess.run(["ss", "-H", "-lnpu", "-lnpt"], capture_output=True, text=True, check=True).stdout
    return sorted(line.split()[4] for line in table.splitlines() if f"pid={process.pid}," in line)


def mode(path: Path) -> str:
    return oct(stat.S_IMODE(path.stat().st_mode))


def test_the_control_port_is_on_loopback_only(tmp_path: Path) -> None:
    def check(process: RtpengineProcess) -> None:
        assert listening(process) == [f"127.0.0.1:{process.ng_port}"]
        assert process.ng_port != 22222

    with_rtpengine(RtpengineProcess(tmp_path / "rtpengine", ports=PortRange(43_400, 43_409)), check)


def test_its_working_directory_is_private(tmp_path: Path) -> None:
    def check(process: RtpengineProcess) -> None:
        files = sorted(process.workdir.iterdir())
        assert {p.name for p in files} >= {"rtpengine.conf", "rtpengine.log", "rtpengine.pid"}
        assert (mode(process.workdir), {p.name: mode(p) for p in files}) == (
            "0o700", {p.name: "0o600" for p in files})

    with_rtpengine(RtpengineProcess(tmp_path / "var" / "rtpengine", ports=PortRange(43_410, 43_419)), check)


def test_a_fixed_control_port_for_a_firewall_rule(tmp_path: Path) -> None:
    port = free_udp_port()

    def check(process: RtpengineProcess) -> None:
        assert listening(process) == [f"127.0.0.1:{port}"]

    with_rtpengine(RtpengineProcess(tmp_path / "rtpengine", ports=PortRange(43_420, 43_429), ng_port=port), check)
