"""The one error type the web layer turns into a page: business errors carry their status."""

from __future__ import annotations


class ClippostError(Exception):
    """A failure a reader or operator can understand, with the HTTP status it maps to."""

    status_code: int = 400

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code


class BadInput(ClippostError):
    """What was sent cannot be used (wrong file, malformed address...)."""

    status_code = 400


class PayloadTooLarge(ClippostError):
    status_code = 413


class UnsupportedFile(ClippostError):
    status_code = 415


class InvalidLink(ClippostError):
    """A forged, altered, expired or mis-scoped link."""

    status_code = 400


class NotFound(ClippostError):
    status_code = 404


class StillImporting(ClippostError):
    """The import a link applies is being merged by another request right now."""

    status_code = 409


class RateLimited(ClippostError):
    status_code = 429

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # seconds, for the Retry-After header, when known


class Overloaded(ClippostError):
    """More work is waiting than the server takes on: refused before any of it was done."""

    status_code = 503

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # seconds, for the Retry-After header


class ConfigurationError(ClippostError):
    """Settings that cannot work together; raised at start-up, never during a request."""

    status_code = 500
