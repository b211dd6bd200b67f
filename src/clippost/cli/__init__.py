"""The `clippost` command: `main()` parses the arguments and runs the command's handler.

Commands: serve | worker | send-due | db upgrade | parse | import | preview | stats |
outbox | suppressions | admin-password | dkim-keygen | dns-records | check-dns | bounces. Each
command group is a module of this package (`COMMANDS` names the handler of each command);
a handler's module is imported only when its command runs, so `clippost --help` stays
instant. Handlers build what they need through `runtime.open_runtime`, the one composition
root.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import os
import re
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from clippost.cli import logs
from clippost.errors import ClippostError

# Command -> "module:handler" in this package. A handler takes the parsed arguments and
# returns the exit status; a coroutine handler runs on one event loop (uvloop's if present).
COMMANDS: dict[str, str] = {
    "serve": "serve:command",
    "worker": "worker:worker_command",
    "send-due": "worker:send_due_command",
    "db": "db:command",
    "parse": "parse:command",
    "import": "library:import_command",
    "preview": "library:preview_command",
    "stats": "stats:command",
    "dkim-keygen": "deliverability:keygen_command",
    "dns-records": "deliverability:dns_records_command",
    "check-dns": "deliverability:check_dns_cli",
    "bounces": "bounces:command",
    "outbox": "outbox:command",
    "suppressions": "suppressions:command",
    "admin-password": "admin:command",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clippost", description="Your Kindle highlights as a personal newsletter."
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="more log detail (migrations included)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the web app (and, by default, a worker)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--no-worker", action="store_true", help="do not run a worker in-process")

    commands.add_parser("worker", help="send due mail until stopped (run any number of them)")

    send_due = commands.add_parser("send-due", help="plan and send everything due, then exit")
    send_due.add_argument("--at", type=_aware_datetime, help="ISO date-time (default: now)")

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="apply schema migrations (idempotent)")

    parse = commands.add_parser("parse", help="read a highlights file and print what it holds")
    parse.add_argument("file", type=Path)
    parse.add_argument(
        "--format", dest="fmt", default="summary", choices=["summary", "jsonl", "markdown", "csv"]
    )
    parse.add_argument("--all-entries", action="store_true", help="raw entries, before merging")

    _library_parsers(commands)

    stats = commands.add_parser("stats", help="readers, the queue and the last seven days")
    stats.add_argument("--json", action="store_true", help="one JSON object")
    _operator_parsers(commands)
    _sender_setup_parsers(commands)

    bounces = commands.add_parser("bounces", help="read the bounce mailbox once")
    mailbox = bounces.add_mutually_exclusive_group(required=True)
    mailbox.add_argument("--maildir", type=Path, help="a Maildir folder")
    mailbox.add_argument("--imap", metavar="URL", help="imaps://user@host/Folder")
    return parser


def _library_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    import_ = commands.add_parser(
        "import", help="bring a reader over: sign them up, or add a file to their library"
    )
    import_.add_argument("file", type=Path, help="any highlights file clippost reads")
    import_.add_argument("--email", required=True, metavar="ADDRESS")
    import_.add_argument(
        "--confirmed",
        action="store_true",
        help="the reader already agreed (another service): no confirmation email",
    )
    import_.add_argument("--timezone", metavar="TZ", help="IANA zone, e.g. Europe/Paris")
    import_.add_argument("--cadence", choices=["daily", "weekdays", "weekly", "monthly"])
    import_.add_argument("--weekday", type=_weekday, metavar="NAME", help="for weekly: monday...")
    import_.add_argument("--hour", type=int, metavar="H", help="0-23, on the reader's clock")
    import_.add_argument("--per-email", type=int, metavar="N", help="highlights per email, 1-15")

    preview = commands.add_parser("preview", help="print a reader's next digest, as it will go")
    preview.add_argument("email", metavar="ADDRESS")
    preview.add_argument("--html", type=Path, metavar="FILE", help="write the HTML part to FILE")
    preview.add_argument("--text", action="store_true", help="print the text part (the default)")


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _weekday(value: str) -> int:
    """A weekday's name, any case, or its first three letters: 0 = Monday .. 6 = Sunday."""
    key = value.strip().lower()
    for number, day in enumerate(_WEEKDAYS):
        if key in (day, day[:3]):
            return number
    raise argparse.ArgumentTypeError(f"not a weekday: {value!r} (monday ... sunday)")


def _operator_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    outbox = commands.add_parser("outbox", help="look at, retry and cancel queued mail")
    actions = outbox.add_subparsers(dest="outbox_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="messages, newest first, filtered")
    listing.add_argument(
        "--state", choices=["pending", "sent", "failed", "suppressed", "cancelled"]
    )
    listing.add_argument("--kind", help="digest, confirm, magic_link, ...")
    listing.add_argument("--address", help="messages to this address")
    listing.add_argument("--reason", help="a part of the last error (any case)")
    listing.add_argument(
        "--older-than", type=_age, metavar="AGE", help="queued before: 30m, 2h, 7d"
    )
    listing.add_argument("--newer-than", type=_age, metavar="AGE", help="queued since: 30m, 2h, 7d")
    listing.add_argument("--retrying", action="store_true", help="pending rows that failed before")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", action="store_true")
    show = actions.add_parser("show", help="one message")
    show.add_argument("id", type=int)
    show.add_argument("--json", action="store_true")
    retry = actions.add_parser("retry", help="send failed messages again (same Message-ID)")
    retry.add_argument("ids", type=int, nargs="+", metavar="ID")
    retry.add_argument("--at", type=_aware_datetime, help="ISO date-time (default: now)")
    cancel = actions.add_parser("cancel", help="cancel pending messages")
    cancel.add_argument("ids", type=int, nargs="+", metavar="ID")

    suppressed = commands.add_parser("suppressions", help="addresses that get no mail")
    verbs = suppressed.add_subparsers(dest="suppressions_command", required=True, metavar="ACTION")
    listed = verbs.add_parser("list", help="suppressions, newest first (address hashes)")
    listed.add_argument("--reason", choices=[r.value for r in _reasons()])
    listed.add_argument("--address", help="this address's suppression only")
    listed.add_argument("--limit", type=int, default=100)
    listed.add_argument("--json", action="store_true")
    add = verbs.add_parser("add", help="send this address nothing at all")
    add.add_argument("address")
    add.add_argument("--note", default="", help="why (kept with it)")
    remove = verbs.add_parser("remove", help="lift this address's suppression")
    remove.add_argument("address")

    commands.add_parser("admin-password", help="hash a password for CLIPPOST_ADMIN_PASSWORD")


def _reasons() -> list[Any]:
    from clippost.models.suppression import SuppressionReason

    return list(SuppressionReason)


_AGE = re.compile(r"(\d+)\s*([smhd])")
_AGE_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def _age(value: str) -> timedelta:
    found = _AGE.fullmatch(value.strip().lower())
    if found is None:
        raise argparse.ArgumentTypeError(f"not an age such as 30m, 2h or 7d: {value!r}")
    return timedelta(**{_AGE_UNITS[found.group(2)]: int(found.group(1))})


def _sender_setup_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keygen = commands.add_parser("dkim-keygen", help="make a new RSA and Ed25519 DKIM key")
    keygen.add_argument("--dir", type=Path, help="folder for the keys (default: DATA_DIR/dkim)")
    commands.add_parser("dns-records", help="print the SPF, DKIM and DMARC records to publish")
    check = commands.add_parser("check-dns", help="check the published SPF, DKIM and DMARC")
    check.add_argument(
        "--nameserver",
        type=_nameserver,
        metavar="HOST[:PORT]",
        help="ask this DNS server (such as the domain's own) instead of the system's resolver",
    )


def _nameserver(value: str) -> tuple[str, int]:
    from clippost.cli.deliverability import parse_nameserver

    try:
        return parse_nameserver(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _aware_datetime(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date-time: {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.configure(verbose=args.verbose)
    try:
        return _run(handler(args.command), args)
    except ClippostError as exc:
        print(f"clippost: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `clippost parse ... | head`: the reader of our output went away. Point stdout at
        # /dev/null so the interpreter's final flush does not raise again, and exit as a
        # command killed by SIGPIPE would (128 + 13).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


def handler(command: str) -> Callable[[argparse.Namespace], Any]:
    """The handler `COMMANDS` names for `command`, its module imported now."""
    module, name = COMMANDS[command].split(":")
    found: Callable[[argparse.Namespace], Any] = getattr(
        importlib.import_module(f"{__name__}.{module}"), name
    )
    return found


def _run(run: Callable[[argparse.Namespace], Any], args: argparse.Namespace) -> int:
    if not inspect.iscoroutinefunction(run):
        status: int = run(args)
        return status
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        status = runner.run(run(args))
        return status


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed (not on Windows): a worker spends a good
    part of each message in the event loop, and uvloop's costs less. Else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop
