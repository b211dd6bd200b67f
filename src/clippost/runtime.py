"""What a running process holds: settings, the database, the signing key, the transport.

`open_runtime()` is the one place that wires them in order (settings -> database ->
migrations -> transport) for `serve`, `worker`, `send-due` and the other commands.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from clippost.config import Settings
from clippost.db.engine import Database
from clippost.db.migrate import upgrade
from clippost.transports.base import Transport


@dataclass(slots=True)
class Runtime:
    settings: Settings
    db: Database
    secret_key: str
    transport: Transport | None


@asynccontextmanager
async def open_runtime(
    settings: Settings, *, migrate: bool = True, with_transport: bool = True
) -> AsyncIterator[Runtime]:
    secret_key = settings.ensure_secret_key()
    db = Database(settings.resolved_database_url)
    transport: Transport | None = None
    try:
        if migrate:
            await upgrade(db)
        if with_transport:
            from clippost.transports.factory import transport_from_settings

            transport = transport_from_settings(settings, db)
        yield Runtime(settings=settings, db=db, secret_key=secret_key, transport=transport)
    finally:
        if transport is not None:
            await transport.close()
        await db.dispose()
