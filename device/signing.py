"""Ed25519 signatures over a bundle's manifest: who made a bundle, checked on the speaker.

The manifest lists the sha256 of every other member, so one signature over the manifest's exact
bytes covers the whole bundle. Keys are PEM files (PKCS#8 private, SubjectPublicKeyInfo public):
``hum-index keygen`` writes them, ``hum-index build/add --key`` signs, and a speaker whose profile
names ``device.public_key`` (or ``--public-key``) refuses bundles that are unsigned or signed by
another key. ``cryptography`` is imported only when a key is used, so a speaker without a key
needs nothing more.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

SIGNATURE_MEMBER = "manifest.sig"
SIGNATURE_BYTES = 64


class SignatureError(ValueError):
    """A key that cannot be read, or a signature that does not verify; the message says which."""


def _serialization():
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError as exc:  # pragma: no cover - the device extra installs it
        raise SignatureError("bundle signatures need the 'cryptography' package: pip install cryptography") from exc
    return serialization, ed25519, InvalidSignature


def public_key_bytes(public_key) -> bytes:
    serialization, _, _ = _serialization()
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(raw_public_key: bytes) -> str:
    """A short, stable name for a public key (first 16 hex digits of its sha256), shown by ``info``."""
    return hashlib.sha256(raw_public_key).hexdigest()[:16]


def load_public_key(path: str | Path):
    """An Ed25519 public key from a PEM file; :class:`SignatureError` if it is not one."""
    serialization, ed25519, _ = _serialization()
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except OSError as exc:
        raise SignatureError(f"cannot read public key {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise SignatureError(f"{path} is not a PEM public key ({exc})") from exc
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise SignatureError(f"{path} is not an Ed25519 public key")
    return key


def load_private_key(path: str | Path):
    """An Ed25519 private key from an unencrypted PEM file (``hum-index keygen`` writes one)."""
    serialization, ed25519, _ = _serialization()
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except OSError as exc:
        raise SignatureError(f"cannot read private key {path}: {exc.strerror or exc}") from exc
    except (ValueError, TypeError) as exc:
        raise SignatureError(f"{path} is not an unencrypted PEM private key ({exc})") from exc
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise SignatureError(f"{path} is not an Ed25519 private key")
    return key


def generate_keypair(private_path: Path, public_path: Path) -> str:
    """Writes a new key pair (private key readable by its owner only); returns the key id.

    Refuses to overwrite an existing private key: losing it means no speaker accepts new bundles.
    """
    serialization, ed25519, _ = _serialization()
    if private_path.exists():
        raise SignatureError(f"{private_path} exists; refusing to overwrite a signing key")
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    private_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    public = key.public_key()
    public_path.write_bytes(public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return key_id(public_key_bytes(public))


def sign(private_key, manifest_bytes: bytes) -> bytes:
    return private_key.sign(manifest_bytes)


def verify(public_key, manifest_bytes: bytes, signature: bytes | None, what: str) -> None:
    """Raises :class:`SignatureError` unless ``signature`` is ``public_key``'s over ``manifest_bytes``."""
    _, _, invalid_signature = _serialization()
    if signature is None:
        raise SignatureError(
            f"{what} is not signed, and this device only accepts bundles signed by key {key_id(public_key_bytes(public_key))}"
        )
    try:
        public_key.verify(signature, manifest_bytes)
    except invalid_signature as exc:
        raise SignatureError(
            f"{what}: signature does not verify with key {key_id(public_key_bytes(public_key))} "
            "(signed by another key, or the manifest was modified)"
        ) from exc
