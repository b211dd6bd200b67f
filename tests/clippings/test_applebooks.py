"""Apple Books: the Mac's annotation database (with its -wal, zipped) and iOS plists."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from clippost.clippings import ErrorKind, Kind, ProblemKind, SourceFormat, parse

ASSET = "07B4BBF8CB409B439C0B5F14622C32F4"
OTHER = "9E6143AA0FAC031691359779729F9B37"
BOOKS = {ASSET: ("Sapiens", "Yuval Noah Harari"), OTHER: ("The Righteous Mind", "Jonathan Haidt")}
# Core Data seconds: 696581611 is 2023-01-28 06:53:31 UTC.
ANNOTATIONS = [
    (ASSET, "Myths are stronger than anyone imagined.", "#beliefs", 696581611.2, 2, 3, 0),
    (ASSET, "A deleted highlight.", None, 696581700.0, 2, 3, 1),
    (OTHER, "The mind is divided, like a rider on an elephant.", None, 696581800.0, 2, 1, 0),
    (OTHER, None, None, 696581900.0, 3, 0, 0),
]
Build = Callable[..., dict[str, bytes]]


class TestMacDatabase:
    def test_zip_with_wal_and_library(self, apple_dbs: Build, zipped: Callable[..., bytes]) -> None:
        """Annotations still in the -wal are read; titles come from BKLibrary by asset id."""
        result = parse(zipped(apple_dbs(BOOKS, ANNOTATIONS)))
        assert result.format is SourceFormat.APPLE_BOOKS
        assert [(e.kind, e.title, e.note) for e in result.entries] == [
            (Kind.HIGHLIGHT, "Sapiens", "#beliefs"),
            (Kind.HIGHLIGHT, "The Righteous Mind", None),
            (Kind.BOOKMARK, "The Righteous Mind", None),
        ]
        assert result.problems == []

    def test_times_are_core_data_seconds(
        self, apple_dbs: Build, zipped: Callable[..., bytes]
    ) -> None:
        """ZANNOTATIONCREATIONDATE counts from 2001: read as UTC wall time."""
        first = parse(zipped(apple_dbs(BOOKS, ANNOTATIONS))).entries[0]
        assert first.added_at == datetime(2023, 1, 28, 6, 53, 31)

    def test_styles_are_colours(self, apple_dbs: Build, zipped: Callable[..., bytes]) -> None:
        """Style 3 is yellow, 1 green (0 would be an underline)."""
        entries = parse(zipped(apple_dbs(BOOKS, ANNOTATIONS))).entries
        assert [e.color for e in entries[:2]] == ["yellow", "green"]

    def test_without_the_wal_recent_annotations_are_missing(
        self, apple_dbs: Build, zipped: Callable[..., bytes]
    ) -> None:
        """The trap the -wal avoids: the main file alone holds only what was checkpointed."""
        members = apple_dbs(BOOKS, ANNOTATIONS)
        without = {k: v for k, v in members.items() if not k.endswith("-wal")}
        assert len(parse(zipped(without)).entries) == 1

    def test_database_alone_is_titled_as_unknown(self, apple_dbs: Build) -> None:
        """Without the library, books are placeholders, each reported as a TITLE problem."""
        members = apple_dbs(BOOKS, ANNOTATIONS[:1])
        (main,) = [data for name, data in members.items() if name.startswith("AEAnnotation")]
        result = parse(main)
        assert [e.title for e in result.entries] == ["Unknown book"]
        assert [p.kind for p in result.problems] == [ProblemKind.TITLE]

    def test_library_alone_is_refused(self, apple_dbs: Build) -> None:
        """The library database holds no highlights: a sentence says what to upload."""
        members = apple_dbs(BOOKS, ANNOTATIONS[:1])
        (library,) = [data for name, data in members.items() if name.startswith("BKLibrary")]
        result = parse(library)
        assert result.error_kind is ErrorKind.NOT_HIGHLIGHTS
        assert "AEAnnotation" in (result.error or "")


SYNC = {
    "Bookmark-Container-12202011": {
        "Generation": 5,
        "Bookmarks": [
            {
                "annotationAssetID": ASSET,
                "annotationCreationDate": 1674888811,
                "annotationDeleted": 0,
                "annotationNote": "#beliefs",
                "annotationSelectedText": "Myths are stronger than anyone imagined.",
                "annotationStyle": 3,
                "annotationType": 2,
            },
            {
                "annotationAssetID": ASSET,
                "annotationCreationDate": 696581700.5,
                "annotationDeleted": 0,
                "annotationSelectedText": "Written in Core Data seconds.",
                "annotationType": 2,
            },
            {
                "annotationAssetID": ASSET,
                "annotationDeleted": 1,
                "annotationSelectedText": "gone",
                "annotationType": 2,
            },
        ],
    }
}
LIBRARY = {"Books": [{"Name": "Sapiens", "Artist": "Yuval Noah Harari", "Package Hash": ASSET}]}


class TestIosPlists:
    def test_sync_and_books_plists_zipped(
        self, plist: Callable[..., bytes], zipped: Callable[..., bytes]
    ) -> None:
        """The two plists together give titled highlights; deleted ones are left out."""
        data = zipped(
            {"com.apple.ibooks-sync.plist": plist(SYNC), "Books.plist": plist(LIBRARY, binary=True)}
        )
        result = parse(data)
        assert result.format is SourceFormat.APPLE_BOOKS_PLIST
        assert [(e.title, e.author, e.content) for e in result.entries] == [
            ("Sapiens", "Yuval Noah Harari", "Myths are stronger than anyone imagined."),
            ("Sapiens", "Yuval Noah Harari", "Written in Core Data seconds."),
        ]

    def test_unix_and_core_data_seconds(self, plist: Callable[..., bytes]) -> None:
        """Unix seconds and Core Data seconds both read to the right day."""
        entries = parse(plist(SYNC)).entries
        assert [e.added_at for e in entries] == [
            datetime(2023, 1, 28, 6, 53, 31),
            datetime(2023, 1, 28, 6, 55),
        ]

    def test_binary_sync_plist_alone(self, plist: Callable[..., bytes]) -> None:
        """A binary plist is read too; alone, its books are placeholders and reported."""
        result = parse(plist(SYNC, binary=True))
        assert {e.title for e in result.entries} == {"Unknown book"}
        assert {p.kind for p in result.problems} == {ProblemKind.TITLE}

    def test_other_plist_is_refused(self, plist: Callable[..., bytes]) -> None:
        """A property list of something else is not highlights."""
        result = parse(plist({"WebHistory": []}))
        assert result.error_kind is ErrorKind.NOT_HIGHLIGHTS
