"""Search terms marked in what the manage page shows: `<mark>` around each match, the rest
escaped, so a passage's own `<b>` stays text and a search never becomes markup."""

from __future__ import annotations

import re

from markupsafe import Markup, escape

# A query longer than this is marked as typed, without splitting (the search is one phrase).
_MAX_TERM = 200


def mark_terms(text: str | None, query: str) -> Markup:
    """`text` escaped, every case-insensitive occurrence of `query` in a `<mark>`."""
    if not text:
        return Markup("")
    term = query.strip()[:_MAX_TERM]
    if not term:
        return escape(text)
    pattern = re.compile(re.escape(term), re.IGNORECASE)
    pieces: list[str] = []
    last = 0
    for match in pattern.finditer(text):
        pieces.append(escape(text[last : match.start()]))
        pieces.append(Markup("<mark>%s</mark>") % match.group(0))
        last = match.end()
    pieces.append(escape(text[last:]))
    return Markup("").join(pieces)
