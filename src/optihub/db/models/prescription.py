"""Prescriptions on file: spectacle and contact-lens, one row per eye."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from optihub.db.base import Base, Measure, Timestamps, new_id


class Prescription(Timestamps, Base):
    """A prescription issued to a patient. ``kind`` is ``spectacle`` or ``contact_lens``."""

    __tablename__ = "prescriptions"
    __table_args__ = (
        CheckConstraint("kind IN ('spectacle', 'contact_lens')", name="kind_known"),
        Index(None, "practice_id", "patient_id", "issued_on"),
        Index(None, "practice_id", "updated_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    prescriber_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("employees.id", ondelete="SET NULL")
    )
    external_id: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20), default="spectacle")
    issued_on: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date)
    prescriber_name: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)

    eyes: Mapped[list[PrescriptionEye]] = relationship(
        back_populates="prescription",
        lazy="raise",
        cascade="all, delete-orphan",
        order_by="PrescriptionEye.side.desc()",
    )


class PrescriptionEye(Base):
    """One eye (``right`` = OD, ``left`` = OS). Spectacle and contact-lens fields are optional."""

    __tablename__ = "prescription_eyes"
    __table_args__ = (
        CheckConstraint("side IN ('right', 'left')", name="side_known"),
        CheckConstraint("axis IS NULL OR axis BETWEEN 1 AND 180", name="axis_range"),
        CheckConstraint(
            "prism_horizontal_base IS NULL OR prism_horizontal_base IN ('in', 'out')",
            name="prism_h_base",
        ),
        CheckConstraint(
            "prism_vertical_base IS NULL OR prism_vertical_base IN ('up', 'down')",
            name="prism_v_base",
        ),
    )

    prescription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("prescriptions.id", ondelete="CASCADE"), primary_key=True
    )
    side: Mapped[str] = mapped_column(String(5), primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    sphere: Mapped[Decimal | None] = mapped_column(Measure)
    cylinder: Mapped[Decimal | None] = mapped_column(Measure)
    axis: Mapped[int | None] = mapped_column(Integer)
    add: Mapped[Decimal | None] = mapped_column(Measure)
    prism_horizontal: Mapped[Decimal | None] = mapped_column(Measure)
    prism_horizontal_base: Mapped[str | None] = mapped_column(String(4))
    prism_vertical: Mapped[Decimal | None] = mapped_column(Measure)
    prism_vertical_base: Mapped[str | None] = mapped_column(String(4))
    distance_pd: Mapped[Decimal | None] = mapped_column(Measure)
    near_pd: Mapped[Decimal | None] = mapped_column(Measure)
    seg_height: Mapped[Decimal | None] = mapped_column(Measure)
    oc_height: Mapped[Decimal | None] = mapped_column(Measure)
    # Contact lenses
    base_curve: Mapped[Decimal | None] = mapped_column(Measure)
    diameter: Mapped[Decimal | None] = mapped_column(Measure)
    brand: Mapped[str | None] = mapped_column(String(100))

    prescription: Mapped[Prescription] = relationship(back_populates="eyes", lazy="raise")
