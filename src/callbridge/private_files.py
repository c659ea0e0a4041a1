"""Secrets at rest: the data directory holds the signing keys, ACS access keys and trunk passwords (the database),
the TLS private keys and the demo's passwords (demo.json). Only the account that runs callbridge may read them:
the directory is made 0700 and these files 0600 when they are created, and a start that finds them laxer (made by
an older version, or copied in) tightens them and says so in the log.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("callbridge.files")

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
SECRET_FILES = ("callbridge.db", "callbridge.db-wal", "callbridge.db-shm", "callbridge.db-journal", "demo.json")
SECRET_DIRS = ("tls", "rtpengine")


def tighten(path: Path, mode: int) -> None:
    """``path`` to ``mode`` if others (group, world) may do more than ``mode`` allows; a warning when changed."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if current & 0o077 & ~mode:
        path.chmod(mode)
        log.warning("a private file was readable by others: its mode is now %s", oct(mode),
                    extra={"path": str(path), "was": oct(current)})


def private_dir(path: Path) -> Path:
    """``path`` made or kept as a directory only its owner may enter; parents it makes are private too."""
    for directory in reversed([p for p in (path, *path.parents) if not p.exists()]):
        directory.mkdir(mode=PRIVATE_DIR, exist_ok=True)
    tighten(path, PRIVATE_DIR)
    return path


def private_file(path: Path) -> Path:
    """``path`` made empty if missing, 0600 either way (e.g. a SQLite database before SQLite creates it: its
    -wal and -shm files take the database file's mode)."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))
    tighten(path, PRIVATE_FILE)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, readable by its owner only from the first byte on."""
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE), "wb") as out:
        os.fchmod(out.fileno(), PRIVATE_FILE)
        out.write(data)


def secure_data_dir(data_dir: Path) -> Path:
    """The data directory at start: 0700, and its secrets 0600 (the TLS and rtpengine directories 0700, the
    private keys in tls/ 0600)."""
    private_dir(data_dir)
    for name in SECRET_FILES:
        tighten(data_dir / name, PRIVATE_FILE)
    for name in SECRET_DIRS:
        tighten(data_dir / name, PRIVATE_DIR)
    for key in sorted((data_dir / "tls").glob("*.key")):
        tighten(key, PRIVATE_FILE)
    return data_dir
