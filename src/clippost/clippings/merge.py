"""Raw entries to a library: edits collapsed, repeats removed, notes attached, in near-linear time.

Kindle appends a new entry every time a highlight is edited, and many readers' files hold
each highlight several times. Per book, entries are sorted by location once and swept: an
entry is only compared with the few earlier entries whose range is still open at its start,
so half a million entries merge in about a second instead of the minutes a pairwise
comparison takes.

A note reaches its highlight in one of two ways: Kindle writes it as an entry of its own,
attached here by location (or page); other sources attach it themselves (`RawEntry.note`).
Either way its dot-tags (".favorite", ".discard", ".tag") act on the highlight, and what
is left of its text is the note. Favourite and discard flags are never lost to a repeat
or an edit: any copy that has one gives it to the highlight that survives.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter

from clippost.clippings.dottags import is_flag_tag, read_dot_tags
from clippost.clippings.identity import (
    book_identity,
    identity_of_normalised,
    normalise_author,
    normalise_text,
    normalise_title,
)
from clippost.clippings.models import Book, Bookmark, Highlight, Kind, Library, Note, RawEntry
from clippost.clippings.pages import page_key
from clippost.gc_pause import collector_paused

# How many open ranges an entry is compared with. Real edits sit next to each other; the cap
# keeps a pathological file (thousands of highlights over one location) linear.
_SWEEP_WINDOW = 32
# Devices write naive local times, so entries compare with a naive "earliest" sentinel.
_NEVER = datetime.min  # noqa: DTZ901


class _Item:
    """A highlight or note candidate: the entry, its normalised text and its span, computed once.

    `extra` holds what the source attached (notes, flags), gathered from every copy of the
    highlight; None for the usual Kindle entry, which has none.
    """

    __slots__ = ("end", "entry", "extra", "norm", "start")

    def __init__(self, entry: RawEntry, norm: str) -> None:
        self.entry = entry
        self.norm = norm
        self.start = entry.location_start
        end = entry.location_end
        reversed_range = self.start is not None and end is not None and end < self.start
        self.end = self.start if end is None or reversed_range else end
        self.extra: _Extra | None = None
        if entry.note or entry.favourite or entry.discarded:
            self.extra = _Extra()
            self.extra.add(entry)

    def inherit(self, other: _Item) -> None:
        """Keep what a replaced copy of this highlight carried."""
        if other.extra is not None:
            if self.extra is None:
                self.extra = _Extra()
            self.extra.join(other.extra)


class _Extra:
    """Notes and flags the sources attached to a highlight, across its copies."""

    __slots__ = ("discarded", "favourite", "notes")

    def __init__(self) -> None:
        self.notes: dict[str, RawEntry] = {}  # by text, first copy kept
        self.favourite = False
        self.discarded = False

    def add(self, entry: RawEntry) -> None:
        if entry.note:
            self.notes.setdefault(entry.note.strip(), entry)
        self.favourite = self.favourite or bool(entry.favourite)
        self.discarded = self.discarded or bool(entry.discarded)

    def join(self, other: _Extra) -> None:
        for text, entry in other.notes.items():
            self.notes.setdefault(text, entry)
        self.favourite = self.favourite or other.favourite
        self.discarded = self.discarded or other.discarded


@dataclass(slots=True)
class _BookEntries:
    """A book's entries so far; its title and author as the newest entry spells them."""

    title: str
    author: str | None
    spelled_at: tuple[bool, datetime, int]
    highlights: dict[str, _Item] = field(default_factory=dict)  # by normalised text
    notes: dict[tuple[str, int | None, str | None], _Item] = field(default_factory=dict)
    bookmarks: dict[tuple[int | None, str | None], RawEntry] = field(default_factory=dict)


def merge(entries: Sequence[RawEntry]) -> Library:
    """The library the entries describe (see the module docstring for the rules)."""
    with collector_paused():
        return _merge(entries)


def _merge(entries: Sequence[RawEntry]) -> Library:
    collector = _Collector()
    for entry in entries:
        collector.add(entry)
    books = tuple(_build_book(b) for b in collector.books.values())
    return Library(books, collector.limit_entries, language=_language(entries))


def _language(entries: Sequence[RawEntry]) -> str | None:
    """The device language most entries were written in (Kindle only)."""
    # map + attrgetter + Counter count in C: a Python loop here cost a tenth of the merge.
    counts = Counter(map(attrgetter("language"), entries))
    counts.pop(None, None)
    return counts.most_common(1)[0][0] if counts else None


def _newest(entry: RawEntry) -> tuple[bool, datetime, int]:
    """Sort key: later added_at wins, then the later position in the file."""
    return (entry.added_at is not None, entry.added_at or _NEVER, entry.position)


class _Collector:
    """One pass over the entries: books by identity, exact repeats collapsed on the way."""

    def __init__(self) -> None:
        self.books: dict[tuple[str, str], _BookEntries] = {}
        self.limit_entries = 0
        self._keys: dict[tuple[str, str | None], tuple[str, str]] = {}
        # Files repeat the same text many times (re-synced devices, edits); normalise once.
        self._norms: dict[str, str] = {}

    def add(self, entry: RawEntry) -> None:
        if entry.clipping_limit:
            self.limit_entries += 1
            return
        book = self._book(entry)
        if entry.kind is Kind.BOOKMARK:
            at = (entry.location_start, entry.page)
            old = book.bookmarks.get(at)
            if old is None or _newest(entry) >= _newest(old):
                book.bookmarks[at] = entry
            return
        norm = self._norms.get(entry.content)
        if norm is None:
            norm = self._norms[entry.content] = normalise_text(entry.content)
        if not norm:
            return  # empty highlights and notes carry nothing to show
        if entry.kind is Kind.NOTE:
            key = (norm, _note_location(entry), entry.page)
            old_note = book.notes.get(key)
            if old_note is None or _newest(entry) >= _newest(old_note.entry):
                book.notes[key] = _Item(entry, norm)
            return
        old_item = book.highlights.get(norm)  # exact repeats collapse here
        if old_item is None or _newest(entry) >= _newest(old_item.entry):
            item = book.highlights[norm] = _Item(entry, norm)
            if old_item is not None:
                item.inherit(old_item)
        elif entry.note or entry.favourite or entry.discarded:
            old_item.inherit(_Item(entry, norm))

    def _book(self, entry: RawEntry) -> _BookEntries:
        raw_key = (entry.title, entry.author)
        key = self._keys.get(raw_key)
        if key is None:
            key = (normalise_title(entry.title), normalise_author(entry.author))
            self._keys[raw_key] = key
        book = self.books.get(key)
        newest = _newest(entry)
        if book is None:
            book = self.books[key] = _BookEntries(entry.title, entry.author, newest)
        elif newest > book.spelled_at:
            # The newest spelling wins: repeats and re-orderings of older entries change nothing.
            book.title, book.author, book.spelled_at = entry.title, entry.author, newest
        return book


def _note_location(entry: RawEntry) -> int | None:
    return entry.location_end if entry.location_end is not None else entry.location_start


def _build_book(book: _BookEntries) -> Book:
    book_id = book_identity(book.title, book.author)
    survivors = _collapse_edits(list(book.highlights.values()))
    survivors.sort(key=_reading_order)
    attached, loose = _attach_notes(survivors, list(book.notes.values()))
    highlights = tuple(
        _highlight(book_id, item, tuple(attached.get(i, ()))) for i, item in enumerate(survivors)
    )
    return Book(
        identity=book_id,
        title=book.title,
        author=book.author,
        highlights=highlights,
        bookmarks=_bookmarks(book.bookmarks.values()),
        loose_notes=tuple(_note(item.entry) for item in loose),
    )


def _reading_order(item: _Item) -> tuple[object, ...]:
    """By location (pages for entries that only have one), then when added, then text."""
    added = item.entry.added_at
    if item.start is not None:
        return (0, item.start, item.end, added is not None, added or _NEVER, item.norm)
    return (1, page_key(item.entry.page), added is not None, added or _NEVER, item.norm)


class _UnionFind:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)


def _collapse_edits(items: list[_Item]) -> list[_Item]:
    """One item per group of overlapping highlights whose texts contain one another."""
    groups = _UnionFind(len(items))
    located = [i for i, it in enumerate(items) if it.start is not None]
    located.sort(key=lambda i: (items[i].start, items[i].end))
    _sweep(items, located, groups, by_location=True)
    by_page: dict[str, list[int]] = {}
    for i, it in enumerate(items):
        if it.start is None and it.entry.page is not None:
            by_page.setdefault(it.entry.page, []).append(i)
    for members in by_page.values():
        _sweep(items, members, groups, by_location=False)
    best: dict[int, _Item] = {}
    for i, item in enumerate(items):
        root = groups.find(i)
        held = best.get(root)
        if held is None or _newest(item.entry) > _newest(held.entry):
            best[root] = item
    for i, item in enumerate(items):
        survivor = best[groups.find(i)]
        if item is not survivor and item.extra is not None:
            survivor.inherit(item)
    return list(best.values())


def _sweep(items: list[_Item], order: list[int], groups: _UnionFind, *, by_location: bool) -> None:
    """Union each item with the open items (ranges reaching its start) containing its text."""
    active: list[int] = []
    for i in order:
        item = items[i]
        if by_location and active:
            start = item.start or 0
            active = [j for j in active if (items[j].end or 0) >= start]
        norm = item.norm
        for j in active:
            other = items[j].norm
            if norm in other or other in norm:
                groups.union(i, j)
        active.append(i)
        if len(active) > _SWEEP_WINDOW:
            del active[0]


def _attach_notes(
    highlights: list[_Item], notes: list[_Item]
) -> tuple[dict[int, list[Note]], list[_Item]]:
    """Notes per highlight index (highlights in reading order) and the notes on nothing."""
    finder = _NoteTarget(highlights)
    attached: dict[int, list[Note]] = {}
    loose: list[_Item] = []
    for item in sorted(notes, key=_reading_order):
        target = finder.find(item.entry)
        if target is None:
            loose.append(item)
        else:
            attached.setdefault(target, []).append(_note(item.entry))
    return attached, loose


class _NoteTarget:
    """Finds the highlight a note was written on, by bisecting highlights sorted by start."""

    def __init__(self, highlights: list[_Item]) -> None:
        located = [
            (it.start, it.end or it.start, i)
            for i, it in enumerate(highlights)
            if it.start is not None
        ]
        self._located = sorted(located)
        self._starts = [start for start, _, _ in self._located]
        self._longest = max((end - start for start, end, _ in self._located), default=0)
        self._highlights = highlights
        self._by_page: dict[str, list[int]] = {}
        for i, it in enumerate(highlights):
            if it.start is None and it.entry.page is not None:
                self._by_page.setdefault(it.entry.page, []).append(i)

    def find(self, note: RawEntry) -> int | None:
        at = _note_location(note)
        if at is not None:
            return self._containing(at)
        if note.page is not None:
            return self._on_page(note)
        return None

    def _containing(self, at: int) -> int | None:
        """Prefer a range ending at the note, then the shortest containing it, then the newest."""
        chosen: int | None = None
        chosen_rank = (True, 0)
        k = bisect_right(self._starts, at) - 1
        while k >= 0 and self._located[k][0] >= at - self._longest:
            start, end, i = self._located[k]
            k -= 1
            if end < at:
                continue
            rank = (end != at, end - start)
            if (
                chosen is None
                or rank < chosen_rank
                or (rank == chosen_rank and self._newer(i, chosen))
            ):
                chosen, chosen_rank = i, rank
        return chosen

    def _newer(self, i: int, j: int) -> bool:
        return _recency(self._highlights[i]) > _recency(self._highlights[j])

    def _on_page(self, note: RawEntry) -> int | None:
        """A PDF note: the newest highlight on its page written no later than the note."""
        candidates = self._by_page.get(note.page or "", [])
        earlier = [i for i in candidates if _not_after(self._highlights[i].entry, note.added_at)]
        pool = earlier or candidates
        return max(pool, key=lambda i: _recency(self._highlights[i])) if pool else None


def _recency(item: _Item) -> tuple[bool, datetime, str]:
    """Like `_newest`, but ties broken by text, not file position, so that attaching notes
    gives the same answer whatever order the entries arrived in."""
    added = item.entry.added_at
    return (added is not None, added or _NEVER, item.norm)


def _not_after(entry: RawEntry, moment: datetime | None) -> bool:
    return moment is None or entry.added_at is None or entry.added_at <= moment


def _highlight(book_id: str, item: _Item, located: tuple[Note, ...]) -> Highlight:
    e = item.entry
    identity = identity_of_normalised(book_id, item.norm)
    if item.extra is None and not located and not e.tags:
        # Positional: this runs once per highlight, and keyword passing costs measurably here.
        return Highlight(
            identity, e.content.strip(), e.page, e.location_start, e.location_end, e.added_at
        )
    notes: list[Note] = []
    favourite = discarded = False
    tags = [tag for tag in e.tags if not is_flag_tag(tag)]
    if item.extra is not None:
        favourite, discarded = item.extra.favourite, item.extra.discarded
        located = tuple(_note(n, n.note or "") for n in item.extra.notes.values()) + located
    for note in located:
        said = read_dot_tags(note.text)
        favourite, discarded = favourite or said.favourite, discarded or said.discarded
        tags += [tag for tag in said.tags if tag not in tags]
        if said.text:
            notes.append(note if said.text == note.text else _renamed(note, said.text))
    return Highlight(
        identity,
        e.content.strip(),
        e.page,
        e.location_start,
        e.location_end,
        e.added_at,
        tuple(notes),
        e.color,
        tuple(tags),
        favourite,
        discarded,
    )


def _renamed(note: Note, text: str) -> Note:
    return Note(text=text, location=note.location, page=note.page, added_at=note.added_at)


def _note(entry: RawEntry, text: str | None = None) -> Note:
    return Note(
        text=(entry.content if text is None else text).strip(),
        location=_note_location(entry),
        page=entry.page,
        added_at=entry.added_at,
    )


def _bookmarks(entries: Iterable[RawEntry]) -> tuple[Bookmark, ...]:
    ordered = sorted(
        entries,
        key=lambda e: (e.location_start is None, e.location_start or 0, page_key(e.page)),
    )
    return tuple(Bookmark(e.page, e.location_start, e.added_at) for e in ordered)
