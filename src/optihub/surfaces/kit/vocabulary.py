"""Status words: a surface's filter values to canonical states, and a refused transition
re-worded in the surface's own vocabulary (from the structured ``InvalidTransition``)."""

from __future__ import annotations

from collections.abc import Sequence

from optihub.domain.orders import OrderStatus, VocabularyTable
from optihub.errors import BadRequest
from optihub.problems import Problem


def status_filter(
    raw: str | None,
    vocabulary: VocabularyTable,
    hidden: Sequence[OrderStatus] = (),
    field: str = "status",
) -> list[str] | None:
    """A comma-separated list of surface status names → the canonical states it covers
    (every state the surface shows under one of those names). Unknown names → 400."""
    if raw is None:
        return None
    names = [part.strip() for part in raw.split(",") if part.strip()]
    unknown = [n for n in names if n not in vocabulary.names]
    if unknown or not names:
        raise BadRequest(
            f"Unknown status {', '.join(unknown) or '(empty)'}; "
            f"allowed: {', '.join(vocabulary.names)}",
            code="invalid_status",
            field=field,
            allowed=list(vocabulary.names),
        )
    return [
        state.value
        for state in OrderStatus
        if state not in hidden and vocabulary.from_canonical(state) in names
    ]


def translate_transition(problem: Problem, vocabulary: VocabularyTable) -> Problem:
    """The refused-transition problem in the surface's words."""
    current = vocabulary.from_canonical(problem.extra["current"])
    target = vocabulary.from_canonical(problem.extra["target"])
    allowed = vocabulary.allowed_names(tuple(OrderStatus(s) for s in problem.extra["allowed"]))
    problem.message = (
        f"An order that is {current} cannot become {target}; "
        f"allowed next: {', '.join(allowed) or 'none'}"
    )
    problem.details = [{"field": "status", "allowed": allowed}]
    problem.extra = problem.extra | {"allowed_names": allowed}
    return problem
