"""Link tokens: the right one is read back; altered, forged, expired or mis-scoped ones are not."""

from __future__ import annotations

import base64
import string
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clippost.errors import InvalidLink
from clippost.links.tokens import EXPIRED, NOT_VALID, Purpose, TokenData, make_token, read_token

SECRET = "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
NOW = datetime(2026, 11, 22, 21, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
ALPHABET = string.ascii_letters + string.digits + "-_."


def token(
    purpose: Purpose = Purpose.MANAGE,
    subject: str = "42",
    *,
    secret: str | bytes = SECRET,
    now: datetime = NOW,
    ttl: timedelta | None = HOUR,
    extra: str = "",
) -> str:
    return make_token(secret, purpose, subject, now=now, ttl=ttl, extra=extra)


def rejected(value: str, purpose: Purpose = Purpose.MANAGE, *, now: datetime = NOW) -> str:
    with pytest.raises(InvalidLink) as caught:
        read_token(SECRET, purpose, value, now=now)
    assert caught.value.status_code == 400
    return caught.value.message


class TestRoundTrip:
    def test_reads_back_subject_extra_and_times(self) -> None:
        """A genuine token gives back its subject, extra, issue and expiry times."""
        data = read_token(
            SECRET, Purpose.MANAGE, token(extra="gen:3"), now=NOW + timedelta(minutes=59)
        )
        assert data == TokenData(subject="42", extra="gen:3", issued_at=NOW, expires_at=NOW + HOUR)

    def test_never_expiring_token(self) -> None:
        """A token made without ttl still reads years later."""
        value = token(Purpose.UNSUBSCRIBE, ttl=None)
        data = read_token(SECRET, Purpose.UNSUBSCRIBE, value, now=NOW + timedelta(days=3650))
        assert data.expires_at is None

    def test_compact_and_url_safe(self) -> None:
        """Tokens are short and use only URL-safe characters, no padding."""
        value = token(Purpose.FAVOURITE, "1234567", extra="98765", ttl=None)
        assert len(value) <= 64
        assert set(value) <= set(ALPHABET)
        assert "=" not in value

    def test_subject_is_opaque_and_nothing_secret_in_clear(self) -> None:
        """The payload holds only times, subject and extra: no secret, no key material."""
        value = token(subject="7", extra="x")
        payload = value.split(".")[0]
        decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
        assert decoded.split("|")[2:] == ["7", "x"]
        assert SECRET not in decoded

    def test_extra_may_contain_separators(self) -> None:
        """The extra field round-trips even with the payload's separator in it."""
        data = read_token(
            SECRET, Purpose.ADD_IMPORT, token(Purpose.ADD_IMPORT, extra="a|b|c"), now=NOW
        )
        assert data.extra == "a|b|c"

    def test_bytes_and_str_secrets_agree(self) -> None:
        """A secret given as bytes signs exactly like its UTF-8 string."""
        assert token(secret=SECRET.encode()) == token(secret=SECRET)

    def test_rejects_unusable_inputs_to_make(self) -> None:
        """An empty subject, a separator in it, an empty secret or a naive clock are refused."""
        for bad in ({"subject": ""}, {"subject": "a|b"}, {"secret": ""}):
            with pytest.raises(ValueError):  # noqa: PT011
                token(**bad)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="naive"):
            token(now=datetime(2026, 1, 1))


class TestRejection:
    def test_wrong_purpose(self) -> None:
        """A token made for one purpose never verifies for any other."""
        for made in Purpose:
            value = token(made, ttl=None)
            for asked in Purpose:
                if asked is made:
                    assert read_token(SECRET, asked, value, now=NOW).subject == "42"
                else:
                    assert rejected(value, asked) == NOT_VALID

    def test_expired(self) -> None:
        """At or after its expiry a genuine token is refused with the expiry message."""
        value = token(ttl=HOUR)
        assert rejected(value, now=NOW + HOUR) == EXPIRED
        assert EXPIRED.startswith("This link has expired. Ask for a new one")

    def test_other_secret(self) -> None:
        """A token signed with another key is not valid."""
        assert rejected(token(secret="another-secret")) == NOT_VALID
        assert NOT_VALID.startswith("This link is not valid")

    def test_every_single_character_change(self) -> None:
        """Replacing any one character of a token with any other is rejected."""
        value = token(Purpose.DISCARD, "123", extra="456", ttl=None)
        for index, original in enumerate(value):
            for replacement in ALPHABET:
                if replacement != original:
                    altered = value[:index] + replacement + value[index + 1 :]
                    rejected(altered, Purpose.DISCARD)

    def test_truncated_and_extended(self) -> None:
        """Any prefix of a token, or a token with something appended, is rejected."""
        value = token()
        for cut in range(len(value)):
            rejected(value[:cut])
        rejected(value + "A")
        rejected(value + ".")

    def test_expired_payload_re_signed_is_not_valid(self) -> None:
        """Moving a signature onto an edited payload (later expiry) does not verify."""
        old = token(now=NOW - 2 * HOUR)
        fresh = token(now=NOW)
        spliced = old.split(".")[0] + "." + fresh.split(".")[1]
        assert rejected(spliced) == NOT_VALID

    @pytest.mark.parametrize(
        "value", ["", ".", "abc", "a.b.c", "é.é", "x" * 5000, "Zm9v.", ".Zm9v", " " + "a.b"]
    )
    def test_garbage(self, value: str) -> None:
        """Empty, malformed, non-ASCII or huge strings are simply not valid."""
        assert rejected(value) == NOT_VALID


class TestKeyRotation:
    def test_old_secret_still_reads(self) -> None:
        """A token signed with a retired secret verifies when that secret is listed as old."""
        value = token(secret="retired-secret")
        data = read_token(SECRET, Purpose.MANAGE, value, now=NOW, old_secrets=["retired-secret"])
        assert data.subject == "42"

    def test_unlisted_old_secret_fails(self) -> None:
        """Without the retired secret listed, its tokens are not valid."""
        value = token(secret="retired-secret")
        with pytest.raises(InvalidLink):
            read_token(SECRET, Purpose.MANAGE, value, now=NOW, old_secrets=["something-else"])


class TestTokenProperties:
    @given(
        purpose=st.sampled_from(list(Purpose)),
        subject=st.text(min_size=1, max_size=40).filter(lambda s: "|" not in s),
        extra=st.text(max_size=40),
        ttl_minutes=st.none() | st.integers(1, 60 * 24 * 30),
    )
    def test_round_trips_any_subject_and_extra(
        self, purpose: Purpose, subject: str, extra: str, ttl_minutes: int | None
    ) -> None:
        """Any subject and extra come back exactly, for every purpose and lifetime."""
        ttl = None if ttl_minutes is None else timedelta(minutes=ttl_minutes)
        value = make_token(SECRET, purpose, subject, now=NOW, ttl=ttl, extra=extra)
        data = read_token(SECRET, purpose, value, now=NOW)
        assert (data.subject, data.extra) == (subject, extra)

    @given(value=st.text(max_size=200))
    def test_random_strings_are_never_valid(self, value: str) -> None:
        """Arbitrary text is always rejected with InvalidLink, never another error."""
        with pytest.raises(InvalidLink):
            read_token(SECRET, Purpose.MANAGE, value, now=NOW)
