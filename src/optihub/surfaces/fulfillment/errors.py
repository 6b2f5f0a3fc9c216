"""The fulfillment error envelope: ``{"error": {"code", "message", "field"}}`` (OptiHub's
choice: the vendor documents none). ``field`` names the first field at fault, or null."""

from __future__ import annotations

from typing import Any

from optihub.problems import Problem


def envelope(problem: Problem) -> dict[str, Any]:
    return {"error": {"code": problem.code, "message": problem.message, "field": problem.field}}
