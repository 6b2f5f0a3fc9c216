"""The order list (newest first) and one order on the kit's fast path (``kit.fast``):
they answer exactly as the routes do, from the stored documents, under the same rate
limit; filters, another sort and every refusal of the list grammar stay the routes'."""

from __future__ import annotations

import pytest

from tests.api.fast_paths import record_fast_answers
from tests.api.practice.test_orders import order_body

# The default sort, given: the route answers it (the fast path takes page and page_size).
VIA_ROUTE = "sort=-create_date"


@pytest.fixture
def served(app) -> list[bool]:
    """Whether each practice request was answered on the fast path."""
    return record_fast_answers(app, lambda path: path.startswith("/v2/"))


@pytest.fixture
def orders(api, world) -> list[dict]:
    made = []
    for n in range(7):
        response = api.post("/orders", json=order_body(world, external_id=f"EC-{n}"))
        assert response.status_code == 201, response.text
        made.append(response.json())
    return made


@pytest.mark.parametrize(
    "query", ["", "page_size=5", "page=2&page_size=5", "page_size=250", "page=9&page_size=5"]
)
def test_the_list_is_the_routes_page(api, orders, served, query):
    served.clear()
    fast = api.get(f"/orders?{query}")
    route = api.get(f"/orders?{query}&{VIA_ROUTE}" if query else f"/orders?{VIA_ROUTE}")
    assert fast.status_code == route.status_code == 200
    assert fast.content == route.content
    assert served == [True, False]


def test_one_order_is_the_routes_document(api, orders, served):
    served.clear()
    for order in orders[:3]:
        fast = api.get(f"/orders/{order['order_id']}")
        route = api.get(f"/orders/{order['order_id']}?ignored=1")
        assert fast.status_code == route.status_code == 200
        assert fast.content == route.content == api.get(f"/orders/{order['order_id']}").content
    assert served[:2] == [True, False]


@pytest.mark.parametrize(
    "query",
    ["status=received", "page_size=4", "page_size=251", "page=0", "unknown=1", "sort=create_date"],
)
def test_other_queries_go_to_the_route(api, orders, served, query):
    served.clear()
    api.get(f"/orders?{query}")
    assert served == [False]


def test_refusals_are_rendered_as_the_route_renders_them(api, world, orders, served):
    cases = [
        ({"token": "nope"}, 401),
        ({"scopes": "read:patients"}, 403),
        ({"client_id": world.other_practice_id}, 403),
        ({"client_id": "abc"}, 400),
    ]
    for kwargs, status in cases:
        for path in ("/orders", f"/orders/{orders[0]['order_id']}"):
            fast = api.get(path, **kwargs)
            route = api.get(
                f"{path}?{VIA_ROUTE}" if path == "/orders" else f"{path}?ignored=1", **kwargs
            )
            assert fast.status_code == route.status_code == status, (kwargs, path)
            assert fast.json() == route.json()


def test_the_fast_path_counts_against_the_same_rate_limit(api, world, served, monkeypatch, app):
    surface = next(s for s in app.state.surfaces if s.name == "practice")
    monkeypatch.setattr(surface, "rate_limit", "3/minute")
    statuses = [api.get("/orders").status_code for _ in range(3)]
    over = api.get("/orders")
    assert statuses == [200, 200, 200]
    assert over.status_code == 429 and over.headers.get("retry-after")
    assert over.json() == api.get(f"/orders?{VIA_ROUTE}").json()
