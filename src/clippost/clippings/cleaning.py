"""Text no database or email should hold, taken out of every entry a file yields.

An upload is untrusted text. PostgreSQL refuses a NUL in a text column (the whole import
fails), SQLite stores it and every later reader trips on it, and the other C0 and C1
controls (ESC, BEL, backspace, the 0x80-0x9F block a Windows-1252 mis-decoding leaves)
mean nothing in a passage but can rewrite a terminal or a mail client's rendering. Lone
surrogates (a SQLite upload can hold them) cannot be encoded as UTF-8 at all. Newlines and
tabs are the only controls a passage keeps; line ends are already LF (`decoding.py`).

Bidi controls are not removed: they are real text in right-to-left titles. Pages and
emails isolate them where they are shown (`<bdi>`, `dir="auto"`, `rendering.plaintext`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from clippost.clippings.models import RawEntry

_UNSTORABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def clean_text(text: str) -> str:
    """`text` without controls (but newline and tab) and lone surrogates."""
    # Nearly every title and passage is printable: no regex runs for them.
    if text.isprintable():
        return text
    return _UNSTORABLE.sub("", text)


def clean_entries(entries: Iterable[RawEntry]) -> None:
    """Clean every text field of `entries`, in place (the parser made them and nobody else
    holds them yet; see RawEntry on why entries are not rebuilt)."""
    for entry in entries:
        entry.title = clean_text(entry.title)
        entry.content = clean_text(entry.content)
        entry.title_line = clean_text(entry.title_line)
        if entry.author is not None:
            entry.author = clean_text(entry.author) or None
        if entry.note is not None:
            entry.note = clean_text(entry.note)
        if entry.page is not None:
            entry.page = clean_text(entry.page) or None
        if entry.color is not None:
            entry.color = clean_text(entry.color) or None
        if entry.tags:
            entry.tags = tuple(tag for tag in map(clean_text, entry.tags) if tag)
