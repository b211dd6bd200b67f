"""What every command that opens the database shares: the runtime, the warning when its
links in emails would not point where the server listens (site_state.py), and the one
transaction an operator's command runs in."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TextIO, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from clippost.config import Settings
from clippost.db.engine import Database
from clippost.runtime import Runtime, open_runtime
from clippost.site_state import base_url_warning

T = TypeVar("T")


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


async def in_one_transaction(settings: Settings, act: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `act` in one transaction, committed when it returns and rolled back when it
    raises; no mail transport is opened (the command sends nothing itself)."""
    async with (
        open_runtime(settings, with_transport=False) as runtime,
        runtime.db.transaction() as session,
    ):
        return await act(session)
