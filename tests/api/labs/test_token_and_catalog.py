"""The lab-order dialect's token call, the User-Email rule and the catalog drill-down."""

from __future__ import annotations

import base64
import json
import time

import pytest
from fastapi.testclient import TestClient

from optihub.services import oauth_clients
from tests.api.labs.conftest import OTHER_STAFF, STAFF


def error_of(response, status):
    assert response.status_code == status, response.text
    return response.json()["error"]


# -- token ---------------------------------------------------------------------------------


def test_token_lives_24_hours_and_carries_the_apps_scopes(https, lab_world, lab_token):
    payload = lab_token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert 24 * 3600 - 60 <= claims["exp"] - time.time() <= 24 * 3600
    assert set(claims["scope"].split()) == {
        "lab_orders:write",
        "lab_orders:read",
        "lab_catalog:read",
    }
    assert (
        https.get(
            "/v1/labs", headers={"Authorization": f"Bearer {lab_token}", "User-Email": STAFF}
        ).status_code
        == 200
    )


@pytest.mark.parametrize(
    "body",
    [
        {"client_id": "app_nope", "client_secret": "x"},
        {"client_id": "__ID__", "client_secret": "wrong"},
    ],
)
def test_unknown_app_or_wrong_secret_is_401_authentication_error(https, lab_world, body):
    body = {k: (lab_world.client_id if v == "__ID__" else v) for k, v in body.items()}
    error = error_of(https.post("/v1/oauth/token", json=body), 401)
    assert error["type"] == "authentication_error"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"client_secret": "x"}, "client_id"),
        ({"client_id": "x"}, "client_secret"),
        ({"client_id": "x", "client_secret": "y", "grant_type": "z"}, "grant_type"),
        ({"client_id": 5, "client_secret": "y"}, "client_id"),
    ],
)
def test_malformed_token_requests_are_400_naming_the_field(https, body, param):
    error = error_of(https.post("/v1/oauth/token", json=body), 400)
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param


def test_broken_json_is_invalid_json(https):
    error = error_of(
        https.post(
            "/v1/oauth/token", content=b"{nope", headers={"Content-Type": "application/json"}
        ),
        400,
    )
    assert (error["type"], error["code"]) == ("invalid_request_error", "invalid_json")


def test_an_app_connected_to_several_practices_is_refused(https, lab_world, db):
    with db.transaction() as s:
        app = oauth_clients.register_client(
            s,
            name="Two practices",
            scope="lab_catalog:read",
            redirect_uris=[],
            practice_ids=[lab_world.practice_id, lab_world.other_practice_id],
        )
    body = {"client_id": app.client.client_id, "client_secret": app.client_secret}
    error = error_of(https.post("/v1/oauth/token", json=body), 400)
    assert error["code"] == "several_practices"


def test_token_call_over_plain_http_is_refused(app, lab_world):
    with TestClient(app, base_url="http://hub.example.org") as plain:
        body = {"client_id": lab_world.client_id, "client_secret": lab_world.client_secret}
        error = error_of(plain.post("/v1/oauth/token", json=body), 400)
    assert "https" in error["message"]


# -- User-Email ----------------------------------------------------------------------------


def test_missing_user_email_is_400_naming_the_header(https, lab_token):
    for headers in ({}, {"User-Email": "  "}):
        error = error_of(
            https.get("/v1/labs", headers={"Authorization": f"Bearer {lab_token}", **headers}),
            400,
        )
        assert (error["type"], error["param"]) == ("invalid_request_error", "User-Email")


@pytest.mark.parametrize("email", ["nobody@harbor.example", OTHER_STAFF])
def test_unknown_or_foreign_user_email_is_403(https, lab_token, email):
    error = error_of(
        https.get(
            "/v1/labs", headers={"Authorization": f"Bearer {lab_token}", "User-Email": email}
        ),
        403,
    )
    assert (error["type"], error["param"]) == ("permission_error", "User-Email")


def test_no_token_is_401_before_anything_else(https):
    error = error_of(https.get("/v1/labs", headers={"User-Email": STAFF}), 401)
    assert error["type"] == "authentication_error"


def test_a_token_without_the_catalog_scope_is_403(https, lab_world, issue_token):
    token = issue_token(lab_world.practice_id, "lab_orders:read")
    error = error_of(
        https.get("/v1/labs", headers={"Authorization": f"Bearer {token}", "User-Email": STAFF}),
        403,
    )
    assert error["type"] == "permission_error"
    assert "lab_catalog:read" in error["message"]


# -- labs and settings ---------------------------------------------------------------------


def test_labs_lists_one_row_per_account_of_the_practice(lab, lab_world):
    body = lab.get("/v1/labs").json()
    assert body == {
        "data": [
            {
                "id": lab_world.labs["coastal"],
                "name": "Coastal Lens Works",
                "account_number": "C-9",
            },
            {
                "id": lab_world.labs["precision"],
                "name": "Precision Optical Lab",
                "account_number": "PX-1",
            },
            {
                "id": lab_world.labs["precision"],
                "name": "Precision Optical Lab",
                "account_number": "PX-2",
            },
        ]
    }


def test_labs_is_empty_for_a_practice_without_accounts(https, db, issue_token):
    from optihub.services import users
    from tests import factories

    with db.transaction() as s:
        lonely = factories.practice(s, "No Lab Optical")
        users.create_user(
            s,
            email="solo@nolab.example",
            password="solo-password-1",
            practice_id=lonely.id,
            role="owner",
        )
    token = issue_token(lonely.id, "lab_catalog:read")
    response = https.get(
        "/v1/labs", headers={"Authorization": f"Bearer {token}", "User-Email": "solo@nolab.example"}
    )
    assert response.json() == {"data": []}


def test_order_settings_of_an_account(lab, lab_world):
    response = lab.get(
        f"/v1/labs/{lab_world.labs['precision']}/order_settings", params={"account_number": "PX-1"}
    )
    assert response.json() == {
        "frame_handling_options": ["Frame to follow", "Lenses only"],
        "frame_materials": ["Metal", "Zyl"],
        "mounting_options": ["Edged & mounted", "Uncut"],
        "order_types": ["rx", "frame"],
        "redo_types": ["Remake", "Warranty"],
        "services": ["Roll & polish edges"],
    }
    bare = lab.get(
        f"/v1/labs/{lab_world.labs['precision']}/order_settings", params={"account_number": "PX-2"}
    ).json()
    assert bare["order_types"] == ["rx"]


@pytest.mark.parametrize(
    ("lab_key", "account"),
    [
        ("precision", "NOPE"),  # no such account
        ("coastal", "HILL-1"),  # another practice's account
        ("lab_0123", "PX-1"),  # malformed id
        ("style", "PX-1"),  # an id of another kind
    ],
)
def test_unknown_lab_or_account_is_404(lab, lab_world, lab_key, account):
    lab_id = lab_world.labs.get(lab_key) or (lab_world.ids["sv"] if lab_key == "style" else lab_key)
    error = error_of(
        lab.get(f"/v1/labs/{lab_id}/order_settings", params={"account_number": account}), 404
    )
    assert error["type"] == "invalid_request_error"


def test_account_number_is_required(lab, lab_world):
    error = error_of(lab.get(f"/v1/labs/{lab_world.labs['precision']}/order_settings"), 400)
    assert error["param"] == "account_number"


# -- catalog drill-down ---------------------------------------------------------------------


def names(response):
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["data"]]


def test_styles_by_lens_type(lab, lab_world):
    where = {"lab": lab_world.labs["precision"], "account_number": "PX-1"}
    # lens_type is required (the vendor's document)
    assert error_of(lab.get("/v1/catalogs/styles", params=where), 400)["param"] == "lens_type"
    assert names(lab.get("/v1/catalogs/styles", params={**where, "lens_type": "multifocal"})) == [
        "Comfort Progressive"
    ]
    single = lab.get("/v1/catalogs/styles", params={**where, "lens_type": "single_vision"})
    assert single.json()["data"] == [{"id": lab_world.ids["sv"], "name": "Essential Single Vision"}]
    error = error_of(lab.get("/v1/catalogs/styles", params={**where, "lens_type": "bifocal"}), 400)
    assert error["param"] == "lens_type"


def test_materials_depend_on_the_style(lab, lab_world):
    where = {"lab": lab_world.labs["precision"], "account_number": "PX-1"}
    assert names(
        lab.get("/v1/catalogs/materials", params={**where, "style": lab_world.ids["sv"]})
    ) == [
        "CR-39 Plastic",
        "Polycarbonate",
    ]
    assert names(
        lab.get("/v1/catalogs/materials", params={**where, "style": lab_world.ids["prog"]})
    ) == ["Polycarbonate"]
    # another lab's style is unknown here
    error_of(
        lab.get("/v1/catalogs/materials", params={**where, "style": lab_world.ids["coastal_sv"]}),
        404,
    )


def test_addons_depend_on_style_and_material(lab, lab_world):
    where = {"lab": lab_world.labs["precision"], "account_number": "PX-1"}
    sv_cr39 = lab.get(
        "/v1/catalogs/addons",
        params={**where, "style": lab_world.ids["sv"], "material": lab_world.ids["cr39"]},
    ).json()["data"]
    assert sv_cr39 == {
        "coats": [
            {"id": lab_world.ids["ar"], "name": "Basic AR", "type": "ar"},
            {"id": lab_world.ids["mirror"], "name": "Silver Mirror", "type": "mirror"},
        ],
        "colors": [{"id": lab_world.ids["clear"], "name": "Clear"}],
        "tints": ["Gray"],
    }
    prog_poly = lab.get(
        "/v1/catalogs/addons",
        params={**where, "style": lab_world.ids["prog"], "material": lab_world.ids["poly"]},
    ).json()["data"]
    assert [c["name"] for c in prog_poly["coats"]] == ["Basic AR", "Blue Filter"]
    assert prog_poly["coats"][1]["type"] is None
    # a material the style does not offer
    error_of(
        lab.get(
            "/v1/catalogs/addons",
            params={**where, "style": lab_world.ids["prog"], "material": lab_world.ids["cr39"]},
        ),
        404,
    )


@pytest.mark.parametrize(
    ("path", "missing"),
    [
        ("/v1/catalogs/styles", "lab"),
        ("/v1/catalogs/materials", "style"),
        ("/v1/catalogs/addons", "material"),
    ],
)
def test_required_catalog_parameters_are_named(lab, lab_world, path, missing):
    params = {
        "lab": lab_world.labs["precision"],
        "account_number": "PX-1",
        "lens_type": "single_vision",
        "style": lab_world.ids["sv"],
        "material": lab_world.ids["cr39"],
    }
    params.pop(missing)
    error = error_of(lab.get(path, params=params), 400)
    assert error["param"] == missing


def test_another_practices_account_gives_no_catalog(lab, lab_world):
    error_of(
        lab.get(
            "/v1/catalogs/styles",
            params={
                "lab": lab_world.labs["coastal"],
                "account_number": "HILL-1",
                "lens_type": "single_vision",
            },
        ),
        404,
    )
