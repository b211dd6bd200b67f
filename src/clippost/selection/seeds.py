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
_MASK = (1 << 64) - 1


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


def seed_base(seed: str) -> int:
    """A seed as a 64-bit integer, for `keyed_unit` (one hash per digest, not per highlight)."""
    return int.from_bytes(hashlib.blake2b(seed.encode(), digest_size=8).digest(), "big")


def keyed_unit(base: int, key: int) -> float:
    """A number in [0, 1) from a seed base and an integer key: SplitMix64's finaliser, a few
    integer operations (the planner jitters every sent highlight with one)."""
    x = (base ^ key) + 0x9E3779B97F4A7C15 & _MASK
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9 & _MASK
    x = (x ^ (x >> 27)) * 0x94D049BB133111EB & _MASK
    return (x ^ (x >> 31)) / _SCALE
