"""Every metric /metrics reports moves as messages are sent, bounced and retried: the send
loop over the real SMTP transport into aiosmtpd, the database's figures read back, the text
format parsed with prometheus-client's own parser."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from clippost import metrics
from clippost.bounces.events import DeliveryEvent, EventKind, Provider
from clippost.bounces.service import record_events
from clippost.cli import worker as worker_cli
from clippost.config import Settings
from clippost.db.dialect import normalise_database_url
from clippost.db.engine import Database
from clippost.links import Links
from clippost.models import OutboxMessage, Subscriber
from clippost.outbox.sender import Sender, SenderConfig
from clippost.rendering.messages import MessageRenderer
from clippost.stats.service import gauges
from clippost.transports.smtp import SmtpTransport
from factories import add_pending_reader, make_settings, service_context, transport_options

LINKS = Links(
    base_url="http://testserver",
    secret_key="metrics-test-secret-0123456789-abcdefghijklmnop",
    confirm_ttl=timedelta(days=3),
    manage_ttl=timedelta(hours=1),
    unsubscribe_mailbox="news@clippost.test",
)


def _faults(recipient: str, attempt: int) -> str | None:
    if recipient.startswith("gone"):
        return "550 5.1.1 no such user"
    if recipient.startswith("busy"):
        return "451 4.3.0 try again later"
    return None


def _sender(db: Database, port: int, registry: CollectorRegistry) -> Sender:
    transport = SmtpTransport(
        **transport_options("smtp_", host="127.0.0.1", port=port, security="none", timeout=5)
    )
    render = MessageRenderer(links=LINKS, from_address="news@clippost.test", from_name="c")
    return Sender(
        db=db,
        transport=transport,
        render=render,
        config=SenderConfig(owner="metrics-test"),
        observer=metrics.SendMetrics(registry),
    )


def _samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


class TestMetricsMove:
    async def test_sent_bounced_retried_and_reported(
        self, sqlite_url: str, helpers: Any, smtp_server: Any, tmp_path: Path
    ) -> None:
        """One batch of three (sent, hard-bounced, retried) moves the send counters and the
        histogram; the database figures show the queue, the wait, the planner's lag, the
        bounce (from the transport) and a complaint (from a webhook)."""
        for n, who in enumerate(("ok", "gone", "busy")):
            await helpers.seed_outbox(sqlite_url, 1, recipient=f"{who}{{n}}@example.org")
            await _rename_key(sqlite_url, n)
        server = smtp_server(faults=_faults)
        db = Database(normalise_database_url(sqlite_url))
        registry = CollectorRegistry()
        try:
            before = _samples(metrics.exposition(await gauges(db, now=datetime.now(UTC))))
            report = await _sender(db, server.port, registry).run_once()
            assert (report.sent, report.failed, report.retried) == (1, 1, 1)
            settings = make_settings(data_dir=tmp_path, database_url=sqlite_url)
            await _late_reader_and_complaint(db, settings)
            snapshot = await gauges(db, now=datetime.now(UTC))
        finally:
            await db.dispose()
        sent = _samples(_with(registry, snapshot))
        labels = (("kind", "digest"), ("transport", "smtp"))
        for outcome in ("sent", "failed", "retried"):
            key = ("clippost_messages_total", tuple(sorted((*labels, ("outcome", outcome)))))
            assert sent[key] == 1, outcome
        assert sent[("clippost_send_latency_seconds_count", (("transport", "smtp"),))] == 1
        assert sent[("clippost_send_latency_seconds_sum", (("transport", "smtp"),))] > 0
        rows = {k[1]: v for k, v in sent.items() if k[0] == "clippost_outbox_rows"}
        assert rows[(("kind", "digest"), ("state", "sent"))] == 1
        assert rows[(("kind", "digest"), ("state", "failed"))] == 1
        assert rows[(("kind", "digest"), ("state", "pending"))] == 1
        assert before[("clippost_bounces_total", (("type", "hard"),))] == 0
        assert sent[("clippost_bounces_total", (("type", "hard"),))] == 1
        assert before[("clippost_complaints_total", ())] == 0
        assert sent[("clippost_complaints_total", ())] == 1
        assert sent[("clippost_planner_lag_seconds", ())] >= 3600
        # The retried row waits for its next try, not due now: nothing is overdue.
        assert sent[("clippost_outbox_oldest_due_seconds", ())] == 0
        assert before[("clippost_outbox_oldest_due_seconds", ())] > 0

    def test_every_name_is_prefixed(self) -> None:
        """Every metric the exposition names starts with clippost_."""
        registry = CollectorRegistry()
        metrics.SendMetrics(registry).batch_done("smtp", {("digest", "sent"): 2}, 0.1)
        empty = metrics.Gauges(queue={}, oldest_due_seconds=0, planner_lag_seconds=0, events={})
        names = {name for name, _ in _samples(_with(registry, empty))}
        assert names
        assert all(name.startswith("clippost_") for name in names), names


def _with(registry: CollectorRegistry, snapshot: metrics.Gauges) -> bytes:
    """The exposition with the test's own send registry in place of the process's."""
    database = CollectorRegistry(auto_describe=False)
    database.register(metrics.DatabaseCollector(snapshot))
    return generate_latest(database) + generate_latest(registry)


async def _rename_key(url: str, n: int) -> None:
    """seed_outbox keys every call's rows from 0: give each its own key and Message-ID."""
    db = Database(normalise_database_url(url))
    try:
        async with db.transaction() as session:
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.idempotency_key == "test:0")
                .values(idempotency_key=f"seeded:{n}", message_id=f"<seeded{n}@clippost.test>")
            )
    finally:
        await db.dispose()


async def _late_reader_and_complaint(db: Database, settings: Settings) -> None:
    """A confirmed reader an hour overdue for planning, and a complaint by webhook."""
    async with db.transaction() as session:
        reader_id = await add_pending_reader(session, email="late@example.org")
        await session.execute(
            update(Subscriber)
            .where(Subscriber.id == reader_id)
            .values(status="confirmed", next_slot_at=datetime.now(UTC) - timedelta(hours=2))
        )
        complaint = DeliveryEvent(
            provider=Provider.SENDGRID,
            event_id="complaint-1",
            kind=EventKind.COMPLAINT,
            recipient="ok0@example.org",
            message_id="<seeded0@clippost.test>",
        )
        await record_events(session, service_context(settings), [complaint])


_COUNT_A_BATCH = (
    "from clippost.metrics import send_metrics\n"
    "send_metrics().batch_done('smtp', {('digest', 'sent'): 3, ('digest', 'failed'): 1}, 0.2)\n"
)
_EXPOSE = (
    "import sys\n"
    "from prometheus_client import generate_latest\n"
    "from clippost.metrics import process_registry\n"
    "sys.stdout.write(generate_latest(process_registry()).decode())\n"
)


class TestAcrossProcesses:
    def test_multiprocess_dir_sums_every_process(self, tmp_path: Path) -> None:
        """With PROMETHEUS_MULTIPROC_DIR, what two sending processes counted is reported,
        summed, by a third (as a web process's /metrics would)."""
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
        for _ in range(2):
            subprocess.run([sys.executable, "-c", _COUNT_A_BATCH], env=env, check=True, timeout=60)
        shown = subprocess.run(
            [sys.executable, "-c", _EXPOSE],
            env=env,
            check=True,
            timeout=60,
            capture_output=True,
            text=True,
        ).stdout
        found = _samples(shown.encode())
        sent = (("kind", "digest"), ("outcome", "sent"), ("transport", "smtp"))
        assert found[("clippost_messages_total", sent)] == 6
        assert found[("clippost_send_latency_seconds_count", (("transport", "smtp"),))] == 2

    def test_a_worker_serves_its_metrics_on_a_port(self) -> None:
        """CLIPPOST_WORKER_METRICS_PORT: the worker's send-loop metrics over HTTP."""
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        worker_cli.serve_metrics(port)
        metrics.send_metrics().batch_done("maildir", {("confirm", "sent"): 1}, 0.01)
        body = httpx.get(f"http://127.0.0.1:{port}/", timeout=10).text
        assert 'clippost_messages_total{kind="confirm",outcome="sent",transport="maildir"}' in body
