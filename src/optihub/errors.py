"""The one exception hierarchy services raise; each surface renders it in its own envelope.

Kept free of HTTP and storage imports so the domain can raise it too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One violated rule: where (a dotted field path) and what, in plain words."""

    field: str
    message: str
    index: int | None = None


class OptiHubError(Exception):
    """Base of every error a user may be shown. ``code`` is stable and machine-readable."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(OptiHubError):
    """The object does not exist *for this practice* (a foreign one looks exactly the same)."""

    code = "not_found"

    def __init__(self, kind: str, identifier: object) -> None:
        super().__init__(f"{kind} {identifier} not found")
        self.kind = kind
        self.identifier = identifier


class ValidationFailed(OptiHubError):
    """Input broke one or more rules; nothing was written."""

    code = "validation_failed"

    def __init__(self, errors: Sequence[FieldError], message: str | None = None) -> None:
        self.errors = list(errors)
        first = self.errors[0] if self.errors else None
        super().__init__(
            message or (f"{first.field}: {first.message}" if first else "Invalid input")
        )


class Conflict(OptiHubError):
    """The request contradicts the current state (illegal transition, duplicate key...)."""

    code = "conflict"

    def __init__(self, message: str, *, allowed: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.allowed = list(allowed)


class Forbidden(OptiHubError):
    code = "forbidden"


class RateLimited(OptiHubError):
    code = "rate_limited"

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds
