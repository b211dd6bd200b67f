"""The operator password: plain, $scrypt$ (clippost's and passlib's layout), $argon2id$."""

from __future__ import annotations

import base64
import hashlib

import pytest
from argon2 import PasswordHasher

from clippost.passwords import BadHash, check_configured, hash_password, verify


def _passlib_style(password: str) -> str:
    """A $scrypt$ hash in passlib's layout: its `./` base64 alphabet, no padding."""
    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**10, r=8, p=1, dklen=32)

    def ab64(raw: bytes) -> str:
        return base64.b64encode(raw).decode().rstrip("=").replace("+", ".")

    return f"$scrypt$ln=10,r=8,p=1${ab64(salt)}${ab64(digest)}"


class TestVerify:
    @pytest.mark.parametrize(
        "configured",
        [
            "plain-password-1",
            hash_password("plain-password-1", ln=10),
            _passlib_style("plain-password-1"),
            PasswordHasher(time_cost=1, memory_cost=8192).hash("plain-password-1"),
        ],
        ids=["plain", "scrypt", "passlib-scrypt", "argon2id"],
    )
    def test_right_and_wrong(self, configured: str) -> None:
        """The password matches its configured form; any other does not."""
        assert verify(configured, "plain-password-1")
        assert not verify(configured, "plain-password-2")
        assert not verify(configured, "")

    def test_each_hash_has_its_own_salt(self) -> None:
        """Two hashes of one password differ (random salt) and both verify."""
        first, second = hash_password("same", ln=10), hash_password("same", ln=10)
        assert first != second
        assert verify(first, "same")
        assert verify(second, "same")


class TestCheckConfigured:
    @pytest.mark.parametrize(
        "configured",
        [
            "$scrypt$ln=15,r=8$abc$def",
            "$scrypt$ln=40,r=8,p=1$YWJj$ZGVm",
            "$scrypt$ln=15,r=8,p=1$!!$ZGVm",
            "$argon2id$v=19$m=nope",
        ],
    )
    def test_a_broken_hash_is_refused_at_start(self, configured: str) -> None:
        """A value that looks like a hash but cannot be checked is a configuration error."""
        with pytest.raises(BadHash):
            check_configured(configured)

    def test_plain_values_and_good_hashes_pass(self) -> None:
        """A plain password, and hashes clippost can check, are accepted as they are."""
        for configured in ("just-a-password", hash_password("x", ln=10)):
            check_configured(configured)
