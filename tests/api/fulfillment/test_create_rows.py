"""What the create writes past the ORM (``db.prepared``): a new patient's row and audit entry
as ``services.patients.create_patient`` writes them, a lost race on its external id still a
``Conflict`` that leaves the transaction usable, and the products lookup's prepared
statements (any number of SKUs and ids) reading what the ORM reads."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from optihub.db.models import AuditEntry, Patient
from optihub.errors import Conflict
from optihub.reads import products
from optihub.services import fulfillment, patients
from tests import factories
from tests.api.fulfillment.conftest import order_body

COLUMNS = [c.key for c in Patient.__table__.columns if c.key not in {"id", "created_at"}]


def _row(patient: Patient) -> dict[str, Any]:
    return {name: getattr(patient, name) for name in COLUMNS if name != "updated_at"}


def test_a_new_patient_is_the_row_and_audit_entry_create_patient_writes(api, world, db):
    body = order_body(
        world,
        patient={
            "first_name": " Katherine ",
            "last_name": "Johnson",
            "email": "kj@example.com",
            "phone": "(617) 555-0199",
            "date_of_birth": "1918-08-26",
            "external_id": "PAT-KJ",
        },
        address={"address_1": "3 Langley Blvd", "city": "Hampton", "zip_code": "23665"},
    )
    del body["patient_id"]
    answer = api.post("/orders", json=body)
    assert answer.status_code == 201, answer.text
    with db.transaction() as s:
        written = s.scalars(select(Patient).where(Patient.external_id == "PAT-KJ")).one()
        assert written.created_at == written.updated_at
        assert str(written.id) == answer.json()["patient"]["id"]
        entry = s.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "patient.created", AuditEntry.target_id == str(written.id)
            )
        ).one()
        assert (entry.practice_id, entry.via, entry.actor_client_id) == (
            world.practice_id,
            "fulfillment",
            "blend-store",
        )
        assert entry.details == {}
        like = patients.create_patient(
            s,
            factories.actor(world.practice_id),
            patients.PatientDetails(
                first_name=" Katherine ",
                last_name="Johnson",
                email="kj@example.com",
                phone="(617) 555-0199",
                date_of_birth=written.date_of_birth,
                external_id="PAT-KJ-2",
            ),
        )
        assert _row(written) | {"external_id": "PAT-KJ-2"} == _row(like)
        assert written.phone_e164 == "+16175550199"


def test_an_external_id_taken_since_the_lookup_is_a_conflict_and_nothing_is_written(world, db):
    who = factories.actor(world.practice_id)
    details = patients.PatientDetails(
        first_name="Ada", last_name="Twice", external_id="PAT-ADA"
    )  # the world's patient holds PAT-ADA: as though written after the lookup
    audited = select(AuditEntry.id).where(AuditEntry.action == "patient.created")
    with db.transaction() as s:
        before = s.scalars(audited).all()
        with pytest.raises(Conflict, match="A patient with external id PAT-ADA already exists"):
            fulfillment._new_patient(s, who, details)
        # The transaction is still usable (PostgreSQL: no failed statement in it).
        assert s.scalars(select(Patient).where(Patient.last_name == "Twice")).all() == []
        assert s.scalars(audited).all() == before
    with db.transaction() as s:
        assert s.scalars(select(Patient).where(Patient.last_name == "Twice")).all() == []


@pytest.mark.parametrize(("skus", "ids"), [(1, 0), (0, 1), (3, 2), (5, 0), (0, 3), (2, 5)])
def test_the_lookup_finds_any_number_of_skus_and_ids(world, db, skus, ids):
    codes = ["LNS-SV-POLY", "LNS-PAL-167", "CL-AO6", "SUN-PLANO-BLK", "SOL-MPS-360"]
    by_code = {code: world.ids[code] for code in codes}
    wanted_skus = [world.frame_sku, *codes][:skus]
    wanted_ids = [world.frame_id, *by_code.values()][:ids]
    with db.transaction() as s:
        by_sku, by_id = products.lookup(
            s, world.practice_id, [*wanted_skus, "NO-SUCH-SKU"], wanted_ids
        )
        # Another practice's products are not found, whatever is asked.
        assert products.lookup(s, world.other_practice_id, wanted_skus, wanted_ids) == ({}, {})
    assert sorted(by_sku) == sorted(wanted_skus)
    assert sorted(by_id) == sorted(wanted_ids)
    prices = {p.sku: p.price for p in [*by_sku.values(), *by_id.values()]}
    assert all(
        isinstance(price, Decimal) and price.as_tuple().exponent == -2 for price in prices.values()
    )
    if "LNS-PAL-167" in prices:
        assert prices["LNS-PAL-167"] == Decimal("399.00")
        assert by_sku.get("LNS-PAL-167", by_id.get(world.ids["LNS-PAL-167"])).kind == "lens"
    frame = by_sku.get(world.frame_sku) or by_id.get(world.frame_id)
    if frame is not None:
        assert (frame.kind, frame.id, frame.sku) == ("frame", world.frame_id, world.frame_sku)
