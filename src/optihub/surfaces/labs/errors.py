"""The lab-order error envelope: ``{"error": {"type", "message", "code", "param"}}`` and,
for validation, every violation in ``errors[]`` (OptiHub addition) so a form can mark all
fields at once."""

from __future__ import annotations

from typing import Any

from optihub.problems import Problem

TYPES = {401: "authentication_error", 403: "permission_error"}


def error_type(status: int) -> str:
    if status >= 500:
        return "api_error"
    return TYPES.get(status, "invalid_request_error")


def envelope(problem: Problem) -> dict[str, Any]:
    error: dict[str, Any] = {
        "type": error_type(problem.status),
        "message": _message(problem),
        "code": problem.code,
    }
    if problem.field:
        error["param"] = problem.field
    body: dict[str, Any] = {"error": error}
    violations = [d for d in problem.details if d.get("field") and d.get("message")]
    if problem.status < 500 and (len(violations) > 1 or problem.code == "validation_failed"):
        body["errors"] = [{"param": d["field"], "message": d["message"]} for d in violations]
    return body


def _message(problem: Problem) -> str:
    """Validation failures read as the first violation's sentence, without the path."""
    first = next((d for d in problem.details if d.get("field") and d.get("message")), None)
    if first is not None and problem.status in {400, 422} and problem.code != "invalid_json":
        return str(first["message"])
    return problem.message
