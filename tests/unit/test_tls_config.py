"""The local CA and server certificate; settings from the environment and a TOML file."""

from __future__ import annotations

import ssl
import threading
from pathlib import Path

import pytest
from cryptography import x509

from callbridge.config import Settings
from callbridge.tls import ensure_local_tls


def test_local_ca_signs_a_certificate_clients_accept_for_localhost_and_loopback(tmp_path: Path) -> None:
    tls = ensure_local_tls(tmp_path / "tls")
    cert = x509.load_pem_x509_certificate(tls.cert_file.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} >= {"127.0.0.1", "::1"}
    # A real handshake: a client trusting only the CA accepts the server for "localhost".
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(tls.cert_file, tls.key_file)
    client_ctx = ssl.create_default_context(cafile=str(tls.ca_file))
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def accept() -> None:
        conn, _ = listener.accept()
        with server_ctx.wrap_socket(conn, server_side=True) as tls_conn:
            tls_conn.recv(1)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    with socket.create_connection(("127.0.0.1", port)) as raw, \
            client_ctx.wrap_socket(raw, server_hostname="localhost") as conn:
        assert conn.version() in ("TLSv1.2", "TLSv1.3")
        conn.send(b"x")
    thread.join(5)
    listener.close()


def test_local_tls_is_made_once(tmp_path: Path) -> None:
    first = ensure_local_tls(tmp_path)
    before = first.cert_file.read_bytes(), first.ca_file.read_bytes() if first.ca_file else b""
    second = ensure_local_tls(tmp_path)
    assert (second.cert_file.read_bytes(), second.ca_file.read_bytes() if second.ca_file else b"") == before
    assert oct(first.key_file.stat().st_mode & 0o777) == "0o600"


def test_settings_from_environment_beat_the_toml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "cb.toml"
    toml.write_text('[callbridge]\nhttps_port = 9443\nlog_level = "DEBUG"\ndata_dir = "/srv/cb"\n')
    monkeypatch.setenv("CALLBRIDGE_CONFIG", str(toml))
    monkeypatch.setenv("CALLBRIDGE_LOG_LEVEL", "WARNING")
    settings = Settings()
    assert settings.https_port == 9443 and settings.log_level == "WARNING"
    assert settings.public_base_url == "https://localhost:9443"
    assert settings.effective_database_url == "sqlite+aiosqlite:////srv/cb/callbridge.db"
    monkeypatch.setenv("CALLBRIDGE_DATABASE_URL", "postgresql+asyncpg://cb@db/cb")
    monkeypatch.setenv("CALLBRIDGE_BASE_URL", "https://calls.example.com/")
    settings = Settings()
    assert settings.effective_database_url == "postgresql+asyncpg://cb@db/cb"
    assert settings.public_base_url == "https://calls.example.com"
