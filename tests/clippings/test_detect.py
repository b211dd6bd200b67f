"""Format detection looks at content, never at a file name."""

from __future__ import annotations

from pathlib import Path

from clippost.clippings.detect import detect
from clippost.clippings.models import SourceFormat

FIXTURES = Path(__file__).parent / "fixtures"
KINDLE = (
    "Emma (Austen, Jane)\n"
    "- Your Highlight on page 3 | Location 40-41 | Added on Monday, July 31, 2017 11:11:20 PM\n"
    "\nEmma Woodhouse, handsome, clever, and rich.\n==========\n"
)


class TestDetect:
    def test_kindle_text(self) -> None:
        """A My Clippings.txt entry is the Kindle text format."""
        assert detect(KINDLE) is SourceFormat.KINDLE_TXT

    def test_kindle_text_whose_title_has_a_comma(self) -> None:
        """A Kindle title such as "Highlight, a novel" is not taken for a CSV header."""
        text = KINDLE.replace("Emma (Austen, Jane)", "Highlight, Book Title (Someone)")
        assert detect(text) is SourceFormat.KINDLE_TXT

    def test_notebook_html(self) -> None:
        """The app's notebook export is recognised by its classes."""
        text = (FIXTURES / "html" / "notebook_modern.html").read_text(encoding="utf-8")
        assert detect(text) is SourceFormat.KINDLE_HTML

    def test_csv(self) -> None:
        """A CSV with the highlight columns is the CSV format."""
        text = (FIXTURES / "csv" / "full.csv").read_text(encoding="utf-8")
        assert detect(text) is SourceFormat.CSV

    def test_csv_with_only_highlight_column(self) -> None:
        """A CSV naming only a Highlight column is still a CSV (so the error can name the rest)."""
        assert detect("Highlight,Title\nx,y\n") is SourceFormat.CSV

    def test_other_html_is_not_highlights(self) -> None:
        """An ordinary web page is not a notebook."""
        assert detect("<html><body><p>Hello</p></body></html>") is None

    def test_prose_is_not_highlights(self) -> None:
        """Plain prose is no known format."""
        assert detect("Dear diary,\nToday I read a book.\n") is None


class TestEveryFormatFromContent:
    """Each format is told from its bytes; the file name is never looked at."""

    def test_text_formats(self) -> None:
        """Sidecars, exports and notes files are each recognised from their text."""
        found = {
            name: detect((FIXTURES / name).read_text(encoding="utf-8"))
            for name in (
                "koreader/annotations.lua",
                "koreader/legacy.lua",
                "koreader/export.json",
                "koreader/clippings.txt",
                "moonreader/walden.mrexpt",
                "boox/older.txt",
                "boox/newer.txt",
            )
        }
        assert found == {
            "koreader/annotations.lua": SourceFormat.KOREADER_LUA,
            "koreader/legacy.lua": SourceFormat.KOREADER_LUA,
            "koreader/export.json": SourceFormat.KOREADER_JSON,
            "koreader/clippings.txt": SourceFormat.KOREADER_CLIPPINGS,
            "moonreader/walden.mrexpt": SourceFormat.MOON_READER,
            "boox/older.txt": SourceFormat.BOOX,
            "boox/newer.txt": SourceFormat.BOOX,
        }

    def test_other_lua_and_json_are_not_highlights(self) -> None:
        """A Lua table or a JSON document of something else is no known format."""
        assert detect('return { ["window"] = { ["width"] = 3 } }') is None
        assert detect('{"entries": [1, 2], "name": "a playlist"}') is None
