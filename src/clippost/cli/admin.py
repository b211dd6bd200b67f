"""`clippost admin-password`: a hash for CLIPPOST_ADMIN_PASSWORD, so the environment need
not hold the password itself."""

from __future__ import annotations

import argparse
import getpass
import sys

from clippost.errors import BadInput
from clippost.passwords import hash_password

MIN_LENGTH = 12


def command(args: argparse.Namespace) -> int:
    if sys.stdin.isatty():
        password = getpass.getpass("Operator password: ")
        if getpass.getpass("Again: ") != password:
            raise BadInput("The two passwords differ.")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < MIN_LENGTH:
        raise BadInput(f"Choose a password of at least {MIN_LENGTH} characters.")
    print(hash_password(password))
    return 0
