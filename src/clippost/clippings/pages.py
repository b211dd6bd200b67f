"""Pages in reading order: front matter (roman numerals) before numbered pages."""

from __future__ import annotations

_ROMAN = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100, "d": 500, "m": 1000}


def page_key(page: str | None) -> tuple[int, int, str]:
    """Front matter (roman numerals) before numbered pages, anything else after."""
    if page is None:
        return (0, 0, "")
    if page.isdigit():
        return (2, int(page[:9]), "")
    lowered = page.casefold()
    if lowered and all(ch in _ROMAN for ch in lowered):
        return (1, roman(lowered), "")
    return (3, 0, page)


def roman(numeral: str) -> int:
    total = 0
    for ch, nxt in zip(numeral, [*numeral[1:], ""], strict=True):
        value = _ROMAN[ch]
        total += -value if nxt and _ROMAN[nxt] > value else value
    return total
