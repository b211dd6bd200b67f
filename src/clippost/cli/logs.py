"""Logging for the command line: one handler for every command, Alembic quiet unless -v.

Migrations run at the start of most commands; their INFO lines ("Context impl SQLiteImpl",
"Will assume non-transactional DDL") are noise in a command's output, so the `alembic`
logger is held at WARNING unless the operator asks for more with `-v`. The handler is
clippost's own (`clippost.logs`): a command that knows its settings (`serve`, `worker`,
`send-due`) switches it to `CLIPPOST_LOG_FORMAT` later, and these levels stay.
"""

from __future__ import annotations

import logging
import os
from typing import Literal

from clippost import logs
from clippost.config import Settings


def configure(*, verbose: bool) -> None:
    """Info-level logs on stderr; Alembic's, and clippost's debug detail, with `verbose`.

    The format is CLIPPOST_LOG_FORMAT's from the first line on (settings are read later, and
    a broken setting must still be reported in the format the operator chose)."""
    logs.configure(_format_from_environment())
    logging.getLogger("alembic").setLevel(logging.INFO if verbose else logging.WARNING)
    logging.getLogger("clippost").setLevel(logging.DEBUG if verbose else logging.NOTSET)


def _format_from_environment() -> Literal["text", "json"]:
    try:
        return Settings().log_format
    except Exception:  # a broken setting is reported later, by the command that needs it
        raw = os.environ.get("CLIPPOST_LOG_FORMAT", "").strip().lower()
        return "json" if raw == "json" else "text"
