"""DKIM signatures (RFC 6376, RSA and Ed25519 per RFC 8463) on the bytes a transport sends.

Each configured key adds one DKIM-Signature header, relaxed/relaxed, with the same body
hash (the body is canonicalised and hashed once) and the same signed headers: From, To,
Subject, Date, Message-ID, MIME-Version, Content-Type and, when present, List-Unsubscribe,
List-Unsubscribe-Post and List-Id (RFC 8058 asks that both List-Unsubscribe headers be
signed). Every one of them is named once more than it occurs ("oversigned"): a copy added
on the way, a second From or a forged unsubscribe link, then breaks the signature instead
of being shown.

A message is `prepare`d here (canonical text, digests), its digests signed (in the signing
processes of `dkim.pool`, or inline), and `finish`ed (the headers put in front).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from clippost.dkim.canonical import (
    crlf_only,
    header_fields,
    relaxed_body,
    relaxed_header,
    split_message,
)
from clippost.dkim.keys import SigningKey, sign_digest
from clippost.dkim.pool import Digests, SigningPool

SIGNED_HEADERS = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"mime-version",
    b"content-type",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"list-id",
)
_NAME = len(b"DKIM-Signature: ")
_LINE = 76  # folded header lines stay under the 78 characters RFC 5322 recommends


@dataclass(frozen=True, slots=True)
class Prepared:
    """A message ready for its signatures: one header (without the b= value) and one
    digest per key."""

    wire: bytes
    heads: tuple[bytes, ...]
    digests: Digests


class DkimSigner:
    """Signs messages with one or two keys for one domain."""

    def __init__(
        self,
        keys: Sequence[SigningKey],
        *,
        domain: str,
        processes: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not keys:
            raise ValueError("a DKIM signer needs at least one key")
        self.keys = tuple(keys)
        self.domain = domain
        self._private = [key.private_key() for key in self.keys]
        self._clock = clock
        self.pool = SigningPool(self.keys, processes) if processes > 0 else None

    def sign(self, wire: bytes) -> bytes:
        """The message with its DKIM-Signature headers, signed in this process."""
        prepared = self.prepare(wire)
        return self.finish(prepared, self.sign_inline(prepared.digests))

    def sign_inline(self, digests: Digests) -> Digests:
        return tuple(map(sign_digest, self._private, digests))

    def prepare(self, wire: bytes) -> Prepared:
        wire = crlf_only(wire)
        head, body = split_message(wire)
        body_hash = base64.b64encode(hashlib.sha256(relaxed_body(body)).digest())
        fields = header_fields(head)
        names = tuple(name for name in SIGNED_HEADERS if name in fields)
        # Each name once per instance and once more (oversigned): `_signed_fields` follows.
        h_list = tuple(name for name in names for _ in range(len(fields[name]) + 1))
        signed = hashlib.sha256(b"".join(_signed_fields(fields, names)))
        timestamp = int(self._clock())
        heads = tuple(
            _head(key.tag, self.domain, key.selector, timestamp, h_list, body_hash)
            for key in self.keys
        )
        return Prepared(wire, heads, tuple(_digest(signed, head) for head in heads))

    def finish(self, prepared: Prepared, signatures: Digests) -> bytes:
        """The signed message: each key's header, with its signature, before the message."""
        parts = [
            head + _fold(base64.b64encode(signature)) + b"\r\n"
            for head, signature in zip(prepared.heads, signatures, strict=True)
        ]
        parts.append(prepared.wire)
        return b"".join(parts)

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()


def _digest(signed: hashlib._Hash, head: bytes) -> bytes:
    """SHA-256 of the signed fields and then this signature's own header, canonical,
    without its final CRLF (RFC 6376 3.7)."""
    hasher = signed.copy()
    # `head` is ours: single spaces, folded only by CRLF TAB, which relaxed makes a space.
    hasher.update(b"dkim-signature:" + head[_NAME:].replace(b"\r\n\t", b" "))
    return hasher.digest()


def _signed_fields(fields: dict[bytes, list[bytes]], names: tuple[bytes, ...]) -> list[bytes]:
    """The canonical fields in h= order: for a name listed n times, its last n instances,
    bottom up (RFC 6376 5.4.2); the extra, oversigned, name stands for no field at all."""
    out: list[bytes] = []
    for name in names:
        instances = fields[name]
        out.extend(relaxed_header(field) for field in reversed(instances))
    return out


@functools.lru_cache(maxsize=64)
def _h_tag(h_list: tuple[bytes, ...]) -> bytes:
    """`h=from:from:to:to:...`, folded before a colon where a line would grow too long."""
    lines = [b"h="]
    for k, name in enumerate(h_list):
        piece = name if k == 0 else b":" + name
        if len(lines[-1]) + len(piece) > _LINE - 1:
            lines.append(b"")
        lines[-1] += piece
    return b"\r\n\t".join(lines)


def _head(
    tag: str, domain: str, selector: str, timestamp: int, h_list: tuple[bytes, ...], bh: bytes
) -> bytes:
    return b"".join(
        (
            b"DKIM-Signature: v=1; a=%b; c=relaxed/relaxed; d=%b;\r\n\t"
            % (tag.encode("ascii"), domain.encode("ascii")),
            b"s=%b; t=%d;\r\n\t" % (selector.encode("ascii"), timestamp),
            _h_tag(h_list),
            b";\r\n\tbh=%b;\r\n\tb=" % bh,
        )
    )


def _fold(value: bytes) -> bytes:
    step = _LINE - 4
    return b"\r\n\t".join(value[i : i + step] for i in range(0, len(value), step))
