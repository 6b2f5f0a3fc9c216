"""A practice whose practice-management system syncs through the portal API: a connected
confidential app (its id and secret are the sync credentials), a token from
``POST /api/token``, and a second practice with its own app beside it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from optihub.db.base import Base
from optihub.services import oauth_clients
from tests import factories

BASE = "/api"


@dataclass
class Sync:
    practice_id: int
    client_id: str
    client_secret: str
    token: str
    other_practice_id: int
    other_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def connected_app(db, practice_id: int, name: str, scope: str = "portal:sync") -> tuple[str, str]:
    with db.transaction() as s:
        registered = oauth_clients.register_client(
            s, name=name, scope=scope, redirect_uris=[], practice_ids=[practice_id]
        )
        assert registered.client_secret is not None
        return registered.client.client_id, registered.client_secret


def token_for(client, client_id: str, secret: str, path: str = "/api/token") -> str:
    # OAuth endpoints answer over https only (plain http on a loopback address).
    path = f"https://testserver{path}"
    response = client.post(
        path, data={"grant_type": "password", "username": client_id, "password": secret}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@pytest.fixture
def sync(db, client) -> Sync:
    with db.transaction() as s:
        practice = factories.practice(s, "Lakeside Eye Care")
        other = factories.practice(s, "Ridge Optical")
    client_id, secret = connected_app(db, practice.id, "Lakeside PMS")
    other_id, other_secret = connected_app(db, other.id, "Ridge PMS")
    return Sync(
        practice.id,
        client_id,
        secret,
        token_for(client, client_id, secret),
        other.id,
        token_for(client, other_id, other_secret),
    )


@pytest.fixture
def post(client, sync) -> Callable[..., Any]:
    """``post(resource, body)`` → the response (JSON unless ``content``/``headers`` say)."""

    def send(resource: str, body: Any = None, *, token: str | None = None, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {token or sync.token}", **kw.pop("headers", {})}
        if body is not None:
            kw["json"] = body
        return client.post(f"{BASE}/{resource}", headers=headers, **kw)

    return send


@pytest.fixture
def get(client, sync) -> Callable[..., Any]:
    def send(
        resource: str, external_id: str | None = None, *, token: str | None = None, **kw: Any
    ) -> Any:
        headers = {"Authorization": f"Bearer {token or sync.token}", **kw.pop("headers", {})}
        params = dict(kw.pop("params", {}))
        if external_id is not None:
            params["externalId"] = external_id
        return client.get(f"{BASE}/{resource}", headers=headers, params=params, **kw)

    return send


def table_counts(db) -> dict[str, int]:
    with db.reading() as reader:
        return {
            name: reader.scalar(select(func.count()).select_from(table))
            for name, table in Base.metadata.tables.items()
        }


@pytest.fixture
def basics(post) -> dict[str, str]:
    """A location, a doctor, a user, a patient and the practice's order statuses."""
    for resource, body in (
        (
            "Locations",
            {
                "externalId": "L1",
                "name": "Lakeside Main",
                "active": True,
                "city": "Duluth",
                "state": "MN",
            },
        ),
        (
            "Doctors",
            {
                "externalId": "D1",
                "lastName": "Okafor",
                "firstName": "Ada",
                "active": True,
                "inHouse": True,
                "locationExternalId": "L1",
            },
        ),
        (
            "Users",
            {
                "externalId": "U1",
                "username": "frontdesk",
                "firstName": "Sam",
                "lastName": "Reyes",
                "active": True,
            },
        ),
        (
            "Patients",
            {
                "externalId": "P1",
                "firstName": "Maya",
                "lastName": "Lind",
                "emailAddress": "maya@example.com",
                "phone": "(218) 555-0142",
                "locationExternalId": "L1",
                "doctorExternalId": "D1",
            },
        ),
        ("OrderStatuses", {"externalId": "S-NEW", "name": "New", "active": True}),
        ("OrderStatuses", {"externalId": "S-LAB", "name": "At lab", "active": True}),
        ("OrderStatuses", {"externalId": "S-READY", "name": "Ready for pickup", "active": True}),
        ("OrderStatuses", {"externalId": "S-GONE", "name": "Picked up", "active": True}),
    ):
        response = post(resource, body)
        assert response.status_code == 200, (resource, response.text)
    return {"location": "L1", "doctor": "D1", "user": "U1", "patient": "P1"}
