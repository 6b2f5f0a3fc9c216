"""The lab-order envelope's own words: a lab-order violation for an id the lab does not
offer names the catalog call to look it up in; the core's plain sentence is kept for every
other caller (the dashboard's draft review)."""

from __future__ import annotations

import pytest

from optihub.errors import FieldError, ValidationFailed
from optihub.problems import problem_from
from optihub.surfaces.labs.errors import envelope, vendor_message


@pytest.mark.parametrize(
    ("path", "plain", "vendor"),
    [
        (
            "lab",
            "No lab lab_x among this practice's labs.",
            "No lab lab_x among this practice's labs (GET /v1/labs).",
        ),
        (
            "lens.style",
            "No lens style style_x at this lab.",
            "No lens style style_x at this lab (GET /v1/catalogs/styles).",
        ),
        (
            "lens.material",
            "The lab offers no material material_x for this style.",
            "The lab offers no material material_x for this style (GET /v1/catalogs/materials).",
        ),
        (
            "lens.material",
            "The lab offers no material material_x.",
            "The lab offers no material material_x (GET /v1/catalogs/materials).",
        ),
        (
            "lens.color",
            "No color color_x for this style and material.",
            "No color color_x for this style and material (GET /v1/catalogs/addons).",
        ),
        (
            "lens.coats.2",
            "No coat coat_x at this lab.",
            "No coat coat_x at this lab (GET /v1/catalogs/addons).",
        ),
    ],
)
def test_an_id_the_lab_does_not_offer_names_its_catalog_call(path, plain, vendor):
    assert vendor_message(path, plain) == vendor


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("lens.style", "Lens style is required."),
        ("lab", "Lab is required."),
        ("lens.tint", "Tint must be one of: Gray."),
        ("frame.color", "No color given."),  # another path: not a catalog id
    ],
)
def test_other_violations_keep_the_core_sentence(path, message):
    assert vendor_message(path, message) == message


def test_the_envelope_words_the_first_violation_and_every_one():
    problem = problem_from(
        ValidationFailed(
            [
                FieldError("lens.style", "No lens style style_x at this lab."),
                FieldError("frame.temple", "Temple must be a whole number from 100 to 200 mm."),
            ]
        )
    )
    body = envelope(problem)
    hinted = "No lens style style_x at this lab (GET /v1/catalogs/styles)."
    assert body["error"]["message"] == hinted
    assert body["error"]["param"] == "lens.style"
    assert body["errors"] == [
        {"param": "lens.style", "message": hinted},
        {"param": "frame.temple", "message": "Temple must be a whole number from 100 to 200 mm."},
    ]
    # The problem itself (what every other caller sees) keeps the plain sentence.
    assert problem.details[0]["message"] == "No lens style style_x at this lab."
