"""`clippost outbox list | show | retry | cancel`: the operator looks at and acts on mail."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy.ext.asyncio import AsyncSession

from clippost.admin import actions
from clippost.cli.common import in_one_transaction
from clippost.config import Settings
from clippost.db.base import utcnow
from clippost.errors import BadInput
from clippost.outbox import operator


async def command(args: argparse.Namespace) -> int:
    return await run(Settings(), args, out=sys.stdout)


async def run(settings: Settings, args: argparse.Namespace, *, out: TextIO) -> int:
    action = _ACTIONS[args.outbox_command]
    return await in_one_transaction(settings, lambda session: action(session, args, utcnow(), out))


async def _list(session: AsyncSession, args: argparse.Namespace, now: datetime, out: TextIO) -> int:
    found = await operator.find(session, _filters(args, now))
    _print_rows(found, out=out, as_json=args.json)
    return 0


async def _show(session: AsyncSession, args: argparse.Namespace, now: datetime, out: TextIO) -> int:
    row = await operator.get(session, args.id)
    if row is None:
        raise BadInput(f"There is no outbox message {args.id}.")
    _print_one(row, out=out, as_json=args.json)
    return 0


async def _retry(
    session: AsyncSession, args: argparse.Namespace, now: datetime, out: TextIO
) -> int:
    changes = await actions.retry(session, args.ids, due_at=args.at or now, now=now)
    return _print_changes(changes, out=out)


async def _cancel(
    session: AsyncSession, args: argparse.Namespace, now: datetime, out: TextIO
) -> int:
    return _print_changes(await actions.cancel(session, args.ids, now=now), out=out)


Action = Callable[[AsyncSession, argparse.Namespace, datetime, TextIO], Awaitable[int]]
_ACTIONS: dict[str, Action] = {"list": _list, "show": _show, "retry": _retry, "cancel": _cancel}


def _print_changes(changes: list[operator.Change], *, out: TextIO) -> int:
    for change in changes:
        out.write(f"{change.id}: {change.note}\n")
    return 0 if all(change.done for change in changes) else 1


def _filters(args: argparse.Namespace, now: datetime) -> operator.Filters:
    return operator.Filters(
        state=args.state,
        kind=args.kind,
        address=args.address,
        reason=args.reason,
        older_than=now - args.older_than if args.older_than else None,
        newer_than=now - args.newer_than if args.newer_than else None,
        retrying=args.retrying,
        limit=args.limit,
    )


def _plain(row: operator.OutboxRow) -> dict[str, Any]:
    found = asdict(row)
    return {key: v.isoformat() if isinstance(v, datetime) else v for key, v in found.items()}


def _print_rows(rows: list[operator.OutboxRow], *, out: TextIO, as_json: bool) -> None:
    if as_json:
        out.write(json.dumps([_plain(row) for row in rows], indent=2) + "\n")
        return
    out.write(f"{'id':>8}  {'state':<10} {'kind':<14} {'tries':>5}  {'queued':<16} reason\n")
    for row in rows:
        queued = row.created_at.strftime("%Y-%m-%d %H:%M")
        reason = (row.last_error or "").replace("\n", " ")[:60]
        out.write(f"{row.id:>8}  {row.state:<10} {row.kind:<14} {row.attempts:>5}  ")
        out.write(f"{queued:<16} {reason}\n")
    out.write(f"{len(rows)} message{'s' if len(rows) != 1 else ''}\n")


def _print_one(row: operator.OutboxRow, *, out: TextIO, as_json: bool) -> None:
    plain = _plain(row)
    if as_json:
        out.write(json.dumps(plain, indent=2) + "\n")
        return
    width = max(len(key) for key in plain)
    for key, value in plain.items():
        out.write(f"{key:<{width}}  {'' if value is None else value}\n")
