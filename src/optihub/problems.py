"""One error model for every surface and page: any failure becomes a ``Problem``, and each
envelope renders the problem in its dialect.

The ladder below is the only place that knows which exception means which status; a
surface never catches a service error to re-word it (conflicts on order status are worded
through the surface's own status vocabulary, see ``optihub.surfaces.kit.vocabulary``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from optihub.errors import (
    AuthError,
    BadRequest,
    Conflict,
    Forbidden,
    InvalidTransition,
    NotFound,
    OptiHubError,
    PayloadTooLarge,
    RateLimited,
    Unavailable,
    ValidationFailed,
)

# Seconds a client is asked to wait when the database is unreachable (a restart, a
# fail-over): a request in the meantime is answered 503 at once, never a 500 or a hang.
DATABASE_RETRY_AFTER = 5
DATABASE_DOWN = "The database is not reachable at the moment; retry in a few seconds."

# Errors of the database drivers that mean "not reachable now", by module and class name (so
# this module needs no driver): a refused or dropped connection, a server shutting down, a
# pool with no connection to give, SQLite's file locked past its busy timeout.
_OUTAGE_NAMES = {
    "sqlalchemy.exc": {"OperationalError", "InterfaceError", "DisconnectionError", "TimeoutError"},
    "psycopg": {"OperationalError", "InterfaceError"},
    "psycopg.errors": {
        "OperationalError",
        "InterfaceError",
        "AdminShutdown",
        "CrashShutdown",
        "CannotConnectNow",
        "ConnectionFailure",
        "SqlclientUnableToEstablishSqlconnection",
    },
    "psycopg_pool": {"PoolTimeout", "PoolClosed"},
}
_SQLITE_BUSY = ("database is locked", "database table is locked", "disk i/o error")


def is_outage(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) says the database cannot be reached now."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        kind = type(current)
        if kind.__module__ == "sqlite3" and kind.__name__ == "OperationalError":
            return str(current).lower().startswith(_SQLITE_BUSY)
        if kind.__module__.startswith("sqlalchemy") and getattr(current, "orig", None) is not None:
            orig = current.orig  # type: ignore[attr-defined]
            if getattr(current, "connection_invalidated", False) or is_outage(orig):
                return True
            current = current.__cause__
            continue
        for base in kind.__mro__:
            if base.__name__ in _OUTAGE_NAMES.get(base.__module__, ()):
                return True
        current = current.__cause__ or current.__context__
    return False


@dataclass
class Problem:
    """What went wrong, dialect-free.

    ``details`` are field-level items (``field``, ``message``, ``index``, ``allowed``...);
    ``extra`` carries facts some dialects show (``required_scope``, ``granted_scopes``,
    ``current``/``target`` states of a refused transition).
    """

    status: int
    code: str
    message: str
    details: list[dict[str, Any]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    exception: BaseException | None = None

    @property
    def field(self) -> str | None:
        """The first field the problem names, if any."""
        for detail in self.details:
            if detail.get("field"):
                return str(detail["field"])
        return None


HTTP_CODES = {
    400: "invalid_request",
    401: "invalid_token",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def field_path(location: tuple[Any, ...]) -> str:
    """``("body", "updates", 0, "sku")`` → ``updates.0.sku`` (the caller knows where they
    sent it, so FastAPI's body/query/path prefix is dropped)."""
    parts = (
        location[1:]
        if location and location[0] in {"body", "query", "path", "header"}
        else location
    )
    return ".".join(str(p) for p in parts) or "body"


def problem_from(exc: BaseException, request_id: str = "") -> Problem:
    """The problem an exception stands for (anything unexpected is a bare 500)."""
    if isinstance(exc, AuthError):
        extra: dict[str, Any] = {"granted_scopes": exc.granted}
        details = []
        if exc.scope:
            extra["required_scope"] = exc.scope
            details.append({"required_scope": exc.scope})
        return Problem(
            exc.status_code,
            exc.error,
            exc.description,
            details,
            {"WWW-Authenticate": exc.www_authenticate},
            extra,
            exc,
        )
    if isinstance(exc, RequestValidationError):
        return _request_problem(exc)
    if isinstance(exc, BadRequest):
        detail: dict[str, Any] = {}
        if exc.field:
            detail["field"] = exc.field
            if exc.allowed is not None:
                detail["allowed"] = exc.allowed
            else:
                detail["message"] = exc.message.removeprefix(f"{exc.field}: ")
        return Problem(400, exc.code, exc.message, [detail] if detail else [], exception=exc)
    if isinstance(exc, NotFound):
        return Problem(404, "not_found", exc.message, exception=exc)
    if isinstance(exc, ValidationFailed):
        details = [
            {"field": e.field, "message": e.message}
            | ({"index": e.index} if e.index is not None else {})
            for e in exc.errors
        ]
        return Problem(422, "validation_failed", exc.message, details, exception=exc)
    if isinstance(exc, InvalidTransition):
        return Problem(
            409,
            exc.code,
            exc.message,
            [{"field": "status", "allowed": exc.allowed}],
            extra={"current": exc.current, "target": exc.target, "allowed": exc.allowed},
            exception=exc,
        )
    if isinstance(exc, Conflict):
        details = [{"allowed": exc.allowed}] if exc.allowed else []
        return Problem(409, exc.code, exc.message, details, exception=exc)
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": str(exc.retry_after_seconds)}
        return Problem(429, exc.code, exc.message, headers=headers, exception=exc)
    if isinstance(exc, PayloadTooLarge):
        details = [{"field": "body", "max_bytes": exc.max_bytes}]
        return Problem(413, exc.code, exc.message, details, exception=exc)
    if isinstance(exc, Forbidden):
        details = [{"field": exc.field, "message": exc.message}] if exc.field else []
        return Problem(403, exc.code, exc.message, details, exception=exc)
    if isinstance(exc, Unavailable):
        headers = {"Retry-After": str(exc.retry_after_seconds)}
        return Problem(503, exc.code, exc.message, headers=headers, exception=exc)
    if isinstance(exc, OptiHubError):
        return Problem(400, exc.code, exc.message, exception=exc)
    if isinstance(exc, HTTPException):
        status = exc.status_code
        headers = dict(exc.headers or {})
        return Problem(
            status, HTTP_CODES.get(status, "http_error"), str(exc.detail), headers=headers
        )
    if is_outage(exc):
        return problem_from(Unavailable(DATABASE_DOWN, DATABASE_RETRY_AFTER), request_id)
    return Problem(
        500,
        "internal_error",
        f"Something went wrong on our side. Request id: {request_id}",
        exception=exc,
    )


def _request_problem(exc: RequestValidationError) -> Problem:
    details = []
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            return Problem(
                400,
                "invalid_json",
                "The body is not valid JSON",
                [{"field": "body", "message": str(error.get("msg"))}],
                exception=exc,
            )
        details.append(
            {
                "field": field_path(tuple(error.get("loc", ()))),
                "message": str(error.get("msg", "invalid")),
            }
        )
    first = details[0] if details else {"field": "body", "message": "invalid"}
    return Problem(
        400, "invalid_request", f"{first['field']}: {first['message']}", details, exception=exc
    )
