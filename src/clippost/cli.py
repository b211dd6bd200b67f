"""The `clippost` command: one `main()` that parses arguments and wires the parts in order.

Commands: serve | worker | send-due | db upgrade | parse | import | preview | stats |
bounces.
Heavy imports happen inside each command so that `clippost --help` stays instant.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from clippost.config import Settings
from clippost.errors import ClippostError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clippost", description="Your Kindle highlights as a personal newsletter."
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

    import_ = commands.add_parser("import", help="add a highlights file to a reader's library")
    import_.add_argument("email")
    import_.add_argument("file", type=Path)

    preview = commands.add_parser("preview", help="print the next digest of a reader")
    preview.add_argument("email")
    preview.add_argument("--html", action="store_true", help="print the HTML part")

    commands.add_parser("stats", help="subscribers and outbox counts by state")

    bounces = commands.add_parser("bounces", help="read the bounce mailbox once")
    mailbox = bounces.add_mutually_exclusive_group(required=True)
    mailbox.add_argument("--maildir", type=Path, help="a Maildir folder")
    mailbox.add_argument("--imap", metavar="URL", help="imaps://user@host/Folder")
    return parser


def _aware_datetime(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date-time: {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
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


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "parse":
        from clippost.clippings.command import run_parse

        return run_parse(
            args.file, fmt=args.fmt, all_entries=args.all_entries, out=sys.stdout, err=sys.stderr
        )
    settings = Settings()
    if args.command == "serve":
        from clippost.web.server import serve

        return serve(settings, host=args.host, port=args.port, with_worker=not args.no_worker)
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(_dispatch_async(args, settings))


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed (not on Windows): a worker spends a good
    part of each message in the event loop, and uvloop's costs less. Else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


async def _dispatch_async(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "db":
        from clippost.db.migrate import upgrade_command

        return await upgrade_command(settings, out=sys.stdout)
    if args.command in ("worker", "send-due", "stats"):
        from clippost.outbox import commands as outbox_commands

        if args.command == "worker":
            return await outbox_commands.worker(settings)
        if args.command == "send-due":
            return await outbox_commands.send_due(settings, at=args.at, out=sys.stdout)
        return await outbox_commands.stats(settings, out=sys.stdout)
    if args.command == "bounces":
        from clippost.bounces.commands import bounces

        return await bounces(settings, maildir=args.maildir, imap=args.imap, out=sys.stdout)
    from clippost.library import commands as library_commands

    if args.command == "import":
        return await library_commands.import_file(settings, args.email, args.file, out=sys.stdout)
    if args.command == "preview":
        return await library_commands.preview(settings, args.email, html=args.html, out=sys.stdout)
    raise AssertionError(f"unhandled command {args.command}")


if __name__ == "__main__":
    sys.exit(main())
