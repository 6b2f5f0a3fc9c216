"""Every refusal under /fhir/r5 as an OperationOutcome, in ``application/fhir+json``.

A problem's details become its issues: a detail naming a field gives the issue's
``expression`` when the field is a FHIRPath expression (it starts with a resource type, as
the routes name elements: ``VisionPrescription.lensSpecification[0].cylinder``); a query
parameter (``_count``) is named in ``diagnostics``. The issue ``code`` is the problem's own
when it is one of FHIR's issue types, else the one its status stands for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from fastapi.responses import Response

from optihub.problems import Problem
from optihub.surfaces.fhir.mapping import FHIR_JSON

ISSUE_TYPES = frozenset(
    {
        "invalid",
        "structure",
        "required",
        "value",
        "invariant",
        "security",
        "login",
        "forbidden",
        "processing",
        "not-supported",
        "duplicate",
        "not-found",
        "too-long",
        "code-invalid",
        "extension",
        "too-costly",
        "business-rule",
        "conflict",
        "exception",
        "throttled",
    }
)
BY_STATUS = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    412: "conflict",
    413: "too-costly",
    415: "not-supported",
    422: "business-rule",
    429: "throttled",
}


def issue_code(problem: Problem) -> str:
    if problem.code in ISSUE_TYPES:
        return problem.code
    if problem.code == "insufficient_scope":
        return "forbidden"
    return BY_STATUS.get(problem.status, "exception" if problem.status >= 500 else "processing")


def _is_expression(name: str) -> bool:
    return bool(name) and name[0].isupper()


def envelope(problem: Problem) -> dict[str, Any]:
    """The OperationOutcome of a problem: one issue per field-level detail (the problem's
    message when it has none)."""
    code = issue_code(problem)
    issues: list[dict[str, Any]] = []
    for detail in problem.details:
        name = str(detail.get("field") or "")
        message = str(detail.get("message") or problem.message)
        if detail.get("allowed"):
            message = f"{message}; allowed: {', '.join(map(str, detail['allowed']))}"
        issue: dict[str, Any] = {"severity": "error", "code": code}
        if _is_expression(name):
            issue["diagnostics"] = message
            issue["expression"] = [name]
        else:
            issue["diagnostics"] = f"{name}: {message}" if name and name != "body" else message
        issues.append(issue)
    if not issues:
        issues.append({"severity": "error", "code": code, "diagnostics": problem.message})
    return {"resourceType": "OperationOutcome", "issue": issues}


def render(problem: Problem, _request_headers: Mapping[str, str]) -> Response:
    headers = dict(problem.headers)
    return Response(
        orjson.dumps(envelope(problem)),
        problem.status,
        headers=headers,
        media_type=FHIR_JSON,
    )
