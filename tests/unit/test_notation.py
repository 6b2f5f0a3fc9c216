"""Writing the Rx and frame as opticians do (domain.notation): powers, axis, prism, the
cylinder form a page asks for, frame size and words for stored codes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from optihub.domain import notation
from optihub.domain.rx import EyeRx, Prism

D = Decimal
M = "\u2212"


@pytest.mark.parametrize(
    ("value", "written"),
    [("2", "+2.00"), ("-0.75", f"{M}0.75"), ("0", "+0.00"), ("-0.00", "+0.00"), ("0.25", "+0.25")],
)
def test_powers_are_signed_with_two_decimals_and_the_typographic_minus(value, written):
    assert notation.signed(D(value)) == written


def test_sphere_cylinder_and_axis_as_written():
    assert notation.sphere_text(D("2.00"), D("-0.75")) == "+2.00"
    assert notation.sphere_text(D("-2.00"), None) == f"{M}2.00 DS"
    assert notation.sphere_text(D("0"), D("-0.50")) == "plano"
    assert notation.sphere_text(D("0"), None) == "plano DS"
    assert notation.cylinder_text(D("-0.75"), 90) == f"{M}0.75 × 090"
    assert notation.cylinder_text(D("0"), 90) == "—"
    assert notation.axis_text(5) == "× 005"
    assert notation.eye_line(EyeRx(sphere=D("-2.25"), cylinder=D("-0.75"), axis=90)) == (
        f"{M}2.25 / {M}0.75 × 090"
    )
    assert notation.eye_line(EyeRx(sphere=D("-2"))) == f"{M}2.00 DS"


def test_prism_carries_its_base():
    assert notation.prism_text(Prism(D("1"), "in")) == "1.00 Δ BI"
    assert notation.prism_text(Prism(D("0.5"), "down")) == "0.50 Δ BD"
    assert notation.prism_text(None) is None


@pytest.mark.parametrize(
    ("sphere", "cylinder", "axis", "plus", "minus"),
    [
        # +2.00 −0.75 × 090 is +1.25 +0.75 × 180
        ("2.00", "-0.75", 90, ("1.25", "0.75", 180), ("2.00", "-0.75", 90)),
        # −1.00 +1.50 × 045 is +0.50 −1.50 × 135
        ("-1.00", "1.50", 45, ("-1.00", "1.50", 45), ("0.50", "-1.50", 135)),
        # the axis stays within 1–180: 180 + 90 is 090, 095 + 90 is 005
        ("-3.00", "-1.00", 180, ("-4.00", "1.00", 90), ("-3.00", "-1.00", 180)),
        ("0.00", "-0.50", 95, ("-0.50", "0.50", 5), ("0.00", "-0.50", 95)),
    ],
)
def test_the_cylinder_form_a_page_asks_for(sphere, cylinder, axis, plus, minus):
    eye = EyeRx(sphere=D(sphere), cylinder=D(cylinder), axis=axis, add=D("2"))
    for form, (s, c, a) in (("plus", plus), ("minus", minus)):
        shown = notation.in_cylinder_form(eye, form)
        assert (shown.sphere, shown.cylinder, shown.axis) == (D(s), D(c), a)
        assert shown.add == D("2")  # transposing never touches the add
        # Back again: the same lens.
        other = "minus" if form == "plus" else "plus"
        back = notation.in_cylinder_form(notation.in_cylinder_form(shown, other), form)
        assert (back.sphere, back.cylinder, back.axis) == (shown.sphere, shown.cylinder, shown.axis)
    assert notation.in_cylinder_form(eye, "written") == eye


def test_a_sphere_only_eye_has_one_form():
    eye = EyeRx(sphere=D("-1.75"))
    assert notation.in_cylinder_form(eye, "plus") == eye
    assert notation.cylinder_form_of([eye]) is None
    assert notation.cylinder_form_of([eye, EyeRx(sphere=D("1"), cylinder=D("-1"), axis=9)]) == (
        "minus"
    )


def test_an_eye_row_from_an_order_snapshot():
    stored = {
        "sphere": "2.00",
        "cylinder": "-0.75",
        "axis": 90,
        "add": "2.25",
        "prism_horizontal": {"amount": "1", "base": "in"},
        "prism_vertical": {"amount": "0.5", "base": "up"},
        "distance_pd": "32.0",
        "near_pd": None,
        "seg_height": "18",
        "oc_height": "not a number",
    }
    eye = notation.eye_from_snapshot(stored)
    assert eye is not None
    row = notation.eye_row(eye, "right")
    assert (row.eye, row.sphere, row.cylinder, row.add) == (
        "OD",
        "+2.00",
        f"{M}0.75 × 090",
        "+2.25",
    )
    assert row.prism == "1.00 Δ BI, 0.50 Δ BU"
    assert (row.distance_pd, row.near_pd, row.seg_height, row.oc_height) == ("32", "—", "18", "—")
    assert notation.eye_from_snapshot(None) is None


def test_frame_size_and_words():
    assert notation.frame_size(52, 18, 140) == "52□18 140"
    assert notation.frame_size("52.5", "18", None) == "52.5□18"
    assert notation.frame_size(None, 18, 140) is None
    assert notation.words("zyl") == "Zyl (acetate)"
    assert notation.words("drilled_rimless") == "Drilled rimless"
    assert notation.words("single_vision") == "Single vision"
    assert notation.words("Edged & mounted") == "Edged & mounted"
    assert notation.words("") is None
