"""A digest's stored payload, version 3 of the contract in docs/email.md.

The planner stores what the database holds, as it holds it (the renderer trims passages,
orders authors, formats dates at send time), plus the reader's locale, timezone, slot and
schedule, so the renderer dates the email on the reader's clock and says why it comes.
Each passage carries one signed HIGHLIGHT token, from which the renderer makes its
favourite, never-again and whole-passage links (`links.urls.highlight_urls`): a third of
the signing, and a payload a third smaller, than three URLs each. `per_email` is not
shown: it records the number the reader asked for when the digest was planned (the library
may have held fewer), for the sender's claim-time re-check.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from clippost.links import Links, Purpose
from clippost.selection import RoundStatus

if TYPE_CHECKING:  # the repository reads `Content` from here
    from clippost.planner.repository import DueReader

# What the payload shows of one chosen highlight, with its book (`repository.contents`):
# id, text, note, page, location start and end, the day it was highlighted (ISO text),
# favourite, title, author.
Content = tuple[
    int, str, str | None, str | None, int | None, int | None, str | None, bool, str, str | None
]


class PayloadMaker:
    """Digest payloads at one moment: every link is signed with keys prepared once
    (`Links.token_maker`, `Links.url_maker`), the same tokens `Links.token` writes.

    The planner makes one per batch and a payload per reader: the highlights' objects are
    built in one comprehension, not a call each, and a slot's ISO form is worked out once
    per slot (a batch's readers share an hour or two)."""

    def __init__(self, links: Links, *, now: datetime) -> None:
        self._highlight_token = links.token_maker(Purpose.HIGHLIGHT, now=now)
        self._unsubscribe = links.url_maker(Purpose.UNSUBSCRIBE, now=now)
        # `Links.email_manage_url`, prepared.
        self._manage = links.url_maker(Purpose.MANAGE, now=now, ttl=links.email_manage_ttl)
        self._slots: dict[datetime, str] = {}

    def digest(
        self,
        reader: DueReader,
        *,
        slot: datetime,
        chosen: Sequence[Content],
        round_status: RoundStatus,
    ) -> dict[str, Any]:
        """The payload of `reader`'s digest for `slot`, showing the `chosen` rows in order."""
        reader_id, timezone = reader.id, reader.timezone
        # The highlights' links name the reader's link generation, as manage links do: "sign
        # out all my links" revokes them too (library.service checks it).
        generation = str(reader.link_generation)
        token = self._highlight_token
        slot_text = self._slots.get(slot)
        if slot_text is None:
            slot_text = self._slots[slot] = slot.isoformat()
        payload: dict[str, Any] = {
            "v": 3,
            "timezone": timezone,
            "slot": slot_text,
            "schedule": {
                "cadence": reader.cadence,
                "hour": reader.hour,
                "weekday": reader.weekday,
                "day_of_month": reader.day_of_month,
                "timezone": timezone,
            },
            "per_email": reader.per_email,
            "highlights": [
                {
                    "id": hid,  # not shown: the reader's export lists what each digest held
                    "text": text,
                    "book_title": title,
                    "book_author": author,
                    "note": note,
                    "page": page,
                    "location_start": start,
                    "location_end": end,
                    "highlighted_on": day,
                    "favourite": bool(favourite),
                    "link": token(hid, generation),
                }
                for hid, text, note, page, start, end, day, favourite, title, author in chosen
            ],
            "round_status": {"position": round_status.position, "total": round_status.total},
            "manage_url": self._manage(reader_id, generation),
            "unsubscribe_url": self._unsubscribe(reader_id),
        }
        language = reader.locale or reader.library_locale
        if language:
            payload["locale"] = language
        return payload
