"""Property-based: whatever bytes and form values arrive, the answer is 2xx/3xx or 4xx, never
5xx, and the database changes only when the answer is a success (invariant 9)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clippost.config import Settings

EXAMPLES = 40

_FIELD_TEXT = st.text(max_size=40)
_EMAILS = st.one_of(st.emails(), _FIELD_TEXT)
_UPLOADS = st.one_of(
    st.binary(max_size=3000),
    st.text(max_size=500).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.just(b""),
    st.just(b"\x00" * 100),
)
_PREFERENCES = st.fixed_dictionaries(
    {
        "cadence": st.one_of(
            st.sampled_from(["daily", "weekdays", "weekly", "monthly"]), _FIELD_TEXT
        ),
        "hour": st.one_of(st.integers(-3, 30).map(str), _FIELD_TEXT),
        "weekday": st.one_of(st.integers(-1, 8).map(str), _FIELD_TEXT),
        "day_of_month": st.one_of(st.integers(0, 32).map(str), _FIELD_TEXT),
        "timezone": st.one_of(st.sampled_from(["UTC", "Europe/Paris", "Asia/Tokyo"]), _FIELD_TEXT),
        "per_email": st.one_of(st.integers(0, 16).map(str), _FIELD_TEXT),
        "paused_until": st.one_of(st.just(""), st.dates().map(str), _FIELD_TEXT),
    }
)


class Driver:
    """Runs the async app on an event loop of its own, so hypothesis drives it from sync code."""

    def __init__(self, web_app: Any, settings: Settings) -> None:
        self.loop = asyncio.new_event_loop()
        self.opener = web_app(settings)
        self.web = self.loop.run_until_complete(self.opener.__aenter__())
        self._link: str | None = None

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    def reader_link(self) -> str:
        """A confirmed reader's manage link, asked for once: the examples' subject is what
        is posted on the page, and nothing posted there signs the link out."""
        if self._link is None:
            self.run(self.web.confirmed_reader())
            self._link = self.run(self.web.manage_link())
        return self._link

    def close(self) -> None:
        self.run(self.opener.__aexit__(None, None, None))
        self.loop.close()


@pytest.fixture
def driver(web_app: Any, web_settings: Settings) -> Iterator[Driver]:
    opened = Driver(web_app, web_settings)
    yield opened
    opened.close()


def _assert_outcome(status: int, before: dict[str, int], after: dict[str, int]) -> None:
    assert status < 500
    if status >= 400:
        assert after == before, "a refused request changed the database"


class TestSignUpProperties:
    @settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(email=_EMAILS, upload=_UPLOADS, preferences=_PREFERENCES)
    def test_any_sign_up(self, driver, email, upload, preferences):
        """Any address, file and preferences: never 5xx; a refusal stores nothing."""
        web = driver.web
        before = driver.run(web.counts())
        files = {"file": ("upload.txt", upload, "application/octet-stream")}
        form = {"email": email, **preferences}
        response = driver.run(web.post_form("/signup", form, files=files))
        _assert_outcome(response.status_code, before, driver.run(web.counts()))

    @settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(preferences=_PREFERENCES, email=_EMAILS)
    def test_valid_file_any_form(self, driver, preferences, email):
        """A good file with any form values: success (303) or a 4xx that stores nothing."""
        web = driver.web
        before = driver.run(web.counts())
        files = {"file": ("My Clippings.txt", web.sample, "text/plain")}
        response = driver.run(
            web.post_form("/signup", {"email": email, **preferences}, files=files)
        )
        after = driver.run(web.counts())
        _assert_outcome(response.status_code, before, after)
        if response.status_code == 303:
            assert after["outbox"] == before["outbox"] + 1


class TestManageProperties:
    @settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(preferences=_PREFERENCES)
    def test_any_preferences(self, driver, preferences):
        """Any preference values on the manage page: 303 or 4xx; a 4xx leaves them as they were."""
        web = driver.web
        link = driver.reader_link()
        stored = driver.run(web.subscriber("reader@example.org"))
        before = _preferences_of(stored)
        response = driver.run(web.post_form(f"{link}/preferences", preferences, csrf_from=link))
        assert response.status_code < 500
        assert "This link does not work" not in response.text  # the page, not its refusal
        if response.status_code >= 400:
            assert _preferences_of(driver.run(web.subscriber("reader@example.org"))) == before

    @settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(upload=_UPLOADS)
    def test_any_upload_more(self, driver, upload):
        """Any bytes uploaded on the manage page: never 5xx; a refusal stores nothing."""
        web = driver.web
        link = driver.reader_link()
        before = driver.run(web.counts())
        files = {"file": ("x.txt", upload, "text/plain")}
        response = driver.run(web.post_form(f"{link}/upload", files=files, csrf_from=link))
        assert "This link does not work" not in response.text
        _assert_outcome(response.status_code, before, driver.run(web.counts()))


def _preferences_of(subscriber: Any) -> tuple[Any, ...]:
    return (
        subscriber.cadence,
        subscriber.hour,
        subscriber.weekday,
        subscriber.day_of_month,
        subscriber.timezone,
        subscriber.per_email,
        subscriber.paused_until,
    )
