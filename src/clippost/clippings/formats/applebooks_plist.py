"""Apple Books on iOS: `com.apple.ibooks-sync.plist` (annotations) and `Books.plist` (titles).

The sync plist keeps its annotations under `Bookmark-Container-<date> → Bookmarks`, with
the macOS column names without their Z (`annotationSelectedText`...). `Books.plist` lists
books with their `Package Hash`, which is the annotations' `annotationAssetID`, `Name`
(the title) and `Artist` (the author). Both are property lists, XML or binary.
"""

from __future__ import annotations

import plistlib
from typing import Any

from clippost.clippings.formats.applebooks import Annotation
from clippost.clippings.formats.base import clean, integer, utc_from_apple

BINARY_MAGIC = b"bplist00"
_ASSET_KEYS = ("Package Hash", "Asset ID", "assetID", "Asset Id")


def looks_like_plist(data: bytes) -> bool:
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    return data.startswith(BINARY_MAGIC) or (head.startswith(b"<?xml") and b"<plist" in data[:1024])


def load(data: bytes) -> Any:
    """The property list in `data`, or None when it is not one."""
    try:
        return plistlib.loads(data)
    except Exception:
        return None


def annotations_of(document: Any) -> list[Annotation] | None:
    """The live annotations of a sync plist, or None when `document` is not one."""
    if not isinstance(document, dict):
        return None
    container = next(
        (v for k, v in document.items() if str(k).startswith("Bookmark-Container")), None
    )
    items = container.get("Bookmarks") if isinstance(container, dict) else None
    if not isinstance(items, list):
        return None
    return [_annotation(item) for item in items if isinstance(item, dict) and _live(item)]


def books_of(document: Any) -> dict[str, tuple[str | None, str | None]] | None:
    """Title and author by asset id from a Books.plist, or None when it is not one."""
    listed = document.get("Books") if isinstance(document, dict) else None
    if not isinstance(listed, list):
        return None
    found: dict[str, tuple[str | None, str | None]] = {}
    for book in listed:
        if not isinstance(book, dict):
            continue
        title, author = clean(book.get("Name") or book.get("Title")), clean(book.get("Artist"))
        for key in _ASSET_KEYS:
            asset = clean(book.get(key))
            if asset:
                found[asset] = (title, author)
    return found


def _live(item: dict[str, Any]) -> bool:
    return not integer(item.get("annotationDeleted"))


def _annotation(item: dict[str, Any]) -> Annotation:
    return Annotation(
        asset=clean(item.get("annotationAssetID")),
        text=clean(item.get("annotationSelectedText")),
        note=clean(item.get("annotationNote")),
        created=utc_from_apple(item.get("annotationCreationDate")),
        kind=integer(item.get("annotationType")),
        style=integer(item.get("annotationStyle")),
        created_raw=item.get("annotationCreationDate"),
    )
