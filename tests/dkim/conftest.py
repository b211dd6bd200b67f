"""Keys made for this test run, and their public records served to dkimpy as DNS would."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import dkim
from clippost.dkim.keys import SigningKey, generate_key, load_key
from clippost.mail import Message

DOMAIN = "clippost.test"
Lookup = Callable[..., bytes | None]


def digest_message(**overrides: Any) -> Message:
    values: dict[str, Any] = {
        "message_id": "<d1.x@clippost.test>",
        "from_address": "news@clippost.test",
        "from_name": "Clippost",
        "to": "reader@example.org",
        "subject": "Your highlights: “Middlemarch” and more, a subject long enough to fold",
        "text": "A  passage \t with   spaces \n\nand lines\n\n\n",
        "html": "<p>\n    A passage\n</p>\n",
        "date": datetime(2026, 11, 22, 7, 0, tzinfo=UTC),
        "headers": {
            "List-Unsubscribe": "<https://clippost.test/u/t0k3n>, <mailto:u@clippost.test>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "List-Id": "Clippost digests <digest.clippost.test>",
        },
    }
    values.update(overrides)
    return Message(**values)


def verify_all(signed: bytes, dnsfunc: Lookup) -> list[bool]:
    verifier = dkim.DKIM(signed)
    count = len(re.findall(rb"^DKIM-Signature:", signed, re.MULTILINE))
    return [_verified(verifier, i, dnsfunc) for i in range(count)]


def _verified(verifier: dkim.DKIM, index: int, dnsfunc: Lookup) -> bool:
    """dkimpy answers False for a bad signature, and raises for a body that changed."""
    try:
        return bool(verifier.verify(idx=index, dnsfunc=dnsfunc))
    except dkim.ValidationError:
        return False


@dataclass(frozen=True)
class DkimKeys:
    rsa: SigningKey
    ed25519: SigningKey
    rsa_file: Path
    ed25519_file: Path

    def records(self) -> dict[bytes, bytes]:
        """The TXT records a verifier looks up, by query name (dkimpy asks with a dot)."""
        return {
            f"{key.selector}._domainkey.{DOMAIN}.".encode(): key.record().encode()
            for key in (self.rsa, self.ed25519)
        }


@pytest.fixture(scope="session")
def test_keys(tmp_path_factory: pytest.TempPathFactory) -> DkimKeys:
    folder = tmp_path_factory.mktemp("dkim")
    rsa_file, ed_file = folder / "rsa.pem", folder / "ed25519.pem"
    rsa_file.write_bytes(generate_key("rsa"))
    ed_file.write_bytes(generate_key("ed25519"))
    return DkimKeys(
        rsa=load_key(rsa_file, "rsa", "rsa2026"),
        ed25519=load_key(ed_file, "ed25519", "ed2026"),
        rsa_file=rsa_file,
        ed25519_file=ed_file,
    )


@pytest.fixture(scope="session")
def dnsfunc(test_keys: DkimKeys) -> Lookup:
    """dkimpy's documented hook for looking up key records: here, the test's own zone."""
    records = test_keys.records()

    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        return records.get(name)

    return lookup
