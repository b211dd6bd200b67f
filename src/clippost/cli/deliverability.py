"""The sender-setup commands: `dkim-keygen`, `dns-records`, `check-dns`.

Thin: each reads the settings, calls the module that does the work (`dkim.keys`,
`deliverability`) and prints.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from clippost.config import Settings
from clippost.deliverability.check import check_dns
from clippost.deliverability.dns import Dns
from clippost.deliverability.records import expected_records
from clippost.dkim.keys import configured_keys, write_new_key

_MARKS = {"ok": "ok     ", "note": "note   ", "warning": "warning", "error": "ERROR  "}


def keygen_command(args: argparse.Namespace) -> int:
    return dkim_keygen(Settings(), args.dir, out=sys.stdout)


def dns_records_command(args: argparse.Namespace) -> int:
    return dns_records(Settings(), out=sys.stdout)


def check_dns_cli(args: argparse.Namespace) -> int:
    return check_dns_command(Settings(), args.nameserver, out=sys.stdout)


def dkim_keygen(settings: Settings, folder: Path | None, *, out: TextIO) -> int:
    """Write a new RSA-2048 and Ed25519 key (never over existing files) and print the
    settings that use them."""
    folder = folder or settings.data_dir / "dkim"
    stamp = datetime.now(UTC).strftime("%Y%m")
    files = {"rsa": folder / f"rsa-{stamp}.pem", "ed25519": folder / f"ed25519-{stamp}.pem"}
    for algorithm, path in files.items():
        write_new_key(path, algorithm)  # type: ignore[arg-type]
    print("# New DKIM keys; add these settings, then publish `clippost dns-records`:", file=out)
    for algorithm, path in files.items():
        prefix = f"CLIPPOST_DKIM_{algorithm.upper()}"
        print(f"{prefix}_SELECTOR={algorithm}-{stamp}", file=out)
        print(f"{prefix}_KEY_FILE={path.absolute()}", file=out)
    return 0


def dns_records(settings: Settings, *, out: TextIO) -> int:
    keys = configured_keys(settings)
    print(f"; DNS records for mail from {settings.mail_from}", file=out)
    for record in expected_records(settings, keys):
        print(f"; {record.kind}" + (f": {record.comment}" if record.comment else ""), file=out)
        print(record.zone_line(), file=out)
    if not keys:
        print("; DKIM: no key configured (`clippost dkim-keygen` makes a pair)", file=out)
    return 0


def check_dns_command(
    settings: Settings, nameserver: tuple[str, int] | None, *, out: TextIO
) -> int:
    """Print a finding per line; 1 when any is an error, else 0."""
    keys = configured_keys(settings)
    findings = check_dns(settings, keys, _dns(nameserver))
    for finding in findings:
        print(f"{_MARKS[finding.level]}  {finding.record:<14} {finding.message}", file=out)
    failed = sum(finding.level == "error" for finding in findings)
    print(
        f"{failed} problem{'s' if failed != 1 else ''} found" if failed else "all right", file=out
    )
    return 1 if failed else 0


def parse_nameserver(value: str) -> tuple[str, int]:
    """`HOST`, `HOST:PORT` or `[IPv6]:PORT` to (address, port); ValueError when it is not."""
    host, port = value, "53"
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest.removeprefix(":") or port
    elif value.count(":") == 1:
        host, _, port = value.partition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"not a name server address: {value!r}")
    return host, int(port)


def _dns(nameserver: tuple[str, int] | None) -> Dns:
    return Dns() if nameserver is None else Dns.at(*nameserver)
