"""Pure X.509 operations: make a cluster CA, sign a CSR with it, make leaf certificates.

Every function takes explicit parameters (key size, validity, the current UTC time) and returns
PEM text, so the results are reproducible in tests and nothing reads configuration. CSR signing
is where user input meets the CA: the filter drops or refuses extensions and usages that are not
allowed, and never lets a user obtain a sub-CA unless ``allow_ca`` is set.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import cast

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

from magna.common.exceptions import Invalid

# Names used in [x509] allowed_key_usage, mapped to cryptography's KeyUsage arguments.
KEY_USAGES = {
    "Digital Signature": "digital_signature",
    "Non Repudiation": "content_commitment",
    "Key Encipherment": "key_encipherment",
    "Data Encipherment": "data_encipherment",
    "Key Agreement": "key_agreement",
    "Certificate Sign": "key_cert_sign",
    "CRL Sign": "crl_sign",
}
_CA_USAGES = {"key_cert_sign", "crl_sign"}

# Names used in [x509] allowed_extensions (OpenSSL's short names).
EXTENSION_NAMES = {
    ExtensionOID.KEY_USAGE: "keyUsage",
    ExtensionOID.EXTENDED_KEY_USAGE: "extendedKeyUsage",
    ExtensionOID.SUBJECT_ALTERNATIVE_NAME: "subjectAltName",
    ExtensionOID.BASIC_CONSTRAINTS: "basicConstraints",
    ExtensionOID.SUBJECT_KEY_IDENTIFIER: "subjectKeyIdentifier",
    ExtensionOID.AUTHORITY_KEY_IDENTIFIER: "authorityKeyIdentifier",
    ExtensionOID.NAME_CONSTRAINTS: "nameConstraints",
    ExtensionOID.CRL_DISTRIBUTION_POINTS: "cRLDistributionPoints",
    ExtensionOID.CERTIFICATE_POLICIES: "certificatePolicies",
    ExtensionOID.AUTHORITY_INFORMATION_ACCESS: "authorityInfoAccess",
}


@dataclass(frozen=True)
class SigningPolicy:
    allowed_extensions: Sequence[str]
    allowed_key_usage: Sequence[str]
    allow_ca: bool = False


@dataclass(frozen=True)
class KeyPair:
    certificate_pem: str
    private_key_pem: bytes


# A key a CSR may be made with: RSA (users, CAs) or EC (the nodes' own certificates).
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def new_key(key_size: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=key_size)


def new_ec_key() -> ec.EllipticCurvePrivateKey:
    """A P-256 key: made in a tenth of a millisecond where RSA 2048 takes 30-200 ms, which
    a node's server certificate pays on the critical path of every create."""
    return ec.generate_private_key(ec.SECP256R1())


def key_to_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def generate_ca(common_name: str, *, key_size: int, days: int, now: dt.datetime) -> KeyPair:
    """A self-signed CA: CA=true with path length 0, keyCertSign and cRLSign."""
    key = new_key(key_size)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64] or "magna")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(uuid.uuid4().int)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage({"key_cert_sign", "crl_sign"}), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
    )
    cert = builder.sign(key, hashes.SHA256())
    return KeyPair(cert.public_bytes(serialization.Encoding.PEM).decode(), key_to_pem(key))


def sign_csr(csr_pem: str, *, ca: KeyPair, days: int, now: dt.datetime,
             policy: SigningPolicy) -> str:
    """Sign a user's CSR with ``ca`` after filtering its extensions through ``policy``."""
    csr = _load_csr(csr_pem)
    ca_cert = x509.load_pem_x509_certificate(ca.certificate_pem.encode())
    ca_key = _ca_key(ca)
    builder = (
        x509.CertificateBuilder()
        .subject_name(csr.subject).issuer_name(ca_cert.subject)
        .public_key(csr.public_key())
        .serial_number(uuid.uuid4().int)
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
    )
    for extension in filter_extensions(csr.extensions, policy):
        builder = builder.add_extension(extension.value, critical=extension.critical)
    builder = builder.add_extension(
        x509.SubjectKeyIdentifier.from_public_key(csr.public_key()), critical=False)
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore
        critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _ca_key(ca: KeyPair) -> PrivateKey:
    """The CA's private key, loaded without OpenSSL's RSA consistency check: that check took
    about 50 ms of CPU per load, paid by every certificate a cluster's nodes and users get
    signed, and it guards against malformed keys from elsewhere, while a cluster CA's key is
    one ``generate_ca`` made and Magna stored."""
    key = serialization.load_pem_private_key(ca.private_key_pem, password=None,
                                             unsafe_skip_rsa_key_validation=True)
    return cast(PrivateKey, key)


def _load_csr(csr_pem: str) -> x509.CertificateSigningRequest:
    try:
        csr = x509.load_pem_x509_csr(csr_pem.encode())
        valid = csr.is_signature_valid
    except (ValueError, TypeError, UnicodeEncodeError) as exc:
        raise Invalid(f"Received invalid csr {exc}.") from None
    if not valid:
        raise Invalid("Received invalid csr: the signature does not match.")
    if not isinstance(csr.public_key(), rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise Invalid("Received invalid csr: only RSA and EC keys are accepted.")
    return csr


def filter_extensions(extensions: Iterable[x509.Extension[x509.ExtensionType]],
                      policy: SigningPolicy) -> list[x509.Extension[x509.ExtensionType]]:
    """Keep allowed extensions; drop disallowed ones, refuse disallowed critical ones."""
    kept: list[x509.Extension[x509.ExtensionType]] = []
    for ext in extensions:
        name = EXTENSION_NAMES.get(ext.oid, ext.oid.dotted_string)
        if isinstance(ext.value, x509.SubjectKeyIdentifier | x509.AuthorityKeyIdentifier):
            continue  # recomputed by the signer
        if name not in policy.allowed_extensions:
            if ext.critical:
                raise Invalid(f"Extension '{name}' not allowed")
            continue
        value = _filter_value(ext, policy)
        if value is not None:
            kept.append(x509.Extension(ext.oid, ext.critical, value))
    return kept


def _filter_value(ext: x509.Extension[x509.ExtensionType], policy: SigningPolicy
                  ) -> x509.ExtensionType | None:
    value = ext.value
    if isinstance(value, x509.BasicConstraints) and value.ca and not policy.allow_ca:
        if ext.critical:
            raise Invalid("Extension 'basicConstraints' with CA=true not allowed")
        return x509.BasicConstraints(ca=False, path_length=None)
    if isinstance(value, x509.KeyUsage):
        return _filter_key_usage(value, ext.critical, policy)
    return value


def _filter_key_usage(value: x509.KeyUsage, critical: bool, policy: SigningPolicy
                      ) -> x509.KeyUsage | None:
    allowed = {KEY_USAGES[u] for u in policy.allowed_key_usage if u in KEY_USAGES}
    if policy.allow_ca:
        allowed |= _CA_USAGES
    requested = {attr for attr in KEY_USAGES.values() if _usage_set(value, attr)}
    refused = requested - allowed
    if refused and critical:
        raise Invalid(f"Extension 'keyUsage' requests usages that are not allowed: "
                      f"{', '.join(sorted(refused))}")
    granted = requested & allowed
    return _key_usage(granted) if granted else None


def _usage_set(value: x509.KeyUsage, attr: str) -> bool:
    if attr in ("encipher_only", "decipher_only"):
        return False
    return bool(getattr(value, attr))


def _key_usage(usages: set[str]) -> x509.KeyUsage:
    flags = {attr: attr in usages for attr in KEY_USAGES.values()}
    return x509.KeyUsage(encipher_only=False, decipher_only=False, **flags)


def make_csr(*, common_name: str, organization: str | None, key: PrivateKey,
             client: bool = True, sans: Sequence[str] = ()) -> str:
    """Build a CSR (used by Magna's own client and by the driver for node certificates)."""
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH] if client else [
        ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attrs))
    builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    builder = builder.add_extension(
        _key_usage({"digital_signature", "key_encipherment"}), critical=True)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(_general_names(sans)),
                                        critical=False)
    csr = builder.sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def _general_names(sans: Sequence[str]) -> list[x509.GeneralName]:
    import ipaddress

    names: list[x509.GeneralName] = []
    for san in sans:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(san)))
        except ValueError:
            names.append(x509.DNSName(san))
    return names
