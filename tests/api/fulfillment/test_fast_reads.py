"""The order list and detail on the kit's fast path (``kit.fast``) answer exactly as the
framework routes do (body, pagination headers, refusals), and leave everything else to
them: a filter, an order named by its number or external id."""

from __future__ import annotations

import uuid

import pytest

from tests.api.fast_paths import record_fast_answers
from tests.api.fulfillment.conftest import BASE
from tests.api.fulfillment.test_lists_and_reads import place

# An unknown query parameter: the route ignores it, the fast read leaves the request to it.
VIA_ROUTE = "ignored=1"
PAGE_HEADERS = ("X-Total-Count", "X-Page", "X-Page-Size", "X-Total-Pages", "X-Remaining-Count")


@pytest.fixture
def served(app) -> list[bool]:
    """Whether each fulfillment request was answered on the fast path."""
    return record_fast_answers(app, lambda path: path.startswith(BASE))


def _links(response) -> dict[str, str]:
    return {
        part.split('rel="')[1].rstrip('"'): part.split(">")[0].lstrip("<")
        for part in response.headers["Link"].split(", ")
    }


@pytest.mark.parametrize(
    "query", ["", "per_page=2", "per_page=2&page=2", "page=3&per_page=2", "page=9"]
)
def test_the_list_is_the_routes_page_with_the_same_headers(api, world, served, query):
    place(api, world, 5)
    served.clear()
    fast = api.get(f"/orders?{query}")
    route = api.get(f"/orders?{query}&{VIA_ROUTE}" if query else f"/orders?{VIA_ROUTE}")
    assert served == [True, False]
    assert fast.status_code == route.status_code == 200
    assert fast.content == route.content
    for name in (*PAGE_HEADERS, "content-type"):
        assert fast.headers[name] == route.headers[name], name
    expected = {
        rel: link.replace(f"{VIA_ROUTE}&", "").replace(f"&{VIA_ROUTE}", "")
        for rel, link in _links(route).items()
    }
    assert _links(fast) == expected


def test_one_order_by_id_is_the_routes_document(api, world, served):
    made = place(api, world, 2)
    served.clear()
    for order in made:
        fast = api.get(f"/orders/{order['id']}")
        route = api.get(f"/orders/{order['id']}?{VIA_ROUTE}")
        assert fast.status_code == route.status_code == 200
        assert fast.content == route.content
    assert served == [True, False] * len(made)


def test_numbers_external_ids_and_unknown_ids_go_to_the_route(api, world, served):
    made = place(api, world, 1)
    served.clear()
    by_number = api.get(f"/orders/{made[0]['order_number']}")
    by_external = api.get("/orders/EXT-0")
    unknown = api.get(f"/orders/{uuid.uuid4()}")
    assert by_number.json()["id"] == by_external.json()["id"] == made[0]["id"]
    assert unknown.status_code == 404
    assert served == [False, False, False]


@pytest.mark.parametrize(
    "query",
    ["status=received", "per_page=0", "per_page=201", "page=0", "page=abc", "page=1&page=2"],
)
def test_other_queries_go_to_the_route(api, world, served, query):
    place(api, world, 1)
    served.clear()
    api.get(f"/orders?{query}")
    assert served == [False]


def test_refusals_are_rendered_as_the_route_renders_them(client, world, issue_token, served):
    wrong = issue_token([world.practice_id], "fulfillment:write")
    both = issue_token([world.practice_id, world.other_practice_id], "fulfillment:read")
    for path in (f"{BASE}/orders", f"{BASE}/orders/{uuid.uuid4()}"):
        for headers in (
            {},
            {"Authorization": "Bearer nope"},
            {"Authorization": f"Bearer {wrong}"},
            {"Authorization": f"Bearer {both}"},
        ):
            fast = client.get(path, headers=headers)
            route = client.get(f"{path}?{VIA_ROUTE}", headers=headers)
            assert fast.status_code == route.status_code and fast.status_code in (401, 403)
            assert fast.json() == route.json()
            assert fast.headers.get("www-authenticate") == route.headers.get("www-authenticate")
