"""The seeds, and the one source of randomness: a hash, the same in every process.

Which highlights a digest holds needs no randomness at all (the lowest turns go first). The
seed moves only the turns written after a send (a little jitter, so that a round is not the
previous one replayed) and the turns of newly placed highlights. A preview of the next digest
and the planner must therefore both call `plan_digest` with `digest_seed(subscriber, slot)`
for the slot the digest is for: then the preview is the digest, its round position included.
"""

from __future__ import annotations

import hashlib

_SCALE = float(1 << 64)


def digest_seed(subscriber_id: int, slot_key: str) -> str:
    """The seed of one scheduled digest (`slot_key` as planner.slots.slot_key writes it)."""
    return f"digest:{subscriber_id}:{slot_key}"


def placement_salt(subscriber_id: int) -> str:
    """The salt that places a reader's new highlights (imports, restores, a book's return)."""
    return f"place:{subscriber_id}"


def unit(*parts: object) -> float:
    """A number in [0, 1) that depends only on `parts` (BLAKE2b, not Python's salted hash)."""
    text = "\x1f".join(map(str, parts)).encode()
    digest = hashlib.blake2b(text, digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE
