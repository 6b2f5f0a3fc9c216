"""The partner error envelope: ``{"error": {"code", "message", "details": [...]}}``."""

from __future__ import annotations

from typing import Any

from optihub.problems import Problem


def envelope(problem: Problem) -> dict[str, Any]:
    return {"error": {"code": problem.code, "message": problem.message, "details": problem.details}}
