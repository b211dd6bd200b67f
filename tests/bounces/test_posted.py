"""posted_json: the webhook body read as the JSON object or array its parser expects."""

from __future__ import annotations

import pytest

from clippost.bounces import postmark
from clippost.bounces.posted import posted_json
from clippost.errors import BadInput


class TestPostedJson:
    def test_json_of_the_expected_shape_is_returned(self) -> None:
        """An object or an array of the shape asked for comes back decoded."""
        assert posted_json(b'{"ID": 1}', dict, refusal="object") == {"ID": 1}
        assert posted_json(b"[1, 2]", list, refusal="array") == [1, 2]

    @pytest.mark.parametrize("body", [b"", b"nope", b"\xff\xfe\xfa", b'{"ID": '])
    def test_a_body_that_is_not_json_is_refused(self, body: bytes) -> None:
        """Empty, text, undecodable bytes and cut-off JSON are all "not JSON" (400)."""
        with pytest.raises(BadInput, match=r"^The body is not JSON\.$") as refused:
            posted_json(body, dict, refusal="object")
        assert refused.value.status_code == 400

    @pytest.mark.parametrize("body", [b"[]", b'"text"', b"3", b"null"])
    def test_json_of_another_shape_is_refused_with_the_parsers_words(self, body: bytes) -> None:
        """JSON that is not the object asked for is refused with the caller's message."""
        with pytest.raises(BadInput, match=r"^one object$"):
            posted_json(body, dict, refusal="one object")

    def test_a_postmark_post_that_is_not_one_object_is_refused(self) -> None:
        """Postmark posts one record: an array of them is bad input."""
        with pytest.raises(BadInput, match=r"^A Postmark webhook posts one JSON object\.$"):
            postmark.events_from_webhook(b'[{"RecordType": "Bounce"}]')
