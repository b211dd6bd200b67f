"""The `My Clippings.txt` parser, one hand-written fixture per device language and variant."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clippost.clippings.kindle_txt import (
    looks_like_kindle_txt,
    parse_kindle_txt,
    split_title_author,
)
from clippost.clippings.models import Kind, ProblemKind, RawEntry

FIXTURES = Path(__file__).parent / "fixtures" / "kindle"
H, N, B, C = Kind.HIGHLIGHT, Kind.NOTE, Kind.BOOKMARK, Kind.CLIP

# (kind, page, location start, location end, added, content start) per entry.
Row = tuple[Kind, str | None, int | None, int | None, datetime | None, str]


def _read(name: str) -> str:
    # Decoded from bytes so CRLF stays as written and the parser sees the file's own line ends.
    return (FIXTURES / name).read_bytes().decode("utf-8-sig")


def _parse(name: str) -> list[RawEntry]:
    entries, problems = parse_kindle_txt(_read(name))
    assert problems == []
    return entries


def _rows(entries: list[RawEntry]) -> list[Row]:
    return [
        (
            e.kind,
            e.page,
            e.location_start,
            e.location_end,
            e.added_at,
            e.content[:12],
        )
        for e in entries
    ]


def _entry(text: str) -> RawEntry:
    entries, problems = parse_kindle_txt(text)
    assert problems == []
    assert len(entries) == 1
    return entries[0]


META = "- Your Highlight on page 3 | location 45-46 | Added on Wednesday, 1 September 2021 22:50:00"


class TestDeviceLanguages:
    """Every device language's metadata line gives kind, page, location and date."""

    def test_english_us_dates(self) -> None:
        """US firmware: 12-hour clock, month before day, a location without "on"."""
        assert _rows(_parse("en_us.txt")) == [
            (H, "9", 120, 122, datetime(2013, 1, 7, 21, 2, 37), "The sea kept"),
            (N, "9", 122, 122, datetime(2013, 1, 7, 21, 4, 24), "remember thi"),
            (H, None, 181, 183, datetime(2013, 1, 8, 0, 15, 10), "Every lamp i"),
            (B, None, 300, 300, datetime(2013, 1, 8, 12, 40, 0), ""),
        ]

    def test_english_international_dates(self) -> None:
        """International firmware: day before month, 24-hour clock; "Underline" is a highlight."""
        assert _rows(_parse("en_international.txt")) == [
            (H, "3", 45, 46, datetime(2021, 9, 1, 22, 50, 0), "Frost is pat"),
            (N, "3", 46, 46, datetime(2021, 9, 1, 22, 51, 34), "so true"),
            (H, None, 98, 102, datetime(2022, 7, 1, 11, 28, 0), ""),
            (B, None, 320, 320, datetime(2023, 4, 13, 20, 10, 48), ""),
            (H, "12", 200, 201, datetime(2019, 6, 3, 21, 50, 5), "Underlined w"),
        ]

    def test_english_old_firmware(self) -> None:
        """Old firmware: "Loc." with abbreviated ranges, roman pages, page-only bookmarks, clips."""
        assert _rows(_parse("en_old_firmware.txt")) == [
            (H, None, 5444, 5445, datetime(2010, 9, 16, 20, 22), "Water finds "),
            (H, "vii", 9, 11, datetime(2011, 3, 30, 6, 10), "A preface is"),
            (B, "96", None, None, datetime(2010, 9, 23, 22, 6), ""),
            (C, None, 12, 12, datetime(2010, 9, 24, 7, 15), "City council"),
            (H, None, 1998, 2003, datetime(2010, 9, 24, 12, 30), "<You have re"),
        ]

    def test_german(self) -> None:
        """German: Ihre/Deine Markierung, Notiz, Lesezeichen, and "Artikel ... speichern" clips."""
        assert _rows(_parse("de.txt")) == [
            (H, None, 1114, 1115, datetime(2014, 10, 13, 7, 38, 1), "Die Rosen wu"),
            (H, "54", 567, 568, datetime(2014, 12, 6, 9, 11, 14), "Im Winter sc"),
            (H, "22", None, None, datetime(2014, 6, 24, 7, 19, 51), "Ein Satz auf"),
            (N, "54", 568, 568, datetime(2014, 12, 6, 9, 12, 0), "wichtig!"),
            (B, "92", 1362, 1362, datetime(2022, 3, 8, 16, 55, 43), ""),
            (C, None, 699, 699, datetime(2014, 9, 21, 13, 24, 34), "Neue Brücke "),
        ]

    def test_french(self) -> None:
        """French: "à lʼemplacement" written with U+02BC, pages, notes and signets."""
        assert _rows(_parse("fr.txt")) == [
            (H, None, 144, 145, datetime(2023, 5, 27, 18, 42, 30), "La lumière n"),
            (H, "8", 107, 108, datetime(2023, 10, 19, 8, 32, 29), "Une page, un"),
            (N, None, 393, 393, datetime(2023, 6, 9, 8, 44, 2), "à relire"),
            (B, None, 11897, 11897, datetime(2023, 8, 18, 8, 49, 52), ""),
        ]

    def test_spanish(self) -> None:
        """Spanish: La/Tu/Mi subrayado, resaltado, marcador, old "Pos.", English "Location"."""
        assert _rows(_parse("es.txt")) == [
            (H, "49", 741, 742, datetime(2017, 11, 6, 1, 4, 16), "La sal recue"),
            (H, None, 49, 49, datetime(2017, 11, 4, 19, 15, 42), "Primera líne"),
            (B, "2", 28, 28, datetime(2013, 9, 6, 13, 5, 2), ""),
            (N, "6", 82, 82, datetime(2016, 5, 10, 8, 42, 2), "releer"),
            (H, "516", 7903, 7904, datetime(2014, 7, 11, 10, 50, 35), "Palabras en "),
            (H, None, 900, 902, datetime(2020, 1, 5, 20, 35, 16), "Resaltado az"),
            (H, None, 1234, 1236, datetime(2013, 11, 21, 18, 5, 27), "Un subrayado"),
        ]

    def test_italian(self) -> None:
        """Italian: two spaces after the dash, "Aggiunto in data", CRLF line ends."""
        assert _rows(_parse("it.txt")) == [
            (H, None, 2991, 2995, datetime(2023, 1, 24, 1, 21, 28), "Il fiume non"),
            (N, None, 2995, 2995, datetime(2023, 1, 24, 1, 22, 0), "bello"),
            (B, "40", 610, 610, datetime(2023, 3, 4, 22, 10, 5), ""),
        ]

    def test_portuguese(self) -> None:
        """Brazilian Portuguese: "na página", "ou posição", "Adicionado:"."""
        assert _rows(_parse("pt.txt")) == [
            (H, "17", 255, 256, datetime(2023, 10, 12, 13, 32, 52), "A maré sobe "),
            (H, None, 158, 159, datetime(2023, 10, 16, 12, 17, 33), "Outra frase."),
            (N, "72", 797, 797, datetime(2023, 10, 18, 14, 32, 9), "pensar nisso"),
            (H, "33", None, None, datetime(2023, 10, 10, 14, 14, 0), "Só a página."),
            (B, None, 400, 400, datetime(2023, 10, 20, 13, 24, 39), ""),
        ]

    def test_dutch(self) -> None:
        """Dutch: "locatie 293 t/m 294" ranges."""
        assert _rows(_parse("nl.txt")) == [
            (H, None, 150, 151, datetime(2022, 8, 6, 18, 30, 18), "De straten o"),
            (H, "20", 293, 294, datetime(2020, 10, 24, 12, 53, 44), "Een bladzijd"),
            (N, None, 231, 231, datetime(2021, 3, 1, 8, 5, 0), "mooi"),
        ]

    def test_japanese(self) -> None:
        """Japanese: kind word after the location, 午前/午後, and a line with no kind word
        whose location is written "location No."."""
        assert _rows(_parse("ja.txt")) == [
            (H, "12", 180, 181, datetime(2019, 10, 12, 14, 27, 10), "風は本のページをめくる。"),
            (N, None, 185, 185, datetime(2019, 10, 12, 14, 30, 0), "覚えておく"),
            (B, None, 200, 200, datetime(2019, 10, 13, 9, 0, 0), ""),
            (H, "6", 85, 87, datetime(2019, 10, 14, 8, 15, 0), "種類の言葉がない行。"),
        ]

    def test_chinese(self) -> None:
        """Chinese: new "第 N 页（位置 #A-B）", old "第 9-9 页", 上午12 is just after midnight."""
        assert _rows(_parse("zh.txt")) == [
            (H, "4", 69, 70, datetime(2014, 11, 11, 20, 26, 19), "山里的信走得很慢。"),
            (H, "9", None, None, datetime(2014, 8, 29, 20, 20, 28), "只有页码。"),
            (H, None, 2800, 2801, datetime(2014, 8, 4, 0, 5, 22), "午夜的一句话。"),
            (N, None, 2801, 2801, datetime(2014, 8, 4, 12, 14, 2), "好"),
            (B, None, 1676, 1676, datetime(2014, 12, 3, 10, 23, 35), ""),
        ]

    def test_russian(self) -> None:
        """Russian: EN DASH before the line and inside ranges, "г. в" before the time."""
        assert _rows(_parse("ru.txt")) == [
            (H, "12", 183, 184, datetime(2025, 1, 9, 0, 1, 33), "Поезд ушёл, "),
            (H, None, 805, 806, datetime(2024, 12, 6, 0, 14, 51), "Вторая строк"),
            (N, None, 806, 806, datetime(2024, 2, 28, 10, 7, 53), "запомнить"),
            (B, "242", 3700, 3700, datetime(2025, 4, 2, 23, 37, 1), ""),
        ]

    def test_mixed_languages_in_one_file(self) -> None:
        """French and English entries in one file, inner U+FEFF, a third-party marker line."""
        entries = _parse("mixed.txt")
        assert [(e.title, e.kind, e.location_start, e.line) for e in entries] == [
            ("Le Phare du Nord", H, 10, 1),
            ("A Tale of Two Harbours", H, 153, 6),
            ("A Tale of Two Harbours", N, 160, 13),
        ]
        assert entries[2].title_line == "A Tale of Two Harbours (Quill, Sam)"


class TestEntryFields:
    """Titles, authors, content and positions come out as written."""

    def test_positions_and_lines_in_file_order(self) -> None:
        """Each entry knows its 1-based index and the line its block starts on."""
        entries = _parse("en_us.txt")
        assert [(e.position, e.line) for e in entries] == [(1, 1), (2, 6), (3, 11), (4, 16)]

    def test_title_and_author(self) -> None:
        """The author is the parenthesised group ending the title line."""
        entry = _parse("de.txt")[0]
        assert (entry.title, entry.author, entry.title_line) == (
            "Der stille Garten",
            "Brandt, Luise",
            "Der stille Garten (Brandt, Luise)",
        )

    def test_multi_line_content_keeps_line_breaks(self) -> None:
        """Content over several lines keeps its line breaks, without surrounding blank lines."""
        text = f"Poems (Ray, Ann)\n{META}\n\n\nfirst line\nsecond line\n\n\n==========\n"
        assert _entry(text).content == "first line\nsecond line"

    def test_empty_content_highlight(self) -> None:
        """A highlight with no text stays a highlight with empty content."""
        entry = _entry(f"Poems (Ray, Ann)\n{META}\n\n\n==========\n")
        assert (entry.kind, entry.content) == (H, "")

    def test_clipping_limit_placeholder_is_flagged(self) -> None:
        """The device's clipping-limit placeholder is marked and kept as the content."""
        entry = _parse("en_old_firmware.txt")[4]
        assert entry.clipping_limit
        assert entry.content == "<You have reached the clipping limit for this item>"

    def test_truncated_highlight_ending_in_placeholder_is_flagged(self) -> None:
        """Text cut off by the placeholder is flagged too, and kept as written."""
        placeholder = "<You have reached the clipping limit for this item>"
        entry = _entry(f"Poems (Ray, Ann)\n{META}\n\nThe start of {placeholder}\n==========\n")
        assert (entry.clipping_limit, entry.content) == (True, f"The start of {placeholder}")

    def test_ordinary_highlight_in_angle_brackets_is_not_a_placeholder(self) -> None:
        """Text that merely sits in angle brackets is a normal highlight."""
        entry = _entry(f"Poems (Ray, Ann)\n{META}\n\n<html> is a tag\n==========\n")
        assert not entry.clipping_limit

    def test_page_only_pdf_entry(self) -> None:
        """A PDF entry has a page and no location."""
        entry = _parse("de.txt")[2]
        assert (entry.page, entry.location_start, entry.location_end) == ("22", None, None)

    def test_single_location_is_start_and_end(self) -> None:
        """A single location gives the same start and end."""
        entry = _parse("en_us.txt")[1]
        assert (entry.location_start, entry.location_end) == (122, 122)

    def test_full_range_is_not_taken_for_an_abbreviated_one(self) -> None:
        """A full range ("1998-2003") is not mistaken for an abbreviated one."""
        entry = _parse("en_old_firmware.txt")[4]
        assert (entry.location_start, entry.location_end) == (1998, 2003)


class TestTitleAuthor:
    """`split_title_author` takes the last balanced parenthesised group as the author."""

    def test_nested_parentheses_in_title(self) -> None:
        """Earlier groups stay in the title."""
        assert split_title_author("Foo (Bar) (Smith, John)") == ("Foo (Bar)", "Smith, John")

    def test_nested_parentheses_in_author(self) -> None:
        """Parentheses inside the author group are balanced, not split."""
        assert split_title_author("Foo (Smith (ed.))") == ("Foo", "Smith (ed.)")

    def test_no_author(self) -> None:
        """A title line without a final group has no author."""
        assert split_title_author("Morning Gazette") == ("Morning Gazette", None)

    def test_several_authors_kept_as_written(self) -> None:
        """Several authors are kept as the device wrote them."""
        assert split_title_author("Essays (Doe, Jane; Roe, Rick)") == (
            "Essays",
            "Doe, Jane; Roe, Rick",
        )

    def test_unbalanced_parenthesis(self) -> None:
        """An unbalanced closing parenthesis yields no author."""
        assert split_title_author("Notes on 1) Things)") == ("Notes on 1) Things)", None)

    def test_only_a_group(self) -> None:
        """A line that is only a group is a title, not an author."""
        assert split_title_author("(Untitled)") == ("(Untitled)", None)


class TestLineEndingsAndMarks:
    """BOMs, CR, CRLF and U+FEFF anywhere do not change what is read."""

    def _expected(self) -> list[tuple[str, str, str]]:
        return [(e.title_line, e.content, str(e.added_at)) for e in _parse("en_international.txt")]

    def _variant(self, text: str) -> list[tuple[str, str, str]]:
        entries, problems = parse_kindle_txt(text)
        assert problems == []
        return [(e.title_line, e.content, str(e.added_at)) for e in entries]

    def test_bom_and_inner_feff(self) -> None:
        """A BOM and U+FEFF before each title are removed from titles."""
        text = "\ufeff" + _read("en_international.txt").replace("\nOrchards", "\n\ufeffOrchards")
        assert self._variant(text) == self._expected()

    def test_crlf(self) -> None:
        """CRLF line ends read like LF."""
        assert (
            self._variant(_read("en_international.txt").replace("\n", "\r\n")) == self._expected()
        )

    def test_stray_cr(self) -> None:
        """A stray CR reads as a line end instead of ending up in a title or a date."""
        text = _read("en_international.txt").replace("\n", "\r", 3)
        assert self._variant(text) == self._expected()

    def test_no_trailing_separator(self) -> None:
        """The last entry is read when the file does not end with a separator."""
        text = _read("en_us.txt").rstrip("=\n")
        assert len(parse_kindle_txt(text)[0]) == 4

    def test_line_numbers_count_crlf_once(self) -> None:
        """Line numbers are the same with CRLF as with LF."""
        entries, _ = parse_kindle_txt(_read("en_us.txt").replace("\n", "\r\n"))
        assert [e.line for e in entries] == [1, 6, 11, 16]


class TestProblems:
    """Blocks that are not entries become problems and parsing goes on."""

    def test_garbage_block_is_a_problem_and_parsing_continues(self) -> None:
        """A block without metadata is reported with its position and line."""
        good = f"Poems (Ray, Ann)\n{META}\n\nverse\n"
        text = f"{good}==========\njust some text\nwith no metadata\n==========\n{good}=========="
        entries, problems = parse_kindle_txt(text)
        assert [e.position for e in entries] == [1, 3]
        assert [(p.position, p.line) for p in problems] == [(2, 6)]
        assert "no Kindle metadata line" in problems[0].reason

    def test_unreadable_metadata_is_a_problem(self) -> None:
        """A dash line naming no kind and no date is not taken for metadata."""
        entries, problems = parse_kindle_txt("Title\n- just a list item\n\ntext\n==========\n")
        assert entries == []
        assert [p.position for p in problems] == [1]

    def test_a_left_out_block_has_one_problem(self) -> None:
        """A dash line that is no metadata is one problem, not also a date problem."""
        _, problems = parse_kindle_txt("Title\n- meet at | 12:30 sharp\n\ntext\n==========\n")
        assert [p.kind for p in problems] == [ProblemKind.UNREADABLE]

    def test_metadata_without_title_is_a_problem(self) -> None:
        """A metadata line with no title above it is reported as such."""
        entries, problems = parse_kindle_txt(f"{META}\n\ntext\n==========\n")
        assert entries == []
        assert "no title line" in problems[0].reason

    def test_blank_blocks_are_not_entries(self) -> None:
        """Empty blocks between separators are skipped without a problem or a position."""
        text = f"==========\n\n==========\nPoems (Ray, Ann)\n{META}\n\nverse\n=========="
        entries, problems = parse_kindle_txt(text)
        assert (problems, [e.position for e in entries]) == ([], [1])

    def test_separator_inside_a_line_does_not_split(self) -> None:
        """Ten equals signs inside a line of content are content."""
        entry = _entry(f"Poems (Ray, Ann)\n{META}\n\na ========== b\n==========\n")
        assert entry.content == "a ========== b"


class TestDates:
    """Dates are read in every form the devices write them."""

    @pytest.mark.parametrize(
        ("added", "expected"),
        [
            ("Added on Monday, 3 June 2019 21:50:05", datetime(2019, 6, 3, 21, 50, 5)),
            ("Added on Thursday, September 16, 2010, 12:22 AM", datetime(2010, 9, 16, 0, 22)),
            ("Added on Thursday, September 16, 2010, 12:22 PM", datetime(2010, 9, 16, 12, 22)),
            ("Added on Thursday, September 16, 10, 08:22 PM", datetime(2010, 9, 16, 20, 22)),
            ("Added on Thursday, Sept 16, 2010 8:22 p.m. GMT", datetime(2010, 9, 16, 20, 22)),
            (
                "Hinzugefügt am Mittwoch, 18. Januar 2023 23:43:35",
                datetime(2023, 1, 18, 23, 43, 35),
            ),
            (
                "Añadido el viernes 6 de septiembre de 2013, 13:05:02",
                datetime(2013, 9, 6, 13, 5, 2),
            ),
            ("添加于 2014年6月5日星期四 下午7:34:01", datetime(2014, 6, 5, 19, 34, 1)),
        ],
    )
    def test_date_forms(self, added: str, expected: datetime) -> None:
        """The date is the local time as written, on a 24-hour clock."""
        text = f"T (A)\n- Your Highlight on page 3 | location 4 | {added}\n\nx\n"
        assert _entry(text).added_at == expected

    def test_unreadable_date_keeps_the_entry(self) -> None:
        """An entry whose date cannot be read keeps its other fields, has no date, and the
        date is reported with its line and text."""
        entries, problems = parse_kindle_txt(
            "T (A)\n- Your Highlight on page 3 | Added on someday\n\nx\n"
        )
        (entry,) = entries
        assert (entry.kind, entry.page, entry.added_at) == (H, "3", None)
        assert [(p.kind, p.line, p.text) for p in problems] == [
            (ProblemKind.DATE, 2, "Added on someday")
        ]


class TestDetection:
    """`looks_like_kindle_txt` recognises the file from its content."""

    @pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.txt")))
    def test_every_fixture_is_recognised(self, name: str) -> None:
        """Every language's file is recognised."""
        assert looks_like_kindle_txt(_read(name))

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "title,author,highlight\nA,B,C\n",
            "<html><body>Your Highlight</body></html>",
            "==========\nsome\ntext\n==========\n",
        ],
    )
    def test_other_text_is_not_recognised(self, text: str) -> None:
        """CSV, HTML, or separators without a metadata line are not Kindle text files."""
        assert not looks_like_kindle_txt(text)


class TestNeverRaises:
    """Any text at all parses without an exception."""

    @settings(max_examples=300, deadline=None)
    @given(
        st.lists(
            st.one_of(
                st.text(max_size=40),
                st.sampled_from(
                    [
                        "==========",
                        "\n",
                        "\r",
                        "\ufeff",
                        "- ",
                        "– ",
                        "|",
                        ":",
                        "(",
                        ")",
                        META,
                        "12:61",
                        "¹",  # a digit to isdigit() that int() refuses
                        "Loc. 5444-45 ",
                        "下午",
                        " PM",
                    ]
                ),
            ),
            max_size=30,
        )
    )
    def test_any_text(self, pieces: list[str]) -> None:
        """Every returned entry has a valid kind and a 1-based position."""
        entries, problems = parse_kindle_txt("".join(pieces))
        assert all(isinstance(e.kind, Kind) and e.position >= 1 for e in entries)
        assert all(p.position >= 1 for p in problems)
        # Problems are for unreadable entries, never for the parser's own failures.
        assert not any("could not be read" in p.reason for p in problems)
        looks_like_kindle_txt("".join(pieces))
