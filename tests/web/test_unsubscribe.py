"""Unsubscribe (GET page, POST form, RFC 8058 one-click) and favourite/discard links."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
from sqlalchemy import select

from clippost.links import Purpose
from clippost.models import Highlight, OutboxState, SubscriberStatus, Suppression
from clippost.outbox.repository import enqueue

ONE_CLICK = b"List-Unsubscribe=One-Click"
FORM = {"content-type": "application/x-www-form-urlencoded"}


async def _unsubscribe_link(web) -> str:
    await web.confirmed_reader()
    return web.link(Purpose.UNSUBSCRIBE, await web.subscriber_id("reader@example.org"))


async def _status(web) -> str:
    return (await web.subscriber("reader@example.org")).status


class TestUnsubscribe:
    async def test_get_shows_one_button_and_changes_nothing(self, web):
        """Opening the link (a scanner would) unsubscribes nobody."""
        link = await _unsubscribe_link(web)
        page = await web.client.get(link)
        assert page.status_code == 200
        assert page.text.count("<button") == 1
        assert await _status(web) == SubscriberStatus.CONFIRMED

    async def test_post_unsubscribes(self, web):
        """Pressing the button unsubscribes at once and suppresses digests."""
        link = await _unsubscribe_link(web)
        page = await web.post_form(link, csrf_from=link)
        assert page.status_code == 200
        assert "You are unsubscribed" in page.text
        assert await _status(web) == SubscriberStatus.UNSUBSCRIBED
        async with web.db.transaction() as session:
            assert await session.scalar(select(Suppression.reason)) == "unsubscribed"

    async def test_post_without_csrf_is_refused(self, web):
        """A form POST without a CSRF token: 403, still subscribed."""
        link = await _unsubscribe_link(web)
        response = await web.client.post(link, data={})
        assert response.status_code == 403
        assert await _status(web) == SubscriberStatus.CONFIRMED

    async def test_one_click_without_cookies(self, web):
        """RFC 8058: the one-click POST, with no cookie and no token, answers 200 at once."""
        link = await _unsubscribe_link(web)
        transport = httpx.ASGITransport(app=web.app)
        async with httpx.AsyncClient(transport=transport, base_url=web.settings.base_url) as bare:
            response = await bare.post(
                link,
                content=b"List-Unsubscribe=One-Click",
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
        assert response.status_code == 200
        assert "location" not in response.headers
        assert await _status(web) == SubscriberStatus.UNSUBSCRIBED

    async def test_one_click_as_multipart(self, web):
        """Some providers send the one-click body as multipart/form-data: also accepted."""
        link = await _unsubscribe_link(web)
        transport = httpx.ASGITransport(app=web.app)
        async with httpx.AsyncClient(transport=transport, base_url=web.settings.base_url) as bare:
            response = await bare.post(link, files={"List-Unsubscribe": (None, "One-Click")})
        assert response.status_code == 200
        assert await _status(web) == SubscriberStatus.UNSUBSCRIBED

    async def test_twice_is_harmless(self, web):
        """Unsubscribing twice answers the same."""
        link = await _unsubscribe_link(web)
        body = {"List-Unsubscribe": "One-Click"}
        first = await web.client.post(link, data=body)
        second = await web.client.post(link, data=body)
        assert (first.status_code, second.status_code) == (200, 200)

    async def test_tampered_link(self, web):
        """An altered token: 400 page, still subscribed."""
        link = await _unsubscribe_link(web)
        forged = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
        for response in (
            await web.client.get(forged),
            await web.client.post(forged, data={"List-Unsubscribe": "One-Click"}),
        ):
            assert response.status_code == 400
        assert await _status(web) == SubscriberStatus.CONFIRMED

    async def test_token_of_another_purpose(self, web):
        """A favourite token used as an unsubscribe link is refused."""
        await web.confirmed_reader()
        subscriber_id = await web.subscriber_id("reader@example.org")
        token = web.link(Purpose.FAVOURITE, subscriber_id).rsplit("/", 1)[1]
        response = await web.client.post(
            f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"}
        )
        assert response.status_code == 400
        assert await _status(web) == SubscriberStatus.CONFIRMED

    async def test_one_click_cancels_the_queued_digest(self, web):
        """A one-click POST cancels the reader's queued digest and suppresses the address."""
        link = await _unsubscribe_link(web)
        subscriber_id = await web.subscriber_id("reader@example.org")
        async with web.db.transaction() as session:
            await enqueue(
                session,
                kind="digest",
                recipient="reader@example.org",
                idempotency_key=f"digest:{subscriber_id}:next",
                payload={},
                due_at=datetime.now(UTC),
                domain="clippost.test",
                subscriber_id=subscriber_id,
            )
        response = await web.client.post(link, content=ONE_CLICK, headers=FORM)
        assert response.status_code == 200
        (digest,) = await web.outbox("digest")
        assert (digest.state, digest.last_error) == (OutboxState.CANCELLED, "unsubscribed")
        async with web.db.transaction() as session:
            assert await session.scalar(select(Suppression.reason)) == "unsubscribed"

    async def test_concurrent_one_clicks_all_commit(self, web):
        """Many readers' one-click POSTs at once: each answers 200 after its change is stored."""
        emails = [f"reader{n}@example.org" for n in range(6)]
        for email in emails:
            await web.sign_up(email)
        links = [web.link(Purpose.UNSUBSCRIBE, await web.subscriber_id(e)) for e in emails]
        responses = await asyncio.gather(
            *(web.client.post(link, content=ONE_CLICK, headers=FORM) for link in links * 2)
        )
        assert [r.status_code for r in responses] == [200] * len(links) * 2
        for email in emails:
            assert (await web.subscriber(email)).status == SubscriberStatus.UNSUBSCRIBED
        async with web.db.transaction() as session:
            suppressed = (await session.scalars(select(Suppression.reason))).all()
        assert suppressed == ["unsubscribed"] * len(emails)

    async def test_one_click_carries_the_security_headers(self, web):
        """The one-click answer has the same security headers as every page."""
        link = await _unsubscribe_link(web)
        response = await web.client.post(link, content=ONE_CLICK, headers=FORM)
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["cache-control"] == "no-store"


class TestFeedbackLinks:
    async def _highlight_id(self, web) -> int:
        await web.confirmed_reader()
        async with web.db.transaction() as session:
            return int(await session.scalar(select(Highlight.id).order_by(Highlight.id)))

    async def _flags(self, web, highlight_id: int) -> tuple[bool, bool]:
        async with web.db.transaction() as session:
            found = await session.get(Highlight, highlight_id)
            return found.favourite, found.discarded

    async def test_favourite_get_changes_nothing(self, web):
        """Opening a favourite link shows a button and changes nothing."""
        highlight_id = await self._highlight_id(web)
        page = await web.client.get(web.link(Purpose.FAVOURITE, highlight_id))
        assert page.status_code == 200
        assert "<button" in page.text
        assert await self._flags(web, highlight_id) == (False, False)

    async def test_favourite_post(self, web):
        """Pressing the button marks the highlight a favourite and shows it."""
        highlight_id = await self._highlight_id(web)
        link = web.link(Purpose.FAVOURITE, highlight_id)
        page = await web.post_form(link, csrf_from=link)
        assert page.status_code == 200
        assert "Marked as a favourite" in page.text
        assert await self._flags(web, highlight_id) == (True, False)

    async def test_discard_post(self, web):
        """Pressing the discard button discards the highlight."""
        highlight_id = await self._highlight_id(web)
        link = web.link(Purpose.DISCARD, highlight_id)
        page = await web.post_form(link, csrf_from=link)
        assert page.status_code == 200
        assert await self._flags(web, highlight_id) == (False, True)

    async def test_feedback_needs_csrf(self, web):
        """A POST without the CSRF token: 403, nothing changed."""
        highlight_id = await self._highlight_id(web)
        response = await web.client.post(web.link(Purpose.DISCARD, highlight_id), data={})
        assert response.status_code == 403
        assert await self._flags(web, highlight_id) == (False, False)

    async def test_discard_token_cannot_favourite(self, web):
        """A discard token on the favourite path is refused."""
        highlight_id = await self._highlight_id(web)
        token = web.link(Purpose.DISCARD, highlight_id).rsplit("/", 1)[1]
        response = await web.post_form(f"/favourite/{token}")
        assert response.status_code == 400
        assert await self._flags(web, highlight_id) == (False, False)
