"""The operator page through the app, on a real database: off unless configured, a login
with its own rate limit, a signed session cookie, CSRF on every form, and the actions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher
from pydantic import SecretStr
from sqlalchemy import select, update

from clippost.addresses import address_hash
from clippost.app import create_app
from clippost.config import Settings
from clippost.db.base import utcnow
from clippost.errors import ConfigurationError
from clippost.models import OutboxMessage, Suppression
from clippost.passwords import hash_password
from factories import queue_messages

PASSWORD = "operator-password-0123"


def admin_settings(settings: Settings, password: str = PASSWORD, **more: Any) -> Settings:
    return settings.model_copy(update={"admin_password": SecretStr(password), **more})


@pytest.fixture
async def admin(web_settings: Settings, web_app: Any) -> AsyncIterator[Any]:
    """The app with the operator page on, and a browser logged in to it."""
    async with web_app(admin_settings(web_settings)) as web:
        response = await login(web)
        assert response.status_code == 303, response.text
        yield web


async def login(web: Any, password: str = PASSWORD) -> Any:
    return await web.post_form("/admin/login", {"password": password}, csrf_from="/admin")


async def failed_row(web: Any, *, error: str = "554 5.6.0 message refused") -> OutboxMessage:
    await queue_messages(web.db, kind="digest", recipient="reader@example.org", due_at=utcnow())
    async with web.db.transaction() as session:
        await session.execute(
            update(OutboxMessage).values(
                state="failed", attempts=3, last_error=error, finished_at=utcnow()
            )
        )
    (row,) = await web.outbox()
    return row


class TestOffUnlessConfigured:
    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", "/admin"),
            ("POST", "/admin/login"),
            ("POST", "/admin/outbox/1/retry"),
            ("POST", "/admin/suppressions"),
        ],
    )
    async def test_404(self, web: Any, method: str, path: str) -> None:
        """Without CLIPPOST_ADMIN_PASSWORD every /admin address is 404."""
        response = await web.client.request(method, path)
        assert response.status_code == 404


class TestLogin:
    async def test_the_login_form_comes_first(self, web_settings: Settings, web_app: Any) -> None:
        """Before logging in, /admin is a password form and shows no figures."""
        async with web_app(admin_settings(web_settings)) as web:
            page = await web.client.get("/admin")
        assert page.status_code == 200
        assert 'type="password"' in page.text
        assert "Failed messages" not in page.text

    @pytest.mark.parametrize("form", ["plain", "scrypt", "argon2"])
    async def test_the_password_logs_in(
        self, web_settings: Settings, web_app: Any, form: str
    ) -> None:
        """The right password (configured plain, as a $scrypt$ or an $argon2id$ hash) gets a
        session cookie (HttpOnly, SameSite=Strict) and the page."""
        configured = {
            "plain": PASSWORD,
            "scrypt": hash_password(PASSWORD, ln=10),
            "argon2": PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD),
        }[form]
        async with web_app(admin_settings(web_settings, configured)) as web:
            response = await login(web)
            page = await web.client.get("/admin")
        assert response.status_code == 303
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("clippost_admin=")
        assert "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie
        assert "Failed messages" in page.text

    async def test_a_wrong_password_is_refused(self, web_settings: Settings, web_app: Any) -> None:
        """A wrong password gets 403, no session, and the form again."""
        async with web_app(admin_settings(web_settings)) as web:
            response = await login(web, "not-the-password")
            page = await web.client.get("/admin")
        assert response.status_code == 403
        assert "set-cookie" not in response.headers or "clippost_admin" not in str(
            response.headers.get_list("set-cookie")
        )
        assert "That is not the operator password." in response.text
        assert "Failed messages" not in page.text

    async def test_failed_logins_are_rate_limited(
        self, web_settings: Settings, web_app: Any
    ) -> None:
        """After the hour's allowance of wrong passwords, even the right one gets 429."""
        settings = admin_settings(web_settings, admin_login_failures_per_hour=3)
        async with web_app(settings) as web:
            wrong = [(await login(web, f"guess-{n}")).status_code for n in range(3)]
            locked = await login(web)
        assert wrong == [403, 403, 403]
        assert locked.status_code == 429
        assert "clippost_admin" not in locked.headers.get("set-cookie", "")

    async def test_the_right_password_does_not_count(
        self, web_settings: Settings, web_app: Any
    ) -> None:
        """Only failures count: logging in many times is not locked out."""
        settings = admin_settings(web_settings, admin_login_failures_per_hour=2)
        async with web_app(settings) as web:
            statuses = [(await login(web)).status_code for _ in range(4)]
        assert statuses == [303] * 4

    async def test_a_login_without_csrf_token_is_refused(
        self, web_settings: Settings, web_app: Any
    ) -> None:
        """The login form carries the CSRF token; without it, 403 and no session."""
        async with web_app(admin_settings(web_settings)) as web:
            await web.client.get("/admin")
            response = await web.client.post("/admin/login", data={"password": PASSWORD})
        assert response.status_code == 403
        assert "clippost_admin" not in response.headers.get("set-cookie", "")

    async def test_a_forged_session_cookie_is_not_a_session(
        self, web_settings: Settings, web_app: Any
    ) -> None:
        """A cookie not signed with this site's key (or expired) shows the login form."""
        async with web_app(admin_settings(web_settings)) as web:
            web.client.cookies.set("clippost_admin", "9999999999.abcdefghijklmnop." + "0" * 64)
            page = await web.client.get("/admin")
        assert 'type="password"' in page.text

    async def test_changing_the_password_ends_sessions(self, admin: Any, web_app: Any) -> None:
        """A session made under one password is no session under another."""
        cookie = admin.client.cookies.get("clippost_admin")
        async with web_app(admin_settings(admin.settings, "another-password-456")) as other:
            other.client.cookies.set("clippost_admin", cookie)
            page = await other.client.get("/admin")
        assert 'type="password"' in page.text

    async def test_https_cookies_are_secure(self, web_settings: Settings, web_app: Any) -> None:
        """Served over https, the session cookie is Secure and __Host- prefixed."""
        settings = admin_settings(web_settings, base_url="https://clippost.example.org")
        async with web_app(settings) as web:
            response = await login(web)
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("__Host-clippost_admin=")
        assert "; Secure" in cookie
        assert "Path=/;" in cookie

    async def test_logging_out_ends_the_session(self, admin: Any) -> None:
        """Log out clears the cookie; the page asks for the password again."""
        response = await admin.post_form("/admin/logout", csrf_from="/admin")
        page = await admin.client.get("/admin")
        assert response.status_code == 303
        assert "Max-Age=0" in response.headers["set-cookie"]
        assert 'type="password"' in page.text


class TestDashboard:
    async def test_figures_chart_and_failures_are_shown(self, admin: Any) -> None:
        """The page has the figures, the SVG chart (no script, no CDN) and the failed
        messages with their reasons and a retry button."""
        row = await failed_row(admin, error="554 5.6.0 refused for content")
        page = await admin.client.get("/admin")
        assert page.status_code == 200
        assert "<svg" in page.text
        assert 'role="img"' in page.text
        assert "<script" not in page.text
        assert "554 5.6.0 refused for content" in page.text
        assert f"/admin/outbox/{row.id}/retry" in page.text
        assert page.headers["cache-control"] == "no-store"

    async def test_messages_waiting_for_another_try_can_be_cancelled(self, admin: Any) -> None:
        """A pending row that failed before is listed with its tries, its next attempt, its
        last error and a cancel button, and not in the failed table's retry form."""
        await queue_messages(
            admin.db, kind="digest", recipient="reader@example.org", due_at=utcnow()
        )
        async with admin.db.transaction() as session:
            await session.execute(
                update(OutboxMessage).values(
                    attempts=2,
                    last_error="451 4.3.0 try later",
                    due_at=utcnow() + timedelta(minutes=30),
                )
            )
        (row,) = await admin.outbox()
        page = await admin.client.get("/admin")
        assert "2 tries, next " in page.text
        assert "451 4.3.0 try later" in page.text
        assert f"/admin/outbox/{row.id}/cancel" in page.text
        assert f"/admin/outbox/{row.id}/retry" not in page.text
        assert "No failed messages." in page.text


class TestActions:
    async def test_retry_queues_a_failed_message_again(self, admin: Any) -> None:
        """Retry puts the failed row back to pending, due now, attempts reset, same
        Message-ID."""
        row = await failed_row(admin)
        response = await admin.post_form(f"/admin/outbox/{row.id}/retry", csrf_from="/admin")
        (after,) = await admin.outbox()
        assert response.status_code == 303
        assert response.headers["location"] == f"/admin?done=retried&id={row.id}"
        assert (after.state, after.attempts, after.message_id) == ("pending", 0, row.message_id)
        assert after.due_at <= utcnow()
        page = await admin.client.get(response.headers["location"])
        assert f"Message {row.id}: queued again." in page.text

    async def test_retry_refuses_what_did_not_fail(self, admin: Any) -> None:
        """A row that is not failed stays as it is, and the page says why."""
        await queue_messages(admin.db, recipient="reader@example.org", due_at=utcnow())
        (row,) = await admin.outbox()
        response = await admin.post_form(f"/admin/outbox/{row.id}/retry", csrf_from="/admin")
        assert response.headers["location"] == f"/admin?done=is-pending&id={row.id}"
        assert (await admin.outbox())[0].state == "pending"

    async def test_cancel_finalises_a_pending_message(self, admin: Any) -> None:
        """Cancel makes a pending row cancelled, with the operator named as the reason."""
        await queue_messages(admin.db, recipient="reader@example.org", due_at=utcnow())
        (row,) = await admin.outbox()
        response = await admin.post_form(f"/admin/outbox/{row.id}/cancel", csrf_from="/admin")
        (after,) = await admin.outbox()
        assert response.headers["location"] == f"/admin?done=cancelled&id={row.id}"
        assert (after.state, after.last_error) == ("cancelled", "cancelled by the operator")

    async def test_cancel_leaves_a_message_being_sent(self, admin: Any) -> None:
        """A row under a live lease is being sent: cancel refuses it."""
        await queue_messages(admin.db, recipient="reader@example.org", due_at=utcnow())
        async with admin.db.transaction() as session:
            await session.execute(
                update(OutboxMessage).values(
                    lease_owner="w1", lease_expires_at=utcnow() + timedelta(minutes=5)
                )
            )
        (row,) = await admin.outbox()
        response = await admin.post_form(f"/admin/outbox/{row.id}/cancel", csrf_from="/admin")
        assert response.headers["location"] == f"/admin?done=in-flight&id={row.id}"
        assert (await admin.outbox())[0].state == "pending"

    async def test_an_action_without_csrf_token_changes_nothing(self, admin: Any) -> None:
        """Logged in but without the form's token: 403, and the row stays failed."""
        row = await failed_row(admin)
        response = await admin.client.post(f"/admin/outbox/{row.id}/retry", data={})
        assert response.status_code == 403
        assert (await admin.outbox())[0].state == "failed"

    async def test_actions_need_a_session(self, web_settings: Settings, web_app: Any) -> None:
        """Without logging in, an action is refused with 403 and changes nothing."""
        async with web_app(admin_settings(web_settings)) as web:
            row = await failed_row(web)
            response = await web.post_form(f"/admin/outbox/{row.id}/retry", csrf_from="/admin")
            assert response.status_code == 403
            assert (await web.outbox())[0].state == "failed"

    async def test_suppressions_are_added_and_removed(self, admin: Any) -> None:
        """An address added gets no mail of any kind (reason operator, its queued mail
        settled); the list shows it by hash; lifting it by its row removes it."""
        await queue_messages(admin.db, recipient="stop@example.org", due_at=utcnow())
        added = await admin.post_form(
            "/admin/suppressions",
            {"address": " Stop@Example.org ", "note": "asked by phone"},
            csrf_from="/admin",
        )
        hashed = address_hash("stop@example.org")
        async with admin.db.transaction() as session:
            kept = await session.scalar(
                select(Suppression).where(Suppression.address_hash == hashed)
            )
        assert added.headers["location"] == "/admin?done=stopped"
        assert kept is not None
        assert (kept.reason, kept.detail) == ("operator", "by the operator: asked by phone")
        assert (await admin.outbox())[0].state == "suppressed"
        page = await admin.client.get("/admin")
        assert hashed[:12] in page.text
        removed = await admin.post_form(
            "/admin/suppressions/remove", {"hash": hashed}, csrf_from="/admin"
        )
        assert removed.headers["location"] == "/admin?done=allowed"
        async with admin.db.transaction() as session:
            assert await session.scalar(select(Suppression)) is None

    async def test_lifting_by_address(self, admin: Any) -> None:
        """The lift form takes an address; one that was not suppressed is said so."""
        await admin.post_form(
            "/admin/suppressions", {"address": "a@example.org"}, csrf_from="/admin"
        )
        lifted = await admin.post_form(
            "/admin/suppressions/remove", {"address": "A@example.org"}, csrf_from="/admin"
        )
        again = await admin.post_form(
            "/admin/suppressions/remove", {"address": "a@example.org"}, csrf_from="/admin"
        )
        assert lifted.headers["location"] == "/admin?done=allowed"
        assert again.headers["location"] == "/admin?done=not-suppressed"

    @pytest.mark.parametrize(
        ("path", "field", "value"),
        [
            ("/admin/suppressions", "address", "not an address"),
            ("/admin/suppressions/remove", "hash", "zz"),
        ],
    )
    async def test_bad_input_is_400(self, admin: Any, path: str, field: str, value: str) -> None:
        """An address that cannot be one, or a hash not of the list: 400, nothing stored."""
        response = await admin.post_form(path, {field: value}, csrf_from="/admin")
        assert response.status_code == 400
        async with admin.db.transaction() as session:
            assert await session.scalar(select(Suppression)) is None


class TestConfiguration:
    def test_a_broken_hash_stops_the_start(self, web_settings: Settings) -> None:
        """A $scrypt$ value that is no hash is a sentence at create_app, not a 500 later."""
        with pytest.raises(ConfigurationError, match="not a valid \\$scrypt\\$ hash"):
            create_app(admin_settings(web_settings, "$scrypt$ln=15$nope"))
