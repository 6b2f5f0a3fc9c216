"""Test data built through the services, as a user's actions would build it."""

from __future__ import annotations

import itertools
from datetime import date, time
from decimal import Decimal

from sqlalchemy.orm import Session

from optihub.db.models import Frame, Location, Patient, Practice
from optihub.domain import rx as rx_rules
from optihub.services import frames, patients, practices
from optihub.services.context import Actor

_counter = itertools.count(1)


def practice(session: Session, name: str = "Bright Eyes Optometry") -> Practice:
    return practices.create_practice(session, name=name)


def location(session: Session, practice_id: int, name: str = "Main Street") -> Location:
    return practices.create_location(
        session,
        practice_id,
        name=name,
        hours=[practices.OpeningHours(d, time(9), time(17)) for d in range(5)],
    )


def actor(practice_id: int, via: str = "test") -> Actor:
    return Actor(practice_id=practice_id, via=via, label=f"{via} user")


def patient(session: Session, practice_id: int, **overrides: object) -> Patient:
    n = next(_counter)
    details = {
        "first_name": "Maya",
        "last_name": f"Okafor{n}",
        "email": f"maya{n}@example.com",
        "phone": "6175550123",
        "date_of_birth": date(1984, 5, 17),
    } | overrides
    return patients.create_patient(
        session,
        actor(practice_id),
        patients.PatientDetails(**details),  # type: ignore[arg-type]
    )


def frame(session: Session, practice_id: int, **overrides: object) -> Frame:
    n = next(_counter)
    details = {
        "sku": f"RB-{n:05d}",
        "brand": "Ray-Ban",
        "model": "RB5154 Clubmaster",
        "color": "Tortoise",
        "material": "zyl",
        "eye_size": 51,
        "bridge": 21,
        "temple": 145,
        "a": Decimal("51"),
        "b": Decimal("41"),
        "ed": Decimal("55"),
        "price": Decimal("189.00"),
        "wholesale_price": Decimal("76.00"),
    } | overrides
    return frames.create_frame(
        session,
        actor(practice_id),
        frames.FrameDetails(**details),  # type: ignore[arg-type]
    )


def spectacle_rx() -> rx_rules.SpectacleRx:
    return rx_rules.SpectacleRx(
        right=rx_rules.EyeRx(
            sphere=Decimal("-2.00"),
            cylinder=Decimal("-0.75"),
            axis=90,
            distance_pd=Decimal("31.5"),
        ),
        left=rx_rules.EyeRx(sphere=Decimal("-1.75"), distance_pd=Decimal("31")),
    )
