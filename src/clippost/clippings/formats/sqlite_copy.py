"""An uploaded SQLite database, opened read-only from a private temporary copy.

The bytes are written to a new directory only this process can read, with the `-wal`
file beside the database when one was uploaded with it (Apple Books keeps its recent
writes there: the main file alone can show no annotations at all), and opened with
`mode=ro`: never `immutable=1`, which ignores the WAL, and never read-write, which would
checkpoint. The copy and its directory are removed when the reading is done. Schemas are
not trusted: only known tables are read, with triggers and views unable to run functions.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from clippost.clippings.formats.base import FormatError, Limits
from clippost.clippings.models import ErrorKind

SQLITE_MAGIC = b"SQLite format 3\x00"
# A crafted database can make a query run for ever: give up after this many VM steps.
_MAX_STEPS = 50_000_000
_STEP_CHECK = 10_000


def is_sqlite_file(data: bytes) -> bool:
    return data.startswith(SQLITE_MAGIC)


@contextmanager
def open_copy(main: bytes, wal: bytes | None, limits: Limits) -> Iterator[sqlite3.Connection]:
    """A read-only connection to a private copy of `main` (with its `wal`)."""
    size = len(main) + len(wal or b"")
    if size > limits.max_database_bytes:
        mib = limits.max_database_bytes // (1024 * 1024)
        raise FormatError(
            f"This database is larger than the {mib} MB we read.", ErrorKind.TOO_LARGE
        )
    with tempfile.TemporaryDirectory(prefix="clippost-db-") as directory:
        path = Path(directory) / "upload.sqlite"
        path.write_bytes(main)
        path.chmod(0o600)
        if wal:
            wal_path = Path(f"{path}-wal")
            wal_path.write_bytes(wal)
            wal_path.chmod(0o600)
        try:
            connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        except sqlite3.Error as exc:
            raise damaged() from exc
        with closing(connection):
            _harden(connection)
            yield connection


def _harden(connection: sqlite3.Connection) -> None:
    steps = [0]

    def tick() -> int:
        steps[0] += _STEP_CHECK
        return 1 if steps[0] > _MAX_STEPS else 0

    connection.set_progress_handler(tick, _STEP_CHECK)
    try:
        connection.execute("PRAGMA trusted_schema = OFF")
        connection.execute("PRAGMA query_only = ON")
    except sqlite3.Error as exc:
        raise damaged() from exc


def tables(connection: sqlite3.Connection) -> dict[str, set[str]]:
    """Every table's name and column names (lower-cased)."""
    try:
        names = [
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        return {
            name.lower(): {
                str(column[1]).lower()
                for column in connection.execute(f"PRAGMA table_info({quoted(name)})")
            }
            for name in names
        }
    except sqlite3.Error as exc:
        raise damaged() from exc


def quoted(name: str) -> str:
    """An identifier quoted for SQL (names come from the database itself)."""
    return '"' + name.replace('"', '""') + '"'


def damaged() -> FormatError:
    """The error for a database that cannot be opened or fails while being read."""
    return FormatError(
        "This database is damaged or incomplete and cannot be read.", ErrorKind.DAMAGED
    )
