"""Runs an rtpengine daemon as a child process (tests, ``make demo``): userspace forwarding only, one interface, a
port range, the ng control port on a free loopback port, in the foreground, logging to a file.

The ng protocol has no authentication, and this rtpengine listens for it on UDP or TCP addresses only (no UNIX
socket): any process of this machine that finds the port can command every call's media (``delete`` cuts it). So
the port is on loopback only, chosen at start, with no other control listener (no CLI, no HTTP); the working
directory that names it is private to this account (0700, files 0600); and the deployment answers the rest: one
host, container or network namespace for callbridge and its rtpengine, with no untrusted local processes
(docs/security.md, "Media relay")."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
from pathlib import Path

from callbridge.media.child_process import ChildProcess
from callbridge.media.errors import EngineUnavailable, MediaError
from callbridge.media.ng import NgClient
from callbridge.media.rtp_endpoint import PortRange
from callbridge.private_files import PRIVATE_FILE, private_dir, write_private

INSTALL_HINT = "install the Debian package rtpengine-daemon (scripts/system-deps.sh does it as root)"


def free_udp_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def config_text(*, interface: str, ports: PortRange, ng_port: int, pidfile: Path, threads: int = 2) -> str:
    return "\n".join([
        "[rtpengine]",
        "table = -1",  # no kernel forwarding: userspace only
        f"interface = {interface}",
        f"listen-ng = 127.0.0.1:{ng_port}",
        f"port-min = {ports.first}",
        f"port-max = {ports.last}",
        "foreground = true",
        "log-stderr = true",
        "log-level = 6",
        "delete-delay = 0",  # a deleted call frees its ports at once
        f"num-threads = {threads}",
        f"pidfile = {pidfile}",
        "",
    ])


class RtpengineProcess:
    def __init__(self, workdir: Path, *, interface: str = "127.0.0.1", ports: PortRange | None = None,
                 binary: str = "rtpengine", ng_port: int = 0) -> None:
        self.workdir, self.interface, self.ports = workdir, interface, ports or PortRange(30_000, 30_999)
        self.binary = binary
        self.fixed_ng_port = ng_port  # 0: a free loopback port chosen at each start
        self.ng_port = 0
        self.log_file = workdir / "rtpengine.log"
        self._child = ChildProcess(self.log_file)

    async def start(self, ready_within: float = 10.0) -> None:
        executable = shutil.which(self.binary)
        if executable is None:
            raise EngineUnavailable(f"the rtpengine binary ({self.binary}) is not installed: {INSTALL_HINT}")
        private_dir(self.workdir)
        self.ng_port = self.fixed_ng_port or free_udp_port()
        config = self.workdir / "rtpengine.conf"
        write_private(config, config_text(interface=self.interface, ports=self.ports, ng_port=self.ng_port,
                                          pidfile=self.workdir / "rtpengine.pid").encode())
        await self._child.spawn(executable, f"--config-file={config}")
        await self._wait_ready(ready_within)
        with contextlib.suppress(OSError):  # the pid file it wrote (uvloop's subprocesses take no umask)
            (self.workdir / "rtpengine.pid").chmod(PRIVATE_FILE)

    async def _wait_ready(self, within: float) -> None:
        client = NgClient("127.0.0.1", self.ng_port, timeout=0.2, attempts=1)
        deadline = asyncio.get_running_loop().time() + within
        try:
            while asyncio.get_running_loop().time() < deadline:
                if self._child.exited is not None:
                    raise MediaError(f"rtpengine exited with {self._child.exited}; see {self.log_file}")
                with contextlib.suppress(EngineUnavailable):
                    await client.request("ping")
                    return
                await asyncio.sleep(0.05)
        finally:
            await client.close()
        await self.stop()
        raise EngineUnavailable(f"rtpengine did not answer ping within {within} s; see {self.log_file}")

    @property
    def pid(self) -> int | None:
        return self._child.pid

    async def stop(self) -> None:
        await self._child.stop()
