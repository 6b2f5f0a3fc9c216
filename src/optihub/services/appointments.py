"""Appointments: book a patient at one of the practice's locations."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from optihub.db.models import Appointment, Employee, Location, Patient
from optihub.errors import FieldError, ValidationFailed
from optihub.services import audit
from optihub.services.common import flush_or_conflict
from optihub.services.context import Actor

STATUSES = ("scheduled", "confirmed", "checked_in", "completed", "cancelled", "no_show")


@dataclass(frozen=True)
class AppointmentDetails:
    location_id: uuid.UUID
    patient_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    kind: str = "eye_exam"
    status: str = "scheduled"
    employee_id: uuid.UUID | None = None
    notes: str | None = None
    external_id: str | None = None


def _belongs(session: Session, model: Any, practice_id: int, object_id: uuid.UUID) -> bool:
    return (
        session.scalar(
            select(model.id).where(model.practice_id == practice_id, model.id == object_id)
        )
        is not None
    )


def create_appointment(session: Session, actor: Actor, details: AppointmentDetails) -> Appointment:
    """Book an appointment in the actor's practice (audited ``appointment.created``).

    Raises ``ValidationFailed`` when the location, patient or employee is not the
    practice's, the times are not timezone-aware or the end is not after the start, or the
    kind / status is unknown; ``Conflict`` for a duplicate external id.
    """
    errors: list[FieldError] = []
    for name, model, value in (
        ("location_id", Location, details.location_id),
        ("patient_id", Patient, details.patient_id),
        ("employee_id", Employee, details.employee_id),
    ):
        if value is not None and not _belongs(session, model, actor.practice_id, value):
            errors.append(FieldError(name, f"No such {name.removesuffix('_id')} in this practice."))
    aware = all(t.tzinfo is not None for t in (details.starts_at, details.ends_at))
    if not aware:
        errors.append(FieldError("starts_at", "Times need a time zone."))
    elif details.ends_at <= details.starts_at:
        errors.append(FieldError("ends_at", "Must be after the start."))
    if not details.kind.strip() or len(details.kind) > 50:
        errors.append(FieldError("kind", "Is required (at most 50 characters)."))
    if details.status not in STATUSES:
        errors.append(FieldError("status", f"Must be one of: {', '.join(STATUSES)}."))
    if errors:
        raise ValidationFailed(errors)
    appointment = Appointment(
        practice_id=actor.practice_id,
        location_id=details.location_id,
        patient_id=details.patient_id,
        employee_id=details.employee_id,
        starts_at=details.starts_at,
        ends_at=details.ends_at,
        kind=details.kind.strip(),
        status=details.status,
        notes=details.notes,
        external_id=details.external_id,
    )
    session.add(appointment)
    flush_or_conflict(
        session, f"An appointment with external id {details.external_id} already exists"
    )
    audit.record(session, actor, "appointment.created", "appointment", appointment.id)
    return appointment
