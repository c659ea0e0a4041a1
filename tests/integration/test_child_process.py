"""A daemon callbridge runs (rtpengine, Janus, through ``ChildProcess``) never outlives it: when callbridge is killed
with SIGKILL, which runs no exit handler, the kernel's parent-death signal ends the child too, so nothing is left
holding the media ports for the next start. Spawned on uvloop, the loop ``callbridge serve`` runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

PARENT = """
import asyncio, sys
from pathlib import Path
import uvloop
from callbridge.media.child_process import ChildProcess

async def main() -> None:
    child = ChildProcess(Path(sys.argv[1]))
    await child.spawn("sleep", "300")
    print(child.pid, flush=True)
    await asyncio.sleep(300)

uvloop.run(main())
"""


def running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def test_a_child_ends_when_callbridge_is_killed(tmp_path: Path) -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(tmp_path / "child.log")], stdout=subprocess.PIPE,
                              text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    try:
        assert running(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait(5)
        deadline = time.monotonic() + 5
        while running(child) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not running(child), "the child outlived its parent"
    finally:
        if running(child):
            os.kill(child, signal.SIGKILL)
