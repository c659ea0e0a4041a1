"""The platform served by uvicorn with real TLS on a loopback port, in a thread of the test process."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from callbridge.app import create_app
from callbridge.clock import Clock
from callbridge.config import Settings
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
    config = uvicorn.Config(app, host="127.0.0.1", port=settings.https_port, ssl_certfile=str(tls.cert_file),
                            ssl_keyfile=str(tls.key_file), log_config=None, access_log=False, lifespan="on",
                            timeout_graceful_shutdown=2, ws_max_size=128 * 1024,
                            ws_per_message_deflate=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
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
