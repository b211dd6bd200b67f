"""What every command that opens the database shares: the runtime, and the warning when
its links in emails would not point where the server listens (site_state.py)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TextIO

from clippost.config import Settings
from clippost.db.engine import Database
from clippost.runtime import Runtime, open_runtime
from clippost.site_state import base_url_warning


@asynccontextmanager
async def cli_runtime(
    settings: Settings, *, with_transport: bool = True, err: TextIO | None = None
) -> AsyncIterator[Runtime]:
    """`open_runtime`, after which the base URL is compared with the server's."""
    async with open_runtime(settings, with_transport=with_transport) as runtime:
        await warn_about_base_url(runtime.db, settings, err=err)
        yield runtime


async def warn_about_base_url(db: Database, settings: Settings, *, err: TextIO | None) -> None:
    warning = await base_url_warning(db, settings)
    if warning is not None:
        print(f"clippost: {warning}", file=err or sys.stderr, flush=True)
