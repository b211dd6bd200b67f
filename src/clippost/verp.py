"""VERP return paths (pure): `bounces+<outbox id>-<tag>@<mail domain>`.

With `CLIPPOST_VERP=1` each SMTP message goes out with its own envelope sender, so the
bounce comes back to an address that names the message, even from a server whose bounce
quotes nothing of the original. The tag is an HMAC of the id: outbox ids count up, and
without it anyone could mail "bounces+1234@" a made-up bounce for another reader's message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable

LOCAL_PART = "bounces"
_TAG_CHARS = 10  # base32: 50 bits, more guesses than anyone can mail
_ADDRESS = re.compile(rf"{LOCAL_PART}\+(\d{{1,18}})-([a-z2-7]{{{_TAG_CHARS}}})@(\S+)", re.I)


def _tag(key: str, outbox_id: int) -> str:
    digest = hmac.new(key.encode(), f"clippost-verp:{outbox_id}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii")[:_TAG_CHARS].lower()


def return_path(outbox_id: int, *, domain: str, key: str) -> str:
    return f"{LOCAL_PART}+{outbox_id}-{_tag(key, outbox_id)}@{domain}"


def outbox_id_of(address: str, *, keys: Iterable[str]) -> int | None:
    """The outbox id a VERP address names, when its tag is right for one of `keys` (the
    current secret key and the old ones still accepted); None for anything else."""
    found = _ADDRESS.search(address)
    if found is None:
        return None
    outbox_id, tag = int(found.group(1)), found.group(2).lower()
    for key in keys:
        if hmac.compare_digest(tag, _tag(key, outbox_id)):
            return outbox_id
    return None
