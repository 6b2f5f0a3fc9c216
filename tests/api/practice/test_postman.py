"""``optihub openapi --surface practice --postman FILE``: a Postman v2.1 collection with
every practice operation, foldered by module."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from optihub.cli import app
from optihub.surfaces.practice.mapping import ROUTE_SCOPES


def test_the_postman_collection_has_every_practice_route(tmp_path):
    postman = tmp_path / "practice.postman.json"
    document = tmp_path / "practice.openapi.json"
    result = CliRunner().invoke(
        app,
        ["openapi", "--surface", "practice", "--postman", str(postman), "-o", str(document)],
    )
    assert result.exit_code == 0, result.output
    collection = json.loads(postman.read_text())
    assert collection["info"]["schema"].endswith("/v2.1.0/collection.json")
    assert collection["auth"]["bearer"][0]["value"] == "{{token}}"
    assert {v["key"] for v in collection["variable"]} == {"baseUrl", "client_id", "token"}
    folders = {folder["name"]: folder["item"] for folder in collection["item"]}
    assert set(folders) == {
        "patients",
        "stores",
        "employees",
        "appointments",
        "orders",
        "invoices",
        "pricebooks",
        "configurations",
    }
    found = set()
    for module, requests in folders.items():
        for item in requests:
            url = item["request"]["url"]
            assert url["host"] == ["{{baseUrl}}"]
            assert url["path"][:2] == ["v2", "{{client_id}}"]
            assert url["path"][2] == module
            path = "/" + "/".join(url["path"][1:])
            path = path.replace("{{client_id}}", "{client_id}").replace(":id", "{id}")
            found.add((item["request"]["method"], path))
    assert found == set(ROUTE_SCOPES)
    listing = next(i["request"] for i in folders["patients"] if i["request"]["url"]["query"])
    assert {q["key"] for q in listing["url"]["query"]} >= {"page", "page_size", "sort", "email"}
    create = next(i["request"] for i in folders["patients"] if i["request"]["method"] == "POST")
    assert json.loads(create["body"]["raw"]) == {"name_first": "text", "name_last": "text"}
    # Eight pricebook lists, each its own request; frames also created and patched.
    pricebooks = {
        (i["request"]["method"], "/".join(i["request"]["url"]["path"][3:]))
        for i in folders["pricebooks"]
    }
    assert pricebooks == {
        ("GET", "lenses"),
        ("GET", "frames"),
        ("GET", "contactlenses"),
        ("GET", "proffees"),
        ("GET", "merchandise"),
        ("GET", "addons"),
        ("GET", "misc"),
        ("GET", "tierprices"),
        ("POST", "frames"),
        ("PATCH", "frames/:id"),
    }
    new_frame = next(
        i["request"] for i in folders["pricebooks"] if i["request"]["method"] == "POST"
    )
    assert json.loads(new_frame["body"]["raw"]) == {"sku": "text", "brand": "text", "model": "text"}
    tiers = {i["request"]["method"] for i in folders["configurations"]}
    assert tiers == {"GET", "POST", "PATCH", "DELETE"}
    appointments = folders["appointments"][0]["request"]
    assert {q["key"] for q in appointments["url"]["query"]} == {
        "date_from",
        "date_to",
        "store_id",
        "patient_id",
        "page",
        "page_size",
        "sort",
    }
    # The OpenAPI document written beside it holds the practice paths only.
    paths = json.loads(document.read_text())["paths"]
    assert paths and all(p.startswith("/v2/") for p in paths)


def test_an_unknown_surface_is_refused(tmp_path):
    result = CliRunner().invoke(
        app, ["openapi", "--surface", "nope", "--postman", str(tmp_path / "x.json")]
    )
    assert result.exit_code == 1
    assert "--surface must name one of" in result.output
