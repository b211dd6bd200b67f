"""Issue 10's pages: favourite and never-again show the passage and one button, the done
page undoes in one click, the whole passage has its own page, unsubscribing offers the
way back, and the subscribed page previews the first digest and links to manage for days."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from clippost.links import Purpose
from clippost.models import Book, Highlight, SubscriberStatus

LONG = "It was the best of times. " * 60


async def _highlight(web, text: str = "The impediment to action advances action.") -> int:
    await web.confirmed_reader()
    async with web.db.transaction() as session:
        return int(await session.scalar(select(Highlight.id).where(Highlight.text == text)))


async def _flags(web, highlight_id: int) -> tuple[bool, bool]:
    async with web.db.transaction() as session:
        found = await session.get(Highlight, highlight_id)
        return found.favourite, found.discarded


def _form_actions(html: str) -> list[str]:
    return re.findall(r'<form method="post" action="([^"]+)"', html.split("<main", 1)[1])


class TestOneClickThenUndo:
    async def test_the_get_page_shows_the_passage_and_one_button(self, web):
        """A favourite link's page names the passage, book and author, and changes nothing."""
        highlight_id = await _highlight(web)
        page = await web.client.get(web.link(Purpose.FAVOURITE, highlight_id))
        assert "The impediment to action advances action." in page.text
        assert "Meditations" in page.text
        assert "Marcus Aurelius" in page.text
        assert page.text.count("<button") == 1
        assert await _flags(web, highlight_id) == (False, False)

    async def test_favourite_then_undo(self, web):
        """Favourite, then Undo on the done page: back to how it was, one click each."""
        highlight_id = await _highlight(web)
        link = web.link(Purpose.FAVOURITE, highlight_id)
        done = await web.post_form(link, csrf_from=link)
        assert await _flags(web, highlight_id) == (True, False)
        assert _form_actions(done.text) == [f"{link}/undo"]
        undone = await web.post_form(f"{link}/undo")
        assert undone.status_code == 200
        assert "Taken back" in undone.text
        assert await _flags(web, highlight_id) == (False, False)

    async def test_never_again_then_undo(self, web):
        """Never again, then Undo: the passage can come up again."""
        highlight_id = await _highlight(web)
        link = web.link(Purpose.DISCARD, highlight_id)
        await web.post_form(link, csrf_from=link)
        assert await _flags(web, highlight_id) == (False, True)
        await web.post_form(f"{link}/undo")
        assert await _flags(web, highlight_id) == (False, False)

    async def test_undo_takes_back_only_what_the_click_did(self, web):
        """A passage already a favourite: the click changes nothing and offers no Undo."""
        highlight_id = await _highlight(web)
        async with web.db.transaction() as session:
            await session.execute(
                update(Highlight).where(Highlight.id == highlight_id).values(favourite=True)
            )
        link = web.link(Purpose.FAVOURITE, highlight_id)
        done = await web.post_form(link)
        assert f"{link}/undo" not in done.text
        assert await _flags(web, highlight_id) == (True, False)

    async def test_undo_needs_csrf(self, web):
        """Undo is a POST with the form token: without it, 403 and nothing changes."""
        highlight_id = await _highlight(web)
        link = web.link(Purpose.FAVOURITE, highlight_id)
        await web.post_form(link, csrf_from=link)
        assert (await web.client.post(f"{link}/undo", data={})).status_code == 403
        assert await _flags(web, highlight_id) == (True, False)


class TestPassagePage:
    @pytest.fixture
    def web(self, sqlite_web):
        """A page's behaviour, not the database's: SQLite alone."""
        return sqlite_web

    async def test_the_whole_passage_with_its_book_and_actions(self, web):
        """The passage link shows the whole text, book, location, date and two actions."""
        content = web.clippings_file(("Two Cities", "Charles Dickens", [LONG.strip()]))
        await web.confirmed_reader(content=content)
        highlight_id = await _highlight_in(web, "Two Cities")
        page = await web.client.get(web.link(Purpose.PASSAGE, highlight_id))
        assert page.status_code == 200
        assert LONG.strip() in page.text
        assert "Charles Dickens" in page.text
        assert "location 100–102" in page.text
        assert "highlighted on" in page.text
        assert "2 January 2023" in page.text
        actions = _form_actions(page.text)
        assert [a.split("/")[1] for a in actions] == ["favourite", "discard"]
        assert await _flags(web, highlight_id) == (False, False)  # opening it changes nothing
        favourite = await web.post_form(actions[0], csrf_from=actions[0])
        assert favourite.status_code == 200
        assert await _flags(web, highlight_id) == (True, False)

    async def test_a_passage_token_does_nothing_else(self, web):
        """A passage token on the favourite path is refused."""
        highlight_id = await _highlight(web)
        token = web.link(Purpose.PASSAGE, highlight_id).rsplit("/", 1)[1]
        assert (await web.post_form(f"/favourite/{token}")).status_code == 400
        assert await _flags(web, highlight_id) == (False, False)


async def _highlight_in(web, title: str) -> int:
    async with web.db.transaction() as session:
        query = select(Highlight.id).join(Book, Book.id == Highlight.book_id)
        return int(await session.scalar(query.where(Book.title == title)))


class TestResubscribe:
    async def test_unsubscribed_page_resubscribes_in_one_click(self, web):
        """The unsubscribed page's Resubscribe button is a signed one-click way back."""
        await web.confirmed_reader()
        link = web.link(Purpose.UNSUBSCRIBE, await web.subscriber_id("reader@example.org"))
        done = await web.post_form(link, csrf_from=link)
        [way_back] = _form_actions(done.text)
        assert way_back.startswith("/resubscribe/")
        assert (await web.client.get(way_back)).text.count("<button") == 1
        assert (await web.subscriber("reader@example.org")).status == "unsubscribed"
        page = await web.post_form(way_back, csrf_from=way_back)
        assert page.status_code == 200
        assert "Welcome back" in page.text
        reader = await web.subscriber("reader@example.org")
        assert reader.status == SubscriberStatus.CONFIRMED
        assert reader.next_slot_at is not None

    async def test_an_unsubscribe_token_cannot_resubscribe(self, web):
        """The unsubscribe link's token on the resubscribe path: 400."""
        await web.confirmed_reader()
        token = web.link(Purpose.UNSUBSCRIBE, await web.subscriber_id("reader@example.org"))
        response = await web.post_form(f"/resubscribe/{token.rsplit('/', 1)[1]}")
        assert response.status_code == 400


class TestSubscribedPage:
    @pytest.fixture
    def web(self, sqlite_web):
        """A page's behaviour, not the database's: SQLite alone."""
        return sqlite_web

    async def test_preview_and_a_manage_link_that_lasts(self, web):
        """The subscribed page previews the first digest and its manage link lives 30 days."""
        await web.sign_up("reader@example.org")
        link = await web.last_link("confirm", "confirm_url")
        page = (await web.post_form(link, csrf_from=link)).text
        preview = page.split("What your first email will contain", 1)[1]
        assert preview.count('class="highlight"') == 3
        manage = re.search(r'href="http://testserver(/manage/[^"]+)"', page).group(1)
        token = manage.rsplit("/", 1)[1]
        data = web.app.state.runtime.links.read(Purpose.MANAGE, token, now=datetime.now(UTC))
        assert data.expires_at - data.issued_at == timedelta(days=30)
        assert (await web.client.get(manage)).status_code == 200
