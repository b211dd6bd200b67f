"""Book titles and authors from an upload, as an email may carry them: short, and never
a link.

A title is whatever the uploader typed, and the confirmation email goes to an address
nobody has confirmed yet: without this, a 10,000-character "title" holding a phishing URL
77 times would go out from the site's own domain (issue 9). So every title and author an
email shows is one line, cut to `LABEL_CHARS` with an ellipsis, and unlinked.

Unlinking must beat every mail client's linkifier (Gmail, Outlook, Apple Mail link
`https://...`, `www.x.y` and bare `x.com` in the plain text *and* in HTML, whatever the
markup says). Zero-width characters do not: clients strip or ignore them before linking,
and copying the text gives the URL back. What works is that the text holds no URL at all:
every ASCII full stop between two visible characters becomes U+2024 ONE DOT LEADER, and
the slashes of `://` become U+2215 DIVISION SLASH. Both look the same in every font a mail
client uses, so "Node.js in Action" or "J.R.R. Tolkien" read as they were written, but no
host name, address or scheme is left for a linkifier to find (the ideographic and
fullwidth full stops, which IDNA treats as dots, go the same way before a Latin letter).
"""

from __future__ import annotations

import re

from clippost.rendering.plaintext import one_line

LABEL_CHARS = 120
_ELLIPSIS = "\u2026"
_DOT_LEADER = "\u2024"
_DIVISION_SLASH = "\u2215"
# A full stop with a visible character on each side (inside a host name, an address, an
# abbreviation: only its look is kept), and IDNA's other dots before a letter or digit.
_LINKABLE_DOT = re.compile(r"(?<=\S)\.(?=\S)|[\u3002\uff0e\uff61](?=[A-Za-z0-9])")
_SCHEME_SLASHES = re.compile(r":/+")


def label(value: object, limit: int = LABEL_CHARS) -> str:
    """`value` on one line, at most `limit` characters (the last an ellipsis when cut),
    with nothing a mail client could turn into a link."""
    text = one_line("" if value is None else value)
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + _ELLIPSIS
    return unlinked(text)


def unlinked(text: str) -> str:
    """`text` looking the same, holding no host name, address or URL scheme."""
    if "." not in text and ":/" not in text and not _has_wide_dot(text):
        return text  # most titles
    text = _SCHEME_SLASHES.sub(lambda found: ":" + _DIVISION_SLASH * (len(found[0]) - 1), text)
    return _LINKABLE_DOT.sub(_DOT_LEADER, text)


def _has_wide_dot(text: str) -> bool:
    return "\u3002" in text or "\uff0e" in text or "\uff61" in text
