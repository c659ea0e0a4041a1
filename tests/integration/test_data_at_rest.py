"""Secrets at rest: a fresh data directory (the demo's seed) is 0700, and its database (with SQLite's -wal and -shm
files), TLS private keys and demo.json (passwords) are 0600; a start that finds them readable by others tightens
them and says so in the log."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from callbridge.bootstrap import build
from callbridge.config import Settings
from callbridge.demo import seed_and_describe
from callbridge.private_files import secure_data_dir
from callbridge.store.db import Database
from callbridge.tls import ensure_local_tls

PRIVATE = ["callbridge.db", "demo.json", "tls/ca.key", "tls/server.key"]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The umask most accounts have (022): files are world-readable unless the code says otherwise."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.fixture
async def seeded(tmp_path: Path) -> Settings:
    settings = Settings(data_dir=tmp_path / "var", sip_enabled=False)
    await seed_and_describe(settings)
    return settings


async def test_a_fresh_data_dir_is_private(seeded: Settings) -> None:
    data_dir = seeded.data_dir
    assert {name: oct(mode(data_dir / name)) for name in [".", "tls", *PRIVATE]} == {
        ".": "0o700", "tls": "0o700", **{name: "0o600" for name in PRIVATE}}


async def test_sqlite_wal_and_shm_files_are_private(seeded: Settings) -> None:
    db = Database(seeded.effective_database_url)
    try:
        async with db.transaction() as s:
            await s.execute(text("CREATE TABLE scratch (x INTEGER)"))
        wal, shm = (seeded.data_dir / f"callbridge.db-{suffix}" for suffix in ("wal", "shm"))
        assert wal.exists() and shm.exists()
        assert (oct(mode(wal)), oct(mode(shm))) == ("0o600", "0o600")
    finally:
        await db.close()


async def test_a_start_tightens_lax_modes_and_warns(seeded: Settings, caplog: pytest.LogCaptureFixture) -> None:
    data_dir = seeded.data_dir
    for path in [data_dir, data_dir / "tls"]:
        path.chmod(0o755)
    for name in PRIVATE:
        (data_dir / name).chmod(0o644)
    with caplog.at_level(logging.WARNING):
        platform = await build(seeded)
        await platform.db.close()
    assert (oct(mode(data_dir)), oct(mode(data_dir / "tls"))) == ("0o700", "0o700")
    assert {name: oct(mode(data_dir / name)) for name in PRIVATE} == {name: "0o600" for name in PRIVATE}
    warned = {r.path for r in caplog.records if "readable by others" in r.getMessage()}  # type: ignore[attr-defined]
    assert warned >= {str(data_dir), *(str(data_dir / name) for name in PRIVATE)}


def test_tls_files_made_first_make_a_private_data_dir_without_a_warning(tmp_path: Path,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    data_dir = tmp_path / "var"
    with caplog.at_level(logging.WARNING):
        tls = ensure_local_tls(data_dir / "tls")  # `serve` makes its TLS files before anything else
        secure_data_dir(data_dir)
    assert (oct(mode(data_dir)), oct(mode(data_dir / "tls")), oct(mode(tls.key_file))) == ("0o700", "0o700", "0o600")
    assert not [r for r in caplog.records if "readable by others" in r.getMessage()]
