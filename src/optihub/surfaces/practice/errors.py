"""The practice error bodies, as the vendor's document gives them:

- ``{"status": "ERROR", "message": "…", "error": {"statusCode": N, "isOperational": true}}``
  for every refusal; a 500 says ``isOperational: false`` and only the request id;
- a missing scope: ``{"message": "Insufficient permissions. …", "required_scope": "…",
  "available_scopes": [the token's scopes]}``.

Field violations read as the vendor's validator words them, all of them joined by commas.
"""

from __future__ import annotations

from typing import Any

from fastapi.exceptions import RequestValidationError

from optihub.problems import Problem


def envelope(problem: Problem) -> dict[str, Any]:
    if problem.code == "insufficient_scope" and problem.extra.get("required_scope"):
        scope = problem.extra["required_scope"]
        return {
            "message": f"Insufficient permissions. The scope '{scope}' is required for this "
            "operation.",
            "required_scope": scope,
            "available_scopes": list(problem.extra.get("granted_scopes", [])),
        }
    return {
        "status": "ERROR",
        "message": _message(problem),
        "error": {"statusCode": problem.status, "isOperational": problem.status < 500},
    }


def _message(problem: Problem) -> str:
    """A service's or the framework's field violations, in the vendor's words."""
    violations = [d for d in problem.details if d.get("field") and d.get("message")]
    framework = isinstance(problem.exception, RequestValidationError)
    if problem.status >= 500 or problem.code == "invalid_json" or not violations:
        return problem.message
    if problem.code != "validation_failed" and not framework:
        return problem.message
    return ",".join(f'"{d["field"]}" {_sentence(str(d["message"]))}' for d in violations)


def _sentence(message: str) -> str:
    """``Must be at least 1.`` → ``must be at least 1`` (it follows the field's name)."""
    message = message.strip().rstrip(".")
    return message[:1].lower() + message[1:]
