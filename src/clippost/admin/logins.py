"""Failed operator logins, counted in the database so the limit holds across processes.

Only failures count: a window of `CLIPPOST_ADMIN_LOGIN_FAILURES_PER_HOUR` per client address,
and one for all clients together at ten times that, so that guessing from many addresses
is slowed too. `locked` is asked before a password is checked (a locked-out client's guess
is never even tried, so a lucky one cannot get in); `failed` counts a wrong password. The
windows live in the `rate_limit_windows` table, counted by `subscriptions.ratelimit`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clippost.models import RateLimitWindow
from clippost.subscriptions.ratelimit import count_event

WINDOW = timedelta(hours=1)
ALL_CLIENTS_FACTOR = 10


def _keys(client_ip: str) -> tuple[str, str]:
    return f"admin-login:{client_ip}"[:200], "admin-login:*"


async def locked(session: AsyncSession, client_ip: str, *, allowed: int, now: datetime) -> bool:
    """Whether this client (or everyone together) has used up the hour's failures."""
    mine, everyone = _keys(client_ip)
    found = await session.execute(
        select(RateLimitWindow.key, RateLimitWindow.count).where(
            RateLimitWindow.key.in_((mine, everyone)),
            RateLimitWindow.window_start > now - WINDOW,
        )
    )
    counts = {key: int(count) for key, count in found}
    return counts.get(mine, 0) >= allowed or counts.get(everyone, 0) >= allowed * ALL_CLIENTS_FACTOR


async def failed(session: AsyncSession, client_ip: str, *, now: datetime) -> None:
    """Count one wrong password for this client and for everyone."""
    for key in _keys(client_ip):
        await count_event(session, key, window=WINDOW, now=now)
