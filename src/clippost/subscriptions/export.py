"""The JSON export: everything clippost knows about the reader, in one document.

The library (books, highlights, verdicts, how often each was sent: `library/export.py`),
and beside it what the rest of clippost holds: the address, its status and its dates, the
schedule and language, whether the address is suppressed, the history of the digests sent
(when, and which highlights each held) and the uploads still waiting for their link (with
what they hold). A reader asking "what do you have on me?" gets this file (GDPR art. 15).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from clippost import suppressions
from clippost.addresses import address_hash
from clippost.errors import InvalidLink
from clippost.library.export import json_file
from clippost.library.service import library_document
from clippost.library.views import ExportFile
from clippost.models import PendingImport, Subscriber
from clippost.outbox import repository as outbox
from clippost.subscriptions import pending as pending_codec
from clippost.subscriptions import repository as repo
from clippost.subscriptions.common import GONE

# Version 2: the reader, history and pending_uploads sections joined the library's.
EVERYTHING_VERSION = 2


async def export_everything(session: AsyncSession, subscriber_id: int) -> ExportFile:
    """The reader's whole JSON export (the manage page's "JSON" download)."""
    subscriber = await repo.by_id(session, subscriber_id)
    if subscriber is None:
        raise InvalidLink(GONE)
    document = await library_document(session, subscriber_id)
    document["version"] = EVERYTHING_VERSION
    document["reader"] = await _reader(session, subscriber)
    document["history"] = [
        _digest(due_at, finished_at, payload)
        for due_at, finished_at, payload in await outbox.sent_digests(session, subscriber_id)
    ]
    document["pending_uploads"] = [
        _pending(row) for row in await repo.pending_imports_of(session, subscriber_id)
    ]
    return json_file(document)


async def _reader(session: AsyncSession, subscriber: Subscriber) -> dict[str, Any]:
    preferences = repo.preferences_of(subscriber)
    return {
        "email": subscriber.email,
        "status": subscriber.status,
        "signed_up_at": _time(subscriber.created_at),
        "confirmed_at": _time(subscriber.confirmed_at),
        "unsubscribed_at": _time(subscriber.unsubscribed_at),
        "locale": subscriber.locale,
        "schedule": {**preferences.to_json(), "in_words": preferences.schedule().describe()},
        "next_digest_at": _time(subscriber.next_slot_at),
        "suppressed": await suppressions.suppression_reason(
            session, address_hash(subscriber.email)
        ),
    }


def _digest(
    due_at: datetime, finished_at: datetime | None, payload: dict[str, Any]
) -> dict[str, Any]:
    highlights = payload.get("highlights") or []
    return {
        "due_at": _time(due_at),
        "sent_at": _time(finished_at),
        # Digests planned before ids were stored carry none: their texts still say.
        "highlight_ids": [item["id"] for item in highlights if "id" in item],
        "highlights": [str(item.get("text", "")) for item in highlights],
    }


def _pending(row: PendingImport) -> dict[str, Any]:
    content = pending_codec.decode(row.payload)
    books = content.library.books if content.library is not None else ()
    return {
        "uploaded_at": _time(row.created_at),
        "link_expires_at": _time(row.expires_at),
        "applied_at": _time(row.applied_at),
        "book_count": row.book_count,
        "highlight_count": row.highlight_count,
        "preferences": content.preferences.to_json() if content.preferences else None,
        "books": [
            {
                "title": book.title,
                "author": book.author,
                "highlights": [highlight.text for highlight in book.highlights],
            }
            for book in books
        ],
    }


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment is not None else None
