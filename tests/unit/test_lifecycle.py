"""The canonical order lifecycle and surface vocabulary tables."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from optihub.domain.orders import (
    TERMINAL,
    TRANSITIONS,
    OrderStatus,
    VocabularyTable,
    allowed_next,
    decide_transition,
)
from optihub.errors import Conflict

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
S = OrderStatus


def decide(current, target, **kw):
    return decide_transition(current, target, at=NOW, actor="Dana", via="partner", **kw)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.DRAFT, S.RECEIVED),
        (S.RECEIVED, S.IN_PROGRESS),
        (S.IN_PROGRESS, S.COMPLETED),
        (S.IN_PROGRESS, S.SHIPPED),
        (S.COMPLETED, S.SHIPPED),
        (S.COMPLETED, S.DELIVERED),
        (S.SHIPPED, S.DELIVERED),
        (S.DRAFT, S.CANCELLED),
        (S.RECEIVED, S.CANCELLED),
        (S.IN_PROGRESS, S.CANCELLED),
        (S.COMPLETED, S.CANCELLED),
    ],
)
def test_allowed_moves(current, target):
    transition = decide(current, target)
    assert (transition.from_status, transition.to_status) == (current, target)
    assert not transition.is_noop
    assert transition.via == "partner" and transition.actor == "Dana"


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        (S.RECEIVED, S.SHIPPED, "in_progress, cancelled"),
        (S.SHIPPED, S.CANCELLED, "delivered"),
        (S.DELIVERED, S.RECEIVED, "none (the order is closed)"),
        (S.CANCELLED, S.IN_PROGRESS, "none (the order is closed)"),
        (S.COMPLETED, S.IN_PROGRESS, "shipped, delivered, cancelled"),
    ],
)
def test_illegal_moves_name_the_allowed_next_statuses(current, target, allowed):
    with pytest.raises(Conflict) as failure:
        decide(current, target)
    assert f"allowed next: {allowed}" in failure.value.message
    assert failure.value.allowed == [s.value for s in allowed_next(current)]


def test_cancellation_is_not_reachable_once_shipped():
    for state in (S.SHIPPED, S.DELIVERED):
        assert S.CANCELLED not in allowed_next(state)


def test_same_status_is_a_noop_and_completion_is_flagged():
    assert decide(S.RECEIVED, S.RECEIVED).is_noop
    assert decide(S.IN_PROGRESS, S.COMPLETED).completes
    assert not decide(S.COMPLETED, S.COMPLETED).completes


def test_sub_status_only_inside_in_progress():
    assert decide(S.IN_PROGRESS, S.IN_PROGRESS, sub_status="picked").sub_status == "picked"
    with pytest.raises(Conflict):
        decide(S.RECEIVED, S.COMPLETED, sub_status="picked")
    with pytest.raises(Conflict) as failure:
        decide(S.RECEIVED, S.IN_PROGRESS, sub_status="teleported")
    assert "verified" in failure.value.allowed


def test_terminal_states_are_delivered_and_cancelled():
    assert frozenset({S.DELIVERED, S.CANCELLED}) == TERMINAL


@given(st.sampled_from(list(S)), st.sampled_from(list(S)))
def test_every_pair_is_either_allowed_noop_or_conflict(current, target):
    if current == target or target in TRANSITIONS[current]:
        decide(current, target)
    else:
        with pytest.raises(Conflict):
            decide(current, target)


@given(st.lists(st.sampled_from(list(S)), max_size=12))
def test_any_walk_of_allowed_moves_never_leaves_a_terminal_state(targets):
    state = S.DRAFT
    for target in targets:
        if target in allowed_next(state):
            assert state not in TERMINAL
            state = target


PARTNER = VocabularyTable(
    "partner",
    {
        "pending": S.RECEIVED,
        "in_progress": S.IN_PROGRESS,
        "completed": S.COMPLETED,
        "shipped": S.SHIPPED,
        "cancelled": S.CANCELLED,
    },
    {
        S.DRAFT: "pending",
        S.RECEIVED: "pending",
        S.IN_PROGRESS: "in_progress",
        S.COMPLETED: "completed",
        S.SHIPPED: "shipped",
        S.DELIVERED: "shipped",
        S.CANCELLED: "cancelled",
    },
)


def test_vocabulary_table_maps_both_ways():
    assert PARTNER.to_canonical("pending") is S.RECEIVED
    assert PARTNER.from_canonical("delivered") == "shipped"
    assert PARTNER.names == ("pending", "in_progress", "completed", "shipped", "cancelled")
    assert PARTNER.allowed_names(allowed_next(S.RECEIVED)) == ["in_progress", "cancelled"]
    with pytest.raises(KeyError):
        PARTNER.to_canonical("lost")


def test_vocabulary_table_must_name_every_canonical_state():
    with pytest.raises(ValueError, match="delivered"):
        VocabularyTable(
            "half", {"pending": S.RECEIVED}, {s: s.value for s in S if s != S.DELIVERED}
        )


def test_domain_imports_nothing_from_http_or_storage():
    domain = Path(__file__).resolve().parents[2] / "src" / "optihub" / "domain"
    forbidden = (
        "fastapi",
        "starlette",
        "sqlalchemy",
        "alembic",
        "httpx",
        "optihub.db",
        "optihub.services",
        "optihub.surfaces",
    )
    offenders = []
    for path in domain.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.startswith(forbidden)]
    assert offenders == []
