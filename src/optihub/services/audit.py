"""Append-only audit trail."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from optihub.db.base import utcnow
from optihub.db.models import AuditEntry
from optihub.db.prepared import Prepared
from optihub.services.context import Actor


def _values(
    actor: Actor, action: str, target_type: str, target_id: object, details: dict[str, Any] | None
) -> dict[str, Any]:
    return {
        "practice_id": actor.practice_id,
        "actor_user_id": actor.user_id,
        "actor_client_id": actor.client_id,
        "action": action,
        "target_type": target_type,
        "target_id": str(target_id),
        "via": actor.via,
        "details": details or {},
    }


def record(
    session: Session,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: object,
    details: dict[str, Any] | None = None,
) -> None:
    """Add an audit row in the caller's transaction."""
    session.add(AuditEntry(**_values(actor, action, target_type, target_id, details)))


_INSERT = Prepared.insert(
    AuditEntry,
    (
        "at",
        "practice_id",
        "actor_user_id",
        "actor_client_id",
        "action",
        "target_type",
        "target_id",
        "via",
        "details",
    ),
)


def add(
    session: Session,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: object,
    details: dict[str, Any] | None = None,
) -> None:
    """``record``, written at once (a statement compiled once per process, on the session's
    connection: ``db.prepared``) instead of waiting for the ORM's next flush: for a caller
    that writes its own rows."""
    _INSERT.defer(
        session, {"at": utcnow()} | _values(actor, action, target_type, target_id, details)
    )
