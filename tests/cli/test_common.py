"""What the operator's commands share: the one transaction a command runs in."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clippost.cli.common import in_one_transaction
from clippost.config import Settings
from clippost.errors import BadInput
from clippost.models import Suppression
from clippost.runtime import open_runtime


async def _suppress(session: AsyncSession) -> str:
    session.add(Suppression(address_hash="a" * 64, reason="operator"))
    await session.flush()
    return "added"


async def _suppressed(settings: Settings) -> list[str]:
    async with (
        open_runtime(settings, with_transport=False) as runtime,
        runtime.db.read() as session,
    ):
        return list(await session.scalars(select(Suppression.address_hash)))


class TestInOneTransaction:
    async def test_commits_and_returns_what_the_action_returns(self, settings: Settings) -> None:
        """The action's writes are committed and its result is handed back."""
        assert await in_one_transaction(settings, _suppress) == "added"
        assert await _suppressed(settings) == ["a" * 64]

    async def test_an_action_that_raises_leaves_nothing_written(self, settings: Settings) -> None:
        """An action that raises after writing has its writes rolled back, and the error
        reaches the caller."""

        async def suppress_then_refuse(session: AsyncSession) -> str:
            await _suppress(session)
            raise BadInput("refused")

        with pytest.raises(BadInput, match="refused"):
            await in_one_transaction(settings, suppress_then_refuse)
        assert await _suppressed(settings) == []
