"""The operator's password: a plain value, or a scrypt or argon2 hash of it (pure).

`CLIPPOST_ADMIN_PASSWORD` may hold the password itself, or a hash so that whoever reads the
environment does not learn it:

- `$scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<hash>` (the layout passlib writes; salt and hash
  in base64, standard or passlib's `./` alphabet, padding optional), checked with hashlib;
  `clippost admin-password` makes one;
- `$argon2id$v=19$m=...,t=...,p=...$<salt>$<hash>` (argon2-cffi, `argon2` command line).

Every comparison takes the same time whatever matches: hashes through `hmac.compare_digest`
(argon2-cffi does its own), a plain value through the digests of both sides, so neither its
content nor its length leaks through timing. Checking a hash costs tens of milliseconds of
CPU on purpose: callers run `verify` in a thread, and the login has a rate limit.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# N = 2^15, r = 8: 32 MiB and ~50-100 ms a check; hashlib needs room above 128 * N * r.
SCRYPT_LN, SCRYPT_R, SCRYPT_P = 15, 8, 1
_SCRYPT = re.compile(
    r"\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/.=]+)\$([A-Za-z0-9+/.=]+)"
)
_MAX_LN = 20  # 1 GiB at r = 8: beyond it a "hash" is a way to exhaust memory


class BadHash(ValueError):
    """The setting starts like a hash but is not one clippost can check."""


def hash_password(password: str, *, ln: int = SCRYPT_LN) -> str:
    """A `$scrypt$` hash of `password` with a random salt."""
    salt = os.urandom(16)
    digest = _scrypt(password, salt, ln, SCRYPT_R, SCRYPT_P)
    return f"$scrypt$ln={ln},r={SCRYPT_R},p={SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def check_configured(configured: str) -> None:
    """Raise BadHash when `configured` looks like a hash but cannot be checked (at start)."""
    if configured.startswith("$scrypt$"):
        _parse_scrypt(configured)
    elif configured.startswith("$argon2"):
        try:
            PasswordHasher().check_needs_rehash(configured)
        except (InvalidHashError, ValueError) as exc:
            raise BadHash("CLIPPOST_ADMIN_PASSWORD is not a valid argon2 hash") from exc


def verify(configured: str, given: str) -> bool:
    """Whether `given` is the password `configured` holds or hashes."""
    if configured.startswith("$scrypt$"):
        ln, r, p, salt, expected = _parse_scrypt(configured)
        return hmac.compare_digest(_scrypt(given, salt, ln, r, p), expected)
    if configured.startswith("$argon2"):
        try:
            return PasswordHasher().verify(configured, given)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
    return hmac.compare_digest(_sha256(given), _sha256(configured))


def _parse_scrypt(configured: str) -> tuple[int, int, int, bytes, bytes]:
    found = _SCRYPT.fullmatch(configured)
    if found is None:
        raise BadHash("CLIPPOST_ADMIN_PASSWORD is not a valid $scrypt$ hash")
    ln, r, p = (int(found.group(n)) for n in (1, 2, 3))
    if not (1 <= ln <= _MAX_LN and 1 <= r <= 32 and 1 <= p <= 16):
        raise BadHash("CLIPPOST_ADMIN_PASSWORD: scrypt parameters out of range")
    try:
        salt, expected = _unb64(found.group(4)), _unb64(found.group(5))
    except (binascii.Error, ValueError) as exc:
        raise BadHash("CLIPPOST_ADMIN_PASSWORD: the scrypt salt or hash is not base64") from exc
    if not expected:
        raise BadHash("CLIPPOST_ADMIN_PASSWORD: the scrypt hash is empty")
    return ln, r, p, salt, expected


def _scrypt(password: str, salt: bytes, ln: int, r: int, p: int) -> bytes:
    n = 2**ln
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r + 1024 * 1024, dklen=32
    )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    text = text.rstrip("=").replace(".", "+")
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _sha256(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()
