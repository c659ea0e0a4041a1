"""The pages' pure functions (end reasons in words, E.164, durations, initials, the join box's locator) under
Node's own test runner: tests/portal_ui/words.test.mjs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


@pytest.mark.unit
def test_the_pages_pure_functions() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing (scripts/system-deps.sh installs it)", pytrace=False)
    run = subprocess.run([node, "--test", str(Path(__file__).with_name("words.test.mjs"))], capture_output=True,
                         text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
