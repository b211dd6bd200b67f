"""DkimSigner: messages from rendering.mime, signed, verified by dkimpy with the test's keys."""

from __future__ import annotations

import re

import pytest

from clippost.dkim.signer import DkimSigner
from clippost.rendering.mime import build_mime

from .conftest import DOMAIN, DkimKeys, Lookup, digest_message, verify_all


@pytest.fixture
def signer(test_keys: DkimKeys) -> DkimSigner:
    return DkimSigner([test_keys.rsa, test_keys.ed25519], domain=DOMAIN)


class TestSignatures:
    def test_both_signatures_verify(self, signer: DkimSigner, dnsfunc: Lookup) -> None:
        """An RSA and an Ed25519 signature are added, and dkimpy verifies both."""
        signed = signer.sign(build_mime(digest_message()))
        assert b"a=rsa-sha256;" in signed
        assert b"a=ed25519-sha256;" in signed
        assert verify_all(signed, dnsfunc) == [True, True]

    def test_one_key_one_signature(self, test_keys: DkimKeys, dnsfunc: Lookup) -> None:
        """Either key alone signs alone."""
        for key in (test_keys.rsa, test_keys.ed25519):
            signed = DkimSigner([key], domain=DOMAIN).sign(build_mime(digest_message()))
            assert verify_all(signed, dnsfunc) == [True]

    def test_the_message_follows_unchanged(self, signer: DkimSigner) -> None:
        """Signing only puts headers in front: the message's own bytes follow as built."""
        wire = build_mime(digest_message())
        assert signer.sign(wire).endswith(wire)

    def test_signed_headers_are_named_and_oversigned(self, signer: DkimSigner) -> None:
        """h= names every listed header present, each once more than it occurs."""
        signed = signer.sign(build_mime(digest_message()))
        h_tags = re.findall(rb"\th=([^;]+);", signed)
        assert len(h_tags) == 2
        names = re.sub(rb"\s", b"", h_tags[0]).split(b":")
        expected = [b"from", b"to", b"subject", b"date", b"message-id", b"mime-version"]
        expected += [b"content-type", b"list-unsubscribe", b"list-unsubscribe-post", b"list-id"]
        assert names == [name for name in expected for _ in range(2)]

    def test_headers_absent_are_not_named(self, signer: DkimSigner, dnsfunc: Lookup) -> None:
        """A message without List-* headers (a confirmation) signs what it has."""
        signed = signer.sign(build_mime(digest_message(headers={})))
        assert b"list-unsubscribe" not in signed.split(b"\r\n\r\n")[0]
        assert verify_all(signed, dnsfunc) == [True, True]

    def test_body_hash_is_shared(self, signer: DkimSigner) -> None:
        """Both signatures carry the same body hash (the body is hashed once)."""
        signed = signer.sign(build_mime(digest_message()))
        first, second = re.findall(rb"bh=([^;]+);", signed)
        assert first == second

    def test_lines_stay_short(self, signer: DkimSigner) -> None:
        """Every line of the signature headers is under 78 characters."""
        signed = signer.sign(build_mime(digest_message()))
        head = signed[: signed.index(b"From:")]
        assert max(map(len, head.split(b"\r\n"))) < 78


class TestTampering:
    @pytest.mark.parametrize(
        ("original", "replacement"),
        [
            (b"Subject: ", b"Subject: FREE "),
            (b"<https://clippost.test/u/t0k3n>", b"<https://evil.test/u/t0k3n>"),
            (b"To: reader@example.org", b"To: other@example.org"),
        ],
    )
    def test_an_altered_header_fails(
        self, signer: DkimSigner, dnsfunc: Lookup, original: bytes, replacement: bytes
    ) -> None:
        """Changing a signed header breaks both signatures."""
        signed = signer.sign(build_mime(digest_message()))
        assert original in signed
        assert verify_all(signed.replace(original, replacement, 1), dnsfunc) == [False, False]

    def test_an_altered_body_fails(self, signer: DkimSigner, dnsfunc: Lookup) -> None:
        """Changing one word of the body breaks both signatures."""
        signed = signer.sign(build_mime(digest_message()))
        assert verify_all(signed.replace(b"and lines", b"and links"), dnsfunc) == [False, False]

    @pytest.mark.parametrize(
        "added",
        [
            b"From: Mallory <m@evil.test>\r\n",
            b"Subject: Second subject\r\n",
            b"List-Unsubscribe: <https://evil.test/u>\r\n",
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
        ],
    )
    def test_an_added_copy_fails(self, signer: DkimSigner, dnsfunc: Lookup, added: bytes) -> None:
        """A second copy of an oversigned header, added on the way, breaks both signatures."""
        signed = signer.sign(build_mime(digest_message()))
        at = signed.index(b"MIME-Version:")
        assert verify_all(signed[:at] + added + signed[at:], dnsfunc) == [False, False]

    def test_refolding_and_spaces_survive(self, signer: DkimSigner, dnsfunc: Lookup) -> None:
        """Relaxed canonicalisation: a relay that re-folds headers or pads spaces is fine."""
        signed = signer.sign(build_mime(digest_message()))
        relayed = signed.replace(b"To: reader@example.org", b"To:   reader@example.org  ")
        relayed = relayed.replace(b"A passage\r\n", b"A   passage \r\n")
        assert relayed != signed
        assert verify_all(relayed, dnsfunc) == [True, True]
