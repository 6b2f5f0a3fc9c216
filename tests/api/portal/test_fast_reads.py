"""``GET /api/Orders?externalId=`` on the kit's fast path (``kit.fast``): it answers exactly
as the route does, and a copy kept under the practice's order version is never served once
anything the record shows has changed (the order elsewhere, the synced record, the status
names, the practice's status mapping)."""

from __future__ import annotations

import pytest

from optihub.domain.orders import OrderStatus
from optihub.services import orders as order_service
from optihub.services import status_names
from optihub.services.context import Actor
from tests.api.fast_paths import record_fast_answers
from tests.api.portal.test_orders import order, stored

# Any other parameter sends the request to the route: the reference it is compared with.
VIA_ROUTE = {"ignored": "1"}


@pytest.fixture
def served(app) -> list[bool]:
    return record_fast_answers(app, lambda path: path.startswith("/api/Orders"))


@pytest.fixture
def placed(basics, post) -> dict:
    response = post("Orders", order("S-LAB", receiptNote="Anti-glare, pick up after 3pm"))
    assert response.status_code == 200, response.text
    return response.json()


def both(get, external_id: str = "O1", **kw):
    fast = get("Orders", external_id, **kw)
    params = {**VIA_ROUTE, **kw.pop("params", {})}
    route = get("Orders", external_id, params=params, **kw)
    return fast, route


def test_the_record_is_the_routes_and_is_answered_fast(placed, get, served) -> None:
    served.clear()
    fast, route = both(get)
    again = get("Orders", "O1")
    assert fast.status_code == route.status_code == again.status_code == 200
    assert fast.content == route.content == again.content
    assert fast.headers["content-type"] == route.headers["content-type"]
    assert fast.json()["externalId"] == "O1"
    assert served == [True, False, True]


def test_xml_an_unknown_id_and_a_blank_id_go_to_the_route(placed, get, served) -> None:
    served.clear()
    xml = get("Orders", "O1", headers={"Accept": "application/xml"})
    assert xml.status_code == 200 and xml.headers["content-type"].startswith("application/xml")
    missing = get("Orders", "NOPE")
    assert missing.status_code == 404
    assert "No order with ExternalId 'NOPE' exists." in missing.text
    blank = get("Orders", " ")
    assert blank.status_code == 400
    assert served == [False, False, False]


def test_refusals_are_rendered_as_the_route_renders_them(placed, get, sync, served) -> None:
    for kwargs, status in (({"token": "nope"}, 401), ({"token": sync.other_token}, 404)):
        fast, route = both(get, **kwargs)
        assert fast.status_code == route.status_code == status, kwargs
        assert fast.json() == route.json()


def test_a_status_moved_elsewhere_shows_at_once(placed, get, db, sync) -> None:
    before = get("Orders", "O1").json()
    lab = Actor(practice_id=sync.practice_id, via="test", label="lab")
    with db.transaction() as s:
        order_service.change_order_status(s, lab, stored(db).id, OrderStatus.COMPLETED)
    fast, route = both(get)
    assert fast.content == route.content
    assert fast.json()["orderStatusExternalId"] != before["orderStatusExternalId"]


def test_a_new_upsert_of_the_record_shows_at_once(placed, post, get) -> None:
    get("Orders", "O1")
    response = post("Orders", order("S-LAB", receiptNote="Changed: pick up Saturday"))
    assert response.headers["X-Portal-Change"] == "updated"
    fast, route = both(get)
    assert fast.json()["receiptNote"] == "Changed: pick up Saturday"
    assert fast.content == route.content


def test_the_status_names_and_the_practices_mapping_show_at_once(placed, get, post, db, sync):
    lab = Actor(practice_id=sync.practice_id, via="test", label="lab")
    with db.transaction() as s:
        order_service.change_order_status(s, lab, stored(db).id, OrderStatus.COMPLETED)
    shown = get("Orders", "O1").json()["orderStatusExternalId"]
    # A new status name that means "completed", sorting first, is the one shown.
    assert post("OrderStatuses", {"externalId": "A-0", "name": "Done"}).status_code == 200
    with db.transaction() as s:
        status_names.set_status_mapping(s, sync.practice_id, "Done", OrderStatus.COMPLETED)
    fast, route = both(get)
    assert fast.content == route.content
    assert fast.json()["orderStatusExternalId"] == "A-0" != shown


def test_the_fast_path_counts_against_the_same_rate_limit(placed, get, app, monkeypatch) -> None:
    surface = next(s for s in app.state.surfaces if s.name == "portal")
    monkeypatch.setattr(surface, "rate_limit", "2/minute")
    statuses = [get("Orders", "O1").status_code for _ in range(2)]
    over = get("Orders", "O1")
    assert statuses == [200, 200]
    assert over.status_code == 429 and over.headers.get("retry-after")
