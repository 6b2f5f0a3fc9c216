"""The partner error envelope: ``{"error": {"code", "message", "details": [...]}}``."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from optihub.auth.resource import AuthError
from optihub.errors import (
    Conflict,
    Forbidden,
    NotFound,
    OptiHubError,
    RateLimited,
    ValidationFailed,
)


class PartnerError(OptiHubError):
    """An error raised by the surface itself (bad query parameter, illegal transition...)."""

    def __init__(
        self, status: int, code: str, message: str, details: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.details = details or []


def envelope(
    status: int,
    code: str,
    message: str,
    details: list[Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "details": details or []}},
        status_code=status,
        headers=headers,
    )


def _field(location: tuple[Any, ...]) -> str:
    # Drop FastAPI's "body"/"query"/"path" prefix: the caller knows where they sent it.
    parts = (
        [str(p) for p in location[1:]]
        if location and location[0] in {"body", "query", "path", "header"}
        else [str(p) for p in location]
    )
    return ".".join(parts) or "body"


def render(request: Request, exc: Exception) -> Response:
    if isinstance(exc, AuthError):
        return envelope(
            exc.status_code,
            exc.error,
            exc.description,
            [{"required_scope": exc.scope}] if exc.scope else [],
            headers={"WWW-Authenticate": exc.www_authenticate},
        )
    if isinstance(exc, PartnerError):
        return envelope(exc.status, exc.code, exc.message, exc.details)
    if isinstance(exc, RequestValidationError):
        details = []
        for error in exc.errors():
            kind = error.get("type", "")
            field = _field(tuple(error.get("loc", ())))
            if kind == "json_invalid":
                return envelope(
                    400,
                    "invalid_json",
                    "The body is not valid JSON",
                    [{"field": "body", "message": str(error.get("msg"))}],
                )
            details.append({"field": field, "message": str(error.get("msg", "invalid"))})
        first = details[0] if details else {"field": "body", "message": "invalid"}
        return envelope(400, "invalid_request", f"{first['field']}: {first['message']}", details)
    if isinstance(exc, NotFound):
        return envelope(404, "not_found", exc.message)
    if isinstance(exc, ValidationFailed):
        details = [
            {"field": e.field, "message": e.message}
            | ({"index": e.index} if e.index is not None else {})
            for e in exc.errors
        ]
        return envelope(422, "validation_failed", exc.message, details)
    if isinstance(exc, Conflict):
        return envelope(
            409, "conflict", exc.message, [{"allowed": exc.allowed}] if exc.allowed else []
        )
    if isinstance(exc, RateLimited):
        return envelope(
            429, "rate_limited", exc.message, headers={"Retry-After": str(exc.retry_after_seconds)}
        )
    if isinstance(exc, Forbidden):
        return envelope(403, "forbidden", exc.message)
    if isinstance(exc, OptiHubError):
        return envelope(400, exc.code, exc.message)
    if isinstance(exc, HTTPException):
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
            exc.status_code, "http_error"
        )
        return envelope(exc.status_code, code, str(exc.detail))
    return envelope(500, "internal_error", "Internal error")
