"""`clippost parse FILE`: read a highlights file and print what it holds (no database)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TextIO

from clippost.clippings import merge, parse
from clippost.clippings.models import Library, ParseResult
from clippost.clippings.output import (
    write_entries_csv,
    write_entries_jsonl,
    write_highlights_csv,
    write_highlights_jsonl,
    write_markdown,
    write_problems_jsonl,
    write_summary,
)
from clippost.clippings.problems import left_out

LARGE_FILE = 5 * 1024 * 1024  # above this, an interactive terminal gets a progress bar
_MAX_PROBLEMS_SHOWN = 50  # the rest are counted, so a broken file cannot flood a terminal
_BAR_WIDTH = 30


class _Progress:
    """A one-line bar on an interactive stderr: parsing advances it, merging is named."""

    def __init__(self, err: TextIO) -> None:
        self._err = err

    def parsed(self, done: int, total: int) -> None:
        filled = _BAR_WIDTH * done // max(total, 1)
        percent = 100 * done // max(total, 1)
        self._show(f"parsing [{'#' * filled}{'.' * (_BAR_WIDTH - filled)}] {percent:3d}%")

    def stage(self, label: str) -> None:
        self._show(f"{label}…")

    def done(self) -> None:
        self._show("")

    def _show(self, text: str) -> None:
        self._err.write(f"\r{text:<{_BAR_WIDTH + 20}}\r" if text else "\r" + " " * 50 + "\r")
        self._err.flush()


def command(args: argparse.Namespace) -> int:
    return run_parse(
        args.file, fmt=args.fmt, all_entries=args.all_entries, out=sys.stdout, err=sys.stderr
    )


def run_parse(
    path: Path,
    *,
    fmt: str,
    all_entries: bool,
    out: TextIO,
    err: TextIO,
    today: date | None = None,
) -> int:
    """Print the file's contents in `fmt`; 0 on success, 2 when it cannot be read as highlights.

    `today` (default: the local date) is what a date "after tomorrow" is measured from.
    """
    try:
        progress = _progress_for(path, fmt, err)
        data = path.read_bytes()
    except OSError as exc:
        err.write(f"clippost: cannot read {path}: {exc.strerror or exc}\n")
        return 2
    today = today or datetime.now(UTC).astimezone().date()
    result = parse(data, progress=progress.parsed if progress else None, today=today)
    del data  # the entries are all that is needed from here: free the bytes
    if result.error:
        if progress:
            progress.done()
        err.write(f"clippost: {result.error}\n")
        return 2
    library = None if all_entries and fmt in ("jsonl", "csv") else _merged(result, progress)
    if progress:
        progress.done()
    _report_problems(result, err)
    _write(result, library, fmt=fmt, all_entries=all_entries, out=out)
    return 0


def _progress_for(path: Path, fmt: str, err: TextIO) -> _Progress | None:
    if fmt != "summary" or not err.isatty():
        return None
    size = path.stat().st_size
    return _Progress(err) if size > LARGE_FILE else None


def _merged(result: ParseResult, progress: _Progress | None) -> Library:
    if progress:
        progress.stage("merging")
    library = merge(result.entries)
    return replace(library, source_format=result.format, problems=tuple(result.problems))


def _report_problems(result: ParseResult, err: TextIO) -> None:
    for problem in result.problems[:_MAX_PROBLEMS_SHOWN]:
        where = f"{problem.file}: " if problem.file else ""
        at = f" (line {problem.line})" if problem.line else ""
        err.write(f"{where}entry {problem.position}{at}: {problem.reason}\n")
    hidden = result.problems[_MAX_PROBLEMS_SHOWN:]
    if hidden:
        skipped = left_out(hidden)
        err.write(
            f"... and {len(hidden)} more problems ({skipped} entries left out, the others"
            " imported without the field named)\n"
        )
    if result.missing_columns:
        names = ", ".join(result.missing_columns)
        err.write(f"note: this CSV has no column for: {names}\n")


def _write(
    result: ParseResult, library: Library | None, *, fmt: str, all_entries: bool, out: TextIO
) -> None:
    if library is None:
        # --all-entries with jsonl or csv: the raw entries, before merging.
        writer = write_entries_jsonl if fmt == "jsonl" else write_entries_csv
        writer(result.entries, out)
        if fmt == "jsonl":
            write_problems_jsonl(result.problems, out)
    elif fmt == "summary":
        write_summary(result, library, out, all_entries=all_entries)
    elif fmt == "jsonl":
        write_highlights_jsonl(library, out)
        write_problems_jsonl(result.problems, out)
    elif fmt == "csv":
        write_highlights_csv(library, out)
    else:
        write_markdown(library, out)
