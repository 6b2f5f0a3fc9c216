"""Who may call what: the scope of each route, the practice in the path, its envelope."""

from __future__ import annotations

import re
import uuid

import pytest

from optihub.surfaces.practice.mapping import ROUTE_SCOPES
from tests.api.practice.conftest import ALL_SCOPES, error

ROUTES = [
    pytest.param(method, path, scope, id=f"{method} {path}")
    for (method, path), scope in sorted(ROUTE_SCOPES.items())
]
NOT_AN_INTEGER = (
    "The client_id must be provided as an integer in the URL path. "
    "Example: /v2/123/resource/... instead of /v2/resource?client_id=123"
)


def below(path: str) -> str:
    """The path below ``/v2/{client_id}`` with a random object id."""
    return re.sub(r"\{id\}", str(uuid.uuid4()), path.removeprefix("/{client_id}"))


@pytest.mark.storage_independent  # refused from the token and path alone
@pytest.mark.parametrize(("method", "path", "scope"), ROUTES)
def test_a_missing_scope_is_refused_with_the_scope_named(api, method, path, scope):
    others = " ".join(s for s in ALL_SCOPES.split() if s != scope)
    response = api.call(method, below(path), scopes=others, json={})
    assert response.status_code == 403
    assert response.json() == {
        "message": f"Insufficient permissions. The scope '{scope}' is required for this operation.",
        "required_scope": scope,
        "available_scopes": sorted(others.split()),
    }


def test_the_scope_refusal_lists_exactly_the_tokens_scopes(api):
    response = api.get("/patients", scopes="read:stores read:orders")
    assert response.json() == {
        "message": "Insufficient permissions. The scope 'read:patients' is required for this "
        "operation.",
        "required_scope": "read:patients",
        "available_scopes": ["read:orders", "read:stores"],
    }


@pytest.mark.storage_independent  # refused from the token and path alone
@pytest.mark.parametrize(("method", "path", "scope"), ROUTES)
def test_a_practice_the_token_was_not_granted_is_403(api, world, method, path, scope):
    response = api.call(method, below(path), client_id=world.other_practice_id, json={})
    assert (
        error(response, 403)
        == f"You are not authorized to access client_id {world.other_practice_id}"
    )


def test_an_unknown_practice_is_403_with_its_number(api):
    response = api.get("/patients", client_id=1234567890)
    assert error(response, 403) == "You are not authorized to access client_id 1234567890"


@pytest.mark.storage_independent  # refused from the token and path alone
@pytest.mark.parametrize(("method", "path", "scope"), ROUTES)
@pytest.mark.parametrize("client_id", ["abc", "12a", "-1", "1.5", "9" * 30])
def test_a_client_id_that_is_not_an_integer_is_400(api, method, path, scope, client_id):
    response = api.call(method, below(path), client_id=client_id, json={})
    assert error(response, 400) == NOT_AN_INTEGER


def test_a_token_granted_several_practices_acts_for_the_one_in_the_path(api, world):
    token = api.token(practices=[world.other_practice_id, world.practice_id])
    mine = api.get("/patients", token=token)
    theirs = api.get("/patients", token=token, client_id=world.other_practice_id)
    assert mine.json()["pagination"]["total_count"] == 3
    assert theirs.json()["pagination"]["total_count"] == 1


def test_without_a_token_it_is_401_in_the_envelope(client, world):
    response = client.get(f"/v2/{world.practice_id}/patients")
    assert error(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_an_unknown_route_is_404_in_the_envelope(api):
    assert error(api.get("/appointments-that-do-not-exist"), 404)


@pytest.mark.parametrize("resource", ["patients", "stores", "employees", "orders"])
@pytest.mark.parametrize("raw", ["not-a-guid", "158b7b59-1c32-43d8-95b1-7f347fbd25e9"])
def test_an_unknown_or_malformed_id_is_404(api, resource, raw):
    assert error(api.get(f"/{resource}/{raw}"), 404)


@pytest.mark.parametrize(
    ("resource", "key"),
    [("patients", "patient"), ("stores", "store"), ("employees", "employee")],
)
def test_another_practices_record_is_not_found(api, world, resource, key):
    assert error(api.get(f"/{resource}/{world.other[key]}"), 404)
