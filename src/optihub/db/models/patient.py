"""Patients, their relationships (guarantor, parent...) and appointments."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from optihub.db.base import Base, Timestamps, new_id


class Patient(Timestamps, Base):
    __tablename__ = "patients"
    __table_args__ = (
        Index(None, "practice_id", "last_name", "first_name"),
        Index(None, "practice_id", "email"),
        Index(None, "practice_id", "phone"),
        Index(None, "practice_id", "phone_e164"),
        Index(None, "practice_id", "date_of_birth"),
        Index(None, "practice_id", "created_at"),
        Index(None, "practice_id", "updated_at", "id"),
        UniqueConstraint("practice_id", "external_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(100))
    home_location_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("locations.id", ondelete="SET NULL")
    )
    first_name: Mapped[str] = mapped_column(String(50))
    last_name: Mapped[str] = mapped_column(String(50))
    email: Mapped[str | None] = mapped_column(String(254))
    # As the practice or vendor gave it, trimmed: up to 20 characters (the lab-order API's
    # limit, the strictest of the dialects'), any format (see ``domain.phones``).
    phone: Mapped[str | None] = mapped_column(String(20))
    # The same number in E.164 (``+16175550100``) when it is a valid one, read in the
    # practice's country; None otherwise. Numbers are matched by this form.
    phone_e164: Mapped[str | None] = mapped_column(String(16))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    address_line1: Mapped[str | None] = mapped_column(String(200))
    address_line2: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str | None] = mapped_column(String(50))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    country: Mapped[str] = mapped_column(String(2), default="US")
    notes: Mapped[str | None] = mapped_column(Text)
    # The patient's consent to hear when their eyewear is ready (the portal's
    # ``AllowEmailEyeWear`` / ``AllowSmsEyewear``, the practice API's extension fields, or
    # the order page's box). Only the e-mail is sent; the SMS consent is kept for later.
    notify_eyewear_email: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    notify_eyewear_sms: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


# The dashboard's search by name: a prefix of the last or first name, in any case (the
# database's own lower() on both sides of the comparison, so each backend agrees with itself).
Index("ix_patients_practice_id_lower_last_name", Patient.practice_id, func.lower(Patient.last_name))
Index(
    "ix_patients_practice_id_lower_first_name", Patient.practice_id, func.lower(Patient.first_name)
)


class PatientRelationship(Base):
    """``patient`` is the ``relationship`` of ``related_patient`` (e.g. parent, guarantor)."""

    __tablename__ = "patient_relationships"
    __table_args__ = (
        UniqueConstraint(
            "practice_id",
            "patient_id",
            "related_patient_id",
            "relationship",
            name="uq_patient_relationships_pair",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    related_patient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE")
    )
    relationship: Mapped[str] = mapped_column(String(30))


class Appointment(Timestamps, Base):
    __tablename__ = "appointments"
    __table_args__ = (
        Index(None, "practice_id", "starts_at"),
        Index(None, "practice_id", "location_id", "starts_at"),
        Index(None, "practice_id", "patient_id", "starts_at"),
        UniqueConstraint("practice_id", "external_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(100))
    location_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    employee_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("employees.id", ondelete="SET NULL")
    )
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    kind: Mapped[str] = mapped_column(String(50), default="eye_exam")
    status: Mapped[str] = mapped_column(String(20), default="scheduled")
    notes: Mapped[str | None] = mapped_column(Text)

    patient: Mapped["Patient"] = relationship(lazy="raise")  # noqa: UP037
