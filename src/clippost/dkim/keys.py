"""DKIM keys: loaded from PEM files and checked once at start-up, generated, published.

A key that cannot be read, is not the kind its setting names, or is too short stops the
process with a sentence saying which file and why: a sender that silently stopped signing
would lose its reputation before anyone noticed.
"""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa, utils

from clippost.config import Settings
from clippost.errors import ConfigurationError

Algorithm = Literal["rsa", "ed25519"]
PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
# RFC 8301 forbids verifying keys under 1024 bits; the big mailbox providers ask for 2048.
MIN_RSA_BITS = 2048
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_SELECTOR = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$", re.IGNORECASE)
_PKCS1 = padding.PKCS1v15()
_PREHASHED = utils.Prehashed(hashes.SHA256())
_NAMES = {"rsa": "RSA", "ed25519": "Ed25519"}


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A checked private key and where its public half is published."""

    algorithm: Algorithm
    selector: str
    pem: bytes  # PKCS#8, unencrypted: what a signing process is handed

    @property
    def tag(self) -> str:
        """The DKIM-Signature `a=` value."""
        return f"{self.algorithm}-sha256"

    def private_key(self) -> PrivateKey:
        return parse_key(self.pem, self.algorithm, source="the key")

    def public_value(self) -> str:
        """The DNS record's `p=` value: base64 of the DER SubjectPublicKeyInfo (RSA) or of
        the 32 raw bytes (Ed25519, RFC 8463)."""
        return public_value(self.private_key())

    def record(self) -> str:
        """The TXT record to publish at `<selector>._domainkey.<domain>`."""
        return f"v=DKIM1; k={self.algorithm}; p={self.public_value()}"


def public_value(key: PrivateKey) -> str:
    public = key.public_key()
    if isinstance(public, ed25519.Ed25519PublicKey):
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    else:
        raw = public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    return base64.b64encode(raw).decode("ascii")


def sign_digest(key: PrivateKey, digest: bytes) -> bytes:
    """The signature of a SHA-256 digest: RSASSA-PKCS1-v1_5 (rsa-sha256), or PureEdDSA over
    the digest itself (ed25519-sha256, RFC 8463 section 3)."""
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(digest, _PKCS1, _PREHASHED)
    return key.sign(digest)


def configured_keys(settings: Settings) -> list[SigningKey]:
    """The keys the settings name (none, one or both), each read and checked; raises
    ConfigurationError naming the setting and the problem."""
    pairs: list[tuple[Algorithm, str | None, Path | None]] = [
        ("rsa", settings.dkim_rsa_selector, settings.dkim_rsa_key_file),
        ("ed25519", settings.dkim_ed25519_selector, settings.dkim_ed25519_key_file),
    ]
    keys = [_configured(algorithm, selector, path) for algorithm, selector, path in pairs]
    found = [key for key in keys if key is not None]
    if found:
        check_domain(settings.resolved_dkim_domain)
    return found


def _configured(algorithm: Algorithm, selector: str | None, path: Path | None) -> SigningKey | None:
    prefix = f"CLIPPOST_DKIM_{algorithm.upper()}"
    if selector is None and path is None:
        return None
    if selector is None or path is None:
        missing = "SELECTOR" if selector is None else "KEY_FILE"
        raise ConfigurationError(f"{prefix}_{missing} must be set too: a DKIM key needs both.")
    if not _SELECTOR.match(selector):
        raise ConfigurationError(f"{prefix}_SELECTOR {selector!r} is not a valid DNS label.")
    return load_key(path, algorithm, selector)


def load_key(path: Path, algorithm: Algorithm, selector: str) -> SigningKey:
    """The key in the PEM file at `path`, checked to be `algorithm` and long enough."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(
            f"Cannot read the DKIM {_NAMES[algorithm]} key file {path}: {exc.strerror or exc}."
        ) from exc
    key = parse_key(data, algorithm, source=str(path))
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return SigningKey(algorithm=algorithm, selector=selector, pem=pem)


def parse_key(data: bytes, algorithm: Algorithm, *, source: str) -> PrivateKey:
    name = _NAMES[algorithm]
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(
            f"The DKIM {name} key file {source} is not an unencrypted PEM private key ({exc})."
        ) from exc
    if algorithm == "rsa" and isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < MIN_RSA_BITS:
            raise ConfigurationError(
                f"The DKIM RSA key in {source} has {key.key_size} bits; "
                f"at least {MIN_RSA_BITS} are needed (mailbox providers refuse shorter keys)."
            )
        return key
    if algorithm == "ed25519" and isinstance(key, ed25519.Ed25519PrivateKey):
        return key
    raise ConfigurationError(f"The key in {source} is not an {name} private key.")


def check_domain(domain: str) -> None:
    """A DKIM `d=` domain must be a host name with a dot (`localhost` cannot be published)."""
    if "." not in domain or not _SELECTOR.match(domain):
        raise ConfigurationError(
            f"DKIM domain {domain!r} is not a public domain name: set CLIPPOST_DKIM_DOMAIN "
            "or a CLIPPOST_MAIL_FROM on your own domain."
        )


def generate_key(algorithm: Algorithm) -> bytes:
    """A new private key as PKCS#8 PEM: RSA-2048 (e=65537) or Ed25519."""
    key: PrivateKey
    if algorithm == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=MIN_RSA_BITS)
    else:
        key = ed25519.Ed25519PrivateKey.generate()
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def write_new_key(path: Path, algorithm: Algorithm) -> None:
    """Write a new key to `path`, readable by its owner only; never over an existing file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise ConfigurationError(f"{path} exists already: not overwriting a key.") from exc
    with os.fdopen(fd, "wb") as handle:
        handle.write(generate_key(algorithm))
