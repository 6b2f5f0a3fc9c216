"""100 requests a minute per module (patients, stores, orders…) per OAuth client."""

from __future__ import annotations

from tests.api.practice.conftest import error


def test_a_module_over_its_budget_is_429_while_others_still_answer(api):
    token = api.token()
    for _ in range(100):
        assert api.get("/stores", token=token).status_code == 200
    refused = api.get("/stores", token=token)
    assert error(refused, 429)
    assert int(refused.headers["retry-after"]) >= 1
    # Another module of the same client, and the same module's single-object route...
    assert api.get("/patients", token=token).status_code == 200
    assert error(api.get("/stores/not-a-guid", token=token), 429)


def test_the_budget_is_per_client(api, issue_token, world):
    token = api.token()
    for _ in range(100):
        api.get("/employees", token=token)
    assert api.get("/employees", token=token).status_code == 429
    other_app = issue_token(world.practice_id, "read:employees", client_id="another-app")
    assert api.get("/employees", token=other_app).status_code == 200
