"""Security: headers, CSRF, signed links, and markup that readers' data cannot inject."""

from __future__ import annotations

import re

import httpx
import pytest

from clippost.links import Purpose

HOSTILE_TITLE = '<script>alert("title")</script>'
HOSTILE_AUTHOR = '"><img src=x onerror=alert(1)>'
# Words around the markup: a passage of fewer than four words is a fragment, never sent or
# previewed, and then would not be on the pages at all.
HOSTILE_TEXT = "</blockquote><script>alert('text')</script> and the passage goes on a while"


class TestHeaders:
    @pytest.mark.parametrize(
        "path", ["/", "/manage", "/check-inbox", "/no-such-page", "/healthz", "/static/style.css"]
    )
    async def test_every_response_carries_them(self, web, path):
        """CSP, frame denial, no referrer and nosniff on pages, errors, health and files."""
        response = await web.client.get(path)
        csp = response.headers["content-security-policy"]
        for directive in ("default-src 'self'", "form-action 'self'", "frame-ancestors 'none'"):
            assert directive in csp
        assert "unsafe-inline" not in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-content-type-options"] == "nosniff"

    async def test_token_pages_are_not_cached(self, web):
        """Pages reached by a token say no-store."""
        await web.confirmed_reader()
        link = web.link(Purpose.UNSUBSCRIBE, await web.subscriber_id("reader@example.org"))
        assert (await web.client.get(link)).headers["cache-control"] == "no-store"

    async def test_redirects_carry_them(self, web):
        """The sign-up redirect carries the headers too."""
        response = await web.sign_up("reader@example.org")
        assert response.status_code == 303
        assert response.headers["referrer-policy"] == "no-referrer"

    async def test_pages_have_no_inline_script_or_style(self, web):
        """Every script is a file and no element has a style attribute (CSP allows none)."""
        await web.confirmed_reader()
        for path in ("/", "/manage", await web.manage_link()):
            page = (await web.client.get(path)).text
            assert re.search(r"<script(?![^>]*\bsrc=)", page) is None, path
            assert " style=" not in page, path


class TestCsrfCookie:
    async def test_cookie_attributes_on_http(self, web):
        """On plain http the cookie is HttpOnly and SameSite=Lax."""
        response = await web.client.get("/")
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("clippost_csrf=")
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie
        assert "Path=/" in cookie

    async def test_cookie_on_https_is_host_prefixed_and_secure(self, web_app, web_settings):
        """Behind https the cookie is __Host- prefixed and Secure."""
        https = web_settings.model_copy(update={"base_url": "https://clippost.example"})
        async with web_app(https) as web:
            response = await web.client.get("/")
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("__Host-clippost_csrf=")
        assert "Secure" in cookie
        assert response.headers["strict-transport-security"].startswith("max-age=")

    async def test_cookie_is_set_once(self, web):
        """A browser that has the cookie is not sent a new one."""
        await web.client.get("/")
        assert "set-cookie" not in (await web.client.get("/")).headers

    async def test_no_cookie_on_non_html(self, web):
        """Health checks and files get no cookie."""
        assert "set-cookie" not in (await web.client.get("/healthz")).headers


class TestCsrf:
    async def test_missing_token(self, web):
        """A sign-up without the token: 403, nothing stored or queued."""
        await web.client.get("/")
        files = {"file": ("a.txt", web.sample, "text/plain")}
        form = {"email": "a@example.org", **web.default_preferences()}
        response = await web.client.post("/signup", data=form, files=files)
        assert response.status_code == 403
        assert "reload the page" in response.text
        assert (await web.counts())["subscribers"] == 0

    async def test_wrong_token(self, web):
        """A made-up token: 403."""
        await web.client.get("/")
        form = {"email": "a@example.org", "csrf_token": "0" * 64}
        response = await web.client.post("/manage", data=form)
        assert response.status_code == 403
        assert await web.outbox() == []

    async def test_token_from_another_browser(self, web_app, web_settings, web):
        """A token minted for one browser's cookie is refused in another's."""
        attacker_token = await web.csrf()
        async with web_app(web_settings) as victim:
            await victim.client.get("/")
            form = {"email": "a@example.org", "csrf_token": attacker_token}
            response = await victim.client.post("/manage", data=form)
        assert response.status_code == 403

    async def test_token_without_cookie(self, web):
        """A valid-looking token with no cookie at all (a cross-site form): 403."""
        token = await web.csrf()
        transport = httpx.ASGITransport(app=web.app)
        async with httpx.AsyncClient(transport=transport, base_url=web.settings.base_url) as bare:
            response = await bare.post(
                "/manage", data={"email": "a@example.org", "csrf_token": token}
            )
        assert response.status_code == 403


_SIGN_UP_LINKS = (Purpose.CONFIRM, Purpose.ADD_IMPORT)


class TestSignedLinks:
    @pytest.mark.parametrize(
        "purpose",
        [
            Purpose.CONFIRM,
            Purpose.ADD_IMPORT,
            Purpose.MANAGE,
            Purpose.UNSUBSCRIBE,
            Purpose.FAVOURITE,
            Purpose.DISCARD,
        ],
    )
    async def test_forged_tokens_get_a_clear_page(self, web, purpose):
        """Garbage, altered and truncated tokens: a 400 page on GET and POST, nothing changed."""
        await web.confirmed_reader()
        good = web.link(purpose, await web.subscriber_id("reader@example.org"), extra="0")
        prefix, token = good.rsplit("/", 1)
        altered = token[:5] + ("x" if token[5] != "x" else "y") + token[6:]
        suffix = "/preferences" if purpose is Purpose.MANAGE else ""
        before = await web.counts()
        for bad in ("garbage", altered, token[:-4], token + "A"):
            get = await web.client.get(f"{prefix}/{bad}")
            post = await web.post_form(f"{prefix}/{bad}{suffix}", web.default_preferences())
            assert (get.status_code, post.status_code) == (400, 400), (purpose, bad)
            assert "This link does not work" in get.text
            # The one thing that helps, right there: a new manage link, or signing up again.
            helps = (
                "Sign up again"
                if suffix == "" and purpose in _SIGN_UP_LINKS
                else 'action="/manage"'
            )
            assert helps in get.text
        assert await web.counts() == before

    async def test_unknown_page(self, web):
        """An unknown address gets a 404 page."""
        response = await web.client.get("/nothing/here")
        assert response.status_code == 404
        assert "There is no page at this address." in response.text

    async def test_wrong_method(self, web):
        """A method a page does not take gets a 405 page."""
        assert (await web.client.delete("/")).status_code == 405


class TestNoMarkupInjection:
    async def _hostile_reader(self, web) -> str:
        hostile = web.clippings_file((HOSTILE_TITLE, HOSTILE_AUTHOR, [HOSTILE_TEXT]))
        await web.sign_up("reader@example.org", hostile)
        link = await web.last_link("confirm", "confirm_url")
        page = await web.post_form(link, csrf_from=link)
        assert page.status_code == 200
        return page.text

    def _assert_inert(self, html: str) -> None:
        assert "<script>alert" not in html
        assert "<img src=x" not in html
        assert "</blockquote><script>" not in html

    async def test_confirmation_page(self, web):
        """A hostile title, author and text are shown escaped on the confirmation page."""
        page = await self._hostile_reader(web)
        self._assert_inert(page)
        assert "&lt;script&gt;alert" in page

    async def test_manage_page(self, web):
        """The manage page escapes them in the book table, the filter and the highlights."""
        await self._hostile_reader(web)
        page = (await web.client.get(await web.manage_link())).text
        self._assert_inert(page)
        assert page.count("&lt;script&gt;alert") >= 2

    async def test_search_query_is_escaped(self, web):
        """A hostile search query is echoed escaped."""
        await web.confirmed_reader()
        link = await web.manage_link()
        page = (await web.client.get(link, params={"q": '"><script>alert(1)</script>'})).text
        assert "<script>alert(1)" not in page

    async def test_feedback_page(self, web):
        """The favourite page escapes the highlight it shows."""
        await self._hostile_reader(web)
        from sqlalchemy import select

        from clippost.models import Highlight

        async with web.db.transaction() as session:
            highlight_id = await session.scalar(select(Highlight.id))
        link = web.link(Purpose.FAVOURITE, highlight_id)
        page = (await web.post_form(link, csrf_from=link)).text
        self._assert_inert(page)
