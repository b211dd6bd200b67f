"""`clippost db upgrade`: migrate the configured database and say where it stands."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from clippost.cli.common import warn_about_base_url
from clippost.config import Settings
from clippost.db.engine import Database
from clippost.db.migrate import current_revision, upgrade


async def command(args: argparse.Namespace) -> int:
    # `upgrade` is the only action (argparse refuses any other).
    return await upgrade_command(Settings(), out=sys.stdout)


async def upgrade_command(settings: Settings, *, out: TextIO) -> int:
    """Apply every migration (idempotent) and print the revision and the dialect."""
    db = Database(settings.resolved_database_url)
    try:
        await upgrade(db)
        await warn_about_base_url(db, settings, err=None)
        revision = await current_revision(db)
    finally:
        await db.dispose()
    out.write(f"database at revision {revision} ({db.dialect})\n")
    return 0
