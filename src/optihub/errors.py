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
    """The request contradicts the current state (duplicate key, one request per order...)."""

    code = "conflict"

    def __init__(self, message: str, *, allowed: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.allowed = list(allowed)


class InvalidTransition(Conflict):
    """An order cannot move from ``current`` to ``target``; ``allowed`` are the canonical
    states it may move to. Surfaces rebuild the sentence in their own status vocabulary."""

    code = "invalid_transition"

    def __init__(self, current: str, target: str, allowed: Sequence[str]) -> None:
        hint = ", ".join(allowed) if allowed else "none (the order is closed)"
        super().__init__(
            f"An order that is {current} cannot become {target}; allowed next: {hint}",
            allowed=allowed,
        )
        self.current = current
        self.target = target


class Forbidden(OptiHubError):
    """Authenticated, but not allowed. ``field`` names the header or parameter at fault;
    ``code`` says why, where a caller acts on it (e.g. ``insufficient_scope``)."""

    code = "forbidden"

    def __init__(self, message: str, *, field: str | None = None, code: str = "forbidden") -> None:
        super().__init__(message)
        self.field = field
        self.code = code


class BadRequest(OptiHubError):
    """Input a surface could not take at all (an unknown filter value, a foreign cursor...).

    ``field`` names the parameter; ``allowed`` lists accepted values when there is a list.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str = "invalid_request",
        field: str | None = None,
        allowed: Sequence[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.allowed = list(allowed) if allowed is not None else None


class PayloadTooLarge(OptiHubError):
    code = "payload_too_large"

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"The body is over {human_size(max_bytes)}")
        self.max_bytes = max_bytes


def human_size(size: int) -> str:
    """``1048576`` → ``1 MiB``; ``65536`` → ``64 KiB``."""
    for unit, factor in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} bytes"


class AuthError(OptiHubError):
    """401 (``invalid_token`` / ``invalid_request``) or 403 (``insufficient_scope``).

    ``scope`` is the scope that was missing; ``granted`` the scopes the token does carry
    (some dialects show them).
    """

    def __init__(
        self,
        status_code: int,
        error: str,
        description: str,
        scope: str | None = None,
        granted: Sequence[str] = (),
    ) -> None:
        super().__init__(description)
        self.status_code = status_code
        self.error = error
        self.code = error
        self.description = description
        self.scope = scope
        self.granted = sorted(granted)

    @property
    def www_authenticate(self) -> str:
        value = f'Bearer error="{self.error}", error_description="{self.description}"'
        if self.scope:
            value += f', scope="{self.scope}"'
        return value


class RateLimited(OptiHubError):
    code = "rate_limited"

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class Unavailable(OptiHubError):
    """What the request needs is down for a moment (the database): 503, retry later."""

    code = "unavailable"

    def __init__(self, message: str, retry_after_seconds: int = 5) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds
