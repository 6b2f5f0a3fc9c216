"""A practice with a staff user, an app connected to it, two labs with accounts and a small
catalog; another practice beside it with its own user and lab account."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient

from optihub.db.models import Lab, LabAccount, LensAddon, LensMaterial, LensStyle
from optihub.services import oauth_clients, users
from tests import factories

LAB_SCOPES = "lab_orders:write lab_orders:read lab_catalog:read"
STAFF = "Optician@Harbor.example"
OTHER_STAFF = "someone@hilltop.example"


@dataclass
class LabWorld:
    practice_id: int
    other_practice_id: int
    client_id: str
    client_secret: str
    labs: dict[str, str] = field(default_factory=dict)  # name → "lab_<hex>"
    ids: dict[str, str] = field(default_factory=dict)  # catalog name → public id


def public(prefix: str, row_id) -> str:
    return f"{prefix}_{row_id.hex}"


@pytest.fixture
def lab_world(db) -> LabWorld:
    with db.transaction() as s:
        practice = factories.practice(s, "Harbor Optical")
        other = factories.practice(s, "Hilltop Vision")
        users.create_user(
            s, email=STAFF, password="harbor-password-1", practice_id=practice.id, role="staff"
        )
        users.create_user(
            s, email=OTHER_STAFF, password="hilltop-password", practice_id=other.id, role="owner"
        )
        app = oauth_clients.register_client(
            s, name="Lab order tool", scope=LAB_SCOPES, redirect_uris=[], practice_ids=[practice.id]
        )
        precision = Lab(name="Precision Optical Lab", code="precision-t")
        coastal = Lab(name="Coastal Lens Works", code="coastal-t")
        s.add_all([precision, coastal])
        s.flush()
        cr39 = LensMaterial(lab_id=precision.id, name="CR-39 Plastic")
        poly = LensMaterial(lab_id=precision.id, name="Polycarbonate")
        sv = LensStyle(
            lab_id=precision.id, name="Essential Single Vision", lens_type="single_vision"
        )
        prog = LensStyle(lab_id=precision.id, name="Comfort Progressive", lens_type="multifocal")
        sv.materials = [cr39, poly]
        prog.materials = [poly]
        coastal_style = LensStyle(lab_id=coastal.id, name="Coastal SV", lens_type="single_vision")
        s.add_all([cr39, poly, sv, prog, coastal_style])
        s.flush()
        ar = LensAddon(lab_id=precision.id, kind="coat", name="Basic AR", coat_type="ar")
        mirror = LensAddon(
            lab_id=precision.id,
            kind="coat",
            name="Silver Mirror",
            coat_type="mirror",
            style_id=sv.id,
        )
        blue = LensAddon(lab_id=precision.id, kind="coat", name="Blue Filter", material_id=poly.id)
        clear = LensAddon(lab_id=precision.id, kind="color", name="Clear")
        gray = LensAddon(lab_id=precision.id, kind="tint", name="Gray")
        s.add_all([ar, mirror, blue, clear, gray])
        settings = {
            "frame_handling_options": ["Frame to follow", "Lenses only"],
            "frame_materials": ["Metal", "Zyl"],
            "mounting_options": ["Edged & mounted", "Uncut"],
            "order_types": ["rx", "frame"],
            "redo_types": ["Remake", "Warranty"],
            "services": ["Roll & polish edges"],
        }
        s.add_all(
            [
                LabAccount(
                    practice_id=practice.id, lab_id=precision.id, account_number="PX-1", **settings
                ),
                LabAccount(practice_id=practice.id, lab_id=precision.id, account_number="PX-2"),
                LabAccount(practice_id=practice.id, lab_id=coastal.id, account_number="C-9"),
                LabAccount(practice_id=other.id, lab_id=coastal.id, account_number="HILL-1"),
            ]
        )
        s.flush()
        world = LabWorld(practice.id, other.id, app.client.client_id, app.client_secret or "")
        world.labs = {
            "precision": public("lab", precision.id),
            "coastal": public("lab", coastal.id),
        }
        world.ids = {
            "sv": public("style", sv.id),
            "prog": public("style", prog.id),
            "coastal_sv": public("style", coastal_style.id),
            "cr39": public("material", cr39.id),
            "poly": public("material", poly.id),
            "ar": public("coat", ar.id),
            "mirror": public("coat", mirror.id),
            "blue": public("coat", blue.id),
            "clear": public("color", clear.id),
        }
    return world


@pytest.fixture
def https(app):
    """The app over https (the token call is an OAuth endpoint: https only)."""
    with TestClient(app, base_url="https://hub.example.org", raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def lab_token(https, lab_world) -> str:
    response = https.post(
        "/v1/oauth/token",
        json={"client_id": lab_world.client_id, "client_secret": lab_world.client_secret},
    )
    assert response.status_code == 200, response.text
    return response.json()["token"]


@pytest.fixture
def lab(https, lab_token):
    """``lab.get(path, **kw)`` with the token and the staff User-Email."""

    class Caller:
        def __init__(self) -> None:
            self.headers = {"Authorization": f"Bearer {lab_token}", "User-Email": STAFF}

        def get(self, path, **kw):
            return https.get(path, headers={**self.headers, **kw.pop("headers", {})}, **kw)

        def post(self, path, **kw):
            return https.post(path, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    return Caller()
