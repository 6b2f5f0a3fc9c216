"""``optihub portal status-map``: a practice maps its own order-status names to canonical
states (what orders synced through the portal API then move to), lists them, and puts a
name back on the by-name default."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from optihub.cli import app as cli
from optihub.domain.orders import OrderStatus
from optihub.services import status_names
from tests import factories


def _cli(db, monkeypatch, tmp_path, *args: str):
    monkeypatch.setenv("OPTIHUB_DATABASE_URL", db.url)
    monkeypatch.setenv("OPTIHUB_DATA_DIR", str(tmp_path))
    return CliRunner().invoke(cli, ["portal", "status-map", *args])


def test_a_practice_maps_lists_and_resets_its_status_names(db, monkeypatch, tmp_path):
    with db.transaction() as s:
        practice = factories.practice(s)
        other = factories.practice(s, "Elsewhere Optical")
    pid = str(practice.id)
    with db.transaction() as s:
        # By name until the practice says otherwise.
        assert status_names.status_for(s, practice.id, "Ready to dispense") is None
        assert status_names.status_for(s, practice.id, "Ready for pickup") == OrderStatus.COMPLETED

    done = _cli(db, monkeypatch, tmp_path, "--practice", pid, "Ready to dispense", "completed")
    assert done.exit_code == 0, done.output
    assert "'ready to dispense' -> completed" in done.output
    moved = _cli(db, monkeypatch, tmp_path, "--practice", pid, "Ready for pickup", "shipped")
    assert moved.exit_code == 0, moved.output

    listed = _cli(db, monkeypatch, tmp_path, "--practice", pid, "--json")
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.output.strip().splitlines()[-1]) == {
        "practice_id": practice.id,
        "mappings": {"ready for pickup": "shipped", "ready to dispense": "completed"},
    }
    with db.transaction() as s:
        assert status_names.status_for(s, practice.id, "READY TO DISPENSE") == OrderStatus.COMPLETED
        assert status_names.status_for(s, practice.id, "Ready for pickup") == OrderStatus.SHIPPED
        # Another practice's names are its own.
        assert status_names.status_for(s, other.id, "Ready to dispense") is None

    reset = _cli(db, monkeypatch, tmp_path, "--practice", pid, "ready for PICKUP", "default")
    assert reset.exit_code == 0, reset.output
    with db.transaction() as s:
        assert status_names.status_for(s, practice.id, "Ready for pickup") == OrderStatus.COMPLETED


def test_unknown_states_and_practices_are_refused(db, monkeypatch, tmp_path):
    with db.transaction() as s:
        practice = factories.practice(s)
    refused = _cli(db, monkeypatch, tmp_path, "--practice", str(practice.id), "Done", "finished")
    assert refused.exit_code == 1
    assert "Must be one of: draft, received" in refused.output
    missing = _cli(db, monkeypatch, tmp_path, "--practice", "999", "Done", "completed")
    assert missing.exit_code == 1
    assert "Practice 999 not found" in missing.output
    with db.transaction() as s:
        assert status_names.status_mappings(s, practice.id) == []


def test_the_portal_openapi_document_holds_its_own_paths_only(tmp_path):
    output = tmp_path / "portal.json"
    done = CliRunner().invoke(cli, ["openapi", "--surface", "portal", "--output", str(output)])
    assert done.exit_code == 0, done.output
    paths = set(json.loads(output.read_text())["paths"])
    # Its token call at the site root too, and nothing of the partner API under /api/v1.
    assert {"/api/token", "/token", "/api/Patients", "/api/locations/search"} <= paths
    assert not any(path.startswith("/api/v1/") for path in paths)
    assert len(paths) == 17  # 13 resources, 2 searches, the token call twice
