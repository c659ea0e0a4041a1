"""A local certificate authority and a server certificate for localhost, made on first start.

Operators can give their own certificate with CALLBRIDGE_TLS_CERT_FILE / CALLBRIDGE_TLS_KEY_FILE instead.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from callbridge.config import Settings
from callbridge.private_files import private_dir, write_private


@dataclass(frozen=True)
class TlsFiles:
    cert_file: Path
    key_file: Path
    ca_file: Path | None  # None when the operator gave their own certificate


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    write_private(path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "callbridge"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _make_ca(directory: Path, now: datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name("callbridge local CA")
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_key(directory / "ca.key", key)
    (directory / "ca.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _make_server(directory: Path, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, hosts: list[str],
                 now: datetime) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder().subject_name(_name(hosts[0])).issuer_name(ca.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(directory / "server.key", key)
    (directory / "server.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def ensure_local_tls(directory: Path, extra_hosts: list[str] | None = None) -> TlsFiles:
    """Create the CA and the server certificate if missing (idempotent), in a directory only this account may
    enter; the private keys are 0600."""
    private_dir(directory)
    now = datetime.now(UTC)
    ca_file, ca_key_file = directory / "ca.crt", directory / "ca.key"
    if ca_file.exists() and ca_key_file.exists():
        ca = x509.load_pem_x509_certificate(ca_file.read_bytes())
        loaded = serialization.load_pem_private_key(ca_key_file.read_bytes(), password=None)
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)
        ca_key = loaded
    else:
        ca, ca_key = _make_ca(directory, now)
    server = directory / "server.crt"
    if not server.exists() or not (directory / "server.key").exists():
        hosts = list(dict.fromkeys(["localhost", "127.0.0.1", "::1", *(extra_hosts or [])]))
        _make_server(directory, ca, ca_key, hosts, now)
    return TlsFiles(server, directory / "server.key", ca_file)


def tls_files(settings: Settings) -> TlsFiles:
    """The server's certificate: the operator's where given, else the local CA's (made on first use)."""
    if settings.tls_cert_file and settings.tls_key_file:
        return TlsFiles(settings.tls_cert_file, settings.tls_key_file, None)
    return ensure_local_tls(settings.tls_dir)
