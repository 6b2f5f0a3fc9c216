"""The portal error body, as the vendor's ASP.NET API writes it: ``{"Message": "…"}``, and
for a body that could not be bound or breaks a rule ``{"Message": "The request is
invalid.", "ModelState": {"model.Field": ["…"]}}``; in XML (``<Error>``) when the
request's ``Accept`` prefers XML."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel

from optihub.problems import Problem
from optihub.surfaces.kit.responses import JSON, XML, wants_xml
from optihub.surfaces.portal.codec import encode_error_json, encode_error_xml

INVALID = "The request is invalid."
DENIED = "Authorization has been denied for this request."
# Query parameters the routes check themselves: named as sent, not as a body member.
QUERY_PARAMETERS = frozenset({"externalId"})


class ErrorBody(BaseModel):
    Message: str
    ModelState: dict[str, list[str]] | None = None


def model_state(problem: Problem) -> dict[str, list[str]] | None:
    """Field violations by member path: the body's members under ``model.``, query
    parameters under their own names."""
    framework = isinstance(problem.exception, RequestValidationError)
    state: dict[str, list[str]] = {}
    for detail in problem.details:
        field, message = detail.get("field"), detail.get("message")
        if not field or not message:
            continue
        key = str(field)
        if (
            not framework
            and key not in QUERY_PARAMETERS
            and not (key == "model" or key.startswith("model."))
        ):
            key = f"model.{key}"
        state.setdefault(key, []).append(str(message))
    return state or None


def _message_and_state(problem: Problem) -> tuple[str, dict[str, list[str]] | None]:
    if problem.status == 401:
        return DENIED, None
    if problem.status == 400 and problem.code in ("validation_failed", "invalid_request"):
        state = model_state(problem)
        if state:
            return INVALID, state
    return problem.message, None


def envelope(problem: Problem) -> dict[str, Any]:
    message, state = _message_and_state(problem)
    body: dict[str, Any] = {"Message": message}
    if state:
        body["ModelState"] = state
    return body


def render(problem: Problem, request_headers: Mapping[str, str]) -> Response:
    message, state = _message_and_state(problem)
    if wants_xml(request_headers):
        return Response(
            encode_error_xml(message, state), problem.status, problem.headers, media_type=XML
        )
    return Response(
        encode_error_json(message, state), problem.status, problem.headers, media_type=JSON
    )
