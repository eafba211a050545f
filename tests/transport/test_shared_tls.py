"""One TLS context per process and CA file: shared by every client, replaced with the file."""

from pathlib import Path

import pytest

from ml_connector_dagster.transport.tls import CaBundleError, shared_ssl_context
from ml_connector_sandbox.tls import generate


def _ca_subjects(context) -> set[str]:  # type: ignore[no-untyped-def]
    return {
        value
        for cert in context.get_ca_certs()
        for rdn in cert["subject"]
        for key, value in rdn
        if key == "commonName"
    }


def test_the_same_ca_file_gives_the_same_context(tmp_path: Path) -> None:
    ca = generate(tmp_path / "one").ca_cert
    first = shared_ssl_context(ca)
    assert shared_ssl_context(str(ca)) is first
    assert shared_ssl_context(None) is shared_ssl_context()
    assert shared_ssl_context(None) is not first


def test_a_replaced_ca_file_is_loaded_anew(tmp_path: Path) -> None:
    """The sandbox writes a new CA at every start, to the same path: a context trusting the
    previous CA would fail every handshake with the new server."""
    ca = generate(tmp_path / "ca").ca_cert
    before = shared_ssl_context(ca)
    replacement = generate(tmp_path / "other").ca_cert
    ca.write_bytes(replacement.read_bytes())
    after = shared_ssl_context(ca)
    assert after is not before
    assert len(after.get_ca_certs()) == len(before.get_ca_certs())
    assert {c["serialNumber"] for c in after.get_ca_certs()} != {
        c["serialNumber"] for c in before.get_ca_certs()
    }
    assert _ca_subjects(after)


def test_an_unusable_ca_file_raises_every_time_and_is_never_kept(tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    for _ in range(2):
        with pytest.raises(CaBundleError, match=r"missing\.pem"):
            shared_ssl_context(missing)
        with pytest.raises(CaBundleError, match=r"garbage\.pem"):
            shared_ssl_context(garbage)
    ca = generate(tmp_path / "good").ca_cert
    garbage.write_bytes(ca.read_bytes())  # fixed in place: now it works
    assert shared_ssl_context(garbage) is shared_ssl_context(ca)
