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
    violations = [d for d in _vendor_details(problem) if d.get("field") and d.get("message")]
    if problem.status < 500 and (len(violations) > 1 or problem.code == "validation_failed"):
        body["errors"] = [{"param": d["field"], "message": d["message"]} for d in violations]
    return body


def _message(problem: Problem) -> str:
    """Validation failures read as the first violation's sentence, without the path."""
    first = next((d for d in _vendor_details(problem) if d.get("field") and d.get("message")), None)
    if first is not None and problem.status in {400, 422} and problem.code != "invalid_json":
        return str(first["message"])
    return problem.message


# The catalog call that lists what a refused id could have been, named as the vendor's API
# names it. The core says what is wrong ("No lens style style_… at this lab."); the API
# adds where to look ("… at this lab (GET /v1/catalogs/styles)."). Keyed by the violation's
# path (a prefix for indexed ones) and how the core's sentence starts: the same path also
# carries other sentences ("Lens style is required.") that name no id to look up.
CATALOG_CALLS: tuple[tuple[str, str, str], ...] = (
    ("lab", "No lab ", "GET /v1/labs"),
    ("lens.style", "No lens style ", "GET /v1/catalogs/styles"),
    ("lens.material", "The lab offers no material ", "GET /v1/catalogs/materials"),
    ("lens.color", "No color ", "GET /v1/catalogs/addons"),
    ("lens.coats.", "No coat ", "GET /v1/catalogs/addons"),
)


def vendor_message(path: str, message: str) -> str:
    """A lab-order violation in the vendor's words: an id the lab does not offer names the
    catalog call to look it up in."""
    for field, start, call in CATALOG_CALLS:
        matches = path.startswith(field) if field.endswith(".") else path == field
        if matches and message.startswith(start) and message.endswith("."):
            return f"{message[:-1]} ({call})."
    return message


def _vendor_details(problem: Problem) -> list[dict[str, Any]]:
    if problem.code != "validation_failed":
        return problem.details
    return [
        d | {"message": vendor_message(str(d["field"]), str(d["message"]))}
        if d.get("field") and d.get("message")
        else d
        for d in problem.details
    ]
