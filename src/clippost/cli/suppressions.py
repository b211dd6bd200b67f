"""`clippost suppressions list | add | remove`: addresses that get no mail.

Suppressions are kept under the address's hash, never the address: the list shows hashes,
and `--address` finds one address's entry.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from typing import TextIO

from sqlalchemy.ext.asyncio import AsyncSession

from clippost import suppressions
from clippost.admin import actions
from clippost.cli.common import in_one_transaction
from clippost.config import Settings
from clippost.db.base import utcnow


async def command(args: argparse.Namespace) -> int:
    return await run(Settings(), args, out=sys.stdout)


async def run(settings: Settings, args: argparse.Namespace, *, out: TextIO) -> int:
    action = _ACTIONS[args.suppressions_command]
    return await in_one_transaction(settings, lambda session: action(session, args, out))


async def _list(session: AsyncSession, args: argparse.Namespace, out: TextIO) -> int:
    hashed = actions.hash_of(args.address) if args.address else None
    found = await suppressions.listed(
        session, reason=args.reason, address_hash=hashed, limit=args.limit
    )
    _print(found, out=out, as_json=args.json)
    return 0


async def _add(session: AsyncSession, args: argparse.Namespace, out: TextIO) -> int:
    stopped = await actions.stop_mail(session, args.address, note=args.note, now=utcnow())
    out.write(
        f"{stopped.address}: no more mail of any kind ({stopped.settled} queued messages stopped)\n"
    )
    return 0


async def _remove(session: AsyncSession, args: argparse.Namespace, out: TextIO) -> int:
    reason = await actions.allow_mail(session, args.address)
    if reason is None:
        out.write(f"{args.address}: was not suppressed\n")
        return 1
    out.write(f"{args.address}: suppression ({reason}) removed\n")
    return 0


Action = Callable[[AsyncSession, argparse.Namespace, TextIO], Awaitable[int]]
_ACTIONS: dict[str, Action] = {"list": _list, "add": _add, "remove": _remove}


def _print(found: list[suppressions.Listed], *, out: TextIO, as_json: bool) -> None:
    if as_json:
        rows = [
            {
                "address_hash": item.address_hash,
                "reason": item.reason,
                "detail": item.detail,
                "created_at": item.created_at.isoformat(),
            }
            for item in found
        ]
        out.write(json.dumps(rows, indent=2) + "\n")
        return
    for item in found:
        since = item.created_at.strftime("%Y-%m-%d %H:%M")
        out.write(f"{item.address_hash[:16]}  {item.reason:<13} {since}  {item.detail or ''}\n")
    out.write(f"{len(found)} suppression{'s' if len(found) != 1 else ''}\n")
