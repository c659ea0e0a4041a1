"""Node relying parties (MSAL for Node, openid-client), unchanged, in a child process the tests talk to in JSON
lines (tests/interop/node/rp.js). Their packages are installed by `make test` (npm ci in tests/interop/node)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import Demo

NODE_DIR = Path(__file__).parent / "node"


class NodeError(Exception):
    """The library's own error (its code or message)."""


class NodeRP:
    def __init__(self, demo: Demo) -> None:
        node = shutil.which("node")
        assert node, "node is not installed (scripts/system-deps.sh installs it)"
        assert (NODE_DIR / "node_modules").is_dir(), "run `npm ci` in tests/interop/node (make test does)"
        env = {**os.environ, "NODE_EXTRA_CA_CERTS": demo.ca_file}
        self.process = subprocess.Popen([node, str(NODE_DIR / "rp.js")], cwd=NODE_DIR, env=env, text=True,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def __call__(self, op: str, **request: Any) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"op": op, **request}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, f"rp.js ended (exit {self.process.poll()})"
        answer = json.loads(line)
        if "error" in answer:
            raise NodeError(answer["error"], answer.get("detail"))
        return dict(answer["ok"])

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

