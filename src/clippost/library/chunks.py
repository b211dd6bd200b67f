"""A big library cut into the pieces one merge transaction takes (pure).

Merging 100,000 highlights in one transaction holds the write lock for the whole merge, and
on SQLite that lock is every other request's. Merged a chunk at a time, a transaction lasts
a few tens of milliseconds and other writers go between them. Merging is by content
identity, so chunks are independent: a book cut across two chunks is inserted by the first
and found by the second, and a chunk merged twice changes nothing the second time. The cut
is deterministic, so a merge that stopped resumes at the same chunk boundaries.
"""

from __future__ import annotations

from dataclasses import replace

from clippost.clippings.models import Book, Library

# Highlights per merge transaction. What another writer waits for at most is one chunk:
# 500 held SQLite's write lock 123 ms a chunk (median; 457 ms at most) on a loaded
# machine, and with a 100,000-highlight merge running a bystander's sign-up (three write
# transactions) waited past 300 ms one time in ten; 100 hold it 24 ms (217 at most), and
# the merge takes no longer (bench/web.py: 76 s against 78 s).
MERGE_CHUNK = 100


def split(library: Library, size: int = MERGE_CHUNK) -> list[Library]:
    """`library` as libraries of at most `size` highlights each, books in order; a book
    with no highlights rides with the chunk it falls in."""
    chunks: list[Library] = []
    books: list[Book] = []
    room = size
    for book in library.books:
        highlights = book.highlights
        if not highlights:
            books.append(book)
        while highlights:
            taken, highlights = highlights[:room], highlights[room:]
            books.append(replace(book, highlights=taken))
            room -= len(taken)
            if room == 0:
                chunks.append(Library(books=tuple(books), language=library.language))
                books, room = [], size
    if books or not chunks:
        chunks.append(Library(books=tuple(books), language=library.language))
    return chunks
