"""Every entry of the real `My Clippings.txt` files in ../shared, field by field.

The files are people's private notes, so they are read from where they live and never
copied here; the tests skip when the folder is absent. Set CLIPPOST_SHARED_CLIPPINGS to
read them from elsewhere.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from clippost.clippings.kindle_txt import looks_like_kindle_txt, parse_kindle_txt
from clippost.clippings.models import RawEntry


def _shared_dir() -> Path:
    configured = os.environ.get("CLIPPOST_SHARED_CLIPPINGS")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / ".." / "shared" / "clippings"


SHARED = _shared_dir()
MANIFEST = SHARED / "MANIFEST.tsv"
GROUND_TRUTH = SHARED / "GROUND_TRUTH.jsonl"
SKIP_REASON = f"real clippings not found at {SHARED} (set CLIPPOST_SHARED_CLIPPINGS)"

# Where the parser knowingly reads an entry differently from the ground truth, and why.
# (file, entry) -> {field: value the parser gives}.
KNOWN_DIFFERENCES: dict[tuple[str, int], dict[str, Any]] = {
    # The ground truth records the third-party marker line "######Knotes######" that
    # precedes this entry as its title; the real title line is the one under it.
    ("en_chips1108-knotes.txt", 14): {"title": "A Little Life (Yanagihara, Hanya)"},
    # "- 6page|location No. 85-87 |作成日: ..." (a translated template of "位置No."): the
    # ground truth leaves the location empty; the grammar reads it as the location it is.
    **{
        ("ja_aoclet-variant.txt", entry): {"loc_start": start, "loc_end": end}
        for entry, start, end in ((1, 85, 87), (2, 103, 104), (3, 103, 105), (4, 103, 105))
    },
}


def _manifest() -> list[dict[str, str]]:
    if not MANIFEST.is_file():
        return []
    with MANIFEST.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


@cache
def _ground_truth() -> dict[str, list[dict[str, Any]]]:
    by_file: dict[str, list[dict[str, Any]]] = {}
    with GROUND_TRUTH.open(encoding="utf-8") as handle:
        for row in handle:
            record = json.loads(row)
            by_file.setdefault(record["file"], []).append(record)
    return by_file


def _normalised(content: str) -> tuple[int, str]:
    text = re.sub(r"\s+", " ", content.replace("\ufeff", "")).strip()
    return len(text), hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]  # noqa: S324 - a fingerprint


def _as_ground_truth(entry: RawEntry) -> dict[str, Any]:
    length, digest = _normalised(entry.content)
    return {
        "entry": entry.position,
        "kind": entry.kind.value,
        "title": entry.title_line,
        "page": entry.page,
        "loc_start": entry.location_start,
        "loc_end": entry.location_end,
        "added": entry.added_at.strftime("%Y-%m-%d %H:%M") if entry.added_at else None,
        "content_len": length,
        "content_sha1": digest,
    }


def _differences(expected: dict[str, Any], got: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    wanted = dict(expected)
    wanted.update(KNOWN_DIFFERENCES.get((expected["file"], expected["entry"]), {}))
    fields = [key for key in got if not (key == "kind" and wanted["kind"] == "other")]
    # "other": the metadata names no kind at all; any kind is accepted, the rest is checked.
    return {key: (got[key], wanted[key]) for key in fields if got[key] != wanted[key]}


ROWS = _manifest()


@pytest.mark.skipif(not ROWS, reason=SKIP_REASON)
@pytest.mark.parametrize("row", ROWS, ids=[row["file"] for row in ROWS])
class TestRealFiles:
    """The parser reads every real file exactly as the ground truth records it."""

    def _parse(self, row: dict[str, str]) -> tuple[list[RawEntry], list[Any]]:
        text = (SHARED / row["file"]).read_bytes().decode("utf-8-sig")
        return parse_kindle_txt(text)

    def test_entry_count_matches_manifest(self, row: dict[str, str]) -> None:
        """As many entries as the manifest counts, and no problems."""
        entries, problems = self._parse(row)
        assert problems == []
        assert len(entries) == int(row["entries"])

    def test_kinds_match_manifest(self, row: dict[str, str]) -> None:
        """The manifest's count of each kind, with "other" read as some kind."""
        entries, _ = self._parse(row)
        counts = {
            kind: sum(e.kind.value == kind for e in entries)
            for kind in ("note", "bookmark", "clip")
        }
        expected = {
            "note": int(row["notes"]),
            "bookmark": int(row["bookmarks"]),
            "clip": int(row["clips"]),
        }
        assert counts == expected

    def test_clipping_limit_entries_match_manifest(self, row: dict[str, str]) -> None:
        """Every clipping-limit placeholder, and nothing else, is flagged."""
        entries, _ = self._parse(row)
        assert sum(e.clipping_limit for e in entries) == int(row["clipping_limit_entries"])

    def test_every_entry_matches_ground_truth(self, row: dict[str, str]) -> None:
        """Kind, title line, page, locations, minute added and content fingerprint agree."""
        expected = _ground_truth()[row["file"]]
        entries, _ = self._parse(row)
        got = [_as_ground_truth(e) for e in entries]
        mismatches = [
            f"entry {want['entry']}: {diff}"
            for want, have in zip(expected, got, strict=False)
            if (diff := _differences(want, have))
        ]
        assert len(got) == len(expected)
        assert mismatches == [], "\n".join(mismatches[:5])

    def test_file_is_detected(self, row: dict[str, str]) -> None:
        """The file is recognised as a Kindle text file from its content."""
        text = (SHARED / row["file"]).read_bytes().decode("utf-8-sig")
        assert looks_like_kindle_txt(text)
