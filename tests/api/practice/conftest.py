"""A practice with two stores, staff and a doctor, three patients; another practice beside
it with its own store, employee and patient. ``api`` calls ``/v2/{client_id}/…`` with a
token of chosen scopes (all of the surface's by default)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select

from optihub.db.models import Employee
from optihub.db.models.practice import employee_locations
from optihub.surfaces.practice.mapping import ROUTE_SCOPES
from tests import factories

ALL_SCOPES = " ".join(sorted({s for s in ROUTE_SCOPES.values() if s}))


@dataclass
class World:
    practice_id: int
    other_practice_id: int
    stores: dict[str, str] = field(default_factory=dict)
    employees: dict[str, str] = field(default_factory=dict)
    patients: dict[str, str] = field(default_factory=dict)
    other: dict[str, str] = field(default_factory=dict)


@pytest.fixture
def world(db) -> World:
    with db.transaction() as s:
        practice = factories.practice(s, "Harbor Optical")
        other = factories.practice(s, "Hilltop Vision")
        main = factories.location(s, practice.id, "Main Street")
        bay = factories.location(s, practice.id, "Bayside")
        hill = factories.location(s, other.id, "Hilltop")
        doctor = Employee(
            practice_id=practice.id,
            first_name="Ana",
            last_name="Reyes",
            title="OD",
            npi="1234567890",
            is_doctor=True,
        )
        optician = Employee(
            practice_id=practice.id,
            first_name="Ben",
            last_name="Cole",
            title="Optician",
        )
        former = Employee(
            practice_id=practice.id, first_name="Cy", last_name="Adams", is_active=False
        )
        foreign = Employee(practice_id=other.id, first_name="Dee", last_name="Hill")
        s.add_all([doctor, optician, former, foreign])
        s.flush()
        # No service places employees yet: their stores are rows of the link table.
        s.execute(
            employee_locations.insert(),
            [
                {"practice_id": practice.id, "employee_id": doctor.id, "location_id": main.id},
                {"practice_id": practice.id, "employee_id": optician.id, "location_id": main.id},
                {"practice_id": practice.id, "employee_id": optician.id, "location_id": bay.id},
            ],
        )
        maya = factories.patient(
            s,
            practice.id,
            first_name="Maya",
            last_name="Okafor",
            email="maya@example.com",
            phone="6175550123",
            date_of_birth=date(1984, 5, 17),
        )
        liam = factories.patient(
            s,
            practice.id,
            first_name="Liam",
            last_name="Okafor",
            email="liam@example.com",
            phone="6175550199",
            date_of_birth=date(2012, 1, 3),
        )
        zoe = factories.patient(
            s,
            practice.id,
            first_name="Zoe",
            last_name="Brandt",
            email="Zoe.Brandt@Example.com",
            phone="2125550100",
            date_of_birth=date(1990, 12, 24),
        )
        stranger = factories.patient(s, other.id, first_name="Sam", last_name="Okafor")
        s.flush()
        return World(
            practice.id,
            other.id,
            stores={"main": str(main.id), "bay": str(bay.id)},
            employees={
                "doctor": str(doctor.id),
                "optician": str(optician.id),
                "former": str(former.id),
            },
            patients={"maya": str(maya.id), "liam": str(liam.id), "zoe": str(zoe.id)},
            other={
                "store": str(hill.id),
                "employee": str(foreign.id),
                "patient": str(stranger.id),
            },
        )


class Api:
    """``api.get("/patients", params=...)`` → ``/v2/{practice}/patients`` with a token."""

    def __init__(self, client: Any, issue_token: Any, world: World) -> None:
        self.client = client
        self.issue_token = issue_token
        self.world = world

    def token(self, scopes: str = ALL_SCOPES, practices: list[int] | None = None) -> str:
        granted = practices if practices is not None else [self.world.practice_id]
        return self.issue_token(granted, scopes, client_id="practice-app")

    def call(
        self,
        method: str,
        path: str,
        *,
        scopes: str = ALL_SCOPES,
        client_id: Any = None,
        token: str | None = None,
        **kw: Any,
    ) -> Any:
        practice = self.world.practice_id if client_id is None else client_id
        headers = {"Authorization": f"Bearer {token or self.token(scopes)}"}
        return self.client.request(
            method, f"/v2/{practice}{path}", headers=headers | kw.pop("headers", {}), **kw
        )

    def get(self, path: str, **kw: Any) -> Any:
        return self.call("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.call("POST", path, **kw)


@pytest.fixture
def api(client, issue_token, world) -> Api:
    return Api(client, issue_token, world)


def error(response: Any, status: int) -> str:
    """The envelope's message, after checking the status and the envelope's shape."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body == {
        "status": "ERROR",
        "message": body["message"],
        "error": {"statusCode": status, "isOperational": status < 500},
    }
    return str(body["message"])


def count(db, model: Any) -> int:
    with db.reading() as reader:
        return int(reader.scalar(select(func.count()).select_from(model)) or 0)
