"""`clippost parse FILE`: formats, exit codes, problems and the progress bar."""

from __future__ import annotations

import io
import json
import os
from datetime import date
from pathlib import Path

import pytest

from clippost.cli.parse import LARGE_FILE, run_parse
from clippost.clippings import NOT_HIGHLIGHTS, NOT_TEXT

FIXTURES = Path(__file__).parents[1] / "clippings" / "fixtures"
KINDLE = (
    "\ufeffEmma (Austen, Jane)\r\n"
    "- Your Highlight on page 3 | Location 40-41 | Added on Monday, July 31, 2017 11:11:20 PM\r\n"
    "\r\nEmma Woodhouse, handsome, clever, and rich.\r\n==========\r\n"
    "Emma (Austen, Jane)\r\n"
    "- Your Note on page 3 | Location 41 | Added on Monday, July 31, 2017 11:12:00 PM\r\n"
    "\r\nThe first sentence.\r\n==========\r\n"
    "Emma (Austen, Jane)\r\n"
    "this block has no metadata line at all\r\n"
    "==========\r\n"
)


@pytest.fixture
def clippings_file(tmp_path: Path) -> Path:
    path = tmp_path / "My Clippings.txt"
    path.write_bytes(KINDLE.encode())
    return path


def run(path: Path, fmt: str = "summary", *, all_entries: bool = False) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_parse(path, fmt=fmt, all_entries=all_entries, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


class TestRunParse:
    def test_summary_is_the_default_view(self, clippings_file: Path) -> None:
        """The summary names the format and the book with its counts, exit code 0."""
        code, out, _ = run(clippings_file)
        assert code == 0
        assert "Format: Kindle My Clippings.txt" in out
        assert "Emma — Austen, Jane\n  1 highlight, 1 note" in out

    def test_problems_go_to_stderr_with_position_and_line(self, clippings_file: Path) -> None:
        """An unreadable entry is reported as "entry N (line L): reason" on stderr."""
        code, _, err = run(clippings_file)
        assert code == 0
        assert err.startswith("entry 3 (line 11): ")

    def test_jsonl_all_entries(self, clippings_file: Path) -> None:
        """--all-entries --format jsonl prints the raw entries, then the problems."""
        _, out, _ = run(clippings_file, "jsonl", all_entries=True)
        records = [json.loads(line) for line in out.splitlines()]
        assert [r.get("kind") for r in records] == ["highlight", "note", None]
        assert records[1]["location_start"] == 41
        assert (records[2]["problem"]["entry"], records[2]["problem"]["line"]) == (3, 11)

    def test_jsonl_merged(self, clippings_file: Path) -> None:
        """--format jsonl without --all-entries prints merged highlights with notes, then
        the problems."""
        _, out, _ = run(clippings_file, "jsonl")
        record, problem = [json.loads(line) for line in out.splitlines()]
        assert [n["text"] for n in record["notes"]] == ["The first sentence."]
        assert problem["problem"]["kind"] == "unreadable"

    def test_summary_says_what_the_problems_cost(self, tmp_path: Path) -> None:
        """The summary counts entries imported without their date, in a sentence."""
        path = tmp_path / "clippings.txt"
        path.write_text(
            "T (A)\n- Your Highlight on page 3 | Added on someday\n\nx\n==========\n",
            encoding="utf-8",
        )
        code, out, err = run(path)
        assert code == 0
        assert "1 entry had a date we could not read; it was imported without one" in out
        assert "entry 1 (line 2): the date 'Added on someday' was not understood" in err

    def test_dates_after_tomorrow_are_reported(self, tmp_path: Path) -> None:
        """A date after the given today is a problem and is left out."""
        path = tmp_path / "clippings.txt"
        path.write_text(
            "T (A)\n- Your Highlight | Added on Monday, 3 June 2030 21:50:05\n\nx\n==========\n",
            encoding="utf-8",
        )
        out, err = io.StringIO(), io.StringIO()
        run_parse(path, fmt="jsonl", all_entries=True, out=out, err=err, today=date(2026, 1, 1))
        item, problem = [json.loads(line) for line in out.getvalue().splitlines()]
        assert item["added_at"] is None
        assert problem["problem"]["kind"] == "implausible-date"

    def test_markdown(self, clippings_file: Path) -> None:
        """--format markdown prints a section per book."""
        _, out, _ = run(clippings_file, "markdown")
        assert out.startswith("## Emma\n\n*Austen, Jane*\n\n> Emma Woodhouse")

    def test_csv(self, clippings_file: Path) -> None:
        """--format csv prints the importer's layout."""
        _, out, _ = run(clippings_file, "csv")
        assert out.splitlines()[0].startswith("Highlight,Book Title,Book Author")

    def test_csv_input_reports_missing_columns(self) -> None:
        """A CSV without optional columns parses, naming what is missing on stderr."""
        code, out, err = run(FIXTURES / "csv" / "semicolon_bom.csv")
        assert code == 0
        assert "Middlemarch" in out
        assert "note: this CSV has no column for: Book Author" in err

    def test_not_highlights_exits_2_with_the_sentence(self, tmp_path: Path) -> None:
        """A file that is not highlights exits 2 with the clear sentence, nothing on stdout."""
        path = tmp_path / "notes.txt"
        path.write_text("Shopping list: eggs, milk\n", encoding="utf-8")
        assert run(path) == (2, "", f"clippost: {NOT_HIGHLIGHTS}\n")

    def test_binary_exits_2(self, tmp_path: Path) -> None:
        """A binary file exits 2 saying it is not text."""
        path = tmp_path / "cover.jpg"
        path.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" * 20)
        assert run(path) == (2, "", f"clippost: {NOT_TEXT}\n")

    def test_missing_file_exits_2(self, tmp_path: Path) -> None:
        """A path that does not exist exits 2 with a reason."""
        code, _, err = run(tmp_path / "absent.txt")
        assert code == 2
        assert err.startswith("clippost: cannot read ")


class TestProgress:
    def _large_file(self, tmp_path: Path) -> Path:
        block = KINDLE.split("==========\r\n")[0] + "==========\r\n"
        path = tmp_path / "large.txt"
        path.write_bytes((block * (LARGE_FILE // len(block) + 10)).encode())
        return path

    def test_large_file_on_a_terminal_shows_a_bar(self, tmp_path: Path) -> None:
        """A file over 5 MB shows a progress bar when stderr is a terminal, then clears it."""
        master, slave = os.openpty()
        with os.fdopen(slave, "w", encoding="utf-8") as err:
            out = io.StringIO()
            code = run_parse(
                self._large_file(tmp_path), fmt="summary", all_entries=False, out=out, err=err
            )
        shown = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
        os.close(master)
        assert code == 0
        assert b"parsing [" in shown
        assert b"100%" in shown
        assert b"merging" in shown

    def test_no_bar_when_not_a_terminal(self, tmp_path: Path) -> None:
        """Redirected stderr gets no progress bar."""
        _, _, err = run(self._large_file(tmp_path))
        assert "parsing [" not in err
