"""Read a Kindle `My Clippings.txt` written in any device language.

The file is a run of blocks separated by a line of ten "=" signs. A block is a title line,
a metadata line ("- Your Highlight on page 3 | location 45-46 | Added on ..."), a blank
line and the content. Every language-specific word comes from `languages.py`; the
metadata line is read by two grammars built from those words: `kindle_head` (kind, page,
location) and `kindle_dates` (the date). Whatever is present but not understood becomes a
`Problem` with its line and text, and the entry is kept without that field.

Speed matters (uploads of tens of megabytes are parsed while the reader waits): the text is cut
with `str.find` one block at a time (never copied as a whole), and what repeats from entry
to entry is memoised per call: the title/author split, the date of a day and what follows
its time, and the reading of a metadata head per "shape" (its text with the numbers taken
out), so the language regexes run once per shape instead of once per entry.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime

from clippost.clippings.kindle_dates import DateReader, alternation, has_added_words
from clippost.clippings.kindle_head import KIND_RE, PLANS, plan_of
from clippost.clippings.languages import LANGUAGES, METADATA_DASHES, SEPARATOR
from clippost.clippings.models import Kind, Problem, ProblemKind, RawEntry
from clippost.clippings.problems import EARLIEST, latest

_BLANK_START = ("\n", " ", "\t", "\r", "\ufeff")
_BLANK = " \t\r\ufeff"
_DASHES = tuple(METADATA_DASHES)

# How far into a file detection looks, and how many blocks it tries.
_DETECT_CHARS = 16_384
_DETECT_BLOCKS = 5


_ADDED_SPLIT_RE = re.compile(
    alternation(w for lang in LANGUAGES for w in lang.added), re.IGNORECASE
)
_LIMIT_RE = re.compile(
    alternation(w for lang in LANGUAGES for w in lang.limit_words), re.IGNORECASE
)
_LEADING_BLANK_RE = re.compile(r"[ \t\r\n\ufeff]*")
_NUMBER_SPLIT_RE = re.compile(r"(\d+)")


def parse_kindle_txt(
    text: str, *, today: date | None = None
) -> tuple[list[RawEntry], list[Problem]]:
    """Every entry of a `My Clippings.txt`, in file order, and what it could not read.

    Never raises: a block without a readable metadata line becomes a `Problem` and the
    parse goes on with the next block; a date, page or location present but not
    understood is a `Problem` too, and the entry is kept without it. A date before 2007,
    or (given `today`) after tomorrow, is reported and left out.
    """
    if "\n" not in text and "\r" in text:  # old Mac line ends: CR only
        text = _normalise(text)
    entries: list[RawEntry] = []
    problems: list[Problem] = []
    parser = _Parser(problems, today)
    position = 0
    for line, raw_block in _blocks(text):
        # Normalised block by block, not as a whole: a copy of a large upload is memory.
        block = _normalise(raw_block)
        if not block or block.isspace():
            continue
        position += 1
        try:
            result = parser.block(block, position, line)
        except (ValueError, OverflowError, IndexError, KeyError) as exc:
            # Not expected on any input; if it happens, one entry is lost, not the file.
            result = Problem(position, line, f"this entry could not be read ({exc})")
        if isinstance(result, RawEntry):
            entries.append(result)
        else:
            problems.append(result)
    return entries, problems


def looks_like_kindle_txt(text: str) -> bool:
    """Whether `text` reads as a `My Clippings.txt`: a separator line and, in one of the
    first few blocks, a metadata line naming a kind of entry or the date it was added."""
    head = _normalise(text[:_DETECT_CHARS])
    if SEPARATOR not in head:
        return False
    for count, (_line, block) in enumerate(_blocks(head)):
        if count >= _DETECT_BLOCKS:
            break
        found = _find_metadata(block.strip().split("\n"))
        if found is not None:
            meta = found[1]
            if KIND_RE.search(meta) or has_added_words(meta):
                return True
    return False


def _normalise(text: str) -> str:
    """Drop U+FEFF (devices write one before titles) and make every line end in LF."""
    if "\ufeff" in text:
        text = text.replace("\ufeff", "")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _blocks(text: str) -> Iterator[tuple[int, str]]:
    """(line of the block's first non-blank line, block text) for each separated block.

    A separator counts only on a line of its own, so a highlight quoting "==========" in
    the middle of a line does not split an entry.
    """
    pos, line, size = 0, 1, len(text)
    search = 0
    while pos <= size:
        idx = text.find(SEPARATOR, search)
        if idx < 0:
            yield _first_line(text, pos, line), text[pos:]
            return
        eol = text.find("\n", idx)
        if eol < 0:
            eol = size
        if (idx > 0 and text[idx - 1] != "\n") or text[idx + len(SEPARATOR) : eol].strip(_BLANK):
            search = idx + 1
            continue
        first = line if text[pos : pos + 1] not in _BLANK_START else _first_line(text, pos, line)
        yield first, text[pos:idx]
        line += text.count("\n", pos, eol) + 1
        pos = search = eol + 1


def _first_line(text: str, pos: int, line: int) -> int:
    """The line number of the first non-blank line at or after `pos` (which is on `line`)."""
    blank = _LEADING_BLANK_RE.match(text, pos)
    return line + text.count("\n", pos, blank.end()) if blank else line


def _find_metadata(lines: list[str]) -> tuple[int, str] | None:
    """(index, line) of the metadata line: the first dash-led line after a non-blank one.

    Third-party tools sometimes write a marker line ("######Knotes######") before the
    title, so the title is the line right above the metadata, wherever that is.
    """
    for i in range(1, len(lines)):
        candidate = lines[i].lstrip()
        if candidate.startswith(_DASHES) and lines[i - 1].strip():
            return i, candidate
    return None


class _Parser:
    """Per-call memos of what repeats across entries: titles and dates (head plans are
    shared by every call, see `kindle_head.PLANS`)."""

    def __init__(self, problems: list[Problem], today: date | None) -> None:
        self._titles: dict[str, tuple[str, str | None]] = {}
        self._dates = DateReader()
        self._problems = problems
        self._latest = latest(today)

    def block(self, block: str, position: int, line: int) -> RawEntry | Problem:
        # The hot path of the whole import: one entry, a few C-level string operations,
        # memo lookups for everything that repeats between entries.
        if block[:1] in _BLANK_START:
            block = block.lstrip()
        title_end = block.find("\n")
        meta_end = block.find("\n", title_end + 1)
        if meta_end < 0:
            meta_end = len(block)
        meta = block[title_end + 1 : meta_end]
        meta_line = line + 1
        if title_end > 0 and meta.startswith(_DASHES):
            title_line = block[:title_end].strip()
            content = block[meta_end + 1 :].strip()
        else:
            lines = block.split("\n")
            found = _find_metadata(lines)
            if found is None:
                return Problem(position, line, _no_metadata_reason(lines))
            index, meta = found
            meta_line = line + index
            title_line = lines[index - 1].strip()
            content = "\n".join(lines[index + 1 :]).strip()
        bar = meta.rfind("|")
        if bar >= 0:
            head, segment = meta[:bar], meta[bar + 1 :]
        else:
            head, segment = _split_without_bar(meta)
        added_at, language = self._dates.read(segment) if segment else (None, None)
        reported = len(self._problems)
        if added_at is None or added_at < EARLIEST or added_at > self._latest:
            head, added_at = self._settle(meta, head, segment, added_at, position, meta_line)
        pieces = _NUMBER_SPLIT_RE.split(head)
        numbers = pieces[1::2]
        shape = "\x00".join(pieces[0::2])
        plan = PLANS.get(shape)
        if plan is None:
            plan = plan_of(shape, head)
        if plan.kind is None and added_at is None and language is None:
            del self._problems[reported:]  # no gaps in an entry that is left out
            return Problem(position, line, f"the line {meta.strip()!r} is not a Kindle entry line")
        if plan.gap is not None:
            self._problems.append(_gap_problem(plan.gap, position, meta_line, head))
        names = self._titles.get(title_line)
        if names is None:
            names = self._titles[title_line] = split_title_author(title_line)
        start, end = plan.location(numbers)
        # Positional, in RawEntry's field order: keywords cost twice as much (0.6 vs 0.3 us)
        # in what runs once per entry.
        return RawEntry(
            plan.kind or (Kind.HIGHLIGHT if content else Kind.BOOKMARK),  # kind
            names[0],  # title
            names[1],  # author
            plan.page(numbers),  # page
            start,  # location_start
            end,  # location_end
            added_at,
            content,
            position,
            line,
            title_line,
            content[-1:] == ">" and _is_clipping_limit(content),  # clipping_limit
            language or plan.language,  # language
        )

    def _settle(
        self,
        meta: str,
        head: str,
        segment: str,
        added_at: datetime | None,
        position: int,
        line: int,
    ) -> tuple[str, datetime | None]:
        """(head, date) of a line whose date was not read, or is implausible: no date at
        all (the last segment is then part of the head), or a problem to report."""
        if added_at is not None:
            kind = ProblemKind.IMPLAUSIBLE_DATE
        elif not segment:
            return head, None
        elif not (has_added_words(segment) or _TIME_LIKE.search(segment)):
            return meta, None
        else:
            kind = ProblemKind.DATE
        self._problems.append(_date_problem(kind, position, line, segment))
        return head, None


_TIME_LIKE = re.compile(r"\d\s*[:hH時]\s*\d")


def _gap_problem(kind: ProblemKind, position: int, line: int, head: str) -> Problem:
    text = head.strip().lstrip(METADATA_DASHES).strip()
    what = "page" if kind is ProblemKind.PAGE else "location"
    reason = f"the {what} in {text!r} was not understood; the entry was imported without it"
    return Problem(position, line, reason, kind, text)


def _date_problem(kind: ProblemKind, position: int, line: int, segment: str) -> Problem:
    text = segment.strip()
    if kind is ProblemKind.DATE:
        reason = f"the date {text!r} was not understood; the entry was imported without it"
    else:
        reason = f"the date {text!r} is impossible; the entry was imported without it"
    return Problem(position, line, reason, kind, text)


def split_title_author(title_line: str) -> tuple[str, str | None]:
    """("Foo (Bar)", "Smith, John") from "Foo (Bar) (Smith, John)": the author is the last
    balanced parenthesised group that ends the line; without one the author is None."""
    if not title_line.endswith(")"):
        return title_line, None
    depth = 0
    for i in range(len(title_line) - 1, -1, -1):
        char = title_line[i]
        if char == ")":
            depth += 1
        elif char == "(":
            depth -= 1
            if depth == 0:
                title, author = title_line[:i].rstrip(), title_line[i + 1 : -1].strip()
                if not title or not author:
                    return title_line, None
                return title, author
    return title_line, None


def _split_without_bar(meta: str) -> tuple[str, str]:
    """(head, date segment) of a metadata line with no "|": the date follows the "added"
    words; without them there is no date."""
    added = _ADDED_SPLIT_RE.search(meta)
    if added is None:
        return meta, ""
    return meta[: added.start()], meta[added.start() :]


def _is_clipping_limit(content: str) -> bool:
    """Whether `content` ends with the device's "<You have reached the clipping limit for
    this item>" (any language). Devices write it alone, or after the part of the highlight
    that still fitted."""
    start = content.rfind("<")
    placeholder = content[start:]
    return start >= 0 and "\n" not in placeholder and _LIMIT_RE.search(placeholder) is not None


def _no_metadata_reason(lines: list[str]) -> str:
    first = next((ln.strip() for ln in lines if ln.strip()), "")
    shown = first if len(first) <= 60 else first[:57] + "..."
    if first.startswith(_DASHES):
        return f"the entry {shown!r} has no title line above its metadata line"
    return (
        f"the entry starting with {shown!r} has no Kindle metadata line"
        " (the '- Your Highlight ... | Added on ...' line under the title)"
    )
