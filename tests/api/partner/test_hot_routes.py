"""The hot routes (the order list and detail answered before the framework on their happy
path) answer exactly as the framework routes do, and leave everything else to them."""

from __future__ import annotations

import uuid

import pytest
from prometheus_client import generate_latest

from optihub.domain.orders import OrderStatus
from optihub.reads import orders as order_reads
from optihub.reads.orders import OrderFilter, Sort
from optihub.surfaces.partner.mapping import HIDDEN
from tests.api.fast_paths import record_fast_answers
from tests.api.partner.conftest import BASE

# An unknown query parameter: the framework route ignores it, the hot route declines the
# request, so the same request goes the framework's way.
VIA_FRAMEWORK = "ignored=1"
COMPARED_HEADERS = ("content-type", "content-length")


@pytest.fixture
def served(app) -> list[bool]:
    """Whether each request was answered by a hot route (True) or left to the app."""
    return record_fast_answers(app, lambda path: path.startswith(BASE))


def _same(hot, framework) -> None:
    assert hot.status_code == framework.status_code == 200
    assert hot.content == framework.content
    for name in COMPARED_HEADERS:
        assert hot.headers[name] == framework.headers[name]
    assert hot.headers["x-request-id"].startswith("req_")
    assert "set-cookie" not in hot.headers


@pytest.mark.parametrize("query", ["", "limit=2", "limit=2&offset=1", "offset=2", "limit=100"])
def test_list_is_the_framework_routes_page(client, shop, auth, served, query):
    headers = auth()
    hot = client.get(f"{BASE}/orders?{query}", headers=headers)
    framework = client.get(f"{BASE}/orders?{query}&{VIA_FRAMEWORK}", headers=headers)
    _same(hot, framework)
    assert served == [True, False]


def test_detail_is_the_framework_routes_document(client, shop, auth, served):
    headers = auth()
    for order_id in shop.orders:
        hot = client.get(f"{BASE}/orders/{order_id}", headers=headers)
        framework = client.get(f"{BASE}/orders/{order_id}?{VIA_FRAMEWORK}", headers=headers)
        _same(hot, framework)
    upper = client.get(f"{BASE}/orders/{str(shop.orders[0]).upper()}", headers=headers)
    assert upper.json()["id"] == str(shop.orders[0])
    assert served == [True, False] * len(shop.orders) + [True]


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("limit=0", 400),
        ("limit=101", 400),
        ("limit=abc", 400),
        ("offset=-1", 400),
        ("limit=2&limit=3", 200),
        ("status=pending", 200),
    ],
)
def test_list_refusals_and_other_queries_are_the_framework_routes(
    client, shop, auth, served, query, status
):
    headers = auth()
    response = client.get(f"{BASE}/orders?{query}", headers=headers)
    assert response.status_code == status
    framework = client.get(f"{BASE}/orders?{query}&{VIA_FRAMEWORK}", headers=headers)
    assert response.content == framework.content
    assert served == [False, False]


def test_refusals_are_rendered_once_as_the_framework_routes_render_them(
    client, shop, auth, issue_token, served
):
    both = issue_token([shop.practice_id, shop.other_practice_id], "orders:read")
    cases = [
        ({}, 401),
        ({"Authorization": "Bearer nope"}, 401),
        (auth("frames:read"), 403),
        ({"Authorization": f"Bearer {both}"}, 403),
    ]
    paths = [f"{BASE}/orders", f"{BASE}/orders/{shop.orders[0]}", f"{BASE}/orders/{uuid.uuid4()}"]
    for path in paths:
        for headers, status in cases:
            fast = client.get(path, headers=headers)
            framework = client.get(f"{path}?{VIA_FRAMEWORK}", headers=headers)
            assert fast.status_code == framework.status_code == status
            assert fast.json() == framework.json()
            for name in ("content-type", "www-authenticate"):
                assert fast.headers.get(name) == framework.headers.get(name), name
    assert served == [True, False] * len(paths) * len(cases)


def test_detail_of_a_foreign_draft_or_missing_order_is_404(client, shop, auth):
    headers = auth()
    for order_id in (shop.foreign_order, shop.draft_order, uuid.uuid4()):
        response = client.get(f"{BASE}/orders/{order_id}", headers=headers)
        assert response.status_code == 404


def test_hot_requests_are_counted_under_the_route_template(client, shop, auth):
    client.get(f"{BASE}/orders/{shop.orders[0]}", headers=auth())
    client.get(f"{BASE}/orders?limit=1", headers=auth())
    # Under the framework route's own template (its full path), as the route would be.
    client.get(f"{BASE}/orders?limit=1&ignored=1", headers=auth())
    body = generate_latest().decode()  # what /metrics serves (to the operator's token)
    assert f'route="{BASE}/orders/{{order_id}}",status="200"' in body
    assert f'route="{BASE}/orders",status="200"' in body
    assert 'route="/orders/{order_id}",status="200"' not in body


@pytest.mark.parametrize(
    "statuses",
    [None, [OrderStatus.RECEIVED.value], [OrderStatus.RECEIVED.value, OrderStatus.DRAFT.value]],
)
@pytest.mark.parametrize(("limit", "offset"), [(2, 0), (50, 0), (1, 2)])
def test_stored_page_is_the_core_page(db, app, shop, statuses, limit, offset):
    # ``app``: the partner projection is registered when its surface is installed.
    flt = OrderFilter(statuses=statuses, hidden_statuses=HIDDEN)
    hot = order_reads.stored_page(db, shop.practice_id, "partner", flt, limit=limit, offset=offset)
    with db.reading() as reader:
        core = order_reads.page(
            reader, shop.practice_id, "partner", flt, limit=limit, offset=offset
        )
    assert (hot.items, hot.total) == (core.items, core.total)


def test_stored_page_of_a_poll_is_the_core_page(db, app, shop):
    flt = OrderFilter(hidden_statuses=HIDDEN, updated_since=None, after=None)
    hot = order_reads.stored_page(
        db, shop.practice_id, "partner", flt, limit=5, sort=Sort.UPDATED, with_last=True
    )
    with db.reading() as reader:
        core = order_reads.page(
            reader, shop.practice_id, "partner", flt, limit=5, sort=Sort.UPDATED, with_last=True
        )
    assert hot == core


def test_stored_detail_is_the_core_detail(db, app, shop):
    for order_id in shop.orders:
        hot = order_reads.stored_detail(db, shop.practice_id, "partner", order_id, HIDDEN)
        with db.reading() as reader:
            core = order_reads.detail(reader, shop.practice_id, "partner", order_id, HIDDEN)
        assert hot == core
