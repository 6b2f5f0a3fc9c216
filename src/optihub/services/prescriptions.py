"""Prescriptions on file.

Recording one fires ``recorded`` in its transaction; the services built on this one react
there (``services.fulfillment`` links the prescription to the patient's waiting orders:
wired in ``optihub/services/__init__.py``), so this module imports none of them.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, select
from sqlalchemy.orm import Session, selectinload

from optihub.db.base import new_id, utcnow
from optihub.db.models import Employee, Prescription, PrescriptionEye
from optihub.db.prepared import Prepared
from optihub.domain import rx as rx_rules
from optihub.errors import FieldError, NotFound, ValidationFailed
from optihub.events.hooks import Hook
from optihub.services import audit
from optihub.services.context import Actor
from optihub.services.patients import get_patient

# A prescription was recorded for a patient: (session, actor, patient id).
recorded: Hook[[Session, Actor, uuid.UUID]] = Hook("prescription.recorded")


def _eye_columns(eye: rx_rules.EyeRx) -> dict[str, Any]:
    """A spectacle eye's values as the eye row's columns."""
    return {
        "sphere": eye.sphere,
        "cylinder": eye.cylinder,
        "axis": eye.axis,
        "add": eye.add,
        "prism_horizontal": eye.prism_horizontal.amount if eye.prism_horizontal else None,
        "prism_horizontal_base": eye.prism_horizontal.base if eye.prism_horizontal else None,
        "prism_vertical": eye.prism_vertical.amount if eye.prism_vertical else None,
        "prism_vertical_base": eye.prism_vertical.base if eye.prism_vertical else None,
        "distance_pd": eye.distance_pd,
        "near_pd": eye.near_pd,
        "seg_height": eye.seg_height,
        "oc_height": eye.oc_height,
    }


def eye_row(practice_id: int, side: str, eye: rx_rules.EyeRx) -> PrescriptionEye:
    return PrescriptionEye(practice_id=practice_id, side=side, **_eye_columns(eye))


def eye_from_row(row: PrescriptionEye | Row[Any]) -> rx_rules.EyeRx:
    return rx_rules.EyeRx(
        sphere=row.sphere,
        cylinder=row.cylinder,
        axis=row.axis,
        add=row.add,
        prism_horizontal=(
            rx_rules.Prism(row.prism_horizontal, row.prism_horizontal_base or "")
            if row.prism_horizontal is not None
            else None
        ),
        prism_vertical=(
            rx_rules.Prism(row.prism_vertical, row.prism_vertical_base or "")
            if row.prism_vertical is not None
            else None
        ),
        distance_pd=row.distance_pd,
        near_pd=row.near_pd,
        seg_height=row.seg_height,
        oc_height=row.oc_height,
    )


def create_spectacle_prescription(
    session: Session,
    actor: Actor,
    *,
    patient_id: uuid.UUID,
    rx: rx_rules.SpectacleRx,
    issued_on: date,
    expires_on: date | None = None,
    prescriber_id: uuid.UUID | None = None,
    prescriber_name: str | None = None,
    external_id: str | None = None,
    notes: str | None = None,
) -> Prescription:
    """Record a spectacle Rx for a patient of the actor's practice (audited).

    Runs every Rx rule; raises ``ValidationFailed`` with all violations, ``NotFound`` for a
    foreign or missing patient or prescriber. Fires ``recorded`` once the row is flushed:
    the patient's open fulfillment orders waiting for an Rx get it, in this transaction.
    """
    violations = rx_rules.validate_spectacle_rx(rx)
    prescription = _record(
        session,
        actor,
        "spectacle",
        [FieldError(v.field, v.message) for v in violations],
        patient_id=patient_id,
        issued_on=issued_on,
        expires_on=expires_on,
        prescriber_id=prescriber_id,
        prescriber_name=prescriber_name,
        external_id=external_id,
        notes=notes,
        eyes=[
            eye_row(actor.practice_id, side, eye)
            for side, eye in (("right", rx.right), ("left", rx.left))
            if eye is not None
        ],
    )
    return prescription


def create_contact_lens_prescription(
    session: Session,
    actor: Actor,
    *,
    patient_id: uuid.UUID,
    rx: rx_rules.ContactLensRx,
    issued_on: date,
    expires_on: date | None = None,
    prescriber_id: uuid.UUID | None = None,
    prescriber_name: str | None = None,
    external_id: str | None = None,
    notes: str | None = None,
) -> Prescription:
    """Record a contact-lens Rx for a patient of the actor's practice (audited), as
    ``create_spectacle_prescription`` does: every contact-lens rule runs first
    (``ValidationFailed`` with all violations), the power is kept in the eye's sphere
    column (as the portal's contact-lens records are), and ``recorded`` fires."""
    violations = rx_rules.validate_contact_lens_rx(rx)
    errors = [FieldError(v.field, v.message) for v in violations]
    for side, eye in (("right", rx.right), ("left", rx.left)):
        if eye is not None and eye.brand is not None and len(eye.brand) > 100:
            errors.append(FieldError(f"{side}.brand", "Must be at most 100 characters."))
    return _record(
        session,
        actor,
        "contact_lens",
        errors,
        patient_id=patient_id,
        issued_on=issued_on,
        expires_on=expires_on,
        prescriber_id=prescriber_id,
        prescriber_name=prescriber_name,
        external_id=external_id,
        notes=notes,
        eyes=[
            PrescriptionEye(
                practice_id=actor.practice_id,
                side=side,
                sphere=eye.power,
                cylinder=eye.cylinder,
                axis=eye.axis,
                add=eye.add,
                base_curve=eye.base_curve,
                diameter=eye.diameter,
                brand=eye.brand,
            )
            for side, eye in (("right", rx.right), ("left", rx.left))
            if eye is not None
        ],
    )


def _record(
    session: Session,
    actor: Actor,
    kind: str,
    errors: list[FieldError],
    *,
    patient_id: uuid.UUID,
    issued_on: date,
    expires_on: date | None,
    prescriber_id: uuid.UUID | None,
    prescriber_name: str | None,
    external_id: str | None,
    notes: str | None,
    eyes: list[PrescriptionEye],
    patient_known: bool = False,
) -> Prescription:
    if not patient_known:  # the caller has the practice's patient in hand
        get_patient(session, actor.practice_id, patient_id)
    if prescriber_id is not None and (
        session.scalar(
            select(Employee.id).where(
                Employee.practice_id == actor.practice_id, Employee.id == prescriber_id
            )
        )
        is None
    ):
        raise NotFound("Prescriber", prescriber_id)
    if expires_on is not None and expires_on < issued_on:
        errors.append(FieldError("expires_on", "Cannot be before the issue date."))
    if prescriber_name is not None and len(prescriber_name) > 200:
        errors.append(FieldError("prescriber_name", "Must be at most 200 characters."))
    if external_id is not None and len(external_id) > 100:
        errors.append(FieldError("external_id", "Must be at most 100 characters."))
    if errors:
        raise ValidationFailed(errors)
    prescription = Prescription(
        practice_id=actor.practice_id,
        patient_id=patient_id,
        kind=kind,
        issued_on=issued_on,
        expires_on=expires_on,
        prescriber_id=prescriber_id,
        prescriber_name=prescriber_name,
        external_id=external_id,
        notes=notes,
    )
    prescription.eyes = eyes
    session.add(prescription)
    session.flush()
    audit.record(session, actor, "prescription.created", "prescription", prescription.id)
    recorded.fire(session, actor, patient_id)
    return prescription


def record_order_rx(
    session: Session,
    actor: Actor,
    *,
    patient_id: uuid.UUID,
    rx: rx_rules.SpectacleRx,
    written_on: date,
    order_number: str,
    new_patient: bool = False,
) -> uuid.UUID:
    """The spectacle Rx a lab order was submitted with, on file for its patient (its id):
    the patient's prescription with the very same values when there is one (a redo, a
    second pair), else a new one issued on ``written_on`` with no prescriber (a lab order
    names none), noted as coming from the order. So an Rx written on a lab order reads back
    through FHIR and the partner API like every other.

    The order's rules already checked the Rx (with an add allowed), so they are not run
    again here; ``patient_id`` is the practice's (the order's), and ``new_patient`` says it
    was created with the order (so it has nothing on file to compare with). A new one is
    the same rows and audit entry ``create_spectacle_prescription`` writes, as Core
    INSERTs (compiled once per process) rather than through the ORM's unit of work, and
    fires ``recorded``.
    """
    eyes = {side: eye for side, eye in (("right", rx.right), ("left", rx.left)) if eye}
    same = None if new_patient else _same_values(session, actor.practice_id, patient_id, eyes)
    if same is not None:
        return same
    # What the ORM holds goes first, so rows keep the order they were made in (the audit
    # trail's above all).
    session.flush()
    now = utcnow()
    prescription_id = new_id()
    _INSERT_PRESCRIPTION.defer(
        session,
        {
            "id": prescription_id,
            "practice_id": actor.practice_id,
            "patient_id": patient_id,
            "prescriber_id": None,
            "external_id": None,
            "kind": "spectacle",
            "issued_on": written_on,
            "expires_on": None,
            "prescriber_name": None,
            "notes": f"From lab order {order_number}",
            "created_at": now,
            "updated_at": now,
        },
    )
    _INSERT_EYE.defer_many(
        session,
        [
            {
                **_NO_LENS,
                **_eye_columns(eye),
                "prescription_id": prescription_id,
                "side": side,
                "practice_id": actor.practice_id,
            }
            for side, eye in eyes.items()
        ],
    )
    audit.add(session, actor, "prescription.created", "prescription", prescription_id)
    if not new_patient:
        # A patient created with the order has no other order waiting for an Rx (the lab
        # order itself has no prescription products): nothing to react to, so no match
        # query (as ``fulfillment.place`` skips it for a patient it creates).
        recorded.fire(session, actor, patient_id)
    return prescription_id


_PRESCRIPTIONS = cast(Table, Prescription.__table__)
_EYES = cast(Table, PrescriptionEye.__table__)
# Statements compiled once per kind of database, sent on the session's connection
# (``db.prepared``): every column given, so no default is left to the database.
_INSERT_PRESCRIPTION = Prepared.insert(_PRESCRIPTIONS, tuple(_PRESCRIPTIONS.c.keys()))
_INSERT_EYE = Prepared.insert(_EYES, tuple(_EYES.c.keys()))
_NO_LENS = {"base_curve": None, "diameter": None, "brand": None}  # a spectacle eye's
# The eyes of the patient's spectacle prescriptions, the newest prescription first. A Core
# statement (its rows read by name, ``eye_from_row``): it runs only for a patient already
# on file, not on a new patient's create.
_ON_FILE = (
    select(
        Prescription.id,
        PrescriptionEye.side,
        *(getattr(PrescriptionEye, name) for name in _eye_columns(rx_rules.EyeRx())),
    )
    .join(Prescription, Prescription.id == PrescriptionEye.prescription_id)
    .where(
        Prescription.practice_id == bindparam("practice_id"),
        Prescription.patient_id == bindparam("patient_id"),
        Prescription.kind == "spectacle",
    )
    .order_by(Prescription.issued_on.desc(), Prescription.id)
)


def _same_values(
    session: Session, practice_id: int, patient_id: uuid.UUID, eyes: dict[str, rx_rules.EyeRx]
) -> uuid.UUID | None:
    on_file: dict[uuid.UUID, dict[str, rx_rules.EyeRx]] = {}
    found = session.execute(_ON_FILE, {"practice_id": practice_id, "patient_id": patient_id})
    for row in found:
        on_file.setdefault(row[0], {})[row.side] = eye_from_row(row)
    return next((pid for pid, values in on_file.items() if values == eyes), None)


def get_prescription(
    session: Session, practice_id: int, prescription_id: uuid.UUID
) -> Prescription:
    prescription = session.scalar(
        select(Prescription)
        .options(selectinload(Prescription.eyes))
        .where(Prescription.practice_id == practice_id, Prescription.id == prescription_id)
    )
    if prescription is None:
        raise NotFound("Prescription", prescription_id)
    return prescription


def spectacle_rx_of(prescription: Prescription) -> rx_rules.SpectacleRx:
    eyes = {row.side: eye_from_row(row) for row in prescription.eyes}
    return rx_rules.SpectacleRx(right=eyes.get("right"), left=eyes.get("left"))
