"""VERP return paths name an outbox row, with a tag nobody can forge without the key."""

from __future__ import annotations

from clippost import verp

KEY = "k" * 40


class TestVerp:
    def test_round_trip(self) -> None:
        """The address made for a row names that row again."""
        address = verp.return_path(1234, domain="clippost.test", key=KEY)
        assert address.startswith("bounces+1234-")
        assert address.endswith("@clippost.test")
        assert verp.outbox_id_of(address, keys=[KEY]) == 1234

    def test_found_inside_a_header_value(self) -> None:
        """The address is found in a header value such as `Name <address>`, any case."""
        address = verp.return_path(7, domain="clippost.test", key=KEY)
        assert verp.outbox_id_of(f"Bounces <{address.upper()}>", keys=[KEY]) == 7

    def test_a_guessed_tag_names_nothing(self) -> None:
        """Another row's id with this row's tag, or a made-up tag, names no row."""
        address = verp.return_path(7, domain="clippost.test", key=KEY)
        tag = address.split("-", 1)[1].split("@")[0]
        assert verp.outbox_id_of(f"bounces+8-{tag}@clippost.test", keys=[KEY]) is None
        assert verp.outbox_id_of("bounces+7-aaaaaaaaaa@clippost.test", keys=[KEY]) is None
        assert verp.outbox_id_of("bounces+7@clippost.test", keys=[KEY]) is None

    def test_old_keys_still_verify(self) -> None:
        """A tag made with a rotated-out key is accepted while that key is listed."""
        address = verp.return_path(9, domain="clippost.test", key="old" * 12)
        assert verp.outbox_id_of(address, keys=[KEY]) is None
        assert verp.outbox_id_of(address, keys=[KEY, "old" * 12]) == 9
