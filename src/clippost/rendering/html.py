"""Text for HTML: escaped, with its line breaks kept."""

from __future__ import annotations

from markupsafe import Markup, escape


def lines(value: object) -> Markup:
    """Text for HTML with its line breaks kept: escaped, each newline a <br>."""
    text = str(value)
    if "\n" not in text:
        return escape(text)
    return Markup("<br>\n").join(escape(line) for line in text.splitlines())
