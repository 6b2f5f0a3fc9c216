"""Prescription rules as an optician meets them: ranges, pairings, transposition."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from optihub.domain.rx import (
    CONTACT_LENS_RANGES,
    FRAME_RANGES,
    SPECTACLE_RANGES,
    ContactLensEyeRx,
    ContactLensRx,
    EyeRx,
    FrameMeasurements,
    Prism,
    SpectacleRx,
    binocular_pd,
    spherical_equivalent,
    to_minus_cylinder,
    to_plus_cylinder,
    transpose,
    validate_contact_lens_rx,
    validate_eye,
    validate_frame_measurements,
    validate_spectacle_rx,
)

D = Decimal


def fields(violations):
    return [v.field for v in violations]


def messages(violations):
    return {v.field: v.message for v in violations}


# --- ranges: just inside passes, just outside fails with the field named -------------------

EYE_BOUNDS = [
    ("sphere", "-30", "30", "0.25"),
    ("cylinder", "-20", "20", "0.25"),
    ("add", "0.5", "5", "0.25"),
    ("seg_height", "0.5", "50", "0.5"),
    ("oc_height", "0.5", "50", "0.5"),
    ("distance_pd", "20", "50", "0.5"),
    ("near_pd", "20", "50", "0.5"),
]


def eye_with(name, value):
    extra = {}
    if name == "cylinder":
        extra["axis"] = 90
    return EyeRx(**{name: D(value)}, **extra)


@pytest.mark.parametrize(("name", "low", "high", "step"), EYE_BOUNDS)
def test_eye_value_boundaries(name, low, high, step):
    for inside in (low, high):
        assert validate_eye(eye_with(name, inside), "right") == []
    for outside in (D(low) - D(step), D(high) + D(step)):
        violations = validate_eye(eye_with(name, outside), "right")
        assert fields(violations) == [f"right.{name}"]


def test_axis_must_be_a_whole_number_from_1_to_180():
    for axis in (1, 180):
        assert validate_eye(EyeRx(cylinder=D("-1"), axis=axis), "left") == []
    for axis in (0, 181, D("90.5")):
        violations = validate_eye(EyeRx(cylinder=D("-1"), axis=axis), "left")
        assert messages(violations) == {"left.axis": "Axis must be a whole number from 1 to 180°."}


def test_binocular_pd_is_refused_with_a_per_eye_message():
    violations = validate_eye(EyeRx(distance_pd=D("64")), "right")
    assert fields(violations) == ["right.distance_pd"]
    assert "per eye" in violations[0].message


@pytest.mark.parametrize("bad", [D("NaN"), D("Infinity"), D("-Infinity"), float("nan"), "abc"])
def test_non_numbers_are_violations_not_crashes(bad):
    assert fields(validate_eye(EyeRx(sphere=bad), "right")) == ["right.sphere"]


# --- pairings ----------------------------------------------------------------------------------


def test_cylinder_requires_axis_and_axis_requires_cylinder():
    assert messages(validate_eye(EyeRx(sphere=D("-1"), cylinder=D("-0.5")), "right")) == {
        "right.axis": "Axis is required when cylinder is provided."
    }
    assert messages(validate_eye(EyeRx(sphere=D("-1"), axis=90), "right")) == {
        "right.cylinder": "Cylinder is required when axis is provided."
    }


def test_add_and_seg_height_pair_only_for_multifocal_jobs():
    add_only = EyeRx(sphere=D("1"), add=D("2"))
    seg_only = EyeRx(sphere=D("1"), seg_height=D("18"))
    assert validate_eye(add_only, "left") == []
    assert fields(validate_eye(add_only, "left", multifocal=True)) == ["left.seg_height"]
    assert fields(validate_eye(seg_only, "left", multifocal=True)) == ["left.add"]
    both = EyeRx(sphere=D("1"), add=D("2"), seg_height=D("18"))
    assert validate_eye(both, "left", multifocal=True) == []


def test_at_least_one_eye():
    assert messages(validate_spectacle_rx(SpectacleRx())) == {
        "rx": "At least one eye (right or left) is required."
    }
    assert validate_spectacle_rx(SpectacleRx(left=EyeRx(sphere=D("-1")))) == []


def test_every_violation_is_reported_for_both_eyes():
    rx = SpectacleRx(
        right=EyeRx(sphere=D("-31"), cylinder=D("-1")),
        left=EyeRx(axis=200, distance_pd=D("64")),
    )
    assert fields(validate_spectacle_rx(rx)) == [
        "right.sphere",
        "right.axis",
        "left.axis",
        "left.distance_pd",
        "left.cylinder",
    ]


# --- prism -----------------------------------------------------------------------------------


def test_prism_amount_and_bases():
    good = EyeRx(prism_horizontal=Prism(D("0.01"), "in"), prism_vertical=Prism(D("50"), "down"))
    assert validate_eye(good, "right") == []
    bad = EyeRx(prism_horizontal=Prism(D("0"), "up"), prism_vertical=Prism(D("50.5"), "out"))
    assert messages(validate_eye(bad, "right")) == {
        "right.prism_horizontal.amount": "Prism must be a value from 0.01 to 50 Δ.",
        "right.prism_horizontal.base": "Prism base must be in or out.",
        "right.prism_vertical.amount": "Prism must be a value from 0.01 to 50 Δ.",
        "right.prism_vertical.base": "Prism base must be up or down.",
    }


# --- frame measurements ---------------------------------------------------------------------


FRAME_BOUNDS = [
    ("eye_size", "10", "100", "1"),
    ("bridge", "10", "100", "1"),
    ("a", "10", "100", "0.1"),
    ("b", "10", "100", "0.1"),
    ("ed", "10", "100", "0.1"),
    ("temple", "100", "200", "1"),
    ("vertex", "1", "30", "0.1"),
    ("pantoscopic_tilt", "-20", "20", "0.5"),
    ("wrap", "0", "40", "0.5"),
]


@pytest.mark.parametrize(("name", "low", "high", "step"), FRAME_BOUNDS)
def test_frame_measurement_boundaries(name, low, high, step):
    for inside in (low, high):
        assert validate_frame_measurements(FrameMeasurements(**{name: D(inside)})) == []
    for outside in (D(low) - D(step), D(high) + D(step)):
        violations = validate_frame_measurements(FrameMeasurements(**{name: outside}))
        assert fields(violations) == [f"frame.{name}"]


@pytest.mark.parametrize("name", ["eye_size", "bridge", "temple"])
def test_integer_frame_measurements(name):
    violations = validate_frame_measurements(FrameMeasurements(**{name: D("52.5")}))
    assert "whole number" in violations[0].message


# --- contact lenses ---------------------------------------------------------------------------


def test_contact_lens_rules():
    good = ContactLensRx(
        right=ContactLensEyeRx(power=D("-3.25"), base_curve=D("8.6"), diameter=D("14.2")),
    )
    assert validate_contact_lens_rx(good) == []
    bad = ContactLensRx(
        left=ContactLensEyeRx(
            power=D("-3"), base_curve=D("6.5"), diameter=D("17"), cylinder=D("-1")
        )
    )
    assert fields(validate_contact_lens_rx(bad)) == [
        "left.base_curve",
        "left.diameter",
        "left.axis",
    ]
    assert fields(validate_contact_lens_rx(ContactLensRx())) == ["rx"]


# --- optics -----------------------------------------------------------------------------------


def test_transposition_example():
    minus = EyeRx(sphere=D("-1.00"), cylinder=D("-0.50"), axis=180)
    plus = transpose(minus)
    assert (plus.sphere, plus.cylinder, plus.axis) == (D("-1.50"), D("0.50"), 90)
    assert to_minus_cylinder(plus) == minus
    assert to_plus_cylinder(minus) == plus
    assert to_minus_cylinder(minus) == minus
    assert transpose(EyeRx(sphere=D("2"), cylinder=D("0"), axis=10)).axis == 10
    assert transpose(EyeRx(sphere=D("2"), cylinder=D("1.5"), axis=90)).axis == 180


def test_spherical_equivalent_and_binocular_pd():
    assert spherical_equivalent(EyeRx(sphere=D("-2.00"), cylinder=D("-1.00"), axis=90)) == D(
        "-2.50"
    )
    assert spherical_equivalent(EyeRx(sphere=D("1.25"))) == D("1.25")
    rx = SpectacleRx(right=EyeRx(distance_pd=D("31.5")), left=EyeRx(distance_pd=D("32")))
    assert binocular_pd(rx) == D("63.5")
    assert binocular_pd(SpectacleRx(right=EyeRx(distance_pd=D("31.5")))) is None


def quarters(low: int, high: int) -> st.SearchStrategy[Decimal]:
    return st.integers(low * 4, high * 4).map(lambda q: D(q) / 4)


eyes = st.builds(
    EyeRx,
    sphere=quarters(-20, 20),
    cylinder=quarters(-6, 6),
    axis=st.integers(1, 180),
)


@given(eyes)
def test_transposing_twice_is_identity(eye):
    if eye.cylinder == 0:
        assert transpose(eye) == eye
    else:
        assert transpose(transpose(eye)) == eye


@given(eyes)
def test_spherical_equivalent_is_invariant_under_transposition(eye):
    assert spherical_equivalent(transpose(eye)) == spherical_equivalent(eye)


@given(eyes)
def test_transposed_axis_stays_in_range(eye):
    assert 1 <= transpose(eye).axis <= 180


def _in_range(rule, draw_steps: int = 400) -> st.SearchStrategy[Decimal]:
    if rule.integer:
        return st.integers(int(rule.low), int(rule.high)).map(D)
    span = rule.high - rule.low
    return st.integers(0, draw_steps).map(lambda i: rule.low + span * D(i) / draw_steps)


def _out_of_range(rule) -> st.SearchStrategy[Decimal]:
    below = st.integers(1, 1000).map(lambda i: rule.low - D(i) / 100)
    above = st.integers(1, 1000).map(lambda i: rule.high + D(i) / 100)
    return st.one_of(below, above)


SINGLE_EYE_FIELDS = ["sphere", "add", "seg_height", "oc_height", "distance_pd", "near_pd"]


@given(st.data())
def test_every_in_range_value_passes(data):
    name = data.draw(st.sampled_from([*SINGLE_EYE_FIELDS, "cylinder"]))
    value = data.draw(_in_range(SPECTACLE_RANGES[name]))
    extra = {"axis": data.draw(st.integers(1, 180))} if name == "cylinder" else {}
    assert validate_eye(EyeRx(**{name: value}, **extra), "right") == []


@given(st.data())
def test_every_out_of_range_value_fails_with_its_field(data):
    name = data.draw(st.sampled_from(SINGLE_EYE_FIELDS))
    value = data.draw(_out_of_range(SPECTACLE_RANGES[name]))
    side = data.draw(st.sampled_from(["right", "left"]))
    assert fields(validate_eye(EyeRx(**{name: value}), side)) == [f"{side}.{name}"]


@given(st.data())
def test_every_frame_value_in_range_passes_and_out_of_range_fails(data):
    name = data.draw(st.sampled_from(list(FRAME_RANGES)))
    rule = FRAME_RANGES[name]
    assert (
        validate_frame_measurements(FrameMeasurements(**{name: data.draw(_in_range(rule))})) == []
    )
    outside = data.draw(_out_of_range(rule))
    assert fields(validate_frame_measurements(FrameMeasurements(**{name: outside}))) == [
        f"frame.{name}"
    ]


@given(st.data())
def test_contact_lens_values_in_and_out_of_range(data):
    name = data.draw(st.sampled_from(["power", "base_curve", "diameter", "add"]))
    rule = CONTACT_LENS_RANGES[name]
    inside = ContactLensRx(right=ContactLensEyeRx(**{name: data.draw(_in_range(rule))}))
    assert validate_contact_lens_rx(inside) == []
    outside = ContactLensRx(right=ContactLensEyeRx(**{name: data.draw(_out_of_range(rule))}))
    assert fields(validate_contact_lens_rx(outside)) == [f"right.{name}"]
