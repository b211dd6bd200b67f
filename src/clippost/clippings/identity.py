"""Stable identities for books and highlights, so that re-imports merge rather than duplicate.

An identity is the first 32 hex digits of a SHA-256 over normalised text: the same book or
passage, imported again from another device language, another export format or after a
cosmetic edit (case, spacing, a trailing full stop), gets the same identity.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_WORD = re.compile(r"\w+")
# Trailing punctuation a re-highlight often gains or loses; trimmed so identity survives it.
_TRAILING = ".,;:!?…。、，；：！？\"'“”‘’»«)]"


def normalise_text(text: str) -> str:
    """NFKC, casefold, U+FEFF removed, whitespace collapsed, trailing punctuation trimmed."""
    if not text.isascii():
        if not unicodedata.is_normalized("NFKC", text):
            text = unicodedata.normalize("NFKC", text)
        text = text.replace("\ufeff", "")
    folded = text.casefold()
    # Every whitespace character but the space is unprintable, so printable text without a
    # double space only needs its ends trimmed: a third of the time of split and join,
    # and most highlights are like that.
    if folded.isprintable() and "  " not in folded:
        collapsed = folded.strip(" ")
    else:
        collapsed = " ".join(folded.split())
    return collapsed.rstrip(_TRAILING).rstrip()


def normalise_title(title: str) -> str:
    """A title compared without case, spacing or U+FEFF differences."""
    if not title.isascii():
        title = unicodedata.normalize("NFKC", title.replace("\ufeff", ""))
    return " ".join(title.casefold().split())


def normalise_author(author: str | None) -> str:
    """The sorted words of the author field.

    "Austen, Jane" and "Jane Austen", "Pratchett; Gaiman" and "Gaiman; Pratchett",
    "J.R.R. Tolkien" and "Tolkien, J. R. R." all give the same string: devices, apps and
    services disagree on name order, separators and initials, never on the words.
    """
    if not author:
        return ""
    words = _WORD.findall(unicodedata.normalize("NFKC", author).casefold())
    return " ".join(sorted(words))


def _digest(first: str, second: str) -> str:
    return hashlib.sha256(f"{first}\x1f{second}".encode()).hexdigest()[:32]


def book_identity(title: str, author: str | None) -> str:
    """Identity of a book: normalised title and author, hashed."""
    return _digest(normalise_title(title), normalise_author(author))


def highlight_identity(book_id: str, text: str) -> str:
    """Identity of a highlight: its book's identity and its normalised text, hashed."""
    return _digest(book_id, normalise_text(text))


def identity_of_normalised(book_id: str, normalised_text: str) -> str:
    """`highlight_identity` for text already passed through `normalise_text` (merge's path)."""
    return _digest(book_id, normalised_text)
