"""The Kindle app's "Export Notebook" HTML file.

Its markup is a flat run of elements told apart by class: bookTitle, authors, sectionHeading,
noteHeading ("Highlight (<span class="highlight_yellow">yellow</span>) - Page 5 · Location
67", "Note - Location 130") and noteText. Versions differ in tags (div or h3), quoting, and
some close noteText with the wrong tag, so a field runs from one known class to the next
rather than from a start tag to its end tag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from clippost.clippings.models import Kind, Problem, RawEntry

_FIELDS = frozenset({"booktitle", "authors", "sectionheading", "noteheading", "notetext"})
_PROBE = 1 << 20
_NOTE_WORDS = ("note", "notiz", "nota", "remarque", "notitie", "заметка", "メモ", "笔记", "筆記")
_BOOKMARK_WORDS = ("bookmark", "lesezeichen", "marque-page", "signet", "marcador", "segnalibro")
_PAGE = re.compile(
    r"(?:page|seite|página|pagina|pág\.?|страница|ページ|页)\s*([0-9]{1,9}|[ivxlcdm]+)\b", re.I
)
_LOCATION = re.compile(
    r"(?:location|loc\.|position|emplacement|posición|posizione|posição|locatie|место|位置)"
    r"\s*(\d{1,9})(?:\s*[-–]\s*(\d{1,9}))?",
    re.I,
)
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
    """Entries in document order, and the headings that could not be read."""
    reader = _NotebookReader()
    reader.feed(text)
    reader.close()
    return reader.entries, reader.problems


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
    start, end = _location(heading.text)
    page = _PAGE.search(heading.text)
    return RawEntry(
        kind=_kind(heading.text),
        title=title,
        author=author,
        page=page.group(1) if page else None,
        location_start=start,
        location_end=end,
        added_at=None,
        content="\n".join(heading.body),
        position=position,
        line=heading.line,
        title_line=f"{title} ({author})" if author else title,
        color=heading.colour or _colour_word(heading.text),
    )


def _kind(heading: str) -> Kind:
    first = heading.casefold().lstrip()
    if first.startswith(_NOTE_WORDS):
        return Kind.NOTE
    if first.startswith(_BOOKMARK_WORDS):
        return Kind.BOOKMARK
    return Kind.HIGHLIGHT


def _location(heading: str) -> tuple[int | None, int | None]:
    match = _LOCATION.search(heading)
    if match is None and _PAGE.search(heading) is None:
        # A heading in a language we have no word for: its last number is the location.
        found = list(_NUMBER_RANGE.finditer(heading))
        match = found[-1] if found else None
    if match is None:
        return None, None
    start = int(match.group(1))
    end = int(match.group(2)) if match.group(2) else start
    return start, max(start, end)


def _colour_class(classes: set[str]) -> str | None:
    for name in classes:
        if match := _COLOUR_CLASS.match(name):
            return match.group(1).lower()
    return None


def _colour_word(heading: str) -> str | None:
    match = _COLOUR_WORDS.search(heading)
    return match.group(1).lower() if match else None
