"""The one composition root: what a running process holds, built once, in order.

`open_runtime(settings)` wires settings -> database (migrations applied) -> secret key ->
links, mail domain, renderer -> transport (when the process sends mail). `serve` (through
the web app's lifespan), `worker`, `send-due` and every other command take what they need
from it; `runtime.context(now)` is the ServiceContext each service call is given.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from clippost import apart
from clippost.config import Settings
from clippost.context import ServiceContext
from clippost.db.engine import Database
from clippost.db.migrate import upgrade
from clippost.links import Links
from clippost.rendering.messages import MessageRenderer
from clippost.rendering.site import Site
from clippost.transports.base import Transport
from clippost.transports.factory import transport_from_settings


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    db: Database
    secret_key: str
    links: Links
    mail_domain: str
    renderer: MessageRenderer
    transport: Transport | None  # None unless opened `with_transport`

    def context(self, now: datetime) -> ServiceContext:
        """What a service call is given at the moment `now` (aware UTC)."""
        return ServiceContext(
            settings=self.settings, links=self.links, now=now, mail_domain=self.mail_domain
        )


@asynccontextmanager
async def open_runtime(
    settings: Settings, *, migrate: bool = True, with_transport: bool = True
) -> AsyncIterator[Runtime]:
    secret_key = settings.ensure_secret_key()
    db = Database(settings.resolved_database_url)
    links = Links.from_settings(settings, secret_key)
    renderer = MessageRenderer(
        links=links,
        from_address=settings.mail_from,
        from_name=settings.site_name,
        verp=settings.verp,
        site=Site.from_settings(settings),
    )
    transport: Transport | None = None
    with apart.held():  # the warm processes live as long as the runtime
        try:
            if migrate:
                await upgrade(db)
            if with_transport:
                transport = transport_from_settings(settings, db)
            yield Runtime(
                settings=settings,
                db=db,
                secret_key=secret_key,
                links=links,
                mail_domain=settings.mail_domain,
                renderer=renderer,
                transport=transport,
            )
        finally:
            if transport is not None:
                await transport.close()
            await db.dispose()
