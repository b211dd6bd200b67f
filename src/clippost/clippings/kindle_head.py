"""The head of a Kindle metadata line: the kind of entry, its page and its location.

"- Your Highlight on page 3 | Location 45-46 |" in any device language. A head is read
once per *shape* (its text with the numbers taken out) into a `HeadPlan`, which then reads
every head of that shape from its numbers alone: a file of 10,000 entries has a few dozen
shapes. Whatever the plan did not account for (a number outside the page and location, a
page or location word with no number after it) is a gap the parser reports, never drops.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from clippost.clippings.languages import LANGUAGES, RANGE_SEPARATORS
from clippost.clippings.models import Kind, ProblemKind


def _pattern(word: str) -> str:
    """A word as a regex: a space inside it matches any spacing, none included."""
    return r"\s*".join(re.escape(part) for part in word.split(" "))


def _alternation(words: Iterable[str]) -> str:
    """A regex alternation of `words`, longest first so "loc." never wins over "location"."""
    return "|".join(_pattern(w) for w in sorted(set(words), key=len, reverse=True))


def _merged_kinds() -> dict[str, Kind]:
    kinds: dict[str, Kind] = {}
    for lang in LANGUAGES:
        for word, kind in lang.kinds.items():
            if kinds.setdefault(word, kind) is not kind:
                raise ValueError(f"kind word {word!r} means two kinds across languages")
    return kinds


def _words(attr: str) -> list[str]:
    return [w for lang in LANGUAGES for w in getattr(lang, attr)]


def _kind_languages() -> dict[str, str | None]:
    """The language of each kind word, None when several languages share it ("note")."""
    found: dict[str, str | None] = {}
    for lang in LANGUAGES:
        for word in lang.kinds:
            found[word] = lang.code if found.get(word, lang.code) == lang.code else None
    return found


class _Grammar:
    """The head's regexes, twice: case-sensitive for lower-cased text (six times faster
    than IGNORECASE on these alternations), and case-insensitive for the rare head whose
    lower-casing changes its length ("İ"), where spans must stay those of the text."""

    def __init__(self, flags: int) -> None:
        range_ = rf"\s*(?:{_alternation(RANGE_SEPARATORS)})\s*"
        # A page is arabic or roman ("xiii"); the look-ahead stops "page l" matching
        # "page location".
        value = r"\d+|[ivxlcdm]+"
        self.kind: re.Pattern[str] = re.compile(_alternation(KINDS), flags)
        self.page = re.compile(
            rf"(?:{_alternation(_words('page_before'))})\s*((?:{value})(?:{range_}(?:{value}))?)"
            rf"(?![^\W\d_])"
            rf"|(\d+(?:{range_}\d+)?)\s*(?:{_alternation(_words('page_after'))})",
            flags,
        )
        self.range = re.compile(range_)
        self.location = re.compile(
            rf"(?:{_alternation(_words('location'))})\s*#?\s*(\d+)(?:{range_}(\d+))?", flags
        )
        self.page_word = re.compile(
            _alternation(_words("page_before") + _words("page_after")), flags
        )
        self.location_word = re.compile(_alternation(_words("location")), flags)


KINDS = _merged_kinds()
_KIND_LANGUAGE = _kind_languages()
_LOWER = _Grammar(0)
_ANY_CASE = _Grammar(re.IGNORECASE)
KIND_RE = _ANY_CASE.kind
NUMBER_RE = re.compile(r"\d+")


class HeadPlan:
    """How to read every metadata head of one shape (its text with the numbers taken out):
    the kind, which numbers are the page and the location, and what was not understood."""

    __slots__ = ("_location", "_page", "_page_text", "gap", "kind", "language")

    def __init__(self, head: str) -> None:
        number_at = {m.start(): i for i, m in enumerate(NUMBER_RE.finditer(head))}
        spans: list[tuple[int, int]] = []
        lowered = head.lower()
        grammar, text = (_LOWER, lowered) if len(lowered) == len(head) else (_ANY_CASE, head)
        kind_match = grammar.kind.search(text)
        word = kind_match.group().lower() if kind_match else ""
        # .get: a case-insensitive match may lower() to another spelling ("ſ" matches "s").
        self.kind: Kind | None = KINDS.get(word)
        self.language: str | None = _KIND_LANGUAGE.get(word)
        if kind_match:
            spans.append(kind_match.span())
        self._page: tuple[int, int | None] | None = None
        self._page_text: str | None = None
        page_match = grammar.page.search(text)
        if page_match is not None:
            spans.append(page_match.span())
            self._read_page(page_match, number_at, grammar)
        self._location: tuple[int, int | None] | None = None
        loc_match = grammar.location.search(text)
        if loc_match is not None:
            spans.append(loc_match.span())
            end = number_at[loc_match.start(2)] if loc_match.group(2) is not None else None
            self._location = (number_at[loc_match.start(1)], end)
        self.gap = _gap(text, spans, grammar)

    def _read_page(
        self, match: re.Match[str], number_at: dict[int, int], grammar: _Grammar
    ) -> None:
        group = 1 if match.group(1) is not None else 2
        inside = [i for at, i in number_at.items() if match.start(group) <= at < match.end(group)]
        if inside:
            self._page = (inside[0], inside[1] if len(inside) > 1 else None)
        else:  # roman numerals are part of the shape itself
            self._page_text = collapse_range(grammar.range.split(match.group(group)))

    def page(self, numbers: list[str]) -> str | None:
        if self._page is None:
            return self._page_text
        first, last = self._page
        return numbers[first] if last is None else collapse_range([numbers[first], numbers[last]])

    def location(self, numbers: list[str]) -> tuple[int | None, int | None]:
        if self._location is None:
            return None, None
        first, last = self._location
        start = int(numbers[first])
        if last is None:
            return start, start
        end_text = numbers[last]
        end = int(end_text)
        if end < start and len(end_text) < len(numbers[first]):
            # Old firmware abbreviates ranges: "5444-45" is 5444-5445.
            end = int(numbers[first][: -len(end_text)] + end_text)
        return start, end


def _gap(head: str, spans: list[tuple[int, int]], grammar: _Grammar) -> ProblemKind | None:
    """What the head holds beyond the spans read: a page, a location, or nothing."""
    rest = list(head)
    for start, end in spans:
        rest[start:end] = " " * (end - start)
    left = "".join(rest)
    if grammar.page_word.search(left):
        return ProblemKind.PAGE
    if grammar.location_word.search(left) or NUMBER_RE.search(left):
        return ProblemKind.LOCATION
    return None


def collapse_range(bounds: list[str]) -> str:
    """ "22" for "22-22" (how devices write a highlight on one page), else "a-b"."""
    if len(bounds) == 2 and bounds[0] == bounds[1]:
        return bounds[0]
    return "-".join(bounds)


# Head plans by shape, shared by every parse: a large file is parsed in pieces and a
# server parses many files of the same few dozen shapes. Bounded, as shapes come from
# uploads; a plan depends on its shape alone, so sharing never changes a result.
PLANS: dict[str, HeadPlan] = {}
_MAX_PLANS = 20_000
_NUMBER_SPLIT_RE = re.compile(r"(\d+)")


def plan_of(shape: str, head: str) -> HeadPlan:
    """The plan for `head`, whose shape is `shape`, made once and remembered."""
    if len(PLANS) >= _MAX_PLANS:
        PLANS.clear()
    plan = PLANS[shape] = HeadPlan(head)
    return plan


def read_head(head: str) -> tuple[HeadPlan, list[str]]:
    """(plan, numbers) of a head, the plan shared by every head of the same shape."""
    pieces = _NUMBER_SPLIT_RE.split(head)
    shape = "\x00".join(pieces[0::2])
    plan = PLANS.get(shape) or plan_of(shape, head)
    return plan, pieces[1::2]
