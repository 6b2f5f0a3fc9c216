"""SVG rendering of frame outlines: well-formed, accessible, laid out as seen from the front."""

from __future__ import annotations

import math
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from optihub.domain.oma import Trace, outline, parse
from optihub.domain.tracing_svg import SVG_NAMESPACE, render_outline_svg

REPO_ROOT = Path(__file__).resolve().parents[2]
OMA_DIR = (
    Path(os.environ.get("OPTIHUB_TESTDATA") or REPO_ROOT.parent / "shared" / "testdata") / "oma"
)
NS = {"svg": SVG_NAMESPACE}
DECODABLE = [
    "lens_protocol-R1000_1.oma",
    "lens_protocol-R1000_2.oma",
    "lens_protocol-R1000_3.oma",
    "lens_protocol-R360_1.oma",
    "lens_protocol-R360_2.oma",
    "lens_protocol-R360_3.oma",
    "lens_protocol-STHKFMT.oma",
]


def read_text(name: str) -> str:
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


def parse_svg(svg: str) -> ET.Element:
    """Parse our own output with the standard library's XML parser (trusted input)."""
    return ET.fromstring(svg)  # noqa: S314


def path_points(path: ET.Element) -> list[tuple[float, float]]:
    d = path.get("d") or ""
    assert d.startswith("M")
    assert d.endswith(" Z")
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", d)]
    return list(zip(numbers[0::2], numbers[1::2], strict=True))


def view_box(root: ET.Element) -> tuple[float, float, float, float]:
    x, y, w, h = (float(v) for v in (root.get("viewBox") or "").split())
    return x, y, w, h


def blob(n: int = 360, side: str = "R") -> Trace:
    """A shape taller at the top (90°) than the bottom and wider nasally (0°)."""
    radii = tuple(
        round(
            2000
            + 400 * math.cos(math.radians(360 * i / n))
            + 600 * max(0.0, math.sin(math.radians(360 * i / n)))
        )
        for i in range(n)
    )
    return Trace(1, n, "E", side, "F", radii)


def render(
    *,
    dbl_mm: float | None = None,
    title: str | None = None,
    stroke: str = "#1f2933",
    id_prefix: str = "oma-outline",
) -> tuple[str, ET.Element]:
    right = blob()
    svg = render_outline_svg(
        {"R": right, "L": right.mirrored()},
        dbl_mm=dbl_mm,
        title=title,
        stroke=stroke,
        id_prefix=id_prefix,
    )
    return svg, parse_svg(svg)


def test_svg_is_well_formed_and_accessible() -> None:
    svg, root = render(dbl_mm=18.0)
    assert root.tag == f"{{{SVG_NAMESPACE}}}svg"
    assert root.get("role") == "img"
    children = list(root)
    assert children[0].tag == f"{{{SVG_NAMESPACE}}}title"
    assert (children[0].text or "").startswith("Frame outline")
    assert root.get("aria-labelledby") == "oma-outline-title oma-outline-desc"
    ids = {el.get("id") for el in root.iter() if el.get("id")}
    assert {"oma-outline-title", "oma-outline-desc"} <= ids
    desc = root.find("svg:desc", NS)
    assert desc is not None
    assert "Bridge (DBL) 18.00 mm" in (desc.text or "")
    assert svg.startswith("<svg ")
    assert float(root.get("width") or 0) == 480
    _, _, w, h = view_box(root)
    assert float(root.get("height") or 0) == pytest.approx(480 * h / w, abs=0.01)


def test_one_path_per_eye_right_eye_on_viewers_left_with_bridge_gap() -> None:
    _, root = render(dbl_mm=18.0)
    paths = root.findall("svg:path", NS)
    assert [p.get("data-side") for p in paths] == ["R", "L"]
    right, left = (path_points(p) for p in paths)
    assert len(right) == len(left) == 360
    right_nasal = max(x for x, _ in right)
    left_nasal = min(x for x, _ in left)
    assert left_nasal - right_nasal == pytest.approx(18.0, abs=0.02)
    assert max(x for x, _ in right) < min(x for x, _ in left)
    # Angles are front-view: 0° (the right eye's nasal side) points at the bridge.
    assert right[0][0] > right[180][0]
    assert right[0][1] == pytest.approx(0.0, abs=0.01)
    for p in paths:
        assert p.get("fill") == "none"
        title = p.find("svg:title", NS)
        assert title is not None
        assert title.text in {"Right eye", "Left eye"}


def test_y_axis_is_flipped_so_up_is_up() -> None:
    trace = blob()
    _, root = render()
    right = path_points(root.findall("svg:path", NS)[0])
    top = max(range(360), key=lambda i: trace.cartesian()[i][1])
    # The highest point of the frame has the smallest SVG y, and it is negative (above centre).
    assert right[top][1] == pytest.approx(min(y for _, y in right), abs=0.01)
    assert right[top][1] < 0
    assert right[90][1] == pytest.approx(-trace.radii[90] / 100, abs=0.01)


def test_viewbox_covers_every_point() -> None:
    _, root = render(dbl_mm=40.0)
    x, y, w, h = view_box(root)
    for path in root.findall("svg:path", NS):
        for px, py in path_points(path):
            assert x <= px <= x + w
            assert y <= py <= y + h


def test_single_eye_and_nominal_bridge() -> None:
    svg = render_outline_svg({"L": blob(side="L")})
    root = parse_svg(svg)
    assert [p.get("data-side") for p in root.findall("svg:path", NS)] == ["L"]
    assert "left eye" in (root.findtext("svg:title", namespaces=NS) or "")
    _, both = render()
    desc = both.findtext("svg:desc", namespaces=NS) or ""
    assert "not to scale" in desc


def test_text_and_attributes_are_escaped() -> None:
    svg, root = render(title='Frame <"A&B"> \x01 ok', stroke='red" onload="alert(1)')
    assert root.findtext("svg:title", namespaces=NS) == 'Frame <"A&B"> \ufffd ok'
    for path in root.findall("svg:path", NS):
        assert path.get("stroke") == 'red" onload="alert(1)'
        assert path.get("onload") is None
    assert "<script" not in svg


def test_id_prefix_and_invalid_arguments() -> None:
    _, root = render(id_prefix="job-42")
    assert root.get("aria-labelledby") == "job-42-title job-42-desc"
    right = blob()
    with pytest.raises(ValueError, match="no traces"):
        render_outline_svg({})
    with pytest.raises(ValueError, match="'R' or 'L'"):
        render_outline_svg({"B": right})
    with pytest.raises(ValueError, match="width_px"):
        render_outline_svg({"R": right}, width_px=0)
    with pytest.raises(ValueError, match="dbl_mm"):
        render_outline_svg({"R": right}, dbl_mm=-1)
    with pytest.raises(ValueError, match="stroke_width_px"):
        render_outline_svg({"R": right}, stroke_width_px=math.nan)
    with pytest.raises(ValueError, match="id_prefix"):
        render_outline_svg({"R": right}, id_prefix="a b")


@pytest.mark.parametrize("name", DECODABLE)
def test_real_files_render(name: str) -> None:
    document = parse(read_text(name))
    dbl = document.get("DBL")
    svg = render_outline_svg(outline(document), dbl_mm=float(dbl) if dbl else None)
    root = parse_svg(svg)
    paths = root.findall("svg:path", NS)
    assert [p.get("data-side") for p in paths] == ["R", "L"]
    x, y, w, h = view_box(root)
    right, left = (path_points(p) for p in paths)
    for px, py in right + left:
        assert x <= px <= x + w
        assert y <= py <= y + h
    if dbl:
        gap = min(px for px, _ in left) - max(px for px, _ in right)
        assert gap == pytest.approx(float(dbl), abs=0.02)
