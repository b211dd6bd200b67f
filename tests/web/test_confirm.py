"""Confirmation and add-highlights links: one button on GET, the change on POST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from clippost.links import Purpose
from clippost.models import Highlight, SubscriberStatus
from clippost.subscriptions import repository as subscriptions_repository

FIXTURES = Path(__file__).resolve().parents[1] / "clippings" / "fixtures"


class TestConfirm:
    async def test_get_shows_a_button_and_changes_nothing(self, web):
        """Opening the link (as a link scanner would) confirms nothing."""
        await web.sign_up("reader@example.org")
        link = await web.last_link("confirm", "confirm_url")
        before = await web.counts()
        page = await web.client.get(link)
        assert page.status_code == 200
        assert f'action="{link}"' in page.text
        assert "<button" in page.text
        assert await web.counts() == before
        subscriber = await web.subscriber("reader@example.org")
        assert subscriber.status == SubscriberStatus.PENDING

    async def test_post_confirms_and_imports(self, web):
        """Pressing the button confirms the address and imports the uploaded highlights."""
        await web.sign_up("reader@example.org")
        link = await web.last_link("confirm", "confirm_url")
        page = await web.post_form(link, csrf_from=link)
        assert page.status_code == 200
        assert "You are subscribed" in page.text
        assert "3 highlights" in page.text
        assert "2 books" in page.text
        counts = await web.counts()
        assert counts["highlights"] == 3
        subscriber = await web.subscriber("reader@example.org")
        assert subscriber.status == SubscriberStatus.CONFIRMED

    async def test_the_readers_language_is_their_kindles(self, web):
        """A library from a German Kindle makes German the reader's language, unless chosen:
        their own choice stays "from my library" (None), the library's language is kept."""
        german = (FIXTURES / "kindle" / "de.txt").read_bytes()
        await web.sign_up("leser@example.org", content=german)
        link = await web.last_link("confirm", "confirm_url")
        await web.post_form(link, csrf_from=link)
        subscriber = await web.subscriber("leser@example.org")
        assert (subscriber.locale, subscriber.library_locale) == (None, "de")
        assert subscriber.language == "de"

    async def test_a_chosen_language_wins_over_the_librarys(self, web):
        """The reader who chose French keeps French after confirming a German library."""
        german = (FIXTURES / "kindle" / "de.txt").read_bytes()
        await web.sign_up("leser@example.org", content=german)
        subscriber = await web.subscriber("leser@example.org")
        async with web.db.transaction() as session:
            await subscriptions_repository.set_locale(session, subscriber.id, "fr")
        link = await web.last_link("confirm", "confirm_url")
        await web.post_form(link, csrf_from=link)
        subscriber = await web.subscriber("leser@example.org")
        assert (subscriber.locale, subscriber.library_locale, subscriber.language) == (
            "fr",
            "de",
            "fr",
        )

    async def test_first_email_time_is_in_the_readers_timezone(self, web):
        """The page gives the first email's date and hour in the reader's own timezone."""
        await web.sign_up("reader@example.org", timezone="America/New_York", hour="6")
        link = await web.last_link("confirm", "confirm_url")
        page = await web.post_form(link, csrf_from=link)
        subscriber = await web.subscriber("reader@example.org")
        local = subscriber.next_slot_at.astimezone(ZoneInfo("America/New_York"))
        assert local.hour == 6
        assert f"{local.day} {local:%B %Y} at 06:00" in page.text
        assert "America/New_York" in page.text

    async def test_page_previews_highlights(self, web):
        """The page shows what the first email will contain."""
        await web.sign_up("reader@example.org")
        link = await web.last_link("confirm", "confirm_url")
        page = await web.post_form(link, csrf_from=link)
        assert "What your first email will contain" in page.text
        assert "Marcus Aurelius" in page.text or "Henry David Thoreau" in page.text

    async def test_confirming_twice_imports_once(self, web):
        """A second press shows the same summary and imports nothing twice."""
        await web.sign_up("reader@example.org")
        link = await web.last_link("confirm", "confirm_url")
        first = await web.post_form(link, csrf_from=link)
        second = await web.post_form(link, csrf_from=link)
        assert second.status_code == 200
        assert "3 highlights" in first.text
        assert "3 highlights" in second.text
        assert (await web.counts())["highlights"] == 3

    async def test_expired_link_gets_a_clear_page(self, web):
        """A confirmation link past its lifetime: 400 page, nothing confirmed."""
        await web.sign_up("reader@example.org")
        subscriber_id = await web.subscriber_id("reader@example.org")
        pending = (await web.outbox("confirm"))[-1].payload["confirm_url"]
        extra_source = web.app.state.runtime.links.read(
            Purpose.CONFIRM, pending.rsplit("/", 1)[1], now=datetime.now(UTC)
        ).extra
        old = datetime.now(UTC) - timedelta(days=30)
        link = web.link(Purpose.CONFIRM, subscriber_id, now=old, extra=extra_source)
        before = await web.counts()
        for response in (await web.client.get(link), await web.post_form(link)):
            assert response.status_code == 400
            assert "expired" in response.text.lower()
        assert await web.counts() == before


class TestAddImport:
    async def _offer(self, web) -> str:
        await web.confirmed_reader("reader@example.org")
        more = web.clippings_file(("Dune", "Frank Herbert", ["Fear is the mind-killer."]))
        await web.sign_up("reader@example.org", more)
        return await web.last_link("already_subscribed_import", "add_url")

    async def test_get_shows_a_button_and_changes_nothing(self, web):
        """Opening the add link adds nothing."""
        link = await self._offer(web)
        before = await web.counts()
        page = await web.client.get(link)
        assert page.status_code == 200
        assert "Add them to my library" in page.text
        assert await web.counts() == before

    async def test_post_adds_the_new_highlights(self, web):
        """Pressing the button adds the new highlights and says how many."""
        link = await self._offer(web)
        page = await web.post_form(link, csrf_from=link)
        assert page.status_code == 200
        assert "1 new highlight from 1 new book" in page.text
        assert "4 highlights" in page.text
        assert (await web.counts())["highlights"] == 4


class TestPendingPayload:
    """What a pending import stores is what confirming imports."""

    async def test_confirming_imports_the_upload_with_its_notes(self, web):
        """The confirmed library holds every highlight of the upload, notes attached."""
        upload = (
            b"Dune (Frank Herbert)\r\n- Your Highlight on Location 100-103 | Added on Monday, "
            b"4 March 2024 10:00:00\r\n\r\nFear is the mind-killer.\r\n==========\r\n"
            b"Dune (Frank Herbert)\r\n- Your Note on Location 103 | Added on Monday, "
            b"4 March 2024 10:01:00\r\n\r\nThe litany.\r\n==========\r\n"
        )
        await web.confirmed_reader("reader@example.org", upload)
        async with web.db.transaction() as session:
            [stored] = (await session.scalars(select(Highlight))).all()
        assert (stored.text, stored.note) == ("Fear is the mind-killer.", "The litany.")
