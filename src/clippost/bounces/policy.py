"""What a delivery event calls for (pure): suppress the address, unsubscribe the reader.

A hard bounce or a complaint suppresses at once; a complaint also unsubscribes the reader
and cancels their queued digests (mailbox providers require complainers to get no more bulk
mail). Soft bounces suppress once `limit` distinct messages soft-bounced within the window,
this one included: one full mailbox is no reason to stop, a month of them is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from clippost.bounces.events import EventKind
from clippost.models.suppression import SuppressionReason

_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")


@dataclass(frozen=True, slots=True)
class Verdict:
    suppress: SuppressionReason | None = None
    unsubscribe: bool = False  # the reader leaves and their queued digests are cancelled


NOTHING = Verdict()


def verdict(kind: EventKind, *, soft_bounces: int, soft_limit: int) -> Verdict:
    """The action for one new event; `soft_bounces` counts the window's, this one included."""
    if kind is EventKind.COMPLAINT:
        return Verdict(SuppressionReason.COMPLAINED, unsubscribe=True)
    if kind is EventKind.HARD_BOUNCE:
        return Verdict(SuppressionReason.BOUNCED)
    if kind is EventKind.SOFT_BOUNCE and soft_bounces >= soft_limit:
        return Verdict(SuppressionReason.BOUNCED)
    return NOTHING


def bounce_kind(status: str) -> EventKind | None:
    """A failed delivery's status code (RFC 3463, e.g. "5.1.1") as a bounce kind.

    The rule the SMTP transport applies to its own replies: 5.1.x (bad address) and 5.2.1
    (mailbox disabled) are hard; every other 5.x.x (mailbox full, policy, content) and
    every 4.x.x are soft, since the address may work tomorrow. None without a status.
    """
    found = _STATUS.search(status)
    if found is None:
        return None
    klass, subject, detail = found.groups()
    if klass == "5" and (subject == "1" or (subject, detail) == ("2", "1")):
        return EventKind.HARD_BOUNCE
    if klass in ("4", "5"):
        return EventKind.SOFT_BOUNCE
    return None
