"""The lab-order list on the kit's fast path (``kit.fast``): a lab account's newest
orders answer exactly as the route does, from the stored documents; cursors, time filters
and every check the route makes with its own message (User-Email, the account) stay the
route's."""

from __future__ import annotations

import pytest

from tests.api.fast_paths import record_fast_answers
from tests.api.labs.test_orders import ORDERS, listed  # noqa: F401 (the fixture)

VIA_ROUTE = "ignored=1"


@pytest.fixture
def served(app) -> list[bool]:
    """Whether each lab-order list request was answered on the fast path."""
    return record_fast_answers(app, lambda path: path == ORDERS)


def _query(lab_world, account="PX-1", **extra) -> str:
    from urllib.parse import urlencode

    return urlencode({"lab": lab_world.labs["precision"], "account_number": account, **extra})


@pytest.mark.parametrize("extra", [{}, {"limit": 3}, {"limit": 100}, {"limit": 12}, {"limit": 11}])
def test_the_newest_orders_are_the_routes_page(lab, lab_world, listed, served, extra):  # noqa: F811
    query = _query(lab_world, **extra)
    fast = lab.get(f"{ORDERS}?{query}")
    route = lab.get(f"{ORDERS}?{query}&{VIA_ROUTE}")
    assert fast.status_code == route.status_code == 200
    assert fast.json() == route.json()
    assert fast.headers["content-type"] == route.headers["content-type"]
    assert served == [True, False]


def test_an_empty_account_lists_nothing(lab, lab_world, served):
    fast = lab.get(f"{ORDERS}?{_query(lab_world)}")
    assert fast.status_code == 200 and fast.json() == {"has_more": False, "data": []}
    assert served == [True]


@pytest.mark.parametrize(
    ("headers", "account", "status"),
    [
        ({"User-Email": ""}, "PX-1", 400),
        ({"User-Email": "nobody@elsewhere.test"}, "PX-1", 403),
        ({}, "NO-SUCH", 404),
    ],
)
def test_the_routes_own_checks_stay_the_routes(
    lab,
    lab_world,
    listed,  # noqa: F811
    served,
    headers,
    account,
    status,
):
    response = lab.get(f"{ORDERS}?{_query(lab_world, account)}", headers=headers)
    assert response.status_code == status
    assert served == [False]


@pytest.mark.parametrize(
    "extra",
    [
        {"starting_after": "ord_00000000000000000000000000000000"},
        {"created[gt]": 0},
        {"limit": 0},
        {"limit": 101},
    ],
)
def test_other_queries_go_to_the_route(lab, lab_world, listed, served, extra):  # noqa: F811
    lab.get(f"{ORDERS}?{_query(lab_world, **extra)}")
    assert served == [False]


def test_a_malformed_lab_id_goes_to_the_route(lab, lab_world, served):
    response = lab.get(f"{ORDERS}?lab=precision&account_number=PX-1")
    assert response.status_code == 404
    assert served == [False]


def test_refusals_are_rendered_as_the_route_renders_them(https, lab_world, served):
    query = _query(lab_world)
    for headers in ({}, {"Authorization": "Bearer nope"}):
        fast = https.get(f"{ORDERS}?{query}", headers=headers)
        route = https.get(f"{ORDERS}?{query}&{VIA_ROUTE}", headers=headers)
        assert fast.status_code == route.status_code == 401
        assert fast.json() == route.json()
        assert fast.headers.get("www-authenticate") == route.headers.get("www-authenticate")
    assert served == [True, False, True, False]


def _deactivate(db, email: str) -> None:
    from sqlalchemy import update

    from optihub.db.models import User

    with db.transaction() as s:
        s.execute(update(User).where(User.email == email.lower()).values(is_active=False))


def test_a_kept_page_is_served_only_to_the_callers_the_route_admits(
    lab,
    lab_world,
    listed,  # noqa: F811
    served,
    db,
):
    """The acting user and the account are read with the order version, before any kept
    copy of the page: a page read for one caller is never served to one the route refuses,
    and a user deactivated since is refused at once (the order version unchanged)."""
    query = _query(lab_world)
    first = lab.get(f"{ORDERS}?{query}")
    again = lab.get(f"{ORDERS}?{query}")  # from the copy
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    stranger = lab.get(f"{ORDERS}?{query}", headers={"User-Email": "nobody@elsewhere.test"})
    assert stranger.status_code == 403
    other_account = lab.get(f"{ORDERS}?{_query(lab_world, 'NO-SUCH')}")
    assert other_account.status_code == 404
    assert served == [True, True, False, False]
    _deactivate(db, "Optician@Harbor.example")
    refused = lab.get(f"{ORDERS}?{query}")
    assert refused.status_code == 403
    assert served[-1] is False


def test_the_user_email_is_matched_in_any_case_and_trimmed(lab, lab_world, listed, served):  # noqa: F811
    query = _query(lab_world)
    response = lab.get(f"{ORDERS}?{query}", headers={"User-Email": "  OPTICIAN@harbor.EXAMPLE "})
    assert response.status_code == 200
    assert len(response.json()["data"]) == 10
    assert served == [True]
