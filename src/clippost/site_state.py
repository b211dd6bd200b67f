"""Every statement on the site_state table, and the check it exists for: links in emails
must point where the server listens.

`serve` records the base URL it started with. A command run from a shell (`send-due`,
`preview`, a worker...) that was not given `CLIPPOST_BASE_URL` uses the default
(`http://127.0.0.1:8000`); when the server sharing its database started with another, every
link that command puts in an email points nowhere. It is told so, once, at start.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from clippost.config import Settings
from clippost.db.dialect import insert_or_update
from clippost.db.engine import Database
from clippost.models import SiteState

SERVER_BASE_URL = "server_base_url"


async def record_server_base_url(db: Database, base_url: str, *, now: datetime) -> None:
    """Remember the base URL the server uses (the latest `serve` wins)."""
    async with db.transaction() as session:
        statement = insert_or_update(
            session,
            SiteState,
            keys=["key"],
            set_={"value": base_url, "updated_at": now},
        ).values(key=SERVER_BASE_URL, value=base_url, updated_at=now)
        await session.execute(statement)


async def server_base_url(db: Database) -> str | None:
    async with db.sessions() as session:
        value: str | None = await session.scalar(
            select(SiteState.value).where(SiteState.key == SERVER_BASE_URL)
        )
        return value


async def base_url_warning(db: Database, settings: Settings) -> str | None:
    """What to tell the operator when this command's links would not reach the server:
    its base URL is the unset default while the server started with another one."""
    if "base_url" in settings.model_fields_set:
        return None  # chosen on purpose (CLIPPOST_BASE_URL, .env or a test)
    served = await server_base_url(db)
    if served is None or served == settings.base_url:
        return None
    return (
        f"warning: CLIPPOST_BASE_URL is not set, so links in emails from this command "
        f"point to {settings.base_url}, but the server using this database started with "
        f"{served}. Set CLIPPOST_BASE_URL={served} to match it."
    )
