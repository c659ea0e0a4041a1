"""A daemon callbridge runs as its child (rtpengine, Janus): started in the foreground with its output in a log file
private to this account, stopped with SIGTERM and, after ``STOP_WITHIN`` seconds, SIGKILL. It never outlives
callbridge: killed at a normal exit that skipped its stop, and sent SIGTERM by the kernel when callbridge dies any
other way (SIGKILL, a crash: Linux's parent-death signal), so no orphan keeps its ports."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import os
import signal
from pathlib import Path

from callbridge.private_files import PRIVATE_FILE

STOP_WITHIN = 5.0
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:  # pragma: no cover - runs in the child, between fork and exec
    """``preexec_fn``: the kernel sends this child SIGTERM when the process (thread) that started it dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class ChildProcess:
    def __init__(self, log_file: Path) -> None:
        self.log_file = log_file
        self._process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def exited(self) -> int | None:
        """Its exit code once it exited (None while it runs, or before it started)."""
        return self._process.returncode if self._process is not None else None

    async def spawn(self, executable: str, *args: str, cwd: Path | None = None) -> None:
        log = os.open(self.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE)
        try:
            self._process = await asyncio.create_subprocess_exec(
                executable, *args, stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log, cwd=cwd,
                preexec_fn=die_with_parent)
        finally:
            os.close(log)
        atexit.register(self._kill_at_exit)

    def _kill_at_exit(self) -> None:
        if self._process is not None and self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()

    async def stop(self) -> None:
        atexit.unregister(self._kill_at_exit)
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), STOP_WITHIN)
        except TimeoutError:
            process.kill()
            await process.wait()
