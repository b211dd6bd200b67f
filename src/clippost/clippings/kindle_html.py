"""The Kindle app's "Export Notebook" HTML file, in every language the app writes it.

Its markup is a flat run of elements told apart by class: bookTitle, authors, citation,
sectionHeading, noteHeading ("Highlight (<span class="highlight_yellow">yellow</span>) -
Page 5 · Location 67", "Markierung(gelb) - Position 12", "备注 - 位置 130") and noteText.
Versions differ in tags (div or h3), quoting, and some close noteText with the wrong tag,
so a field runs from one known class to the next rather than from a start tag to its end
tag. Headings are read with the Kindle metadata grammar's words (`kindle_head`).

A note is a heading of its own, placed where the reader wrote it: at or a little after
the start of the highlight it belongs to, as a heading shows only where a highlight
starts. It is attached to the highlight just before it when it lies within that
highlight's likely span (about 30 characters a location) or range, else kept standalone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from clippost.clippings.kindle_head import read_head
from clippost.clippings.models import Kind, Problem, RawEntry

_FIELDS = frozenset(
    {"booktitle", "authors", "citation", "notebookfor", "sectionheading", "noteheading", "notetext"}
)
_PROBE = 1 << 20
_CHARACTERS_PER_LOCATION = 30
_CHARACTERS_PER_PAGE = 1000
_GROUPED = re.compile(r"(?<=\d)[,.\u00a0\u202f'](?=\d{3}(?!\d))")
_NUMBER_RANGE = re.compile(r"(\d{1,9})(?:\s*[-–]\s*(\d{1,9}))?")
_COLOUR_CLASS = re.compile(r"highlight_(\w+)", re.I)
_COLOUR_WORDS = re.compile(r"\(\s*(\w+)\s*\)")


def looks_like_kindle_html(text: str) -> bool:
    """True when `text` is markup carrying the notebook's note classes."""
    if text[:4096].lstrip()[:1] != "<":
        return False
    probe = text[:_PROBE].casefold()
    return "noteheading" in probe or ("booktitle" in probe and "notetext" in probe)


def parse_kindle_html(text: str) -> tuple[list[RawEntry], list[Problem]]:
    """Entries in document order (notes attached to their highlight), and the headings
    that could not be read."""
    reader = _NotebookReader()
    reader.feed(text)
    reader.close()
    return _with_notes_attached(reader.entries), reader.problems


@dataclass(slots=True)
class _Heading:
    text: str
    colour: str | None
    line: int
    body: list[str] = field(default_factory=list)


class _NotebookReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.entries: list[RawEntry] = []
        self.problems: list[Problem] = []
        self._title = ""
        self._author: str | None = None
        self._field: str | None = None
        self._parts: list[str] = []
        self._colour: str | None = None
        self._heading: _Heading | None = None
        self._count = 0
        self._line = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = {c.casefold() for name, v in attrs if name == "class" and v for c in v.split()}
        known = classes & _FIELDS
        if known:
            self._finish_field()
            self._field = known.pop()
            self._line = self.getpos()[0]
        elif tag in ("br", "p") and self._field == "notetext":
            self._parts.append("\n")
        elif self._field == "noteheading":
            self._colour = _colour_class(classes) or self._colour
        elif tag == "hr":
            self._finish_field()

    def handle_data(self, data: str) -> None:
        if self._field is not None:
            self._parts.append(data)

    def close(self) -> None:
        super().close()
        self._finish_field()
        self._finish_heading()

    def _finish_field(self) -> None:
        name, self._field = self._field, None
        value = _squeeze("".join(self._parts))
        self._parts = []
        if name == "booktitle":
            self._finish_heading()
            self._title, self._author = value.replace("\n", " "), None
        elif name == "authors":
            self._author = value.replace("\n", " ") or None
        elif name == "noteheading":
            self._finish_heading()
            self._heading = _Heading(value.replace("\n", " "), self._colour, self._line)
            self._colour = None
        elif name == "notetext" and self._heading is not None:
            self._heading.body.append(value)

    def _finish_heading(self) -> None:
        heading, self._heading = self._heading, None
        if heading is None:
            return
        self._count += 1
        if not self._title:
            self.problems.append(Problem(self._count, heading.line, "no book title before it"))
            return
        self.entries.append(_entry(heading, self._title, self._author, self._count))


def _squeeze(text: str) -> str:
    """HTML whitespace collapsed, keeping the line breaks that <br> and <p> stood for."""
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _entry(heading: _Heading, title: str, author: str | None, position: int) -> RawEntry:
    # Apps write large numbers with a group separator ("Location 1,234"): read them whole.
    text = _GROUPED.sub("", heading.text)
    plan, numbers = read_head(text)
    page = plan.page(numbers)
    try:
        start, end = plan.location(numbers)
    except ValueError:  # a number of thousands of digits is no location
        start, end = None, None
    if start is None and page is None:
        start, end = _last_number(text)
    elif end is not None and start is not None and end < start:
        end = start
    return RawEntry(
        kind=plan.kind or Kind.HIGHLIGHT,
        title=title,
        author=author,
        page=page,
        location_start=start,
        location_end=end,
        added_at=None,
        content="\n".join(heading.body),
        position=position,
        line=heading.line,
        title_line=f"{title} ({author})" if author else title,
        color=heading.colour or _colour_word(heading.text),
    )


def _last_number(heading: str) -> tuple[int | None, int | None]:
    """A heading in a language we have no word for: its last number is the location."""
    found = list(_NUMBER_RANGE.finditer(heading))
    if not found:
        return None, None
    start = int(found[-1].group(1))
    end = int(found[-1].group(2)) if found[-1].group(2) else start
    return start, max(start, end)


def _with_notes_attached(entries: list[RawEntry]) -> list[RawEntry]:
    """Each note that belongs to the highlight just before it becomes that highlight's
    note; the others stay standalone. Positions are counted again."""
    kept: list[RawEntry] = []
    for entry in entries:
        previous = kept[-1] if kept else None
        if entry.kind is Kind.NOTE and previous is not None and _belongs(entry, previous):
            previous.note = entry.content
            continue
        entry.position = len(kept) + 1
        kept.append(entry)
    return kept


def _belongs(note: RawEntry, highlight: RawEntry) -> bool:
    if highlight.kind is not Kind.HIGHLIGHT or highlight.note is not None:
        return False
    if (note.title, note.author) != (highlight.title, highlight.author):
        return False
    size = len(" ".join(highlight.content.split()))
    if note.location_start is not None and highlight.location_start is not None:
        gap = note.location_start - highlight.location_start
        end = highlight.location_end or highlight.location_start
        return gap >= 0 and (
            gap <= size / _CHARACTERS_PER_LOCATION + 2 or note.location_start <= end
        )
    pages = (note.page or "", highlight.page or "")
    if (
        note.location_start is None
        and highlight.location_start is None
        and all(page.isdigit() for page in pages)
    ):
        gap = int(pages[0]) - int(pages[1])
        return 0 <= gap <= 1 + size / _CHARACTERS_PER_PAGE
    return False


def _colour_class(classes: set[str]) -> str | None:
    for name in classes:
        if match := _COLOUR_CLASS.match(name):
            return match.group(1).lower()
    return None


def _colour_word(heading: str) -> str | None:
    match = _COLOUR_WORDS.search(heading)
    return match.group(1).lower() if match else None
