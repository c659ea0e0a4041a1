"""The platform served as ``callbridge serve`` serves it (the same server and options, the same event loop: uvloop),
with real TLS on a loopback port, in a thread of the test process."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from callbridge.app import create_app
from callbridge.clock import Clock
from callbridge.config import Settings
from callbridge.server import edge_server
from callbridge.tls import TlsFiles


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_sip_port() -> int:
    """A loopback port free for both UDP and TCP (SIP listens on both)."""
    while True:
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            try:
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port


@contextmanager
def running_server(settings: Settings, tls: TlsFiles, clock: Clock | None = None) -> Iterator[uvicorn.Server]:
    app = create_app(settings, clock)
    server = edge_server(app, settings, tls, host="127.0.0.1", timeout_graceful_shutdown=2)
    thread = threading.Thread(target=server.run, daemon=True)  # uvicorn picks the loop, as in `serve`
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(timeout=15)
