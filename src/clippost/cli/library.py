"""`clippost import` and `clippost preview`: an operator's view of one reader's library.

`import` brings a reader over from another service (`subscriptions.imports.bring_over`):
a new address gets the web sign-up's confirmation email, or with --confirmed starts at once;
an existing reader has the file merged into their library. The file is read and parsed
completely before the one transaction that stores it, so a bad file stores nothing.
`preview` prints the reader's next digest as the sender will render it: the one already
planned when there is one, else the one the planner would choose now; it changes nothing.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import TextIO

from clippost.addresses import normalise_email
from clippost.cli.common import cli_runtime
from clippost.config import Settings
from clippost.db.base import utcnow
from clippost.errors import BadInput, NotFound
from clippost.library.upload import parse_upload
from clippost.mail import Message
from clippost.models import Subscriber, SubscriberStatus
from clippost.outbox.repository import PlannedDigest, next_planned_digest
from clippost.planner.service import preview_digest
from clippost.planner.slots import to_local
from clippost.runtime import Runtime
from clippost.still_wanted import reader_now, slot_of, verdict
from clippost.subscriptions import repository as subscribers
from clippost.subscriptions.imports import Imported, bring_over

_NO_READER = "No reader with the address {address} (import them first with `clippost import`)."
# Command-line option -> the preference form's field.
_CHOSEN = {
    "timezone": "timezone",
    "cadence": "cadence",
    "weekday": "weekday",
    "hour": "hour",
    "per_email": "per_email",
}


async def import_command(args: argparse.Namespace) -> int:
    chosen = {
        field: str(getattr(args, option))
        for option, field in _CHOSEN.items()
        if getattr(args, option) is not None
    }
    return await import_file(
        Settings(), args.email, args.file, chosen=chosen, confirmed=args.confirmed, out=sys.stdout
    )


async def preview_command(args: argparse.Namespace) -> int:
    return await preview(Settings(), args.email, html=args.html, text=args.text, out=sys.stdout)


async def import_file(
    settings: Settings,
    email: str,
    path: Path,
    *,
    chosen: dict[str, str] | None = None,
    confirmed: bool = False,
    out: TextIO,
) -> int:
    """Bring the reader at `email` over with the highlights in `path`."""
    data = _read(path)
    # The operator is trusted with any size; the web's upload limit guards the public form.
    library = parse_upload(data, max_bytes=max(len(data), 1))
    async with cli_runtime(settings, with_transport=False) as runtime:
        ctx = runtime.context(utcnow())
        async with runtime.db.transaction() as session:
            result = await bring_over(
                session, ctx, email=email, library=library, chosen=chosen or {}, confirmed=confirmed
            )
    out.write(_said(result) + "\n")
    return 0


def _said(result: Imported) -> str:
    if result.outcome == "asked":
        return (
            f"{result.address}: confirmation email queued ({result.new_highlights} highlights "
            f"from {result.new_books} books wait for the reader's click); a worker or "
            "`clippost send-due` sends it"
        )
    if result.outcome == "confirmed":
        first = result.first_digest_at
        when = to_local(first, result.timezone).strftime("%Y-%m-%d %H:%M") if first else "-"
        return (
            f"{result.address}: confirmed with {result.new_highlights} highlights from "
            f"{result.new_books} books; first digest {when} ({result.timezone})"
        )
    said = (
        f"{result.address}: added {result.new_highlights} new highlights from "
        f"{result.new_books} new books; {result.total_highlights} highlights in the library"
    )
    if result.status != SubscriberStatus.CONFIRMED:
        said += f" ({result.status}: no digests until they resubscribe)"
    return said


async def preview(
    settings: Settings, email: str, *, html: Path | None, text: bool, out: TextIO
) -> int:
    """Print the reader's next digest (headers, and the text part unless only --html is
    given; --html FILE writes the HTML part to FILE), without sending or changing anything."""
    address = normalise_email(email)
    async with cli_runtime(settings, with_transport=False) as runtime:
        now = utcnow()
        async with runtime.db.sessions() as session:
            reader = await subscribers.by_email(session, address)
            if reader is None:
                raise NotFound(_NO_READER.format(address=address))
            planned = await next_planned_digest(session, reader.id)
        if reader.status != SubscriberStatus.CONFIRMED:
            out.write(f"{address}: {reader.status}, so no digest will be sent\n")
            return 1
        if planned is not None and verdict(
            reader_now(reader),
            slot=slot_of(planned.idempotency_key, planned.payload),
            payload=planned.payload,
        ):
            planned = None  # the claim will cancel it: what goes is planned afresh
        row = planned or await _unplanned(runtime, reader, now)
        if row is None:
            out.write(f"{address}: nothing to send (the library is empty or all discarded)\n")
            return 1
        message = runtime.renderer(row, now)
    _print(out, message, planned=planned is not None, due_at=row.due_at)
    if html is not None:
        _write(html, message.html)
        out.write(f"\nHTML part written to {html}\n")
    if text or html is None:
        out.write("\n" + message.text.rstrip("\n") + "\n")
    return 0


async def _unplanned(runtime: Runtime, reader: Subscriber, now: datetime) -> PlannedDigest | None:
    """The digest the planner would choose now, shaped as a planned one (id 0, no key: it is
    stored nowhere), so the renderer reads it the same way."""
    payload = await preview_digest(runtime.db, reader.id, runtime.context(now))
    if payload is None:
        return None
    due = reader.next_slot_at or now
    return PlannedDigest(
        0, "<not planned yet>", "digest", reader.email, reader.id, payload, due, idempotency_key=""
    )


def _print(out: TextIO, message: Message, *, planned: bool, due_at: datetime) -> None:
    state = "planned" if planned else "not planned yet: chosen now as the planner would"
    out.write(f"Due: {due_at.isoformat()} ({state})\n")
    out.write(f"From: {message.from_name} <{message.from_address}>\n")
    out.write(f"To: {message.to}\n")
    out.write(f"Subject: {message.subject}\n")
    out.write(f"Message-ID: {message.message_id}\n")
    for name, value in message.headers.items():
        out.write(f"{name}: {value}\n")


def _write(path: Path, html: str) -> None:
    try:
        path.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"Cannot write {path}: {exc.strerror}.") from exc


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise BadInput(f"No file at {path}.") from exc
    except IsADirectoryError as exc:
        raise BadInput(f"{path} is a folder; give the path of the highlights file.") from exc
    except OSError as exc:
        raise BadInput(f"Cannot read {path}: {exc.strerror}.") from exc
