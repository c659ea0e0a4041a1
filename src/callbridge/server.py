"""Running the platform under uvicorn with TLS (the local CA's certificate unless the operator gives one)."""

from __future__ import annotations

import logging

import uvicorn

from callbridge.app import create_app
from callbridge.config import Settings
from callbridge.logs import configure
from callbridge.tls import TlsFiles, ensure_local_tls

log = logging.getLogger("callbridge")


def tls_files(settings: Settings) -> TlsFiles:
    if settings.tls_cert_file and settings.tls_key_file:
        return TlsFiles(settings.tls_cert_file, settings.tls_key_file, None)
    return ensure_local_tls(settings.tls_dir)


def serve(settings: Settings) -> None:
    configure(settings.log_level, settings.log_format)
    tls = tls_files(settings)
    if tls.ca_file:
        log.info("local certificate authority", extra={"ca_file": str(tls.ca_file.resolve())})
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.https_port, ssl_certfile=str(tls.cert_file),
                ssl_keyfile=str(tls.key_file), log_config=None, access_log=False, proxy_headers=False)
