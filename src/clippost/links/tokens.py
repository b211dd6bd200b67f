"""Signed, purpose-scoped link tokens (DESIGN.md invariant 7). Pure: the clock is passed in.

A token is `PAYLOAD.SIGNATURE`, both URL-safe base64 without padding:

- PAYLOAD encodes `issued|expires|subject|extra` (Unix seconds; expires 0 = never). It
  carries nothing secret: the subject is an opaque id, the extra a short qualifier (a
  highlight id, a link generation).
- SIGNATURE is HMAC-SHA256 over the *encoded* payload, truncated to 144 bits, under a key
  derived for the purpose: HMAC-SHA256(secret, "clippost-token-v1:" + purpose). A token
  signed for one purpose therefore never verifies for another, and no key is used for
  two jobs. Signing the encoded text (not the decoded bytes) makes every alteration of the
  token string, even one a lenient base64 decoder would ignore, fail verification.

Reading checks the signature in constant time before anything else, and only then the
expiry, so a forged token never learns whether it "would have" expired. Key rotation:
tokens signed with any of `old_secrets` still verify.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any

from clippost.errors import InvalidLink

_KEY_LABEL = b"clippost-token-v1:"
_SIGNATURE_BYTES = 18  # 144 bits: 24 base64 characters, no padding bits to alias
_MAX_TOKEN_LENGTH = 1024
_SEPARATOR = "|"
_URL_SAFE = bytes.maketrans(b"+/", b"-_")
_BLOCK_BYTES = 64  # SHA-256's block: a purpose key (32 bytes) is padded to it
_IPAD = bytes(byte ^ 0x36 for byte in range(256))
_OPAD = bytes(byte ^ 0x5C for byte in range(256))
_Hash = Any  # hashlib's hash object (`hashlib._Hash`, which typeshed keeps private)

NOT_VALID = (
    "This link is not valid. It may have been cut short when it was copied: "
    "open it straight from the email, or ask for a new one."
)
EXPIRED = "This link has expired. Ask for a new one with your address: we email you a fresh link."


class Purpose(StrEnum):
    CONFIRM = "confirm"
    MANAGE = "manage"
    UNSUBSCRIBE = "unsubscribe"
    FAVOURITE = "favourite"
    DISCARD = "discard"
    ADD_IMPORT = "add_import"
    PASSAGE = "passage"  # a digest's "read the whole passage": shows one highlight
    # A digest's one token for a highlight: its favourite, never-again and whole-passage
    # links all carry it (they act on that highlight only, as the three tokens they replace).
    HIGHLIGHT = "highlight"
    RESUBSCRIBE = "resubscribe"  # the unsubscribed page's one-click way back
    READER = "reader"  # the cookie of a browser its reader has opened their own links in


@dataclass(frozen=True, slots=True)
class TokenData:
    subject: str
    extra: str
    issued_at: datetime
    expires_at: datetime | None = None


def make_token(
    secret: str | bytes,
    purpose: Purpose,
    subject: str,
    *,
    now: datetime,
    ttl: timedelta | None,
    extra: str = "",
) -> str:
    """A token for `purpose` naming `subject`; it expires `ttl` after `now` (None: never)."""
    if not subject or _SEPARATOR in subject:
        raise ValueError(f"a token subject must be non-empty and free of {_SEPARATOR!r}")
    issued = _seconds(now)
    expires = 0 if ttl is None else issued + max(1, int(ttl.total_seconds()))
    payload = _SEPARATOR.join((str(issued), str(expires), subject, extra))
    encoded = _b64encode(payload.encode("utf-8"))
    return f"{encoded}.{_sign(_purpose_key(_key_bytes(secret), purpose), encoded)}"


class TokenSigner:
    """`make_token` for many subjects at one moment and one purpose: the payload's timed
    prefix and the purpose's HMAC key schedule (its inner and outer SHA-256 states, RFC
    2104) are prepared once, so a token costs one base64 encoding of its payload, two
    SHA-256 copies, updates and digests (a third of `hmac.digest`'s one-shot, which
    schedules the key again every time), and one base64 encoding of its signature. The
    planner signs seven tokens per digest (a HIGHLIGHT token per passage, the manage and
    unsubscribe links). The tokens are exactly those `make_token` writes."""

    __slots__ = ("_head", "_inner", "_outer")

    def __init__(
        self, secret: str | bytes, purpose: Purpose, *, now: datetime, ttl: timedelta | None
    ) -> None:
        issued = _seconds(now)
        expires = 0 if ttl is None else issued + max(1, int(ttl.total_seconds()))
        self._head = f"{issued}{_SEPARATOR}{expires}{_SEPARATOR}"
        self._inner, self._outer = _pads(_purpose_key(_key_bytes(secret), purpose))

    def token(self, subject: str, extra: str = "") -> str:
        if not subject or _SEPARATOR in subject:
            raise ValueError(f"a token subject must be non-empty and free of {_SEPARATOR!r}")
        encoded = _b64(f"{self._head}{subject}{_SEPARATOR}{extra}".encode())
        # HMAC(K, m) = H((K ^ opad) || H((K ^ ipad) || m)), from the prepared states.
        first = self._inner.copy()
        first.update(encoded)
        second = self._outer.copy()
        second.update(first.digest())
        signature = _b64_whole(second.digest()[:_SIGNATURE_BYTES])
        return (encoded + b"." + signature).decode("ascii")


def read_token(
    secret: str | bytes,
    purpose: Purpose | tuple[Purpose, ...],
    token: str,
    *,
    now: datetime,
    old_secrets: Sequence[str | bytes] = (),
) -> TokenData:
    """The data of a genuine, unexpired token of `purpose` (or of any of several);
    InvalidLink for anything else."""
    encoded, signature = _split(token)
    secrets = (secret, *old_secrets)
    purposes = (purpose,) if isinstance(purpose, Purpose) else purpose
    if not any(_verifies(s, p, encoded, signature) for s in secrets for p in purposes):
        raise InvalidLink(NOT_VALID)
    data = _decode(encoded)
    if data.expires_at is not None and _seconds(now) >= _seconds(data.expires_at):
        raise InvalidLink(EXPIRED)
    return data


def _split(token: str) -> tuple[str, str]:
    if not isinstance(token, str) or len(token) > _MAX_TOKEN_LENGTH or not token.isascii():
        raise InvalidLink(NOT_VALID)
    encoded, dot, signature = token.partition(".")
    if not dot or not encoded or not signature:
        raise InvalidLink(NOT_VALID)
    return encoded, signature


def _verifies(secret: str | bytes, purpose: Purpose, encoded: str, signature: str) -> bool:
    expected = _sign(_purpose_key(_key_bytes(secret), purpose), encoded)
    return hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii"))


def _decode(encoded: str) -> TokenData:
    """Parse a payload whose signature has verified, so it is one we wrote."""
    try:
        text = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode("utf-8")
        issued, expires, subject, extra = text.split(_SEPARATOR, 3)
        issued_at = datetime.fromtimestamp(int(issued), UTC)
        expires_at = None if expires == "0" else datetime.fromtimestamp(int(expires), UTC)
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError, OSError):
        # Only reachable with a signing key that signed something else: treat as forged.
        raise InvalidLink(NOT_VALID) from None
    return TokenData(subject=subject, extra=extra, issued_at=issued_at, expires_at=expires_at)


def _sign(key: bytes, encoded: str) -> str:
    digest = hmac.new(key, encoded.encode("ascii"), hashlib.sha256).digest()
    return _b64encode(digest[:_SIGNATURE_BYTES])


@lru_cache(maxsize=64)
def _purpose_key(secret: bytes, purpose: Purpose) -> bytes:
    # Cached: one-click unsubscribe and digest links are verified at high rates.
    label = _KEY_LABEL + Purpose(purpose).value.encode("ascii")
    return hmac.new(secret, label, hashlib.sha256).digest()


def _key_bytes(secret: str | bytes) -> bytes:
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    if not key:
        raise ValueError("the secret key is empty")
    return key


def _b64encode(raw: bytes) -> str:
    return _b64(raw).decode("ascii")


def _b64(raw: bytes) -> bytes:
    """URL-safe base64 without padding, in C: `b2a_base64` and one `translate`."""
    return binascii.b2a_base64(raw, newline=False).translate(_URL_SAFE).rstrip(b"=")


def _b64_whole(raw: bytes) -> bytes:
    """`_b64` of bytes a multiple of 3 long (signatures), which base64 never pads."""
    return binascii.b2a_base64(raw, newline=False).translate(_URL_SAFE)


def _pads(key: bytes) -> tuple[_Hash, _Hash]:
    """HMAC-SHA256's inner and outer hash states for `key` (at most one block long)."""
    block = key.ljust(_BLOCK_BYTES, b"\0")
    return (
        hashlib.sha256(block.translate(_IPAD)),
        hashlib.sha256(block.translate(_OPAD)),
    )


def _seconds(moment: datetime) -> int:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("tokens are timed with aware datetimes; got a naive one")
    return int(moment.timestamp())
