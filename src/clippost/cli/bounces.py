"""`clippost bounces --maildir PATH | --imap URL`: read the bounce mailbox once, then exit.

Each message is handled in its own transaction, committed before the message is moved
(see `mailbox`), so an interrupted run loses nothing and repeats nothing. Run it from cron
as often as you like; two runs at once on one mailbox are harmless too (the second finds
messages gone, or records nothing new).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from clippost import logs
from clippost.bounces import reports
from clippost.bounces.mailbox import ImapSource, MaildirSource, Source
from clippost.bounces.service import MailboxOutcome, handle_report
from clippost.config import Settings
from clippost.db.base import utcnow
from clippost.runtime import Runtime, open_runtime


@dataclass(slots=True)
class MailboxSummary:
    read: int = 0
    recorded: int = 0
    replayed: int = 0
    suppressed: int = 0
    unsubscribed: int = 0
    too_large: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    unrecognised: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: MailboxOutcome) -> None:
        self.unsubscribed += outcome.unsubscribed
        if not outcome.understood:
            self.unrecognised[outcome.note] = self.unrecognised.get(outcome.note, 0) + 1
        events = outcome.events
        if events is None:
            return
        self.recorded += events.recorded
        self.replayed += events.replayed
        self.suppressed += events.suppressed
        self.unsubscribed += events.unsubscribed
        for kind, count in events.kinds.items():
            self.kinds[kind] = self.kinds.get(kind, 0) + count

    def lines(self) -> list[str]:
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(self.kinds.items()))
        found = [
            f"read {self.read} messages: {self.recorded} events recorded"
            + (f" ({kinds})" if kinds else "")
            + f", {self.replayed} already recorded",
            f"suppressed {self.suppressed} addresses, unsubscribed {self.unsubscribed} readers",
        ]
        found += [f"not understood: {note} ({n})" for note, n in sorted(self.unrecognised.items())]
        if self.too_large:
            found.append(f"too large to read: {self.too_large}")
        return found


async def command(args: argparse.Namespace) -> int:
    return await bounces(Settings(), maildir=args.maildir, imap=args.imap, out=sys.stdout)


async def bounces(
    settings: Settings, *, maildir: Path | None, imap: str | None, out: TextIO
) -> int:
    """Read the mailbox once; print what it held."""
    logs.configure(settings.log_format)
    async with open_runtime(settings, with_transport=False) as runtime:
        source = await asyncio.to_thread(_open_source, settings, maildir, imap)
        try:
            summary = await read_mailbox(runtime, source)
        finally:
            await asyncio.to_thread(source.close)
    out.write("".join(f"{line}\n" for line in summary.lines()))
    return 0


def _open_source(settings: Settings, maildir: Path | None, imap: str | None) -> Source:
    if maildir is not None:
        return MaildirSource(maildir)
    assert imap is not None  # the parser requires one of the two
    password = settings.bounce_imap_password
    return ImapSource(imap, password=password.get_secret_value() if password else None)


async def read_mailbox(runtime: Runtime, source: Source) -> MailboxSummary:
    """Handle every message in `source`: read, act in one transaction, then move it."""
    keys = (runtime.secret_key, *runtime.links.old_secret_keys)
    summary = MailboxSummary()
    for key in await asyncio.to_thread(source.keys):
        raw = await asyncio.to_thread(source.fetch, key)
        summary.read += 1
        if raw is None:
            summary.too_large += 1
            await asyncio.to_thread(source.done, key, understood=False)
            continue
        report = reports.read_report(raw, verp_keys=keys)
        ctx = runtime.context(utcnow())
        async with runtime.db.transaction() as session:
            outcome = await handle_report(session, ctx, report)
        summary.add(outcome)
        await asyncio.to_thread(source.done, key, understood=outcome.understood)
    return summary
