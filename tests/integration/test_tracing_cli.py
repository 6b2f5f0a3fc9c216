"""``optihub tracing inspect`` on the real OMA files of the shared test data.

Every file in ``../shared/testdata/oma`` (read in place, never copied) is inspected through
the CLI. The figures the file itself records (``HBOX``, ``VBOX``, ``CIRC``) are read here
with a plain regular expression, independently of the domain parser, and the CLI's figures
must match them within the issue's tolerance. A file whose trace format the parser does not
decode must give a clear one-line error instead.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from optihub.cli import app

ROOT = Path(__file__).resolve().parents[2]
OMA_DIR = Path(os.environ.get("OPTIHUB_TESTDATA") or ROOT.parent / "shared" / "testdata") / "oma"
# Collected from the directory itself, so a new file is tested without editing this list;
# test_the_oma_testdata_is_there fails (through the testdata fixture) if the files are gone.
OMA_FILES = sorted(p.name for p in OMA_DIR.glob("*.oma")) if OMA_DIR.is_dir() else []

TOLERANCE_MM = {"HBOX": 0.06, "VBOX": 0.06, "CIRC": 0.1}
JSON_KEY = {"HBOX": "hbox_mm", "VBOX": "vbox_mm", "CIRC": "circumference_mm"}
SIDE_KEYS = {"points", "hbox_mm", "vbox_mm", "circumference_mm", "effective_diameter_mm"}
SIDES = {"R": "right", "L": "left"}

_TRCFMT = re.compile(r"^TRCFMT=([^;\r\n]*);([^;\r\n]*);[^;\r\n]*;([^;\r\n]*)", re.MULTILINE)
_FIGURE = re.compile(r"^(HBOX|VBOX|CIRC)=([^\r\n]*)$", re.MULTILINE)


def inspect(path: Path, *args: str):
    result = CliRunner().invoke(app, ["tracing", "inspect", str(path), *args])
    # Only typer's own exit (SystemExit) is acceptable: never an uncaught exception.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def last_json(result) -> dict:
    return json.loads(result.stdout.strip().splitlines()[-1])


def trace_headers(text: str) -> list[tuple[str, int, str, int]]:
    """``(format, points, side, line)`` of every TRCFMT record, without the domain parser."""
    headers = []
    for match in _TRCFMT.finditer(text):
        fmt, points, side = (group.strip() for group in match.groups())
        headers.append((fmt, int(points), side, text.count("\n", 0, match.start()) + 1))
    return headers


def recorded_in_file(text: str) -> dict[str, dict[str, float]]:
    """``{"right": {"HBOX": 51.0, ...}, ...}``: the first numeric figure per label and side."""
    found: dict[str, dict[str, float]] = {"right": {}, "left": {}}
    for label, value in _FIGURE.findall(text):
        parts = value.split(";")
        pairs = zip(("right", "left"), parts if len(parts) == 2 else parts * 2, strict=True)
        for side, raw in pairs:
            try:
                found[side].setdefault(label, float(raw))
            except ValueError:
                continue
    return {side: figures for side, figures in found.items() if figures}


def decodable(text: str) -> bool:
    return all(fmt == "1" for fmt, _, _, _ in trace_headers(text))


def assert_clear_format_error(result, name: str, text: str) -> None:
    """Exit 1 and one line on stderr naming the file, the format, its side and its line."""
    fmt, _, side, line = next(h for h in trace_headers(text) if h[0] != "1")
    assert result.exit_code == 1, result.stdout
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {name}: TRCFMT (line {line}): ")
    assert f"TRCFMT {fmt} ({SIDES[side]})" in lines[0]
    assert f"format {fmt} is" in lines[0]


def oma_file(testdata: Path, name: str) -> tuple[Path, str]:
    path = testdata / "oma" / name
    return path, path.read_bytes().decode("ascii")


def test_the_oma_testdata_is_there(testdata):
    names = {p.name for p in (testdata / "oma").glob("*.oma")}
    assert names == set(OMA_FILES)
    # The cases the issue names must be among them: recorded figures, and format 6.
    assert {"lens_protocol-R360_3.oma", "lens_protocol-TRCFMT6.oma"} <= names
    assert len(names) >= 8


@pytest.mark.parametrize("name", OMA_FILES)
def test_figures_match_what_the_file_records(testdata, name):
    path, text = oma_file(testdata, name)
    headers = trace_headers(text)
    assert headers, f"{name} has no TRCFMT record"
    result = inspect(path, "--json")
    if not decodable(text):
        assert_clear_format_error(result, name, text)
        return
    assert result.exit_code == 0, result.stderr
    value = last_json(result)

    assert value["file"] == name
    assert list(value["sides"]) == ["right", "left"]  # both eyes in every file, right first
    announced = {SIDES[side]: points for _, points, side, _ in reversed(headers)}
    for side, figures in value["sides"].items():
        assert set(figures) == SIDE_KEYS
        assert figures["points"] == announced[side]
        for key in SIDE_KEYS - {"points"}:
            assert figures[key] == round(figures[key], 2)
        # Plain geometry any frame outline obeys.
        width, height = figures["hbox_mm"], figures["vbox_mm"]
        assert 20 < height < width < 80
        assert figures["effective_diameter_mm"] >= width - 0.01
        assert 2 * width < figures["circumference_mm"] < 2 * (width + height)

    recorded = recorded_in_file(text)
    assert value["recorded"] == {
        side: {JSON_KEY[label]: figure for label, figure in figures.items()}
        for side, figures in recorded.items()
    }
    compared = 0
    for side, figures in recorded.items():
        for label, figure in figures.items():
            computed = value["sides"][side][JSON_KEY[label]]
            assert abs(computed - figure) <= TOLERANCE_MM[label], (side, label, computed, figure)
            difference = value["differences"][side][JSON_KEY[label]]
            assert difference == pytest.approx(computed - figure, abs=0.006)
            compared += 1
    if re.search(r"^(HBOX|VBOX|CIRC)=", text, re.MULTILINE):
        assert compared > 0
    assert value["warnings"] == []


@pytest.mark.parametrize("name", OMA_FILES)
def test_human_output_shows_file_format_and_figures(testdata, name):
    path, text = oma_file(testdata, name)
    result = inspect(path)
    if not decodable(text):
        assert_clear_format_error(result, name, text)
        return
    figures = last_json(inspect(path, "--json"))
    assert result.exit_code == 0, result.stderr
    assert name in result.stdout
    assert "TRCFMT 1 (ASCII absolute)" in result.stdout
    for side in ("right", "left"):
        assert side in result.stdout
        for key in ("hbox_mm", "vbox_mm", "circumference_mm", "effective_diameter_mm"):
            assert f"{figures['sides'][side][key]:.2f}" in result.stdout
    for side_figures in figures["recorded"].values():
        for recorded in side_figures.values():
            assert f"{recorded:.2f}".rstrip("0").rstrip(".") in result.stdout


@pytest.mark.parametrize("name", OMA_FILES)
def test_crlf_lf_and_cr_give_the_same_figures(testdata, tmp_path, name):
    _, text = oma_file(testdata, name)
    lf = text.replace("\r\n", "\n").replace("\r", "\n")
    outputs = []
    for ending in ("\n", "\r\n", "\r"):
        folder = tmp_path / repr(ending).strip("'").replace("\\", "")
        folder.mkdir()
        copy = folder / name
        copy.write_bytes(lf.replace("\n", ending).encode("ascii"))
        assert copy.read_bytes().count(ending.encode()) == lf.count("\n")
        result = inspect(copy, "--json")
        if decodable(text):
            assert result.exit_code == 0, result.stderr
            outputs.append(last_json(result))
        else:
            assert_clear_format_error(result, name, text)
            outputs.append(result.stderr)
    assert outputs[0] == outputs[1] == outputs[2]


def test_undecodable_format_is_a_clear_error(testdata):
    undecodable = [name for name in OMA_FILES if not decodable(oma_file(testdata, name)[1])]
    assert "lens_protocol-TRCFMT6.oma" in undecodable
    for name in undecodable:
        path, text = oma_file(testdata, name)
        for args in ((), ("--json",)):
            assert_clear_format_error(inspect(path, *args), name, text)


def test_error_from_the_real_command_has_no_traceback(testdata):
    path = testdata / "oma" / "lens_protocol-TRCFMT6.oma"
    result = subprocess.run(
        [sys.executable, "-m", "optihub", "tracing", "inspect", str(path), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "error: lens_protocol-TRCFMT6.oma: TRCFMT (line 21): TRCFMT 6 (right): binary/differential"
        " trace formats are not supported (format 6 is Nidek's ASCII differential; only format 1,"
        " ASCII absolute, is decoded)"
    ]


def test_a_malformed_block_names_the_record_and_line(testdata, tmp_path):
    _, text = oma_file(testdata, "lens_protocol-R360_2.oma")
    lines = text.splitlines()
    first_r = next(i for i, line in enumerate(lines) if line.startswith("R="))
    lines[first_r] = "R=" + ";".join(lines[first_r][2:].split(";")[:-1])  # one radius short
    broken = tmp_path / "broken.oma"
    broken.write_text("\n".join(lines) + "\n")
    result = inspect(broken)
    assert result.exit_code == 1
    assert result.stderr.strip().startswith("error: broken.oma: R (line ")
    assert "announced 360 R= values" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_file_with_no_trace_is_an_error(tmp_path):
    empty = tmp_path / "empty.oma"
    empty.write_text("JOB=1\nHBOX=50.00\n")
    result = inspect(empty)
    assert result.exit_code == 1
    assert "no TRCFMT trace" in result.stderr


@pytest.mark.parametrize("target", ["missing.oma", "."])
def test_a_missing_or_unreadable_file_is_an_error(tmp_path, target):
    result = inspect(tmp_path / target, "--json")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: cannot read ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_recorded_figure_that_disagrees_is_shown_and_warned(testdata, tmp_path):
    _, text = oma_file(testdata, "lens_protocol-R360_3.oma")
    assert "HBOX=51.00;51.00\n" in text
    changed = tmp_path / "changed.oma"
    changed.write_text(text.replace("HBOX=51.00;51.00\n", "HBOX=51.00;52.00\n"))
    value = last_json(inspect(changed, "--json"))
    assert value["recorded"]["left"]["hbox_mm"] == 52.0
    assert value["differences"]["right"]["hbox_mm"] == 0.0
    assert value["differences"]["left"]["hbox_mm"] == pytest.approx(-1.0, abs=0.01)
    assert any("HBOX" in w and "left" in w for w in value["warnings"])
    human = inspect(changed)
    assert "-1.00" in human.stdout
    assert "warning: HBOX" in human.stdout
