"""The cluster CA functions and the CSR filter, with real keys."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from magna.common.exceptions import Invalid
from magna.crypto import keystore
from magna.crypto import x509 as mx

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
POLICY = mx.SigningPolicy(
    allowed_extensions=["keyUsage", "extendedKeyUsage", "subjectAltName", "basicConstraints",
                        "subjectKeyIdentifier"],
    allowed_key_usage=["Digital Signature", "Key Encipherment", "Non Repudiation"])


@pytest.fixture(scope="module")
def ca() -> mx.KeyPair:
    return mx.generate_ca("cluster-a", key_size=2048, days=30, now=NOW)


def _csr(*extensions: tuple[x509.ExtensionType, bool]) -> str:
    key = mx.new_key(2048)
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "admin"),
                   x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters")]))
    for value, critical in extensions:
        builder = builder.add_extension(value, critical=critical)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


def _load(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode())


def test_ca_is_a_self_signed_ca_valid_for_the_term(ca: mx.KeyPair) -> None:
    cert = _load(ca.certificate_pem)
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "cluster-a"
    cert.verify_directly_issued_by(cert)
    assert cert.not_valid_after_utc == NOW + dt.timedelta(days=30)


def test_signed_certificate_copies_the_subject_and_chains_to_the_ca(ca: mx.KeyPair) -> None:
    csr = mx.make_csr(common_name="admin", organization="system:masters", key=mx.new_key(2048))
    cert = _load(mx.sign_csr(csr, ca=ca, days=5, now=NOW, policy=POLICY))
    cert.verify_directly_issued_by(_load(ca.certificate_pem))
    assert cert.subject.rfc4514_string() == "O=system:masters,CN=admin"
    assert cert.not_valid_after_utc == NOW + dt.timedelta(days=5)


def test_a_non_critical_ca_request_is_downgraded(ca: mx.KeyPair) -> None:
    pem = mx.sign_csr(_csr((x509.BasicConstraints(ca=True, path_length=None), False)),
                      ca=ca, days=5, now=NOW, policy=POLICY)
    constraints = _load(pem).extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.value.ca is False


def test_a_critical_ca_request_is_refused(ca: mx.KeyPair) -> None:
    with pytest.raises(Invalid):
        mx.sign_csr(_csr((x509.BasicConstraints(ca=True, path_length=None), True)),
                    ca=ca, days=5, now=NOW, policy=POLICY)


def test_certificate_signing_usage_is_stripped(ca: mx.KeyPair) -> None:
    usage = x509.KeyUsage(digital_signature=True, content_commitment=False,
                          key_encipherment=False, data_encipherment=False, key_agreement=False,
                          key_cert_sign=True, crl_sign=False, encipher_only=False,
                          decipher_only=False)
    cert = _load(mx.sign_csr(_csr((usage, False)), ca=ca, days=5, now=NOW, policy=POLICY))
    granted = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert granted.digital_signature and not granted.key_cert_sign
    with pytest.raises(Invalid):
        mx.sign_csr(_csr((usage, True)), ca=ca, days=5, now=NOW, policy=POLICY)


def test_disallowed_extensions_are_dropped_or_refused(ca: mx.KeyPair) -> None:
    ext = x509.NameConstraints(permitted_subtrees=[x509.DNSName("example.com")],
                               excluded_subtrees=None)
    cert = _load(mx.sign_csr(_csr((ext, False)), ca=ca, days=5, now=NOW, policy=POLICY))
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.NameConstraints)
    with pytest.raises(Invalid, match="not allowed"):
        mx.sign_csr(_csr((ext, True)), ca=ca, days=5, now=NOW, policy=POLICY)


@pytest.mark.parametrize("garbage", ["", "not a csr", "-----BEGIN CERTIFICATE REQUEST-----\nAA\n"
                                     "-----END CERTIFICATE REQUEST-----\n"])
def test_garbage_csrs_are_invalid(ca: mx.KeyPair, garbage: str) -> None:
    with pytest.raises(Invalid, match="invalid csr"):
        mx.sign_csr(garbage, ca=ca, days=5, now=NOW, policy=POLICY)


def test_keystore_round_trip_and_wrong_key(tmp_path: object) -> None:
    import os

    path = os.path.join(str(tmp_path), "k")
    key = keystore.load_or_create_key(path)
    assert keystore.load_or_create_key(path) == key
    assert os.stat(path).st_mode & 0o777 == 0o600
    sealed = keystore.KeyStore(key).seal(b"secret")
    assert b"secret" not in sealed
    assert keystore.KeyStore(key).open(sealed) == b"secret"
    other = keystore.KeyStore(keystore.load_or_create_key(path + "2"))
    with pytest.raises(Exception, match="could not be decrypted"):
        other.open(sealed)


def test_an_ec_node_key_gets_a_server_certificate_from_the_ca(ca: mx.KeyPair) -> None:
    key = mx.new_ec_key()
    csr = mx.make_csr(common_name="node-0", organization=None, key=key, client=False,
                      sans=("10.0.0.2", "127.0.0.1", "node-0"))
    cert = _load(mx.sign_csr(csr, ca=ca, days=5, now=NOW, policy=POLICY))
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    assert b"BEGIN PRIVATE KEY" in mx.key_to_pem(key)
