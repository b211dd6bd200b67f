"""`clippost import` and `clippost preview`: an operator's view of one reader's library.

Both find the reader by address. `import` merges a file exactly as an upload from the
manage page does (re-imports never duplicate); `preview` renders the next digest the
planner would choose, and changes nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from clippost.addresses import normalise_email
from clippost.cli.common import cli_runtime
from clippost.config import Settings
from clippost.db.base import utcnow
from clippost.errors import BadInput, NotFound
from clippost.library import service
from clippost.library.upload import parse_upload
from clippost.planner.service import preview_digest
from clippost.rendering.messages import render_payload
from clippost.subscriptions import repository as subscribers

_NO_READER = "No reader with the address {address} (they sign up on the home page first)."


async def import_command(args: argparse.Namespace) -> int:
    return await import_file(Settings(), args.email, args.file, out=sys.stdout)


async def preview_command(args: argparse.Namespace) -> int:
    return await preview(Settings(), args.email, html=args.html, out=sys.stdout)


async def import_file(settings: Settings, email: str, path: Path, *, out: TextIO) -> int:
    """Merge the highlights in `path` into the library of the reader at `email`."""
    address = normalise_email(email)
    data = _read(path)
    # The operator is trusted with any size; the web's upload limit guards the public form.
    library = parse_upload(data, max_bytes=max(len(data), 1))
    async with cli_runtime(settings, with_transport=False) as runtime:
        ctx = runtime.context(utcnow())
        async with runtime.db.transaction() as session:
            reader = await subscribers.by_email(session, address)
            if reader is None:
                raise NotFound(_NO_READER.format(address=address))
            result = await service.upload_more(session, ctx, reader.id, library)
    out.write(
        f"{address}: added {result.new_highlights} new highlights from {result.new_books} "
        f"new books; {result.total_highlights} highlights in the library\n"
    )
    return 0


async def preview(settings: Settings, email: str, *, html: bool, out: TextIO) -> int:
    """Print the reader's next digest (text, or HTML with --html) without sending it."""
    address = normalise_email(email)
    async with cli_runtime(settings, with_transport=False) as runtime:
        async with runtime.db.sessions() as session:
            reader = await subscribers.by_email(session, address)
        if reader is None:
            raise NotFound(_NO_READER.format(address=address))
        payload = await preview_digest(runtime.db, reader.id, runtime.context(utcnow()))
        site = runtime.renderer.site
    if payload is None:
        out.write(f"{address}: nothing to send (the library is empty or all discarded)\n")
        return 1
    rendered = render_payload("digest", payload, site=site)
    out.write(f"Subject: {rendered.subject}\n\n")
    out.write(rendered.html if html else rendered.text)
    out.write("\n")
    return 0


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise BadInput(f"No file at {path}.") from exc
    except IsADirectoryError as exc:
        raise BadInput(f"{path} is a folder; give the path of the highlights file.") from exc
    except OSError as exc:
        raise BadInput(f"Cannot read {path}: {exc.strerror}.") from exc
