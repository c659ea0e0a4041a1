"""A throwaway PostgreSQL server from Debian's packages, on a loopback port, for the store's tests."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def available() -> bool:
    return _bin_dir() is not None


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """Yields an asyncpg SQLAlchemy URL; the server and its files are gone afterwards."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed: run `make test` (as root it installs `postgresql`)")
    root = Path(tempfile.mkdtemp(prefix="cb-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        user = "postgres"
        try:
            pwd.getpwnam(user)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", user], check=True)
        shutil.chown(root, user)
        shutil.chown(sock, user)
        run_as = ["runuser", "-u", user, "--"]
    port = _free_port()
    subprocess.run([*run_as, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "callbridge",
                    "--no-sync", "-E", "UTF8"], check=True, capture_output=True)
    server = subprocess.Popen(
        [*run_as, str(bin_dir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(sock),
         "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
         "-c", "full_page_writes=off", "-c", "max_connections=200"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        _wait_ready(bin_dir, port, server)
        subprocess.run([str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "callbridge",
                        "callbridge"], check=True, capture_output=True)
        yield f"postgresql+asyncpg://callbridge@127.0.0.1:{port}/callbridge"
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(root, ignore_errors=True)


def _wait_ready(bin_dir: Path, port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"postgres exited: {server.stderr.read().decode() if server.stderr else ''}")
        probe = subprocess.run([str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
                               capture_output=True)
        if probe.returncode == 0:
            return
        time.sleep(0.1)
    raise RuntimeError("postgres did not become ready within 30 s")


async def fresh_database(server_url: str, prefix: str) -> str:
    """A new, empty database on the throwaway server: its SQLAlchemy URL (each test gets one of its own)."""
    import uuid

    import asyncpg
    from sqlalchemy.engine import make_url

    server = make_url(server_url)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server.set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return server.set(database=name).render_as_string(hide_password=False)
