"""One eye of an Rx as opticians type it: every written form, the canonical text, round trips."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from optihub.domain.rx import (
    ContactLensEyeRx,
    ContactLensRx,
    EyeRx,
    Prism,
    validate_contact_lens_rx,
    validate_eye,
)
from optihub.domain.rx_text import (
    ContactLensText,
    RxText,
    format_contact_lens_rx,
    format_eye_rx,
    parse_contact_lens_rx,
    parse_eye_rx,
)

D = Decimal

SPH_CYL = EyeRx(sphere=D("-2.00"), cylinder=D("-0.50"), axis=180)

# --- every written form and the exact eye it reads as -------------------------------------

FORMS = [
    # sphere, cylinder and axis
    ("-2.00 -0.50 x 180", SPH_CYL),
    ("-2.00 -0.50 x180", SPH_CYL),
    ("-2.00 -0.50x180", SPH_CYL),
    ("-2.00 -0.50 X 090", EyeRx(sphere=D("-2.00"), cylinder=D("-0.50"), axis=90)),
    ("-2.00 -0.50 × 180", SPH_CYL),
    ("-2.00 -0.50 ax 180", SPH_CYL),
    ("-2.00 -0.50 axis 180", SPH_CYL),
    ("-2.00 / -0.50 x 180", SPH_CYL),
    ("-2.00,-0.50 x 180", SPH_CYL),
    ("-2.00 -0.50 cyl x 180", SPH_CYL),
    ("-2.00 -0.50 CYL X 180", SPH_CYL),
    ("  -2.00\t -0.50   x   180  ", SPH_CYL),
    ("-2.00 -0.50 x 180°", SPH_CYL),
    ("−2.00 −0.50 x 180", SPH_CYL),
    ("-2.00 DS -0.50 DC x 180", SPH_CYL),
    ("+1.00 -0.75 DC x 45", EyeRx(sphere=D("1.00"), cylinder=D("-0.75"), axis=45)),
    ("-2 -0.5 x 180", SPH_CYL),
    ("-2.00 -0.50 x 0", SPH_CYL),
    ("-2.00 -0.50 x000", SPH_CYL),
    ("+1.00 +0.50 x 1", EyeRx(sphere=D("1.00"), cylinder=D("0.50"), axis=1)),
    # sphere only
    ("-2.00 DS", EyeRx(sphere=D("-2.00"))),
    ("-2.00DS", EyeRx(sphere=D("-2.00"))),
    ("+1.25 sph", EyeRx(sphere=D("1.25"))),
    ("+1.25 SPH", EyeRx(sphere=D("1.25"))),
    ("-3.00", EyeRx(sphere=D("-3.00"))),
    ("-3.00 D", EyeRx(sphere=D("-3.00"))),
    ("2.00 sph", EyeRx(sphere=D("2.00"))),
    ("0.00", EyeRx(sphere=D("0.00"))),
    ("-0.00", EyeRx(sphere=D("0.00"))),
    ("+30.00", EyeRx(sphere=D("30.00"))),
    ("-30", EyeRx(sphere=D("-30.00"))),
    # plano
    ("pl", EyeRx(sphere=D("0.00"))),
    ("PL", EyeRx(sphere=D("0.00"))),
    ("plano", EyeRx(sphere=D("0.00"))),
    ("Plano", EyeRx(sphere=D("0.00"))),
    ("pl DS", EyeRx(sphere=D("0.00"))),
    ("pl -0.50 x 90", EyeRx(sphere=D("0.00"), cylinder=D("-0.50"), axis=90)),
    ("plano -1.00 x 180", EyeRx(sphere=D("0.00"), cylinder=D("-1.00"), axis=180)),
    # cylinder without a written sphere
    ("-0.50 x 180", EyeRx(cylinder=D("-0.50"), axis=180)),
    ("-0.50 DC x 180", EyeRx(cylinder=D("-0.50"), axis=180)),
    # add
    ("add +2.00", EyeRx(add=D("2.00"))),
    ("ADD 2.00", EyeRx(add=D("2.00"))),
    ("Add: +2.50", EyeRx(add=D("2.50"))),
    ("+2.00 add", EyeRx(add=D("2.00"))),
    ("-2.00 add +2.00", EyeRx(sphere=D("-2.00"), add=D("2.00"))),
    ("-2.00 DS add +2.00", EyeRx(sphere=D("-2.00"), add=D("2.00"))),
    (
        "-2.00 -0.50 x 180 add +2.00",
        EyeRx(sphere=D("-2.00"), cylinder=D("-0.50"), axis=180, add=D("2.00")),
    ),
    (
        "-2.00 -0.50 x 180 +2.00 add",
        EyeRx(sphere=D("-2.00"), cylinder=D("-0.50"), axis=180, add=D("2.00")),
    ),
    # prism
    ("2 BI", EyeRx(prism_horizontal=Prism(D("2.00"), "in"))),
    ("2.0 BO", EyeRx(prism_horizontal=Prism(D("2.00"), "out"))),
    ("1.5Δ BU", EyeRx(prism_vertical=Prism(D("1.50"), "up"))),
    ("1.5∆ BU", EyeRx(prism_vertical=Prism(D("1.50"), "up"))),
    ("1.5 pd BD", EyeRx(prism_vertical=Prism(D("1.50"), "down"))),
    ("1.5^ bd", EyeRx(prism_vertical=Prism(D("1.50"), "down"))),
    ("2 prism BI", EyeRx(prism_horizontal=Prism(D("2.00"), "in"))),
    ("2BI", EyeRx(prism_horizontal=Prism(D("2.00"), "in"))),
    ("prism 2 base in", EyeRx(prism_horizontal=Prism(D("2.00"), "in"))),
    ("Prism 2 Base Out", EyeRx(prism_horizontal=Prism(D("2.00"), "out"))),
    ("2 base up", EyeRx(prism_vertical=Prism(D("2.00"), "up"))),
    ("2 base-down", EyeRx(prism_vertical=Prism(D("2.00"), "down"))),
    ("2Δ in", EyeRx(prism_horizontal=Prism(D("2.00"), "in"))),
    (
        "2 BI 1 BU",
        EyeRx(prism_horizontal=Prism(D("2.00"), "in"), prism_vertical=Prism(D("1.00"), "up")),
    ),
    (
        "1 BD, 3 BO",
        EyeRx(prism_horizontal=Prism(D("3.00"), "out"), prism_vertical=Prism(D("1.00"), "down")),
    ),
    (
        "-2.00 -0.50 x 180 add +2.00 2.00 BI 1.00 BU",
        EyeRx(
            sphere=D("-2.00"),
            cylinder=D("-0.50"),
            axis=180,
            add=D("2.00"),
            prism_horizontal=Prism(D("2.00"), "in"),
            prism_vertical=Prism(D("1.00"), "up"),
        ),
    ),
    (
        "+1.25 DS 0.75 BO",
        EyeRx(sphere=D("1.25"), prism_horizontal=Prism(D("0.75"), "out")),
    ),
]


@pytest.mark.parametrize(("text", "expected"), FORMS)
def test_written_forms_read_as_the_expected_eye(text, expected):
    assert parse_eye_rx(text) == RxText(expected, None)


@pytest.mark.parametrize(("text", "expected"), FORMS)
def test_written_forms_read_the_same_in_any_case(text, expected):
    assert parse_eye_rx(text.upper()).eye == expected
    assert parse_eye_rx(text.lower()).eye == expected


def test_values_are_quantized_to_hundredths():
    eye = parse_eye_rx("-2 -0.5 x 90 add 2 2 BI 1.5 BU").eye
    assert eye is not None
    assert [str(v) for v in (eye.sphere, eye.cylinder, eye.add)] == ["-2.00", "-0.50", "2.00"]
    assert eye.prism_horizontal == Prism(D("2.00"), "in")
    assert str(eye.prism_horizontal.amount) == "2.00"
    assert str(eye.prism_vertical.amount) == "1.50"
    assert eye.axis == 90
    assert type(eye.axis) is int
    assert str(parse_eye_rx("pl").eye.sphere) == "0.00"


# --- text that is not an Rx: no eye, a reason, never an exception --------------------------

NOT_RX = [
    ("", "No prescription text."),
    ("   \t\n", "No prescription text."),
    ("see attached", "see"),
    ("balance", "balance"),
    ("BAL", "balance"),
    ("abc", "abc"),
    ("x 180", "Cylinder is required when axis is provided."),
    ("-2.00 DS x 180", "Cylinder is required when axis is provided."),
    ("-2.00 -0.50", "Axis is required when cylinder is provided."),
    ("-2.00 -0.50 cyl", "Axis is required when cylinder is provided."),
    ("-45.00", "Sphere must be"),
    ("-2.00 -25.00 x 90", "Cylinder must be"),
    ("-2.00 -0.50 x 181", "Axis must be"),
    ("-2.00 -0.50 x 90.5", "Axis must be"),
    ("-2.00 -0.50 x -90", "Axis must be"),
    ("add +6.00", "Add must be"),
    ("add 0.25", "Add must be"),
    ("60 BI", "Prism must be"),
    ("2 Δ", "needs a base"),
    ("2 base", "base must be"),
    ("-2.00 -0.50 -1.00 x 180", "Cylinder is written twice."),
    ("-2.00 -0.50 x 180 +2.00", "already written"),
    ("-2.00 DS -3.00 DS", "Sphere is written twice."),
    ("-2.00 -0.50 x 90 x 180", "Axis is written twice."),
    ("add 2 add 2", "Add is written twice."),
    ("2 BI 1 BO", "Horizontal prism is written twice."),
    ("1 BU 1 BD", "Vertical prism is written twice."),
    ("add", "needs a number"),
    ("-2.00 -0.50 x", "needs a number"),
    ("prism BI", "needs a number"),
    ("2.0.0", "2.0.0"),
    ("-2,00", "decimals with a point"),
    ("///", "No prescription values"),
    ("-2.00 BC 8.6", "contact-lens"),
    ("-2.00 DIA 14.2", "contact-lens"),
    ("PD 32", "pd"),
    ("R -2.00 DS", "R"),
    ("-2.00 DS 💥", "💥"),
    ("9" * 400, "Sphere must be"),
    ("-2.00 -0.50 x " + "9" * 400, "Axis must be"),
]


@pytest.mark.parametrize(("text", "fragment"), NOT_RX)
def test_text_that_is_not_an_rx_gives_a_problem(text, fragment):
    result = parse_eye_rx(text)
    assert result.eye is None
    assert result.problem
    assert fragment.lower() in result.problem.lower()


def test_out_of_range_problem_is_the_rule_in_plain_words():
    assert parse_eye_rx("-45.00").problem == "Sphere must be a value from −30 to 30 D."


def test_every_violation_is_reported_joined_by_spaces():
    result = parse_eye_rx("-45.00 -25.00 x 90 add 9")
    assert result.eye is None
    assert result.problem == (
        "Sphere must be a value from −30 to 30 D. "
        "Cylinder must be a value from −20 to 20 D. "
        "Add must be a value from 0.5 to 5 D."
    )


# --- canonical form --------------------------------------------------------------------------

CANONICAL = [
    (SPH_CYL, "-2.00 -0.50 x 180"),
    (EyeRx(sphere=D("1.25"), cylinder=D("-0.75"), axis=5), "+1.25 -0.75 x 005"),
    (EyeRx(sphere=D("-2")), "-2.00 DS"),
    (EyeRx(sphere=D("0")), "pl DS"),
    (EyeRx(sphere=D("-0.00")), "pl DS"),
    (EyeRx(sphere=D("0"), cylinder=D("-0.5"), axis=90), "pl -0.50 x 090"),
    (EyeRx(cylinder=D("-0.5"), axis=180), "-0.50 DC x 180"),
    (EyeRx(sphere=D("-2"), add=D("2")), "-2.00 DS add +2.00"),
    (EyeRx(add=D("2.5")), "add +2.50"),
    (
        EyeRx(
            sphere=D("-2"),
            cylinder=D("-0.5"),
            axis=180,
            add=D("2"),
            prism_horizontal=Prism(D("2"), "in"),
            prism_vertical=Prism(D("1"), "up"),
        ),
        "-2.00 -0.50 x 180 add +2.00 2.00 BI 1.00 BU",
    ),
    (EyeRx(prism_vertical=Prism(D("0.5"), "down")), "0.50 BD"),
    (EyeRx(prism_horizontal=Prism(D("3"), "out")), "3.00 BO"),
    # PDs and heights are not part of the lens text.
    (EyeRx(sphere=D("-1"), distance_pd=D("32"), seg_height=D("18")), "-1.00 DS"),
    (EyeRx(), ""),
]


@pytest.mark.parametrize(("eye", "text"), CANONICAL)
def test_canonical_form(eye, text):
    assert format_eye_rx(eye) == text


def test_a_prism_base_that_cannot_be_written_is_refused():
    with pytest.raises(ValueError, match="base"):
        format_eye_rx(EyeRx(prism_horizontal=Prism(D("2"), "sideways")))


# --- contact lenses --------------------------------------------------------------------------

CL = ContactLensEyeRx(power=D("-2.00"), base_curve=D("8.60"), diameter=D("14.20"))
CL_TORIC = ContactLensEyeRx(
    power=D("-1.25"),
    cylinder=D("-0.75"),
    axis=180,
    base_curve=D("8.70"),
    diameter=D("14.50"),
)

CL_FORMS = [
    ("-2.00 BC 8.6 DIA 14.2", CL),
    ("-2.00 bc 8.60 dia 14.20", CL),
    ("-2.00 base curve 8.6 diam 14.2", CL),
    ("-2.00 Base Curve: 8.6 / Diameter: 14.2", CL),
    ("BC 8.6 DIA 14.2 -2.00", CL),
    ("power -2.00 BC 8.6 DIA 14.2", CL),
    ("PWR -2.00 BC 8.6 DIA 14.2", CL),
    ("-2.00 DS BC 8.6 DIA 14.2", CL),
    ("-2.00", ContactLensEyeRx(power=D("-2.00"))),
    ("pl BC 8.6", ContactLensEyeRx(power=D("0.00"), base_curve=D("8.60"))),
    ("-1.25 -0.75 x 180 BC 8.7 DIA 14.5", CL_TORIC),
    ("-1.25 -0.75x180 bc 8.7 dia 14.5", CL_TORIC),
    ("-1.25 / -0.75 × 0 BC 8.7 DIA 14.5", CL_TORIC),
    (
        "+1.50 add +2.00 BC 8.4 DIA 14.0",
        ContactLensEyeRx(power=D("1.50"), add=D("2.00"), base_curve=D("8.40"), diameter=D("14.00")),
    ),
]


@pytest.mark.parametrize(("text", "expected"), CL_FORMS)
def test_contact_lens_forms(text, expected):
    assert parse_contact_lens_rx(text) == ContactLensText(expected, None)


CL_NOT_RX = [
    ("", "No prescription text."),
    ("Acuvue Oasys", "acuvue"),
    ("-2.00 BC 6.0 DIA 14.2", "Base curve must be"),
    ("-2.00 BC 8.6 DIA 18", "Diameter must be"),
    ("-45.00 BC 8.6", "Power must be"),
    ("-1.25 -0.75 BC 8.6", "Axis is required"),
    ("-2.00 2 BI", "no prism"),
    ("prism 2 base in", "no prism"),
    ("-2.00 BC", "needs a number"),
    ("-2.00 BC 8.6 BC 8.7", "Base curve is written twice."),
    ("-2.00 DIA 14 diam 14.2", "Diameter is written twice."),
]


@pytest.mark.parametrize(("text", "fragment"), CL_NOT_RX)
def test_contact_lens_text_that_does_not_read(text, fragment):
    result = parse_contact_lens_rx(text)
    assert result.eye is None
    assert result.problem
    assert fragment.lower() in result.problem.lower()


CL_CANONICAL = [
    (CL, "-2.00 BC 8.60 DIA 14.20"),
    (CL_TORIC, "-1.25 -0.75 x 180 BC 8.70 DIA 14.50"),
    (ContactLensEyeRx(power=D("0"), base_curve=D("8.6")), "pl BC 8.60"),
    (ContactLensEyeRx(cylinder=D("-0.75"), axis=90), "-0.75 DC x 090"),
    (ContactLensEyeRx(power=D("2"), add=D("1.5"), brand="Acuvue"), "+2.00 add +1.50"),
]


@pytest.mark.parametrize(("eye", "text"), CL_CANONICAL)
def test_contact_lens_canonical_form(eye, text):
    assert format_contact_lens_rx(eye) == text


# --- properties ------------------------------------------------------------------------------


def quarters(low: int, high: int, *, non_zero: bool = False) -> st.SearchStrategy[Decimal]:
    """Multiples of 0.25 D from low/4 to high/4, written to two decimals."""
    ints = st.integers(low, high)
    if non_zero:
        ints = ints.filter(bool)
    return ints.map(lambda n: (D(n) / 4).quantize(D("0.01")))


cylinders = st.one_of(
    st.tuples(st.none(), st.none()),
    st.tuples(quarters(-80, 80, non_zero=True), st.integers(1, 180)),
)
prism_amounts = quarters(1, 200)

eyes = st.builds(
    lambda sphere, cyl_axis, add, horizontal, vertical: EyeRx(
        sphere=sphere,
        cylinder=cyl_axis[0],
        axis=cyl_axis[1],
        add=add,
        prism_horizontal=horizontal,
        prism_vertical=vertical,
    ),
    quarters(-120, 120),
    cylinders,
    st.none() | quarters(2, 20),
    st.none() | st.builds(Prism, prism_amounts, st.sampled_from(["in", "out"])),
    st.none() | st.builds(Prism, prism_amounts, st.sampled_from(["up", "down"])),
)


@given(eyes)
def test_format_then_parse_is_the_identity(eye):
    assert validate_eye(eye, "eye") == []
    assert parse_eye_rx(format_eye_rx(eye)) == RxText(eye, None)


@given(eyes, st.data())
def test_case_and_spacing_do_not_matter(eye, data):
    text = format_eye_rx(eye)
    flips = data.draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    text = "".join(c.upper() if flip else c.lower() for c, flip in zip(text, flips, strict=True))
    gaps = data.draw(st.sampled_from(["  ", "\t", " \u00a0", " / "]))
    assert parse_eye_rx(text.replace(" ", gaps)).eye == eye


@given(eyes)
def test_canonical_text_is_stable(eye):
    text = format_eye_rx(eye)
    parsed = parse_eye_rx(text).eye
    assert parsed is not None
    assert format_eye_rx(parsed) == text


contact_lenses = st.builds(
    lambda power, cyl_axis, add, bc, dia: ContactLensEyeRx(
        power=power, cylinder=cyl_axis[0], axis=cyl_axis[1], add=add, base_curve=bc, diameter=dia
    ),
    st.none() | quarters(-120, 120),
    cylinders,
    st.none() | quarters(2, 20),
    st.none() | st.integers(700, 1000).map(lambda n: D(n) / 100),
    st.none() | st.integers(1200, 1600).map(lambda n: D(n) / 100),
).filter(lambda eye: eye != ContactLensEyeRx())


@given(contact_lenses)
def test_contact_lens_format_then_parse_is_the_identity(eye):
    assert validate_contact_lens_rx(ContactLensRx(right=eye)) == []
    assert parse_contact_lens_rx(format_contact_lens_rx(eye)) == ContactLensText(eye, None)


RX_WORDS = [
    "-2.00", "+1.25", "2", "0", "180", "090", "-0.50", ".5", "45", "99", "pl", "plano", "DS",
    "DC", "cyl", "sph", "D", "x", "X", "×", "ax", "axis", "add", "Add:", "BI", "BO", "BU", "BD",
    "base", "in", "out", "up", "down", "curve", "Δ", "^", "pd", "prism", "BC", "DIA", "diam",
    "power", "/", ",", "°", "-", "balance",
]  # fmt: skip
rx_like_text = st.lists(st.sampled_from(RX_WORDS), max_size=12).map(" ".join) | st.lists(
    st.sampled_from(RX_WORDS), max_size=12
).map("".join)


@given(st.text() | rx_like_text)
def test_parsing_never_raises_and_every_eye_read_is_valid(text):
    result = parse_eye_rx(text)
    assert isinstance(result, RxText)
    assert (result.eye is None) != (result.problem is None)
    if result.eye is not None:
        assert validate_eye(result.eye, "eye") == []
    else:
        assert result.problem


@given(st.text() | rx_like_text)
def test_contact_lens_parsing_never_raises_and_every_eye_read_is_valid(text):
    result = parse_contact_lens_rx(text)
    assert isinstance(result, ContactLensText)
    assert (result.eye is None) != (result.problem is None)
    if result.eye is not None:
        assert validate_contact_lens_rx(ContactLensRx(right=result.eye)) == []
        assert result.eye.brand is None
    else:
        assert result.problem
