"""The C2PA signing identity: configured PEM files, or a local test PKI made on first use.

The local PKI (a root CA and an ES256 leaf with digitalSignature and the emailProtection and
documentSigning EKUs, as c2pa-rs requires) makes well-formed signatures that validate against
our own root. It is not on the C2PA trust list: production sets C2PA_SIGN_CERT/C2PA_PRIVATE_KEY.
"""

from __future__ import annotations

import datetime
import os
import shutil
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..conf import conf

ROOT_FILE, CHAIN_FILE, KEY_FILE = "root.pem", "chain.pem", "signing-key.pem"


@dataclass(frozen=True)
class SigningIdentity:
    chain_pem: bytes  # the leaf first, then intermediates; never the root
    key_pem: bytes
    trust_anchor_pem: bytes | None  # our local root, to read our own signatures as Trusted
    tsa_url: str | None


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "OpenMates Images (local)"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_bytes(data)
    temporary.chmod(0o600)
    os.replace(temporary, path)


def _make_local_pki(directory: Path) -> None:
    now = datetime.datetime.now(datetime.UTC)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _name("OpenMates Images local root CA")
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("OpenMates Images content signer"))
        .issuer_name(root_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=825))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.EMAIL_PROTECTION, x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False
        )
        .sign(root_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    pem = serialization.Encoding.PEM
    _write_atomically(directory / ROOT_FILE, root.public_bytes(pem))
    _write_atomically(directory / CHAIN_FILE, leaf.public_bytes(pem))
    # The key is written last: its presence means the set is complete.
    _write_atomically(
        directory / KEY_FILE,
        leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )


@cache
def signing_identity() -> SigningIdentity:
    settings = conf()
    tsa = settings.C2PA_TSA_URL or None
    if settings.C2PA_SIGN_CERT and settings.C2PA_PRIVATE_KEY:
        return SigningIdentity(
            chain_pem=Path(settings.C2PA_SIGN_CERT).read_bytes(),
            key_pem=Path(settings.C2PA_PRIVATE_KEY).read_bytes(),
            trust_anchor_pem=None,
            tsa_url=tsa,
        )
    directory = Path(settings.C2PA_LOCAL_PKI_DIR)
    if not (directory / KEY_FILE).exists():
        # Built aside and renamed into place: concurrent first runs never mix two PKIs.
        directory.parent.mkdir(parents=True, exist_ok=True)
        staging = directory.with_name(f".{directory.name}.{os.getpid()}.{time.monotonic_ns()}")
        _make_local_pki(staging)
        try:
            os.rename(staging, directory)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
    return SigningIdentity(
        chain_pem=(directory / CHAIN_FILE).read_bytes(),
        key_pem=(directory / KEY_FILE).read_bytes(),
        trust_anchor_pem=(directory / ROOT_FILE).read_bytes(),
        tsa_url=tsa,
    )


def reset() -> None:
    signing_identity.cache_clear()
