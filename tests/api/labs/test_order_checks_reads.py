"""The one-statement reads a lab order's checks use agree with the catalog drill-down a lab
tool walks (GET /v1/labs, /v1/catalogs/...): the account the order names, and the style,
material and addons of its lens."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import or_, select, update

from optihub.db.models import LensAddon, Patient
from optihub.reads import catalog
from optihub.reads import patients as patient_reads
from optihub.services.context import Actor
from optihub.services.patients import PatientDetails, create_patient


def _row_id(public_id: str) -> uuid.UUID:
    return uuid.UUID(public_id.rsplit("_", 1)[1])


def test_account_at_lab_names_the_account_or_says_whether_the_lab_is_held(db, lab_world):
    precision = _row_id(lab_world.labs["precision"])
    coastal = _row_id(lab_world.labs["coastal"])
    with db.transaction() as s:
        listed = catalog.lab_accounts(s, lab_world.practice_id)
        for account in listed:
            held, found = catalog.account_at_lab(
                s, lab_world.practice_id, account.lab_id, account.account_number
            )
            assert held and found == account
        # A lab the practice holds, with a number it does not have.
        assert catalog.account_at_lab(s, lab_world.practice_id, precision, "PX-3") == (True, None)
        assert catalog.account_at_lab(s, lab_world.practice_id, precision, "px-1") == (True, None)
        # A lab it does not hold at all, and another practice's account.
        assert catalog.account_at_lab(s, lab_world.practice_id, uuid.uuid4(), "PX-1") == (
            False,
            None,
        )
        assert catalog.account_at_lab(s, lab_world.practice_id, coastal, "HILL-1") == (True, None)
        assert catalog.account_at_lab(s, lab_world.other_practice_id, precision, "PX-1") == (
            False,
            None,
        )


def _addons_for_style(s, lab_id: uuid.UUID, style_id: uuid.UUID) -> catalog.Addons:
    """What the lab offers for the style with any material (its tints named once)."""
    rows = s.execute(
        select(LensAddon.id, LensAddon.kind, LensAddon.name, LensAddon.coat_type)
        .where(
            LensAddon.lab_id == lab_id,
            or_(LensAddon.style_id.is_(None), LensAddon.style_id == style_id),
        )
        .order_by(LensAddon.kind, LensAddon.name)
    ).all()
    return catalog.Addons(
        coats=tuple((r.id, r.name, r.coat_type) for r in rows if r.kind == "coat"),
        colors=tuple(catalog.CatalogItem(r.id, r.name) for r in rows if r.kind == "color"),
        tints=tuple(dict.fromkeys(r.name for r in rows if r.kind == "tint")),
    )


@pytest.mark.parametrize("lab", ["precision", "coastal"])
def test_lens_choice_agrees_with_the_drill_down(db, lab_world, lab):
    lab_id = _row_id(lab_world.labs[lab])
    all_materials = [_row_id(lab_world.ids[name]) for name in ("cr39", "poly")]
    with db.transaction() as s:
        styles = catalog.styles(s, lab_id)
        assert styles
        for style in styles:
            offered = {m.id: m.name for m in catalog.materials(s, lab_id, style.id)}
            for material_id in [*all_materials, uuid.uuid4(), None]:
                choice = catalog.lens_choice(s, lab_id, style.id, material_id)
                assert choice is not None
                assert choice.lens_type == catalog.style_lens_type(s, lab_id, style.id)
                assert choice.style_name == style.name
                if material_id in offered:
                    assert choice.material_name == offered[material_id]
                    assert catalog.offers_material(s, lab_id, style.id, material_id)
                    assert choice.addons == catalog.addons(s, lab_id, style.id, material_id)
                else:
                    assert choice.material_name is None
                    assert choice.addons == _addons_for_style(s, lab_id, style.id)
        # Another lab's style, and no style at all.
        other = "coastal_sv" if lab == "precision" else "sv"
        assert catalog.lens_choice(s, lab_id, _row_id(lab_world.ids[other]), None) is None
        assert catalog.lens_choice(s, lab_id, uuid.uuid4(), all_materials[0]) is None


def test_same_person_is_the_newest_match_in_the_practice_only(db, lab_world):
    actor = Actor(practice_id=lab_world.practice_id, via="test")
    with db.transaction() as s:
        first = create_patient(
            s, actor, PatientDetails(first_name="Ada", last_name="Byron", email="ada@example.com")
        )
        assert (
            patient_reads.same_person(s, lab_world.practice_id, "ada", "byron", "ada@example.com")
            == first.id
        )
        assert (
            patient_reads.same_person(
                s, lab_world.other_practice_id, "ada", "byron", "ada@example.com"
            )
            is None
        )
        assert (
            patient_reads.same_person(s, lab_world.practice_id, "ada", "byron", "bob@example.com")
            is None
        )
        # A second patient with the same names and email, made later: the newer is the match.
        second = create_patient(
            s, actor, PatientDetails(first_name="ADA", last_name="byron", email="ada@example.com")
        )
        s.execute(
            update(Patient)
            .where(Patient.id == second.id)
            .values(created_at=first.created_at + timedelta(minutes=1))
        )
        assert (
            patient_reads.same_person(s, lab_world.practice_id, "ada", "byron", "ada@example.com")
            == second.id
        )
        # Made at the same instant: the lower id, whichever way the database reads them.
        s.execute(
            update(Patient).where(Patient.id == second.id).values(created_at=first.created_at)
        )
        assert patient_reads.same_person(
            s, lab_world.practice_id, "ada", "byron", "ada@example.com"
        ) == min(first.id, second.id)
