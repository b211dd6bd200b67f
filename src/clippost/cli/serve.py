"""`clippost serve`: uvicorn running `create_app(settings)`.

At start it prints the address it listens on and, for the Maildir transport, the mail
folder: the README quickstart tells readers to open the confirmation email there.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

import uvicorn

from clippost import logs
from clippost.app import create_app
from clippost.config import Settings
from clippost.dkim.keys import configured_keys
from clippost.web.inbox import inbox_enabled


def command(args: argparse.Namespace) -> int:
    settings = Settings()
    if not args.no_worker and settings.mail_transport == "smtp":
        configured_keys(settings)  # before uvicorn: a bad key is a sentence, not a trace
    return serve(settings, host=args.host, port=args.port, with_worker=not args.no_worker)


def serve(
    settings: Settings, *, host: str, port: int, with_worker: bool, out: TextIO | None = None
) -> int:
    stream = out or sys.stdout
    logs.configure(settings.log_format)
    app = create_app(settings, with_worker=with_worker, bound_host=host)
    for line in startup_lines(settings, host=host, port=port, with_worker=with_worker):
        print(line, file=stream, flush=True)
    # proxy_headers off: the client address comes from the socket unless the operator
    # trusts X-Forwarded-For (settings.trust_forwarded_for, read by the routes).
    # access_log off: clippost's URLs carry signed tokens (manage links grant access to a
    # library), and uvicorn's access log would keep them in plain text; the app logs each
    # request itself with every token redacted (web/access_log.py).
    uvicorn.run(
        app,
        host=host,
        port=port,
        proxy_headers=False,
        server_header=False,
        access_log=False,
        log_level="info",
        # Logging was configured above (logs.configure): uvicorn's loggers use its format.
        log_config=None,
    )
    return 0


def startup_lines(settings: Settings, *, host: str, port: int, with_worker: bool) -> list[str]:
    shown_host = f"[{host}]" if ":" in host else host
    lines = [f"clippost: serving on http://{shown_host}:{port}/"]
    if settings.base_url.rstrip("/") != f"http://{shown_host}:{port}":
        lines.append(f"clippost: links in emails point to {settings.base_url}/")
    if settings.mail_transport == "maildir":
        lines.append(
            f"clippost: mail is written to the Maildir {settings.resolved_maildir.absolute()}"
        )
        if inbox_enabled(settings, host):
            lines.append(f"clippost: read it at http://{shown_host}:{port}/dev/inbox")
    if not with_worker:
        lines.append("clippost: no in-process worker; run `clippost worker` to send mail")
    return lines
