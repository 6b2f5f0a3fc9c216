"""The order lifecycle: canonical states, allowed transitions, and recorded history.

Canonical states::

    draft ─► received ─► in_progress ─► completed ─► shipped ─► delivered
      │          │             │             │
      └──────────┴─────────────┴─────────────┴──► cancelled     (reachable before shipping)

``completed`` means the job is finished at the lab / bench (ready to ship or pick up);
``delivered`` also covers a patient pick-up at the practice. A lab may also ship straight from
``in_progress``, so ``in_progress → shipped`` is allowed. Fulfillment sub-steps (picked,
verified, ...) are a ``sub_status`` inside ``in_progress``, not states of their own.

Each surface maps its own vocabulary to these names with a table (see ``VocabularyTable``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from optihub.errors import Conflict, InvalidTransition


class OrderType(StrEnum):
    FRAMES = "frames"
    SPECTACLES = "spectacles"
    CONTACTS = "contacts"
    OTHER = "other"


ORDER_TYPES: tuple[str, ...] = tuple(kind.value for kind in OrderType)


class OrderStatus(StrEnum):
    DRAFT = "draft"
    RECEIVED = "received"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


S = OrderStatus

TRANSITIONS: Mapping[OrderStatus, tuple[OrderStatus, ...]] = {
    S.DRAFT: (S.RECEIVED, S.CANCELLED),
    S.RECEIVED: (S.IN_PROGRESS, S.CANCELLED),
    S.IN_PROGRESS: (S.COMPLETED, S.SHIPPED, S.CANCELLED),
    S.COMPLETED: (S.SHIPPED, S.DELIVERED, S.CANCELLED),
    S.SHIPPED: (S.DELIVERED,),
    S.DELIVERED: (),
    S.CANCELLED: (),
}

TERMINAL: frozenset[OrderStatus] = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)

# Sub-steps recorded inside in_progress, in the order a fulfillment bench performs them.
IN_PROGRESS_SUB_STATUSES: tuple[str, ...] = (
    "surfacing",
    "coating",
    "edging",
    "mounting",
    "picked",
    "verified",
    "packed",
)


def allowed_next(current: OrderStatus) -> tuple[OrderStatus, ...]:
    """The statuses an order in ``current`` may move to, in lifecycle order."""
    return TRANSITIONS[current]


def can_transition(current: OrderStatus, target: OrderStatus) -> bool:
    return target in TRANSITIONS[current]


@dataclass(frozen=True)
class Transition:
    """A decided status change, ready to be recorded (who, when, from, to, via)."""

    from_status: OrderStatus
    to_status: OrderStatus
    at: datetime
    actor: str
    via: str
    sub_status: str | None = None
    note: str | None = None

    @property
    def is_noop(self) -> bool:
        return self.from_status == self.to_status

    @property
    def completes(self) -> bool:
        return self.to_status == OrderStatus.COMPLETED and not self.is_noop


def decide_transition(
    current: OrderStatus,
    target: OrderStatus,
    *,
    at: datetime,
    actor: str,
    via: str,
    sub_status: str | None = None,
    note: str | None = None,
) -> Transition:
    """Check a requested change against the lifecycle.

    Returns a ``Transition`` (``is_noop`` when ``target`` is the current status and no new
    sub-step is asked for). Raises ``Conflict`` naming the allowed next statuses when the
    move is illegal, and when a sub-status is given for a state other than in_progress.
    """
    if sub_status is not None:
        if target != OrderStatus.IN_PROGRESS:
            raise Conflict(f"A sub-status only applies to {OrderStatus.IN_PROGRESS.value} orders")
        if sub_status not in IN_PROGRESS_SUB_STATUSES:
            raise Conflict(
                f"Unknown sub-status {sub_status!r}",
                allowed=list(IN_PROGRESS_SUB_STATUSES),
            )
    if target == current:
        return Transition(current, target, at, actor, via, sub_status, note)
    if not can_transition(current, target):
        raise InvalidTransition(
            current.value, target.value, [s.value for s in allowed_next(current)]
        )
    return Transition(current, target, at, actor, via, sub_status, note)


class VocabularyTable:
    """A surface's status names mapped both ways to canonical states.

    ``to_canonical`` must be a function (each surface name → one state); ``from_canonical``
    picks the name a surface shows for each canonical state. Every canonical state must have
    a name, so no order is ever shown without a status.
    """

    def __init__(
        self,
        surface: str,
        to_canonical: Mapping[str, OrderStatus],
        from_canonical: Mapping[OrderStatus, str],
    ) -> None:
        missing = [s.value for s in OrderStatus if s not in from_canonical]
        if missing:
            raise ValueError(f"{surface}: no name for canonical states {missing}")
        self.surface = surface
        self._to = dict(to_canonical)
        self._from = dict(from_canonical)

    @property
    def names(self) -> tuple[str, ...]:
        """The surface's own status names a caller may send, in lifecycle order."""
        order = list(OrderStatus)
        return tuple(sorted(self._to, key=lambda name: order.index(self._to[name])))

    def to_canonical(self, name: str) -> OrderStatus:
        """Raises ``KeyError`` for a name the surface does not know."""
        return self._to[name]

    def from_canonical(self, status: OrderStatus | str) -> str:
        return self._from[OrderStatus(status)]

    def allowed_names(self, statuses: tuple[OrderStatus, ...]) -> list[str]:
        """Surface names for canonical statuses a caller may request (unmappable ones left out)."""
        reverse = {state: name for name, state in self._to.items()}
        return [reverse[s] for s in statuses if s in reverse]
