"""Every item of the real exports in ../shared/other-sources, field by field.

Kobo, KOReader, Apple Books, Readwise, Kindle app, Play Books and Boox files, read from
where they live (people's reading notes: never copied here); the tests skip when the
folder is absent. Items are matched by content, as the folder's README asks, then every
field the ground truth states is compared: kind, title, author, text, note, time, page,
location, favourite and discard flags, tags.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from collections import Counter
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from clippost.clippings import parse
from clippost.clippings.models import Kind, RawEntry, SourceFormat

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "other-sources"
MANIFEST = SHARED / "MANIFEST.tsv"
GROUND_TRUTH = SHARED / "GROUND_TRUTH.jsonl"
TODAY = date(2026, 12, 31)

FORMATS = {
    "kobo": SourceFormat.KOBO,
    "koreader-lua": SourceFormat.KOREADER_LUA,
    "koreader-json": SourceFormat.KOREADER_JSON,
    "applebooks-ios": SourceFormat.APPLE_BOOKS_PLIST,
    "readwise-csv": SourceFormat.CSV,
    "kindle-html": SourceFormat.KINDLE_HTML,
    "playbooks": SourceFormat.PLAY_BOOKS,
    "boox": SourceFormat.BOOX,
}
# Files that are read together with another, as a reader uploads them: the iOS sync plist
# names no book, its titles are in Books.plist (zipped with it). Deliberate difference:
# the plist alone gives the same items under "Unknown book", with a TITLE problem.
COMPANIONS = {"applebooks-ios/readstor-ios-sync.plist": "applebooks-ios/readstor-ios-books.plist"}


def _manifest() -> list[dict[str, str]]:
    if not MANIFEST.is_file():
        return []
    with MANIFEST.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [row for row in rows if row["highlights"] or row["bookmarks"] or row["notes"]]


@cache
def _ground_truth() -> dict[str, list[dict[str, Any]]]:
    by_file: dict[str, list[dict[str, Any]]] = {}
    with GROUND_TRUTH.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            if not record.get("deleted"):
                by_file.setdefault(record["file"], []).append(record)
    return by_file


def _fingerprint(text: str | None) -> str | None:
    if not text:
        return None
    squeezed = re.sub(r"\s+", " ", text.replace("\ufeff", "")).strip()
    return hashlib.sha1(squeezed.encode()).hexdigest()[:12] if squeezed else None  # noqa: S324


def _length(text: str) -> int:
    return len(re.sub(r"\s+", " ", text.replace("\ufeff", "")).strip())


def _upload(name: str) -> bytes:
    data = (SHARED / name).read_bytes()
    companion = COMPANIONS.get(name)
    if companion is None:
        return data
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(Path(name).name, data)
        archive.writestr(Path(companion).name, (SHARED / companion).read_bytes())
    return buffer.getvalue()


def _as_ground_truth(entry: RawEntry, fmt: str) -> dict[str, Any]:
    note_kind = entry.kind is Kind.NOTE
    record: dict[str, Any] = {
        "kind": entry.kind.value,
        "title": " ".join(entry.title.split()),
        "author": " ".join(entry.author.split()) if entry.author else None,
        "text_sha1": None if note_kind else _fingerprint(entry.content),
        "note_sha1": _fingerprint(entry.content if note_kind else entry.note),
        "text_len": 0 if note_kind else _length(entry.content),
        "created": _created(entry, fmt),
        "page": entry.page,
        "location": _location(entry, fmt),
        "favorite": entry.favourite or None,
        "discard": entry.discarded or None,
        "tags": list(entry.tags) or None,
    }
    return record


def _created(entry: RawEntry, fmt: str) -> str | None:
    if entry.added_at is None:
        return None
    return entry.added_at.strftime("%Y-%m-%d" if fmt == "playbooks" else "%Y-%m-%d %H:%M")


def _location(entry: RawEntry, fmt: str) -> str | None:
    if entry.location_start is None:
        return None
    if fmt == "readwise-csv":
        return f"location:{entry.location_start}"
    return str(entry.location_start)


def _wanted(record: dict[str, Any], fmt: str) -> dict[str, Any]:
    """The ground truth's fields that clippost carries, in the same shape."""
    location = record.get("location")
    if fmt == "readwise-csv" and location and not location.startswith("location:"):
        location = None  # "order:3" and "offset:..." are not Kindle locations
    if fmt in ("kobo", "applebooks-ios"):
        location = None  # chapter progress and EPUB CFIs are not carried
    return {
        "kind": record["kind"],
        "title": record["title"],
        "author": record["author"],
        "text_sha1": record["text_sha1"],
        "note_sha1": record["note_sha1"],
        "text_len": record["text_len"],
        "created": record["created"],
        "page": record.get("page"),
        "location": location,
        "favorite": record.get("favorite") or None,
        "discard": record.get("discard") or None,
        "tags": record.get("tags") or None,
    }


def _identity(record: dict[str, Any]) -> tuple[Any, ...]:
    return (record["kind"], record["text_sha1"], record["note_sha1"], record["created"])


def compare(name: str) -> tuple[list[str], int, int]:
    """(mismatches, items expected, items found) for one file of the folder."""
    fmt = name.split("/", 1)[0]
    result = parse(_upload(name), today=TODAY)
    assert result.error is None, result.error
    got = [_as_ground_truth(e, fmt) for e in result.entries]
    wanted = [_wanted(r, fmt) for r in _ground_truth()[name]]
    pool: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for record in got:
        pool.setdefault(_identity(record), []).append(record)
    mismatches = []
    for index, want in enumerate(wanted, 1):
        candidates = pool.get(_identity(want)) or next(
            (v for k, v in pool.items() if v and k[:3] == _identity(want)[:3]), None
        )
        if not candidates:
            mismatches.append(f"item {index}: not found {want}")
            continue
        have = candidates.pop(0)
        diff = {k: (have[k], want[k]) for k in want if have[k] != want[k]}
        if diff:
            mismatches.append(f"item {index}: {diff}")
    return mismatches, len(wanted), len(got)


ROWS = _manifest()


@pytest.mark.skipif(not ROWS, reason=f"real exports not found at {SHARED}")
@pytest.mark.parametrize("row", ROWS, ids=[row["file"] for row in ROWS])
class TestRealExports:
    """Each real export reads exactly as its ground truth records it."""

    def test_format_is_detected_from_content(self, row: dict[str, str]) -> None:
        """The file's format is recognised from its bytes, whatever its name."""
        result = parse(_upload(row["file"]), today=TODAY)
        assert result.format is FORMATS[row["format"]]

    def test_counts_match_manifest(self, row: dict[str, str]) -> None:
        """Live highlights, standalone notes and bookmarks are as many as the manifest says."""
        result = parse(_upload(row["file"]), today=TODAY)
        kinds = Counter(e.kind for e in result.entries)
        assert kinds[Kind.HIGHLIGHT] == int(row["highlights"] or 0)
        assert kinds[Kind.NOTE] == int(row["notes_standalone"] or 0)
        assert kinds[Kind.BOOKMARK] == int(row["bookmarks"] or 0)
        assert sum(1 for e in result.entries if e.note) == int(row["notes_attached"] or 0)

    def test_every_item_matches_ground_truth(self, row: dict[str, str]) -> None:
        """Every item is found by its content, and every field it states agrees."""
        mismatches, expected, found = compare(row["file"])
        assert mismatches == [], "\n".join(mismatches[:5])
        assert found == expected

    def test_nothing_is_left_unexplained(self, row: dict[str, str]) -> None:
        """The real files raise no problem at all."""
        assert parse(_upload(row["file"]), today=TODAY).problems == []
