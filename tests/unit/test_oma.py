"""OMA/DCS parsing, formatting and trace geometry, checked against real lab files.

The real files live outside the project (``../shared/testdata/oma``, or
``$OPTIHUB_TESTDATA/oma``) and are read in place, never copied. A missing directory fails
the tests: it is not a reason to skip them.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optihub.domain.oma import (
    ANNOUNCING_LABELS,
    DATA_LABELS,
    OmaDocument,
    OmaFormatError,
    Record,
    Trace,
    format_oma,
    is_mirror,
    outline,
    parse,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
OMA_DIR = (
    Path(os.environ.get("OPTIHUB_TESTDATA") or REPO_ROOT.parent / "shared" / "testdata") / "oma"
)

ALL_FILES = [
    "lens_protocol-R1000_1.oma",
    "lens_protocol-R1000_2.oma",
    "lens_protocol-R1000_3.oma",
    "lens_protocol-R360_1.oma",
    "lens_protocol-R360_2.oma",
    "lens_protocol-R360_3.oma",
    "lens_protocol-STHKFMT.oma",
    "lens_protocol-TRCFMT6.oma",
]
DECODABLE = [name for name in ALL_FILES if name != "lens_protocol-TRCFMT6.oma"]

# (file, label) pairs whose recorded figure the trace must reproduce to 0.01 mm.
RECORDED = [
    ("lens_protocol-R1000_1.oma", "CIRC"),
    ("lens_protocol-R1000_2.oma", "CIRC"),
    ("lens_protocol-R1000_3.oma", "CIRC"),
    ("lens_protocol-R360_3.oma", "HBOX"),
    ("lens_protocol-R360_3.oma", "VBOX"),
    ("lens_protocol-R360_3.oma", "CIRC"),
    ("lens_protocol-STHKFMT.oma", "HBOX"),
    ("lens_protocol-STHKFMT.oma", "VBOX"),
    ("lens_protocol-STHKFMT.oma", "CIRC"),
]
FIGURE = {"HBOX": "box_width", "VBOX": "box_height", "CIRC": "circumference"}


def read_text(name: str) -> str:
    """The file's exact text (line ends untouched); fails loudly if the test data is absent."""
    if not OMA_DIR.is_dir():
        pytest.fail(
            f"OMA test files not found: {OMA_DIR} does not exist. They live in the shared "
            "test data next to the repository (../shared/testdata/oma, see its README.md); "
            "set OPTIHUB_TESTDATA to the testdata directory if it is elsewhere."
        )
    path = OMA_DIR / name
    if not path.is_file():
        pytest.fail(f"OMA test file missing: {path}")
    return path.read_bytes().decode("ascii")


def crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")


def circle(n: int, radius: int, side: str = "R") -> Trace:
    return Trace(1, n, "E", side, "F", (radius,) * n)


# --------------------------------------------------------------------------- real files


@pytest.mark.parametrize("name", ALL_FILES)
def test_real_file_round_trips_to_crlf_text(name: str) -> None:
    text = read_text(name)
    document = parse(text)
    formatted = format_oma(document)
    assert formatted == crlf(text)
    assert parse(formatted) == document
    assert len(document.records) == len(text.splitlines())


@pytest.mark.parametrize("name", ALL_FILES)
def test_line_end_styles_parse_alike(name: str) -> None:
    text = read_text(name).replace("\r\n", "\n")
    document = parse(text)
    assert parse(text.replace("\n", "\r\n")) == document
    assert parse(text.replace("\n", "\r")) == document
    lines = text.split("\n")
    mixed = "".join(line + ("\r\n", "\n", "\r")[i % 3] for i, line in enumerate(lines[:-1]))
    assert parse(mixed) == document


@pytest.mark.parametrize(("name", "label"), RECORDED)
def test_recorded_figures_match_the_radii(name: str, label: str) -> None:
    document = parse(read_text(name))
    traces = outline(document)
    values = document.get_all(label)
    assert values, f"{name} should record {label}"
    for value in values:
        fields = value.split(";")
        per_side = dict(zip("RL", fields * 2 if len(fields) == 1 else fields, strict=True))
        for side, recorded in per_side.items():
            computed = getattr(traces[side], FIGURE[label])
            assert abs(computed - float(recorded)) <= 0.01, (name, label, side, computed)


# Computed figures (mm) as a regression net: box width, box height, circumference, FED.
EXPECTED = {
    "lens_protocol-R1000_1.oma": (50.997, 40.078, 150.846, 57.00),
    "lens_protocol-R1000_2.oma": (51.404, 38.964, 148.737, 55.12),
    "lens_protocol-R1000_3.oma": (48.003, 37.985, 136.582, 49.48),
    "lens_protocol-R360_1.oma": (54.999, 38.014, 156.395, 57.98),
    "lens_protocol-R360_2.oma": (48.005, 38.007, 144.259, 52.04),
    "lens_protocol-R360_3.oma": (51.004, 44.013, 150.759, 52.20),
    "lens_protocol-STHKFMT.oma": (54.955, 39.009, 151.761, 58.98),
}


@pytest.mark.parametrize("name", DECODABLE)
def test_geometry_of_real_traces(name: str) -> None:
    document = parse(read_text(name))
    traces = outline(document)
    assert set(traces) == {"R", "L"}
    width, height, circumference, diameter = EXPECTED[name]
    for trace in traces.values():
        assert trace.format == 1
        assert trace.spacing == "E"
        assert trace.box_width == pytest.approx(width, abs=0.001)
        assert trace.box_height == pytest.approx(height, abs=0.001)
        assert trace.circumference == pytest.approx(circumference, abs=0.001)
        assert trace.effective_diameter == pytest.approx(diameter, abs=1e-9)
    assert document.consistency_warnings() == []


@pytest.mark.parametrize("name", DECODABLE)
def test_real_traces_have_announced_shape(name: str) -> None:
    document = parse(read_text(name))
    traces = outline(document)
    n, kind = (1000, "P") if "R1000" in name else (360, "F")
    for side, trace in traces.items():
        assert trace.side == side
        assert trace.point_count == n == len(trace.radii) == len(trace.points())
        assert trace.type == kind
        angle, radius = trace.points()[n // 4]
        assert angle == pytest.approx(90.0)
        assert radius == pytest.approx(trace.radii[n // 4] / 100)


@pytest.mark.parametrize("name", [n for n in DECODABLE if n != "lens_protocol-STHKFMT.oma"])
def test_left_is_right_mirrored(name: str) -> None:
    traces = outline(parse(read_text(name)))
    right, left = traces["R"], traces["L"]
    assert is_mirror(right, left)
    assert right.mirrored() == left
    n = right.point_count
    assert all(left.radii[i] == right.radii[(n // 2 - i) % n] for i in range(n))
    assert not is_mirror(right, right)


def test_sthkfmt_left_trace_is_mirrored_but_for_one_hundredth() -> None:
    document = parse(read_text("lens_protocol-STHKFMT.oma"))
    traces = outline(document)
    right, left = traces["R"], traces["L"]
    assert not is_mirror(right, left)
    assert is_mirror(right, left, tolerance=1)
    mirror = right.mirrored()
    differing = [i for i in range(360) if mirror.radii[i] != left.radii[i]]
    assert differing == [183]
    assert abs(mirror.radii[183] - left.radii[183]) == 1
    # The 72-point STHKFMT radii are mirrored exactly.
    sthk = [b for b in document.blocks if b.kind == "STHKFMT"]
    r72 = Trace(1, 72, "E", "R", "F", sthk[0].data("R"))
    l72 = Trace(1, 72, "E", "L", "F", sthk[1].data("R"))
    assert is_mirror(r72, l72)


def test_sthkfmt_blocks_own_their_r_and_t_records() -> None:
    document = parse(read_text("lens_protocol-STHKFMT.oma"))
    assert [(b.kind, b.side) for b in document.blocks] == [
        ("STHKFMT", "R"),
        ("STHKFMT", "L"),
        ("TRCFMT", "R"),
        ("TRCFMT", "L"),
    ]
    sthk_right = document.blocks[0]
    assert sthk_right.header == Record("STHKFMT", "1;72;E;R")
    assert sthk_right.point_count == 72
    assert len(sthk_right.data("R")) == 72
    assert len(sthk_right.data("T")) == 72
    assert sthk_right.data("T")[:3] == (346, 338, 327)
    assert sthk_right.records[-1] == Record("T", "0359;0354")  # leading zeros kept
    right = outline(document)["R"]
    assert right.point_count == 360
    assert right.radii[:3] == (2574, 2591, 2609)  # not the STHKFMT radii (2574, 2659, 2745)
    assert [t.side for t in document.traces()] == ["R", "L"]
    with pytest.raises(OmaFormatError, match="STHKFMT block is not a trace"):
        sthk_right.trace()


def test_r360_1_keeps_records_before_and_after_traces() -> None:
    document = parse(read_text("lens_protocol-R360_1.oma"))
    labels = [r.label for r in document.records if r.label != "R"]
    assert labels == ["JOB", "SPH", "TPERR", "TRCFMT", "TRCFMT", "UNI"]
    tperr = next(r for r in document.records if r.label == "TPERR")
    assert tperr.chiral() == ("0.00,0.00,0.00", "0.00,0.00,0.00")
    assert document.get("SPH") == "1.25;-0.50"


def test_r360_3_special_values_survive() -> None:
    text = read_text("lens_protocol-R360_3.oma")
    document = parse(text)
    assert document.get("TEXT_11") == " ;"
    assert Record("TEXT_11", " ;").chiral() == (" ", "")
    assert document.get("_LLVAL") == "?;?"
    assert document.get("_MINAVG") == "?;"
    assert document.get("_OCONTROLS") == "  1      1                    ;  1      1"
    assert document.get_all("XSTATUS") == [
        "R;1110;External module returns warning;W",
        "L;1110;External module returns warning;W",
    ]
    assert len(document.get_all("_ENGPNT")) == 2
    assert document.get("OMAV") == "03.10"
    assert format_oma(parse(format_oma(document))) == crlf(text)


def test_r1000_3_keeps_drill_records_in_order() -> None:
    document = parse(read_text("lens_protocol-R1000_3.oma"))
    drills = document.get_all("DRILLE")
    assert [d.split(";")[2] for d in drills] == ["-22.00", "-19.00", "19.00", "22.00"]
    assert document.records[-1].label == "DRILLE"


def test_trcfmt6_parses_but_refuses_to_decode() -> None:
    text = read_text("lens_protocol-TRCFMT6.oma")
    document = parse(text)
    assert format_oma(document) == crlf(text)
    blocks = document.trace_blocks()
    assert [(b.format, b.side, b.point_count) for b in blocks] == [(6, "R", 360), (6, "L", 360)]
    assert all(len(b.records) == 1 and b.values == () for b in blocks)
    assert blocks[0].records[0].value.startswith("6167514141")
    with pytest.raises(OmaFormatError, match=r"TRCFMT 6 \(right\): binary/differential") as info:
        outline(document)
    assert info.value.record == "TRCFMT (line 21)"
    assert info.value.label == "TRCFMT"
    assert info.value.line == 21
    with pytest.raises(OmaFormatError, match=r"TRCFMT 6 \(left\)"):
        blocks[1].trace()
    with pytest.raises(OmaFormatError):
        document.traces()
    warnings = document.consistency_warnings()
    assert len(warnings) == 2
    assert all("not checked" in w for w in warnings)
    assert document.get("HBOX") == "53.99;53.99"


# --------------------------------------------------------------------------- records


def test_values_are_kept_verbatim() -> None:
    document = parse("AB=\nB= \nC=?\nD=x=y\nE=1,2;3,4\nAB=again\n")
    assert [(r.label, r.value) for r in document.records] == [
        ("AB", ""),
        ("B", " "),
        ("C", "?"),
        ("D", "x=y"),
        ("E", "1,2;3,4"),
        ("AB", "again"),
    ]
    assert document.get("AB") == ""
    assert document.get_all("AB") == ["", "again"]
    assert document.get("Z") is None
    assert format_oma(document) == "AB=\r\nB= \r\nC=?\r\nD=x=y\r\nE=1,2;3,4\r\nAB=again\r\n"


def test_only_cr_and_lf_break_lines() -> None:
    value = "a\x0bb\x0cc\x1cd\x85e\u2028f"
    document = parse(f"X={value}\r\nY=1")
    assert document.get("X") == value
    assert parse(format_oma(document)) == document


def test_empty_text_and_trailing_blank_lines() -> None:
    assert parse("") == OmaDocument([])
    assert len(parse("JOB=1\r\n\r\n\n")) == 1
    assert format_oma(parse("JOB=1")) == "JOB=1\r\n"


@pytest.mark.parametrize(
    ("text", "record"),
    [
        ("JOB=1\nno equals sign\nB=2", "line 2"),
        ("JOB=1\n   \nB=2", "line 2"),
        ("JOB=1\n\nB=2", "line 2"),
        ("JOB=1\n=2", "line 2"),
    ],
)
def test_lines_that_are_not_records(text: str, record: str) -> None:
    with pytest.raises(OmaFormatError) as info:
        parse(text)
    assert info.value.record == record
    assert info.value.line == 2
    assert info.value.label is None
    assert isinstance(info.value, ValueError)
    assert str(info.value).startswith(record)


def test_record_validation_and_chiral() -> None:
    with pytest.raises(ValueError, match="label"):
        Record("", "x")
    with pytest.raises(ValueError, match="'='"):
        Record("A=B", "x")
    with pytest.raises(ValueError, match="line break"):
        Record("A", "x\ny")
    assert Record("SPH", "1.25").chiral() == ("1.25", "1.25")
    assert Record("SPH", "1.25;-0.50").chiral() == ("1.25", "-0.50")
    assert Record("SPH", ";").chiral() == ("", "")
    assert Record("DRILLE", "B;C;1").fields == ("B", "C", "1")
    with pytest.raises(ValueError, match="not a right;left"):
        Record("XSTATUS", "R;1;x").chiral()
    assert str(Record("JOB", "1")) == "JOB=1"


# --------------------------------------------------------------------------- blocks


SMALL = (
    "JOB=1\nTRCFMT=1;4;E;R;F\nR=1000;1000\nR=1000;1000\nTRCFMT=1;4;E;L;F\nR=1000;1000;1000;1000\n"
)


def test_small_trace_decodes() -> None:
    document = parse(SMALL)
    traces = outline(document)
    right = traces["R"]
    assert right.radii == (1000, 1000, 1000, 1000)
    assert [a for a, _ in right.points()] == [0.0, 90.0, 180.0, 270.0]
    xs_ys = right.cartesian()
    assert xs_ys[1] == pytest.approx((0.0, 10.0), abs=1e-12)
    assert right.box_width == pytest.approx(20.0)
    assert right.box_height == pytest.approx(20.0)
    assert right.circumference == pytest.approx(4 * math.sqrt(200))
    assert right.effective_diameter == pytest.approx(20.0)
    assert is_mirror(traces["R"], traces["L"])


@pytest.mark.parametrize(
    ("text", "record", "message"),
    [
        ("TRCFMT=1;4;E;R;F\nR=1;2;3\nJOB=1", "R (line 2)", "announced 4 R= values, found 3"),
        ("TRCFMT=1;4;E;R;F\nR=1;2;3", "R (line 2)", "announced 4 R= values, found 3"),
        ("TRCFMT=1;4;E;R;F\nJOB=1", "TRCFMT (line 1)", "announced 4 R= values, found 0"),
        ("TRCFMT=1;4;E;R;F\nR=1;2;3;4;5", "R (line 2)", "more R= values than the 4"),
        ("TRCFMT=1;2;E;R;F\nR=1;2\nR=3", "R (line 3)", "more R= values than the 2"),
        ("TRCFMT=1;2;E;R;F\nR=1;x", "R (line 2)", "'x' is not an integer"),
        ("TRCFMT=1;2;E;R;F\nR=1;2.5", "R (line 2)", "'2.5' is not an integer"),
        ("TRCFMT=1;2;E;R;F\nR=1;", "R (line 2)", "'' is not an integer"),
        ("TRCFMT=1;2;E;R;F\nR=1;-5", "R (line 2)", "negative radius"),
        ("JOB=1\nR=1;2", "R (line 2)", "outside any block"),
        ("TRCFMT=1;2;E;R;F\nR=1;2\nA=0;18000", "A (line 3)", "outside any block"),
        ("T=1", "T (line 1)", "outside any block"),
        ("TRCFMT=1;360;E;R", "TRCFMT (line 1)", "4 fields"),
        ("TRCFMT=1;360;E;R;F;X", "TRCFMT (line 1)", "6 fields"),
        ("TRCFMT=x;360;E;R;F", "TRCFMT (line 1)", "format 'x' is not a number"),
        ("TRCFMT=1;0;E;R;F", "TRCFMT (line 1)", "point count '0'"),
        ("TRCFMT=1;many;E;R;F", "TRCFMT (line 1)", "point count 'many'"),
        ("TRCFMT=1;360;Q;R;F", "TRCFMT (line 1)", "spacing 'Q'"),
        ("TRCFMT=1;360;E;X;F", "TRCFMT (line 1)", "side 'X'"),
        ("TRCFMT=1;360;E;R;", "TRCFMT (line 1)", "trace type is empty"),
        ("STHKFMT=1;72;E", "STHKFMT (line 1)", "3 fields"),
        ("TRCFMT=1;2;U;R;F\nR=1;2\nA=100;50", "A (line 3)", "strictly increasing"),
        ("TRCFMT=1;2;U;R;F\nR=1;2\nA=0;36000", "A (line 3)", "[0, 36000)"),
        ("TRCFMT=1;2;U;R;F\nR=1;2", "TRCFMT (line 1)", "announced 2 A= values, found 0"),
    ],
)
def test_block_errors_name_the_record(text: str, record: str, message: str) -> None:
    with pytest.raises(OmaFormatError, match=re.escape(message)) as e:
        parse(text)
    assert e.value.record == record


def test_r_records_belong_to_the_block_that_announced_them() -> None:
    text = (
        "STHKFMT=1;4;E;R\nR=1;2;3;4\nT=0010;0020;0030;0040\n"
        "TRCFMT=1;4;E;R;F\nR=500;600;700;800\n"
        "ZFMT=1;4;E;R;F\nZ=-5;0;5;10\n"
        "OTHER=x\n"
    )
    document = parse(text)
    assert [b.kind for b in document.blocks] == ["STHKFMT", "TRCFMT", "ZFMT"]
    assert document.blocks[0].data("R") == (1, 2, 3, 4)
    assert document.blocks[0].data("T") == (10, 20, 30, 40)
    assert document.blocks[0].type == ""
    assert document.blocks[2].data("Z") == (-5, 0, 5, 10)
    assert outline(document)["R"].radii == (500, 600, 700, 800)
    assert format_oma(document) == crlf(text)


def test_undecoded_format_keeps_consecutive_raw_records() -> None:
    text = "TRCFMT=4;360;E;R;F\nR=AB\nR=CD\nTRCFMT=9;10;E;L;F\nR=zz\nJOB=1\n"
    document = parse(text)
    right, left = document.trace_blocks()
    assert [r.value for r in right.records] == ["AB", "CD"]
    assert [r.value for r in left.records] == ["zz"]
    with pytest.raises(OmaFormatError, match=r"TRCFMT 4 \(right\): binary/differential"):
        right.trace()
    with pytest.raises(OmaFormatError, match=r"TRCFMT 9 \(left\): unknown trace format"):
        left.trace()
    assert format_oma(document) == crlf(text)


def test_unequal_spacing_uses_a_records() -> None:
    document = parse("TRCFMT=1;4;U;R;F\nR=1000;2000\nR=1000;2000\nA=0;4500;18000;27000\n")
    trace = outline(document)["R"]
    assert trace.angles == (0, 4500, 18000, 27000)
    assert [a for a, _ in trace.points()] == [0.0, 45.0, 180.0, 270.0]
    x, y = trace.cartesian()[1]
    assert (x, y) == pytest.approx((20 / math.sqrt(2), 20 / math.sqrt(2)))
    assert trace.radius_at(22.5) == pytest.approx(15.0)
    assert trace.radius_at(315.0) == pytest.approx(15.0)
    assert trace.radius_at(90.0) == pytest.approx(20 - 10 * 45 / 135)
    mirror = trace.mirrored()
    assert mirror.side == "L"
    assert mirror.angles == (0, 13500, 18000, 27000)
    assert mirror.radii == (1000, 2000, 1000, 2000)
    assert is_mirror(trace, mirror)
    assert parse(format_oma(OmaDocument(trace.to_records(per_line=3)))).traces() == [trace]


def test_both_sides_trace_fills_right_and_left() -> None:
    right = Trace(1, 4, "E", "B", "F", (1000, 1100, 1200, 1300))
    traces = outline(OmaDocument(right.to_records()))
    assert traces["R"].side == "R"
    assert traces["R"].radii == right.radii
    assert traces["L"].side == "L"
    assert is_mirror(traces["R"], traces["L"])


def test_trace_validation() -> None:
    with pytest.raises(ValueError, match="3 radii for 4 points"):
        Trace(1, 4, "E", "R", "F", (1, 2, 3))
    with pytest.raises(ValueError, match="negative"):
        Trace(1, 2, "E", "R", "F", (1, -2))
    with pytest.raises(ValueError, match="one angle per point"):
        Trace(1, 2, "U", "R", "F", (1, 2))
    with pytest.raises(ValueError, match="no angles"):
        Trace(1, 2, "E", "R", "F", (1, 2), (0, 100))
    with pytest.raises(ValueError, match="side"):
        Trace(1, 2, "E", "X", "F", (1, 2))
    with pytest.raises(ValueError, match="tolerance"):
        is_mirror(circle(3, 100), circle(3, 100), tolerance=-1)
    with pytest.raises(ValueError, match="even point count"):
        circle(3, 100).mirrored()
    assert not is_mirror(circle(3, 100), circle(3, 100, "L"))
    assert not is_mirror(circle(4, 100), circle(6, 100, "L"))
    with pytest.raises(ValueError, match="only TRCFMT 1"):
        Trace(6, 2, "E", "R", "F", (1, 2)).to_records()


def test_circle_geometry() -> None:
    trace = circle(360, 2500)
    assert trace.box_width == pytest.approx(50.0, abs=1e-9)
    assert trace.box_height == pytest.approx(50.0, abs=0.01)
    assert trace.circumference == pytest.approx(2 * math.pi * 25, abs=0.01)
    assert trace.effective_diameter == pytest.approx(50.0)
    dense = circle(1000, 2500)
    assert dense.circumference == pytest.approx(trace.circumference, abs=1e-9)
    assert dense.polygon_perimeter == pytest.approx(2 * math.pi * 25, abs=0.001)


def test_consistency_warnings() -> None:
    body = "".join(f"{r}\n" for r in circle(360, 2500).to_records())
    body += "".join(f"{r}\n" for r in circle(360, 2500, "L").to_records())
    assert parse("HBOX=50.00;50.00\nVBOX=50\nCIRC=157.08;?\n" + body).consistency_warnings() == []
    document = parse("HBOX=50.00;51.00\nVBOX=abc\nCIRC= ;\nHBOX=1;2;3\n" + body)
    messages = document.consistency_warnings()
    assert len(messages) == 4
    assert messages[0].startswith("HBOX (line 1, left): file records 51.00 mm")
    assert "box width 50.000 mm (more than 0.01 mm apart)" in messages[0]
    assert messages[1] == "HBOX (line 4): expected one or two values"
    assert messages[2:] == [
        "VBOX (line 2, right): 'abc' is not a number",
        "VBOX (line 2, left): 'abc' is not a number",
    ]
    assert parse("HBOX=50.5\n" + body).consistency_warnings(tolerance_mm=1.0) == []
    assert parse("HBOX=50.5\n").consistency_warnings() == []


# --------------------------------------------------------------------------- properties

RESERVED = ANNOUNCING_LABELS | DATA_LABELS
_safe_chars = st.characters(exclude_characters="\r\n", exclude_categories=["Cs"])
labels = st.one_of(
    st.sampled_from(["JOB", "SPH", "HBOX", "CIRC", "XSTATUS", "_VENDOR", "TPERR", "DBL"]),
    st.from_regex(r"[A-Z_][A-Z0-9_]{0,8}", fullmatch=True),
    st.text(st.characters(exclude_characters="=\r\n", exclude_categories=["Cs"]), min_size=1),
).filter(lambda label: label not in RESERVED)
decimals = st.decimals(min_value=-100, max_value=100, places=2).map(str)
chiral_part = st.one_of(
    st.just(""),
    st.just(" "),
    st.just("?"),
    decimals,
    st.lists(decimals, min_size=2, max_size=4).map(",".join),
)
values = st.one_of(
    st.sampled_from(["", " ", "?", "?;?", " ;", "?;"]),
    st.text(_safe_chars, max_size=30),
    st.tuples(chiral_part, chiral_part).map(";".join),
)
plain_records = st.builds(Record, labels, values).map(lambda r: [r])


@st.composite
def traces(draw: st.DrawFn) -> Trace:
    n = draw(st.integers(min_value=1, max_value=40))
    radii = tuple(draw(st.lists(st.integers(0, 99999), min_size=n, max_size=n)))
    side = draw(st.sampled_from("RLB"))
    kind = draw(st.sampled_from("FPD"))
    if draw(st.booleans()):
        return Trace(1, n, "E", side, kind, radii)
    angles = draw(st.lists(st.integers(0, 35999), min_size=n, max_size=n, unique=True))
    return Trace(1, n, "U", side, kind, radii, tuple(sorted(angles)))


@st.composite
def trace_blocks(draw: st.DrawFn) -> list[Record]:
    trace: Trace = draw(traces())
    return trace.to_records(per_line=draw(st.integers(1, 12)))


@st.composite
def thickness_blocks(draw: st.DrawFn) -> list[Record]:
    n = draw(st.integers(1, 20))
    side = draw(st.sampled_from("RL"))
    radii = draw(st.lists(st.integers(0, 9999), min_size=n, max_size=n))
    thick = draw(st.lists(st.integers(0, 999).map(lambda t: f"{t:04d}"), min_size=n, max_size=n))
    out = [Record("STHKFMT", f"1;{n};E;{side}")]
    out += [Record("R", ";".join(map(str, radii[i : i + 10]))) for i in range(0, n, 10)]
    out += [Record("T", ";".join(thick[i : i + 10])) for i in range(0, n, 10)]
    return out


raw_blocks = st.builds(
    lambda side, payload: [Record("TRCFMT", f"6;360;E;{side};F"), Record("R", payload)],
    st.sampled_from("RL"),
    st.text("0123456789ABCDEF", min_size=1, max_size=60),
)
documents = st.lists(
    st.one_of(plain_records, plain_records, trace_blocks(), thickness_blocks(), raw_blocks),
    max_size=12,
).map(lambda items: OmaDocument(record for item in items for record in item))


@settings(max_examples=300, deadline=None)
@given(documents)
def test_parse_format_round_trip(document: OmaDocument) -> None:
    text = format_oma(document)
    again = parse(text)
    assert again == document
    assert again.blocks == document.blocks
    assert format_oma(again) == text
    assert parse(text.replace("\r\n", "\n")) == document
    document.consistency_warnings()  # never raises


@settings(max_examples=200, deadline=None)
@given(st.lists(traces(), min_size=1, max_size=4), st.integers(1, 12))
def test_traces_survive_round_trip(generated: list[Trace], per_line: int) -> None:
    records = [r for t in generated for r in [*t.to_records(per_line), Record("SEP", "")]]
    assert parse(format_oma(OmaDocument(records))).traces() == generated


@settings(max_examples=100, deadline=None)
@given(traces())
def test_mirror_is_an_involution(trace: Trace) -> None:
    if trace.spacing == "E" and trace.point_count % 2:
        return
    mirror = trace.mirrored()
    assert is_mirror(trace, mirror)
    assert mirror.mirrored() == trace
    assert mirror.box_width == pytest.approx(trace.box_width, abs=1e-9)
    assert mirror.box_height == pytest.approx(trace.box_height, abs=1e-9)
    assert mirror.circumference == pytest.approx(trace.circumference, abs=1e-9)


def test_both_sides_trace_with_odd_count_cannot_give_a_left_eye() -> None:
    document = OmaDocument(circle(5, 1000, "B").to_records())
    with pytest.raises(OmaFormatError, match=r"TRCFMT 1 \(both\): .*even point count") as info:
        outline(document)
    assert info.value.record == "TRCFMT (line 1)"
    assert document.traces()[0].point_count == 5
