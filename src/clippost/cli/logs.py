"""Logging for the command line: one format for every command, Alembic quiet unless -v.

Migrations run at the start of most commands; their INFO lines ("Context impl SQLiteImpl",
"Will assume non-transactional DDL") are noise in a command's output, so the `alembic`
logger is held at WARNING unless the operator asks for more with `-v`.
"""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure(*, verbose: bool) -> None:
    """Info-level logs on stderr; Alembic's, and clippost's debug detail, with `verbose`."""
    logging.basicConfig(level=logging.INFO, format=FORMAT)
    logging.getLogger("alembic").setLevel(logging.INFO if verbose else logging.WARNING)
    if verbose:
        logging.getLogger("clippost").setLevel(logging.DEBUG)
