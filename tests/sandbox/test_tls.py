"""The sandbox CA and server certificate are what real TLS clients need."""

import ipaddress
import socket
import ssl
import threading
from pathlib import Path

from cryptography import x509

from ml_connector_sandbox import tls


def test_server_certificate_names_loopback_and_chains_to_the_ca(tmp_path: Path) -> None:
    files = tls.generate(tmp_path)
    cert = x509.load_pem_x509_certificate(files.server_cert.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in san.get_values_for_type(x509.IPAddress)
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    cert.verify_directly_issued_by(ca)  # raises if the signature or issuer is wrong
    assert files.server_key.stat().st_mode & 0o777 == 0o600


def _handshake(files: tls.TlsFiles, client: ssl.SSLContext) -> None:
    server_ctx = files.server_context()
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def accept() -> None:
        conn, _ = listener.accept()
        try:
            with server_ctx.wrap_socket(conn, server_side=True) as tls_conn:
                tls_conn.recv(1)
        except (ssl.SSLError, OSError):
            pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        with (
            socket.create_connection(("127.0.0.1", port)) as raw,
            client.wrap_socket(raw, server_hostname="127.0.0.1") as conn,
        ):
            conn.sendall(b"x")
    finally:
        thread.join(5)
        listener.close()


def test_a_client_trusting_the_ca_completes_a_verified_handshake(tmp_path: Path) -> None:
    files = tls.generate(tmp_path)
    _handshake(files, ssl.create_default_context(cafile=str(files.ca_cert)))


def test_a_client_trusting_another_ca_refuses_the_sandbox(tmp_path: Path) -> None:
    files = tls.generate(tmp_path / "a")
    other = tls.generate(tmp_path / "b")
    try:
        _handshake(files, ssl.create_default_context(cafile=str(other.ca_cert)))
    except ssl.SSLCertVerificationError:
        return
    raise AssertionError("a certificate from an untrusted CA was accepted")
