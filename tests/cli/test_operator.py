"""`clippost outbox` and `clippost suppressions` through `main()`, on a real database."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from clippost.addresses import address_hash
from clippost.cli import main
from clippost.config import Settings
from clippost.db.base import utcnow
from clippost.models import OutboxMessage, Suppression
from clippost.passwords import verify
from clippost.runtime import open_runtime
from factories import outbox_rows, queue_messages


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The test's settings as the environment a command reads."""
    monkeypatch.setenv("CLIPPOST_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CLIPPOST_DATABASE_URL", settings.database_url or "")
    return settings


async def _seed(settings: Settings) -> list[OutboxMessage]:
    """Three digests: one failed a day ago ("554 refused"), one pending, one sent."""
    now = utcnow()
    async with open_runtime(settings) as runtime:
        await queue_messages(runtime.db, count=3, due_at=now)
        async with runtime.db.transaction() as session:
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.idempotency_key == "k0")
                .values(
                    state="failed",
                    attempts=4,
                    last_error="554 Refused",
                    created_at=now - timedelta(days=1),
                    finished_at=now,
                )
            )
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.idempotency_key == "k2")
                .values(state="sent", finished_at=now)
            )
        return await outbox_rows(runtime.db)


async def _rows(settings: Settings) -> list[OutboxMessage]:
    async with open_runtime(settings) as runtime:
        return await outbox_rows(runtime.db)


async def _suppressions(settings: Settings) -> list[Suppression]:
    async with open_runtime(settings) as runtime, runtime.db.sessions() as session:
        return list((await session.scalars(select(Suppression))).all())


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    status = main(list(argv))
    return status, capsys.readouterr().out


class TestOutboxCommand:
    @pytest.mark.parametrize(
        ("filters", "keys"),
        [
            ([], ["k2", "k1", "k0"]),
            (["--state", "failed"], ["k0"]),
            (["--reason", "refused"], ["k0"]),
            (["--address", "Reader1@Example.org"], ["k1"]),
            (["--older-than", "2h"], ["k0"]),
            (["--newer-than", "2h"], ["k2", "k1"]),
            (["--kind", "magic_link"], []),
        ],
    )
    def test_list_filters(
        self, env: Settings, capsys: pytest.CaptureFixture[str], filters: list[str], keys: list[str]
    ) -> None:
        """list filters by state, reason (any case), address, age and kind; newest first."""
        rows = {row.id: row.idempotency_key for row in asyncio.run(_seed(env))}
        status, out = _run(capsys, "outbox", "list", *filters, "--json")
        assert status == 0
        assert [rows[item["id"]] for item in json.loads(out)] == keys

    def test_show_and_missing(self, env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
        """show prints one row's fields; an unknown id is a clear message and status 2."""
        failed = asyncio.run(_seed(env))[0]
        status, out = _run(capsys, "outbox", "show", str(failed.id))
        assert status == 0
        assert "554 Refused" in out
        assert main(["outbox", "show", "99999"]) == 2
        assert "There is no outbox message 99999." in capsys.readouterr().err

    def test_retry_and_cancel(self, env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
        """retry requeues the failed row (tries reset, same Message-ID); cancel finalises the
        pending one; each refuses the others, exit 1, saying why."""
        failed, pending, sent = asyncio.run(_seed(env))
        assert _run(capsys, "outbox", "retry", str(failed.id)) == (
            0,
            f"{failed.id}: queued again\n",
        )
        assert _run(capsys, "outbox", "cancel", str(pending.id)) == (
            0,
            f"{pending.id}: cancelled\n",
        )
        status, out = _run(capsys, "outbox", "retry", str(sent.id))
        assert (status, out) == (1, f"{sent.id}: it is sent\n")
        after = {row.id: row for row in asyncio.run(_rows(env))}
        assert (after[failed.id].state, after[failed.id].attempts) == ("pending", 0)
        assert after[failed.id].message_id == failed.message_id
        assert after[pending.id].state == "cancelled"

    def test_a_bad_age_is_refused(self, capsys: pytest.CaptureFixture[str]) -> None:
        """An age that is not 30m, 2h or 7d is a usage error, before any database work."""
        with pytest.raises(SystemExit) as exited:
            main(["outbox", "list", "--older-than", "soon"])
        assert exited.value.code == 2
        assert "not an age such as 30m, 2h or 7d" in capsys.readouterr().err


class TestSuppressionsCommand:
    def test_add_list_remove(self, env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
        """add suppresses by hash (reason operator), list finds it, remove lifts it."""
        status, out = _run(capsys, "suppressions", "add", "Stop@Example.org", "--note", "asked")
        assert (status, out) == (
            0,
            "stop@example.org: no more mail of any kind (0 queued messages stopped)\n",
        )
        status, out = _run(
            capsys, "suppressions", "list", "--address", "stop@example.org", "--json"
        )
        (listed,) = json.loads(out)
        assert listed["address_hash"] == address_hash("stop@example.org")
        assert (listed["reason"], listed["detail"]) == ("operator", "by the operator: asked")
        assert _run(capsys, "suppressions", "remove", "stop@example.org")[0] == 0
        assert _run(capsys, "suppressions", "remove", "stop@example.org") == (
            1,
            "stop@example.org: was not suppressed\n",
        )
        assert asyncio.run(_suppressions(env)) == []

    def test_a_bad_address_is_a_clear_message(
        self, env: Settings, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An address that cannot be one: exit 2 and the sentence, nothing stored."""
        assert main(["suppressions", "add", "not an address"]) == 2
        assert "does not look like an email address" in capsys.readouterr().err


class TestAdminPassword:
    def test_prints_a_hash_that_verifies(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A password on stdin gives a $scrypt$ hash that checks it."""
        monkeypatch.setattr("sys.stdin", io.StringIO("a long operator password\n"))
        assert main(["admin-password"]) == 0
        hashed = capsys.readouterr().out.strip()
        assert hashed.startswith("$scrypt$ln=15,r=8,p=1$")
        assert verify(hashed, "a long operator password")

    def test_a_short_password_is_refused(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Under twelve characters: exit 2 and why."""
        monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
        assert main(["admin-password"]) == 2
        assert "at least 12 characters" in capsys.readouterr().err
