"""Provider webhooks for bounces, complaints and deliveries: SES (through SNS), Postmark,
SendGrid. Each is off (404) until configured.

A request is proven first (SNS signature and topic, Postmark's basic auth, SendGrid's ECDSA
signature) and refused with a 4xx that changes nothing; then parsed, and its events recorded
by `bounces.service` in one transaction, committed before the answer. Providers retry on
anything but a 2xx, and a retried event is recorded once, so the answer is 200 as soon as
the events are stored, replays included.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import APIRouter, FastAPI
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from clippost.bounces import postmark, sendgrid, ses, sns
from clippost.bounces.events import DeliveryEvent
from clippost.bounces.service import record_events
from clippost.config import Settings
from clippost.errors import NotFound, PayloadTooLarge
from clippost.web import deps

router = APIRouter()

# SendGrid posts events in batches; a few megabytes is thousands of them.
MAX_WEBHOOK_BYTES = 4 * 1024 * 1024
_OFF = "There is no page at this address."


@asynccontextmanager
async def webhook_state(
    app: FastAPI, settings: Settings, sns_fetcher: sns.SnsFetcher | None = None
) -> AsyncIterator[None]:
    """What the webhooks keep while the app runs: the SNS certificate fetcher (and its
    cache), SendGrid's key, parsed once at start-up so a bad key stops the start."""
    key = settings.sendgrid_webhook_public_key
    app.state.sendgrid_key = sendgrid.load_public_key(key) if key else None
    app.state.sns_fetcher = sns_fetcher or sns.SnsFetcher()
    try:
        yield
    finally:
        await app.state.sns_fetcher.aclose()


@router.post("/webhooks/ses")
async def ses_webhook(request: Request) -> Response:
    topics = deps.settings(request).ses_sns_topic_arns
    if not topics:
        raise NotFound(_OFF)
    message = sns.parse_message(await _body(request))
    fetcher: sns.SnsFetcher = request.app.state.sns_fetcher
    await sns.verify(message, fetcher, topics=topics, now=datetime.now(UTC))
    if message.type == "SubscriptionConfirmation":
        await fetcher.confirm(message.get("SubscribeURL") or "")
        return PlainTextResponse("subscription confirmed\n")
    if message.type != "Notification":
        return PlainTextResponse("ok\n")
    events = ses.events_from_notification(message.message, sns_message_id=message.message_id)
    return await _record(request, events)


@router.post("/webhooks/postmark")
async def postmark_webhook(request: Request) -> Response:
    settings = deps.settings(request)
    username, password = settings.postmark_webhook_username, settings.postmark_webhook_password
    if not username or password is None:
        raise NotFound(_OFF)
    postmark.check_basic_auth(
        request.headers.get("authorization"),
        username=username,
        password=password.get_secret_value(),
    )
    return await _record(request, postmark.events_from_webhook(await _body(request)))


@router.post("/webhooks/sendgrid")
async def sendgrid_webhook(request: Request) -> Response:
    key: ec.EllipticCurvePublicKey | None = request.app.state.sendgrid_key
    if key is None:
        raise NotFound(_OFF)
    body = await _body(request)
    sendgrid.verify(
        key,
        signature=request.headers.get(sendgrid.SIGNATURE_HEADER),
        timestamp=request.headers.get(sendgrid.TIMESTAMP_HEADER),
        body=body,
        now=datetime.now(UTC),
        tolerance_seconds=deps.settings(request).sendgrid_webhook_tolerance_seconds,
    )
    return await _record(request, sendgrid.events_from_webhook(body))


async def _record(request: Request, events: Sequence[DeliveryEvent]) -> Response:
    ctx = deps.context(request)
    async with deps.transaction(request) as session:
        report = await record_events(session, ctx, events)
    return PlainTextResponse(f"recorded {report.recorded}, replayed {report.replayed}\n")


async def _body(request: Request) -> bytes:
    """The raw body (signatures cover its exact bytes), refused past MAX_WEBHOOK_BYTES."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_WEBHOOK_BYTES:
        raise PayloadTooLarge("A webhook body is at most 4 MB.")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_WEBHOOK_BYTES:
            raise PayloadTooLarge("A webhook body is at most 4 MB.")
        chunks.append(chunk)
    return b"".join(chunks)
