"""A digest's stored payload, version 2 of the contract in docs/email.md.

The planner stores what the database holds, as it holds it (the renderer trims passages,
orders authors, formats dates at send time), plus the reader's locale, timezone, slot and
schedule, so the renderer's v2 path dates the email on the reader's clock and says why it
comes. `per_email` is not shown: it records the number the reader asked for when the digest
was planned (the library may have held fewer), for the sender's claim-time re-check.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row

from clippost.links import Links, Purpose
from clippost.selection import RoundStatus


class PayloadMaker:
    """Digest payloads at one moment: the per-highlight and unsubscribe links are signed
    with keys prepared once (`Links.url_maker`), the same URLs `Links.url` writes."""

    def __init__(self, links: Links, *, now: datetime) -> None:
        self._links, self._now = links, now
        self._favourite = links.url_maker(Purpose.FAVOURITE, now=now)
        self._discard = links.url_maker(Purpose.DISCARD, now=now)
        self._passage = links.url_maker(Purpose.PASSAGE, now=now)
        self._unsubscribe = links.url_maker(Purpose.UNSUBSCRIBE, now=now)

    def digest(
        self,
        reader: Row[Any],
        *,
        slot: datetime,
        chosen: Sequence[Row[Any]],
        round_status: RoundStatus,
    ) -> dict[str, Any]:
        """The payload of `reader`'s digest for `slot`, showing the `chosen` rows in order."""
        payload: dict[str, Any] = {
            "v": 2,
            "timezone": reader.timezone,
            "slot": slot.isoformat(),
            "schedule": schedule_of(reader),
            "per_email": reader.per_email,
            "highlights": [self._highlight(row, str(reader.link_generation)) for row in chosen],
            "round_status": {"position": round_status.position, "total": round_status.total},
            "manage_url": self._links.email_manage_url(
                reader.id, reader.link_generation, now=self._now
            ),
            "unsubscribe_url": self._unsubscribe(reader.id),
        }
        language = reader.locale or reader.library_locale
        if language:
            payload["locale"] = language
        return payload

    def _highlight(self, row: Row[Any], generation: str) -> dict[str, Any]:
        # The links name the reader's link generation, as manage links do: "sign out all my
        # links" revokes them too (library.service checks it).
        made = row.highlighted_at
        return {
            "id": row.id,  # not shown: the reader's export lists what each digest held
            "text": row.text,
            "book_title": row.title,
            "book_author": row.author,
            "note": row.note,
            "page": row.page,
            "location_start": row.location_start,
            "location_end": row.location_end,
            "highlighted_on": made.date().isoformat() if made is not None else None,
            "favourite": bool(row.favourite),
            "favourite_url": self._favourite(row.id, generation),
            "discard_url": self._discard(row.id, generation),
            "passage_url": self._passage(row.id, generation),
        }


def schedule_of(reader: Row[Any]) -> dict[str, Any]:
    """The reader's schedule as the payload's `schedule` object."""
    return {
        "cadence": reader.cadence,
        "hour": reader.hour,
        "weekday": reader.weekday,
        "day_of_month": reader.day_of_month,
        "timezone": reader.timezone,
    }
