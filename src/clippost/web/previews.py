"""The next digest as the site shows it: the planner's payload (exactly what will be sent,
`planner.service.preview_digest`) turned into passages the page templates can show.

Read with `.get`: the payload belongs to the planner and the email templates, and a field
they add or drop must not break a page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from clippost.db.engine import Database
from clippost.planner.service import preview_digest
from clippost.runtime import Runtime


@dataclass(frozen=True, slots=True)
class PreviewPassage:
    text: str
    book_title: str
    book_author: str | None
    note: str | None
    page: str | None
    location_start: int | None
    location_end: int | None
    highlighted_at: datetime | None


@dataclass(frozen=True, slots=True)
class DigestPreview:
    highlights: list[PreviewPassage]


async def next_digest(runtime: Runtime, subscriber_id: int, now: datetime) -> DigestPreview | None:
    """The reader's next digest, chosen as the planner will choose it; None for none."""
    db: Database = runtime.db
    payload = await preview_digest(db, subscriber_id, runtime.context(now))
    if not payload:
        return None
    passages = [_passage(item) for item in payload.get("highlights", ()) if isinstance(item, dict)]
    return DigestPreview(passages) if passages else None


def _passage(item: Mapping[str, Any]) -> PreviewPassage:
    return PreviewPassage(
        text=str(item.get("text", "")),
        book_title=str(item.get("book_title", "")),
        book_author=item.get("book_author"),
        note=item.get("note"),
        page=item.get("page"),
        location_start=item.get("location_start"),
        location_end=item.get("location_end"),
        highlighted_at=_moment(item.get("highlighted_at") or item.get("highlighted_on")),
    )


def _moment(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None
