"""The body a provider's webhook posts, read as the JSON it must be before anything else.

Every webhook parser (`postmark`, `sendgrid`, `sns`) starts the same way: a body that is not
JSON, or JSON of the wrong shape, is refused with 400 and nothing is read from it.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from clippost.errors import BadInput

T = TypeVar("T", dict[str, Any], list[Any])


def posted_json(body: bytes, shape: type[T], *, refusal: str) -> T:
    """`body` decoded as JSON of `shape` (an object or an array); BadInput otherwise, with
    `refusal` as its message when the JSON has another shape."""
    try:
        posted = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadInput("The body is not JSON.") from exc
    if not isinstance(posted, shape):
        raise BadInput(refusal)
    return posted
