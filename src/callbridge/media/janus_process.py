"""Runs a Janus gateway as a child process (meetings' audio mixer; tests, ``make demo``): the AudioBridge plugin and
the WebSocket transport only, the API on a loopback port, its own two port ranges, in the foreground, logging to a
file.

Only the two shared objects are loaded: ``plugins_folder`` and ``transports_folder`` point at private folders
holding one symlink each, and the event-handler and logger folders are empty. Janus's other plugins (SIP, Lua,
streaming...) would otherwise each open an API surface of their own.

The API is reached by anything on this machine that finds the port, so it is on loopback only and every request
must carry an ``apisecret``; room creation needs the AudioBridge ``admin_key``. Both are drawn fresh at each start,
written only into this private working directory (0700, files 0600) and handed to the adapter in ``JanusAccess``
(docs/security.md, "Conference mixer").

Two port ranges, both apart from rtpengine's (``rtp_port_min``..``rtp_port_max``): ``webrtc_ports`` for ICE
(browser and gateway legs) and ``rtp_ports`` for plain-RTP participants (load generators, and phones when
rtpengine does not sit in front of them).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from callbridge.media.child_process import ChildProcess
from callbridge.media.conference import ConferenceUnavailable
from callbridge.media.rtp_endpoint import PortRange
from callbridge.private_files import private_dir, write_private

INSTALL_HINT = "install the Debian package janus (scripts/system-deps.sh does it as root)"
LIBRARY_DIRS = (Path("/usr/lib/x86_64-linux-gnu/janus"), Path("/usr/lib/aarch64-linux-gnu/janus"),
                Path("/usr/lib/janus"))
PLUGIN = "libjanus_audiobridge.so"
TRANSPORT = "libjanus_websockets.so"
SESSION_TIMEOUT_S = 60  # Janus ends a session that sent nothing this long (the adapter keeps it alive)
RECLAIM_TIMEOUT_S = 20  # a session whose WebSocket dropped keeps its participants this long for a claim


@dataclass(frozen=True)
class JanusAccess:
    """What the adapter needs to speak to this Janus: where, and the two secrets drawn at its start."""

    url: str
    api_secret: str
    admin_key: str
    session_timeout: float = SESSION_TIMEOUT_S
    reclaim_timeout: float = RECLAIM_TIMEOUT_S


def free_tcp_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def library_dir() -> Path | None:
    return next((d for d in LIBRARY_DIRS if (d / "plugins" / PLUGIN).exists()), None)


def config_files(*, workdir: Path, api_port: int, webrtc_ports: PortRange, rtp_ports: PortRange,
                 rtp_address: str, api_secret: str, admin_key: str) -> dict[str, str]:
    """The four configuration files (name -> text) of ``janus -F <workdir>``."""
    return {
        "janus.jcfg": "\n".join([
            "general: {",
            f'  configs_folder = "{workdir}"',
            f'  plugins_folder = "{workdir / "plugins"}"',
            f'  transports_folder = "{workdir / "transports"}"',
            f'  events_folder = "{workdir / "none"}"',
            f'  loggers_folder = "{workdir / "none"}"',
            "  debug_level = 4",
            f"  session_timeout = {SESSION_TIMEOUT_S}",
            f"  reclaim_session_timeout = {RECLAIM_TIMEOUT_S}",
            f'  api_secret = "{api_secret}"',
            "}",
            f'media: {{ rtp_port_range = "{webrtc_ports.first}-{webrtc_ports.last}" }}',
            'nat: { nice_debug = false  ice_ignore_list = "vmnet" }',
            "plugins: { }", "transports: { }", "loggers: { }", "events: { }", ""]),
        "janus.transport.websockets.jcfg": "\n".join([
            f'general: {{ json = "plain"  ws = true  ws_port = {api_port}  ws_ip = "127.0.0.1"  wss = false }}',
            "admin: { admin_ws = false  admin_wss = false }", ""]),
        "janus.plugin.audiobridge.jcfg": "\n".join([
            "general: {",
            f'  rtp_port_range = "{rtp_ports.first}-{rtp_ports.last}"',
            f'  local_ip = "{rtp_address}"',
            "  events = false",
            "  string_ids = true",  # room and participant ids are callbridge's own strings
            f'  admin_key = "{admin_key}"',  # create needs it
            "  lock_rtp_forward = true",  # rtp_forward needs the room secret
            "}", ""]),
    }


class JanusProcess:
    def __init__(self, workdir: Path, *, binary: str = "janus", api_port: int = 0,
                 webrtc_ports: PortRange | None = None, rtp_ports: PortRange | None = None,
                 rtp_address: str = "127.0.0.1") -> None:
        self.workdir, self.binary = workdir.resolve(), binary  # janus runs in it: its -F must not be relative
        self.fixed_api_port = api_port  # 0: a free loopback port chosen at each start
        self.webrtc_ports = webrtc_ports or PortRange(41_000, 41_499)
        self.rtp_ports = rtp_ports or PortRange(41_500, 41_999)
        self.rtp_address = rtp_address
        self.log_file = self.workdir / "janus.log"
        self.access: JanusAccess | None = None
        self._child = ChildProcess(self.log_file)

    @property
    def pid(self) -> int | None:
        return self._child.pid

    async def start(self, ready_within: float = 10.0) -> JanusAccess:
        executable = shutil.which(self.binary)
        libraries = library_dir()
        if executable is None or libraries is None:
            raise ConferenceUnavailable(f"the Janus gateway ({self.binary}) is not installed: {INSTALL_HINT}")
        private_dir(self.workdir)
        for folder, library in (("plugins", libraries / "plugins" / PLUGIN),
                                ("transports", libraries / "transports" / TRANSPORT)):
            shutil.rmtree(self.workdir / folder, ignore_errors=True)
            private_dir(self.workdir / folder)
            (self.workdir / folder / library.name).symlink_to(library)
        private_dir(self.workdir / "none")
        port = self.fixed_api_port or free_tcp_port()
        access = JanusAccess(url=f"ws://127.0.0.1:{port}", api_secret=secrets.token_urlsafe(24),
                             admin_key=secrets.token_urlsafe(24))
        for name, text in config_files(workdir=self.workdir, api_port=port, webrtc_ports=self.webrtc_ports,
                                       rtp_ports=self.rtp_ports, rtp_address=self.rtp_address,
                                       api_secret=access.api_secret, admin_key=access.admin_key).items():
            write_private(self.workdir / name, text.encode())
        await self._child.spawn(executable, "-F", str(self.workdir), "-o", cwd=self.workdir)
        await self._wait_ready(access.url, ready_within)
        self.access = access
        return access

    async def _wait_ready(self, url: str, within: float) -> None:
        """Ready once the WebSocket transport accepts a connection (Janus loads the transport last)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline:
            if (code := self._child.exited) is not None:
                await self.stop()
                raise ConferenceUnavailable(f"janus exited with {code}; see {self.log_file}")
            with contextlib.suppress(OSError, TimeoutError):
                async with connect(url, subprotocols=[Subprotocol("janus-protocol")], open_timeout=0.5):
                    return
            await asyncio.sleep(0.05)
        await self.stop()
        raise ConferenceUnavailable(f"janus did not accept its API connection within {within} s; see {self.log_file}")

    async def stop(self) -> None:
        self.access = None
        await self._child.stop()
