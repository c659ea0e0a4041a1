"""The vendor's portal under ``callbridge demo``: its own process (``python -m portal``), configured only with what
a vendor gets from Microsoft's cloud (the authority, the app's client id and secret, the ACS connection string, the
Graph URL, the CA bundle) read from demo.json, on the port of ``demo_portal_url`` with callbridge's certificate.
Settings the operator gave as ``PORTAL_*`` win. The child dies with callbridge (SIGTERM on the parent's death)."""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from callbridge.config import Settings
from callbridge.media.child_process import die_with_parent
from callbridge.private_files import PRIVATE_FILE
from callbridge.tls import TlsFiles


def portal_environment(settings: Settings, info: dict[str, Any], tls: TlsFiles) -> dict[str, str]:
    base = info["base_url"]
    url = settings.demo_portal_url.rstrip("/")
    ours = {
        "PORTAL_AUTHORITY": f"{base}/organizations", "PORTAL_CLIENT_ID": info["app"]["client_id"],
        "PORTAL_CLIENT_SECRET": info["app"]["client_secret"], "PORTAL_REDIRECT_BASE": url,
        "PORTAL_ACS_CONNECTION_STRING": info["communication"]["connection_string"],
        "PORTAL_GRAPH_BASE_URL": info["graph_base_url"], "PORTAL_CALLBRIDGE_SDK_URL": f"{base}/sdk/calling.js",
        "PORTAL_DATA_DIR": str((settings.data_dir / "portal").resolve()), "PORTAL_HOST": settings.host,
        "PORTAL_PORT": str(urlsplit(url).port or 443), "PORTAL_TLS_CERT_FILE": str(tls.cert_file.resolve()),
        "PORTAL_TLS_KEY_FILE": str(tls.key_file.resolve()), "PORTAL_LOG_LEVEL": settings.log_level,
    }
    if tls.ca_file is not None:
        ours["PORTAL_CA_FILE"] = str(tls.ca_file.resolve())
    given = {k: v for k, v in os.environ.items() if k.startswith("PORTAL_")}
    return {**os.environ, **ours, **given}


class PortalProcess:
    def __init__(self, settings: Settings, info: dict[str, Any], tls: TlsFiles) -> None:
        self.env = portal_environment(settings, info, tls)
        self.log_file = settings.data_dir / "portal.log"
        self.demo_json = settings.data_dir / "demo.json"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Seed Fabrikam's customers (once), then serve; the portal's output goes to a log private to this account."""
        log = os.open(self.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE)
        try:
            subprocess.run([sys.executable, "-m", "portal", "seed-demo", str(Path(self.demo_json).resolve())],  # noqa: S603
                           env=self.env, stdout=log, stderr=log, check=True, timeout=120)
            self._process = subprocess.Popen([sys.executable, "-m", "portal", "serve"], env=self.env, stdout=log,
                                             stderr=log, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)
        finally:
            os.close(log)
        atexit.register(self.stop)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
