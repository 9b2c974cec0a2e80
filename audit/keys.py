"""The two secrets of the decision log, kept outside the database.

- the pseudonym key (HMAC-SHA256): whoever holds the database alone cannot turn a
  pseudonym back into a patient id by hashing candidate ids;
- the checkpoint signing key (Ed25519): whoever can write the database cannot forge a
  signed tree head for a rewritten history.

Each comes from the environment (`CDS_AUDIT_PSEUDONYM_KEY`, `CDS_AUDIT_SIGNING_KEY_FILE`) or
else from a file under `CDS_AUDIT["KEY_DIR"]` created on first use with mode 0600. Creation
is race-free across worker processes: the key is written to a private temporary file and
hard-linked into place, so a second process either wins the link or reads the first's key.
"""

from __future__ import annotations

import hmac
import os
import secrets
import tempfile
from functools import lru_cache
from hashlib import sha256
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

PSEUDONYM_FILE = "audit-pseudonym.key"
SIGNING_FILE = "audit-signing.pem"


def _settings() -> dict:
    return dict(getattr(settings, "CDS_AUDIT", {}) or {})


def _key_file_read_or_create(path: Path, make: callable) -> bytes:  # type: ignore[valid-type]
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".key-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(make())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process created it first: use theirs
    finally:
        os.unlink(tmp)
    return path.read_bytes()


@lru_cache(maxsize=8)
def _pseudonym_key(configured: str, key_dir: str) -> bytes:
    if configured:
        try:
            key = bytes.fromhex(configured)
        except ValueError as exc:
            raise ImproperlyConfigured("CDS_AUDIT_PSEUDONYM_KEY must be hex") from exc
    else:
        key = bytes.fromhex(
            _key_file_read_or_create(
                Path(key_dir) / PSEUDONYM_FILE, lambda: secrets.token_hex(32).encode()
            ).decode()
        )
    if len(key) < 32:
        raise ImproperlyConfigured("the audit pseudonym key must have at least 32 bytes")
    return key


def pseudonym_key() -> bytes:
    conf = _settings()
    return _pseudonym_key(str(conf.get("PSEUDONYM_KEY") or ""), str(conf.get("KEY_DIR") or ""))


def patient_pseudonymize(patient_ref: str) -> str:
    """HMAC-SHA256 of the normalised reference ("Patient/<id>"), hex. Empty in, empty out."""
    if not patient_ref:
        return ""
    ref = patient_ref if patient_ref.startswith("Patient/") else f"Patient/{patient_ref}"
    return hmac.new(pseudonym_key(), ref.encode("utf-8"), sha256).hexdigest()


def _new_signing_pem() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@lru_cache(maxsize=8)
def _signing_key(configured: str, key_dir: str) -> Ed25519PrivateKey:
    if configured:
        pem = Path(configured).read_bytes()
    else:
        pem = _key_file_read_or_create(Path(key_dir) / SIGNING_FILE, _new_signing_pem)
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ImproperlyConfigured("the audit signing key must be an Ed25519 private key")
    return key


def signing_key() -> Ed25519PrivateKey:
    conf = _settings()
    return _signing_key(str(conf.get("SIGNING_KEY_FILE") or ""), str(conf.get("KEY_DIR") or ""))


def public_key() -> Ed25519PublicKey:
    return signing_key().public_key()


def public_key_pem() -> str:
    return (
        public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
