"""/healthz, /readyz and /metrics through the app, on a real database."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import text

from clippost.config import Settings
from clippost.db.base import utcnow
from clippost.db.dialect import normalise_database_url
from clippost.db.engine import Database
from clippost.db.health import readiness_problem
from clippost.db.migrate import head_revision
from factories import queue_messages


def _queue(body: str) -> dict[tuple[str, str], float]:
    """clippost_outbox_rows by (state, kind)."""
    return {
        (sample.labels["state"], sample.labels["kind"]): sample.value
        for family in text_string_to_metric_families(body)
        if family.name == "clippost_outbox_rows"
        for sample in family.samples
    }


def _names(body: str) -> set[str]:
    return {family.name for family in text_string_to_metric_families(body)}


async def _stamp(db: Database, revision: str) -> None:
    async with db.transaction() as session:
        await session.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})


class TestHealthz:
    async def test_the_process_answers(self, web: Any) -> None:
        """/healthz is 200 "ok" without touching the database."""
        response = await web.client.get("/healthz")
        assert (response.status_code, response.text) == (200, "ok\n")


class TestReadyz:
    async def test_ready_on_a_current_schema(self, web: Any) -> None:
        """With the database reachable and migrated to head, /readyz is 200."""
        response = await web.client.get("/readyz")
        assert (response.status_code, response.text) == (200, "ready\n")
        assert response.headers["cache-control"] == "no-store"

    async def test_a_schema_behind_is_503(self, web: Any) -> None:
        """A database whose schema is not this version's head is 503, with the reason."""
        await _stamp(web.db, "0002")
        try:
            response = await web.client.get("/readyz")
        finally:
            await _stamp(web.db, head_revision() or "")  # the next test's app must not migrate
        assert response.status_code == 503
        assert (
            response.text
            == f"not ready: database schema at 0002, this version needs {head_revision()}\n"
        )

    async def test_an_unreachable_database_is_not_ready(self) -> None:
        """A database that does not answer is a short reason, never an exception."""
        db = Database(normalise_database_url("postgresql://nobody@127.0.0.1:9/none"))
        try:
            problem = await readiness_problem(db, within=3)
        finally:
            await db.dispose()
        assert problem is not None
        assert problem.startswith("database not reachable (")


class TestMetrics:
    async def test_prometheus_text_with_the_database_figures(self, web: Any) -> None:
        """/metrics is the Prometheus text format, every name clippost_, with the queue."""
        await queue_messages(web.db, count=2, kind="magic_link", due_at=utcnow())
        response = await web.client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        names = _names(response.text)
        assert {"clippost_outbox_rows", "clippost_planner_lag_seconds", "clippost_bounces"} <= names
        assert all(name.startswith("clippost_") for name in names)
        assert 'clippost_outbox_rows{kind="magic_link",state="pending"} 2.0' in response.text

    async def test_a_token_guards_it(self, web_settings: Settings, web_app: Any) -> None:
        """With CLIPPOST_METRICS_TOKEN, /metrics is 404 unless the bearer token is right."""
        settings = web_settings.model_copy(update={"metrics_token": SecretStr("scrape-me-123")})
        async with web_app(settings) as web:
            none = await web.client.get("/metrics")
            wrong = await web.client.get("/metrics", headers={"Authorization": "Bearer nope"})
            right = await web.client.get(
                "/metrics", headers={"Authorization": "Bearer scrape-me-123"}
            )
        assert (none.status_code, wrong.status_code, right.status_code) == (404, 404, 200)

    async def test_figures_are_cached_per_process(
        self, web_settings: Settings, web_app: Any
    ) -> None:
        """Within CLIPPOST_METRICS_CACHE_SECONDS, a scrape reuses the last database read."""
        settings = web_settings.model_copy(update={"metrics_cache_seconds": 3600})
        async with web_app(settings) as web:
            first = await web.client.get("/metrics")
            await queue_messages(web.db, count=1, kind="magic_link", due_at=utcnow())
            second = await web.client.get("/metrics")
        assert _queue(first.text) == _queue(second.text) == {}
