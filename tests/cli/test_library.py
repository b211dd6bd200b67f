"""`clippost import`, `clippost preview` and `clippost send-due --at`, run through `main()`
on a real database (a SQLite file, and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select, update

from clippost.cli import main
from clippost.config import Settings
from clippost.db.dialect import normalise_database_url
from clippost.db.engine import Database
from clippost.models import Highlight, OutboxMessage, PendingImport, RotationEntry, Subscriber
from clippost.planner.service import plan_due
from clippost.subscriptions import signup
from factories import add_reader, add_suppression, kindle_text, make_settings, service_context

BOOKS = {
    ("Dune", "Frank Herbert"): ["Fear is the mind-killer.", "The spice must flow."],
    ("Emma", "Austen, Jane"): ["Badly done, Emma!"],
}
MORE = {("Dune", "Frank Herbert"): ["Fear is the mind-killer.", "I must not fear."]}
SECRET = "cli-test-secret-0123456789abcdefghijklmnop"
T = TypeVar("T")


def run(url: str, work: Callable[[Database], Awaitable[T]]) -> T:
    async def go() -> T:
        db = Database(normalise_database_url(url))
        try:
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(go())


def count(url: str, column: Any) -> int:
    async def work(db: Database) -> int:
        async with db.sessions() as session:
            return int(await session.scalar(select(func.count(column))) or 0)

    return run(url, work)


def reader(url: str, email: str = "reader@example.org") -> Subscriber | None:
    async def work(db: Database) -> Subscriber | None:
        async with db.sessions() as session:
            found: Subscriber | None = await session.scalar(
                select(Subscriber).where(Subscriber.email == email)
            )
            return found

    return run(url, work)


def outbox(url: str) -> list[OutboxMessage]:
    async def work(db: Database) -> list[OutboxMessage]:
        async with db.sessions() as session:
            found = await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
            return list(found.all())

    return run(url, work)


@pytest.fixture
def environment(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, Path]:
    """The command's settings in the environment, and a Kindle file of three highlights."""
    monkeypatch.setenv("CLIPPOST_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CLIPPOST_DATABASE_URL", database_url)
    monkeypatch.setenv("CLIPPOST_SECRET_KEY", SECRET)
    monkeypatch.setenv("CLIPPOST_BASE_URL", "http://testserver")
    upload = tmp_path / "My Clippings.txt"
    upload.write_text(kindle_text(BOOKS), encoding="utf-8")
    return database_url, upload


def settings_of(tmp_path: Path, url: str) -> Settings:
    return make_settings(
        data_dir=tmp_path / "data",
        database_url=url,
        secret_key=SECRET,
        base_url="http://testserver",
    )


class TestImportNewReader:
    def test_without_confirmed_the_sign_up_email_is_queued(
        self, environment: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A new address gets the web sign-up's confirmation email; its link applies the file."""
        url, upload = environment
        assert main(["import", str(upload), "--email", "New@Example.org"]) == 0
        assert "confirmation email queued (3 highlights from 2 books" in capsys.readouterr().out
        [row] = outbox(url)
        assert (row.kind, row.recipient, row.requested) == ("confirm", "new@example.org", True)
        assert row.payload["highlight_count"] == 3
        assert count(url, Highlight.id) == 0
        token = row.payload["confirm_url"].rsplit("/", 1)[1]

        async def click(db: Database) -> signup.ConfirmResult:
            ctx = service_context(settings_of(tmp_path, url), now=datetime.now(UTC))
            async with db.transaction() as session:
                return await signup.confirm(session, ctx, token)

        assert run(url, click).highlight_count == 3
        assert count(url, Highlight.id) == 3

    def test_confirmed_starts_at_once_with_the_chosen_schedule(
        self, environment: tuple[str, Path], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--confirmed stores the library and the preferences; no email asks for anything."""
        url, upload = environment
        options = ["--timezone", "Europe/Berlin", "--cadence", "weekly", "--weekday", "Friday"]
        options += ["--hour", "18", "--per-email", "4"]
        assert (
            main(["import", str(upload), "--email", "new@example.org", "--confirmed", *options])
            == 0
        )
        said = capsys.readouterr().out
        assert "confirmed with 3 highlights from 2 books; first digest" in said
        assert "18:00 (Europe/Berlin)" in said
        found = reader(url, "new@example.org")
        assert found is not None
        assert (found.status, found.cadence, found.weekday, found.hour, found.per_email) == (
            "confirmed",
            "weekly",
            4,
            18,
            4,
        )
        assert found.timezone == "Europe/Berlin"
        assert found.next_slot_at is not None
        assert found.next_slot_at.weekday() == 4
        assert outbox(url) == []
        assert count(url, Highlight.id) == 3

    def test_a_suppressed_address_is_not_confirmed(
        self, environment: tuple[str, Path], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--confirmed never overrides a suppression: exit 2, the way out named, nothing stored."""
        url, upload = environment
        run(url, lambda db: add_suppression(db, email="gone@example.org", reason="complained"))
        assert main(["import", str(upload), "--email", "gone@example.org", "--confirmed"]) == 2
        assert "suppressed (complained)" in capsys.readouterr().err
        assert reader(url, "gone@example.org") is None
        assert count(url, PendingImport.id) == 0


class TestImportExistingReader:
    def test_the_file_merges_once(
        self, environment: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A confirmed reader's library gains only what is new, however often it is imported."""
        url, upload = environment
        assert main(["import", str(upload), "--email", "reader@example.org", "--confirmed"]) == 0
        capsys.readouterr()
        more = tmp_path / "more.txt"
        more.write_text(kindle_text(MORE), encoding="utf-8")
        assert main(["import", str(more), "--email", "reader@example.org"]) == 0
        assert "added 1 new highlights from 0 new books; 4 highlights" in capsys.readouterr().out
        assert main(["import", str(more), "--email", "reader@example.org"]) == 0
        assert "added 0 new highlights" in capsys.readouterr().out
        assert count(url, Highlight.id) == 4
        assert [row.kind for row in outbox(url)] == []

    def test_options_change_the_readers_preferences(
        self, environment: tuple[str, Path], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """For an existing reader, the options given are saved; the others stay as they were."""
        url, upload = environment
        assert main(["import", str(upload), "--email", "r@example.org", "--confirmed"]) == 0
        assert main(["import", str(upload), "--email", "r@example.org", "--per-email", "7"]) == 0
        found = reader(url, "r@example.org")
        assert found is not None
        assert (found.per_email, found.cadence, found.timezone) == (7, "weekly", "UTC")

    def test_an_unsubscribed_reader_is_not_signed_up_again(
        self, environment: tuple[str, Path], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--confirmed on a reader who left exits 2 and stores nothing; without it the file
        joins their library and the output says they get no digests."""
        url, upload = environment
        assert main(["import", str(upload), "--email", "r@example.org", "--confirmed"]) == 0

        async def leave(db: Database) -> None:
            async with db.transaction() as session:
                await session.execute(update(Subscriber).values(status="unsubscribed"))
                await session.execute(Highlight.__table__.delete())

        run(url, leave)
        capsys.readouterr()
        assert main(["import", str(upload), "--email", "r@example.org", "--confirmed"]) == 2
        assert "--confirmed does not sign anyone up again" in capsys.readouterr().err
        assert count(url, Highlight.id) == 0
        assert main(["import", str(upload), "--email", "r@example.org"]) == 0
        assert "(unsubscribed: no digests until they resubscribe)" in capsys.readouterr().out
        assert count(url, Highlight.id) == 3


class TestImportBadInput:
    @pytest.mark.parametrize(
        ("options", "message"),
        [
            (["--timezone", "Mars/Olympus"], "Unknown timezone"),
            (["--hour", "24"], "The hour"),
            (["--per-email", "40"], "Highlights per email"),
        ],
    )
    def test_bad_preferences_store_nothing(
        self,
        environment: tuple[str, Path],
        capsys: pytest.CaptureFixture[str],
        options: list[str],
        message: str,
    ) -> None:
        """A preference that does not validate exits 2 with its sentence; nothing is stored."""
        url, upload = environment
        argv = ["import", str(upload), "--email", "new@example.org", "--confirmed", *options]
        assert main(argv) == 2
        assert message in capsys.readouterr().err
        assert reader(url, "new@example.org") is None
        assert count(url, Highlight.id) == count(url, OutboxMessage.id) == 0

    def test_an_unknown_weekday_is_refused_by_the_parser(
        self, environment: tuple[str, Path], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A weekday that is not one exits 2 with the names to choose from."""
        _, upload = environment
        with pytest.raises(SystemExit) as stopped:
            main(["import", str(upload), "--email", "a@example.org", "--weekday", "funday"])
        assert stopped.value.code == 2
        assert "not a weekday: 'funday'" in capsys.readouterr().err

    def test_a_file_that_is_not_highlights_is_refused(
        self, environment: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Binary junk gets the same message a reader would see, and nothing is stored."""
        url, _ = environment
        junk = tmp_path / "photo.jpg"
        junk.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40)
        assert main(["import", str(junk), "--email", "reader@example.org"]) == 2
        assert "not a text file" in capsys.readouterr().err
        assert reader(url) is None
        assert count(url, OutboxMessage.id) == 0

    def test_a_missing_file_is_named(
        self, environment: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A path that does not exist is an error naming it, not a traceback."""
        assert main(["import", str(tmp_path / "nope.txt"), "--email", "reader@example.org"]) == 2
        assert "No file at" in capsys.readouterr().err


class TestPreview:
    def test_the_next_digest_is_printed_and_nothing_changes(
        self, environment: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Headers and the text part are printed, --html FILE writes the HTML part; nothing
        is queued and no highlight is counted as sent."""
        url, upload = environment
        assert main(["import", str(upload), "--email", "reader@example.org", "--confirmed"]) == 0
        capsys.readouterr()
        assert main(["preview", "reader@example.org"]) == 0
        printed = capsys.readouterr().out
        assert "(not planned yet: chosen now as the planner would)" in printed
        assert "\nTo: reader@example.org\nSubject: " in printed
        assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in printed
        assert sum(text in printed for text in ("mind-killer", "spice", "Badly done")) >= 1
        page = tmp_path / "digest.html"
        assert main(["preview", "reader@example.org", "--html", str(page)]) == 0
        only_html = capsys.readouterr().out
        assert f"HTML part written to {page}" in only_html
        assert "mind-killer" not in only_html
        assert "Badly done" not in only_html
        assert "<html" in page.read_text(encoding="utf-8").lower()
        assert main(["preview", "reader@example.org", "--html", str(page), "--text"]) == 0
        both = capsys.readouterr().out
        assert f"HTML part written to {page}" in both
        assert sum(text in both for text in ("mind-killer", "spice", "Badly done")) >= 1
        assert outbox(url) == []
        assert run(url, times_sent) == 0

    def test_a_planned_digest_is_shown_as_it_will_go(
        self, environment: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Once planned, the preview is that row: its Message-ID, its highlights."""
        url, _ = environment
        slot = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)

        async def planned(db: Database) -> None:
            await add_reader(db, email="p@example.org", per_email=2, next_slot_at=slot)
            ctx = service_context(settings_of(tmp_path, url), now=slot)
            assert await plan_due(db, ctx) == 1

        run(url, planned)
        [row] = outbox(url)
        assert main(["preview", "p@example.org"]) == 0
        printed = capsys.readouterr().out
        assert f"Due: {slot.isoformat()} (planned)" in printed
        assert f"Message-ID: {row.message_id}" in printed
        for highlight in row.payload["highlights"]:
            assert highlight["text"].split(" <b>")[0] in printed
        assert len(outbox(url)) == 1

    def test_readers_who_get_nothing_are_told_so(
        self, environment: tuple[str, Path], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An empty library, a pending reader: exit 1 and a sentence; an unknown one: exit 2."""
        url, upload = environment
        run(
            url,
            lambda db: add_reader(db, email="empty@example.org", highlights=0, next_slot_at=None),
        )
        assert main(["preview", "empty@example.org"]) == 1
        assert "nothing to send" in capsys.readouterr().out
        assert main(["import", str(upload), "--email", "pending@example.org"]) == 0
        capsys.readouterr()
        assert main(["preview", "pending@example.org"]) == 1
        assert "pending, so no digest will be sent" in capsys.readouterr().out
        assert main(["preview", "nobody@example.org"]) == 2
        assert "No reader with the address nobody@example.org" in capsys.readouterr().err


class TestSendDueAt:
    def test_cron_sends_what_is_due_at_that_moment(
        self, environment: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`send-due --at` plans the slot due then and sends it (the Maildir receives it);
        run again at the same moment, it sends nothing more."""
        url, _ = environment
        slot = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
        run(url, lambda db: add_reader(db, email="cron@example.org", next_slot_at=slot))
        at = "2026-11-23T06:00:30+00:00"
        assert main(["send-due", "--at", at]) == 0
        assert "planned 1 digests; sent 1," in capsys.readouterr().out
        mail = list((tmp_path / "data" / "mail" / "new").glob("*"))
        assert len(mail) == 1
        assert b"cron@example.org" in mail[0].read_bytes()
        assert main(["send-due", "--at", at]) == 0
        assert "planned 0 digests; sent 0," in capsys.readouterr().out

    def test_a_bad_moment_is_refused(self, environment: tuple[str, Path]) -> None:
        """`--at` that is not an ISO date-time exits 2 before anything runs."""
        with pytest.raises(SystemExit) as stopped:
            main(["send-due", "--at", "tomorrow-ish"])
        assert stopped.value.code == 2


async def times_sent(db: Database) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.sum(RotationEntry.times_sent))) or 0)
