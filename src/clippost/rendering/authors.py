"""Authors in natural order, as a reader says them: "Attia MD, Peter" -> "Peter Attia".

Kindle stores the author the way the book's metadata had it, which for store books is the
library form "Surname, Given" ("Tolkien, J. R. R."), several authors joined by ";"
("Levitt, Steven D.; Dubner, Stephen J."), post-nominal degrees included ("Attia MD,
Peter"). Sideloaded books usually have the natural form already ("Peter Attia, MD").
The rules, in order:
- ";" (and " & ") separate authors;
- a name in a CJK script is left exactly as written: family name first is its natural order;
- degrees (MD, PhD, ...) are dropped; generational suffixes (Jr., Sr., II, III, IV) are kept
  and go after the surname;
- "A, B" is "B A", unless A is itself a whole name (it holds an initial before its last word,
  "Steven D. Levitt", or three or more words): then A and B are two authors;
- "A, B, C, D" with an even count is two inverted names, otherwise a list of whole names.
Pure and cached: a library has few authors and every digest names several.
"""

from __future__ import annotations

import re
from functools import lru_cache

_AUTHORS = re.compile(r"\s*;\s*|\s+&\s+")
# Hangul, CJK radicals to Yi (kana and ideographs included), compatibility ideographs,
# halfwidth and fullwidth forms.
_CJK = re.compile(r"[\u1100-\u11ff\u2e80-\ua4cf\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")
_DEGREES = frozenset(
    {"md", "m.d.", "phd", "ph.d.", "dphil", "d.phil.", "mba", "msc", "m.sc.", "mph", "dds"}
    | {"jd", "j.d.", "edd", "ed.d.", "psyd", "psy.d.", "rn", "esq", "esq.", "frcp", "facs"}
)
_SUFFIXES = frozenset({"jr", "jr.", "sr", "sr.", "ii", "iii", "iv"})
_INITIAL = re.compile(r"(?:\w\.)+|[A-Z]")


@lru_cache(maxsize=8192)
def natural_authors(raw: str | None) -> tuple[str, ...]:
    """Each author of `raw` in natural order; () when there is none."""
    if not raw or not raw.strip():
        return ()
    names: list[str] = []
    for chunk in _AUTHORS.split(" ".join(raw.split())):
        if chunk:
            names.extend(_names(chunk))
    return tuple(names)


def natural_author(raw: str | None) -> str:
    """The authors of `raw` in natural order, joined with ", " (locale-free form)."""
    return ", ".join(natural_authors(raw))


def _names(chunk: str) -> list[str]:
    """The names in one author field chunk (no ";" in it)."""
    if _CJK.search(chunk):
        return [chunk]
    suffixes: list[str] = []
    parts = [_tokens(part, suffixes) for part in chunk.split(",")]
    parts = [part for part in parts if part]
    if not parts:
        return [chunk]
    if len(parts) % 2 == 0 and not any(_whole_name(part) for part in parts[::2]):
        people = [parts[i + 1] + parts[i] for i in range(0, len(parts), 2)]
    else:
        people = parts
    # A generational suffix belongs to one person: with several, the last is the best guess.
    return [" ".join(person) for person in people[:-1]] + [" ".join(people[-1] + suffixes)]


def _tokens(part: str, suffixes: list[str]) -> list[str]:
    """The words of `part` without degrees; generational suffixes move to `suffixes`."""
    kept: list[str] = []
    for word in part.split():
        lowered = word.lower()
        if lowered in _SUFFIXES:
            suffixes.append(word)
        elif lowered not in _DEGREES:
            kept.append(word)
    return kept


def _whole_name(words: list[str]) -> bool:
    """Whether the words before a comma are a whole name, not a surname."""
    return len(words) >= 3 or any(_INITIAL.fullmatch(word) for word in words[:-1])
