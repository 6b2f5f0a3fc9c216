"""The orders board (/dashboard/orders): the landing page of a practice's staff.

Orders are placed through the services as each channel would place them; the page is read
with the app's TestClient and a signed-in session."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from sqlalchemy import update

from optihub.db.models import Order
from optihub.domain.orders import OrderStatus
from optihub.services import users
from optihub.services.orders import NewOrder, change_order_status, place_order
from tests import factories
from tests.api.dashboard.conftest import sign_in_as

PASSWORD = "harbor-password-1"
OWNER = "dana@harbor.test"
OTHER = "hugo@hilltop.test"
BOARD = "/dashboard/orders"


@dataclass
class World:
    practice_id: int
    other_practice_id: int
    orders: dict[str, uuid.UUID]
    numbers: dict[str, str]
    location_id: uuid.UUID


def _place(session, practice_id: int, via: str, **fields) -> Order:
    return place_order(session, factories.actor(practice_id, via=via), NewOrder(**fields))


@pytest.fixture
def world(db) -> World:
    return build_world(db)


def build_world(db) -> World:
    """Two practices; Harbor Optical's orders came through four channels."""
    orders: dict[str, uuid.UUID] = {}
    numbers: dict[str, str] = {}
    with db.transaction() as s:
        practice = factories.practice(s, "Harbor Optical")
        other = factories.practice(s, "Hilltop Vision")
        for practice_id, email in ((practice.id, OWNER), (other.id, OTHER)):
            users.create_user(
                s, email=email, password=PASSWORD, practice_id=practice_id, role="owner"
            )
        main = factories.location(s, practice.id, "Main Street")
        harbor = factories.location(s, practice.id, "Harbor Point")
        garcia = factories.patient(s, practice.id, first_name="Maria", last_name="Garcia")
        chen = factories.patient(s, practice.id, first_name="Wei", last_name="Chen")
        stranger = factories.patient(s, other.id, first_name="Maria", last_name="Garcia")

        def keep(key: str, order: Order) -> None:
            orders[key], numbers[key] = order.id, order.number

        keep("garcia", _place(s, practice.id, "partner", patient_id=garcia.id, location_id=main.id))
        keep(
            "chen",
            _place(
                s,
                practice.id,
                "labs",
                patient_id=chen.id,
                location_id=harbor.id,
                external_id="EXT-77",
                lab_fields={"tray_number": "T-4411", "invoice_number": "INV-9001"},
            ),
        )
        keep("draft", _place(s, practice.id, "dashboard", status=OrderStatus.DRAFT))
        at_lab = _place(s, practice.id, "portal", patient_id=chen.id)
        change_order_status(s, factories.actor(practice.id), at_lab.id, OrderStatus.IN_PROGRESS)
        keep("at_lab", at_lab)
        keep("foreign", _place(s, other.id, "partner", patient_id=stranger.id))
    # The Garcia order has waited in "received" for five days (the default limit is two).
    with db.transaction() as s:
        s.execute(
            update(Order)
            .where(Order.id == orders["garcia"])
            .values(status_changed_at=datetime.now(UTC) - timedelta(days=5))
        )
    return World(practice.id, other.id, orders, numbers, main.id)


def sign_in(client, email: str) -> None:
    sign_in_as(client, email, PASSWORD)


def rows(html: str) -> list[str]:
    """The board's rows as plain text."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in html else ""
    return [
        " ".join(unescape(re.sub(r"<[^>]+>", " ", row)).split())
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def tab_counts(html: str) -> dict[str, str]:
    found = re.findall(
        r'>([A-Za-z ]+)<span class="count" data-status="[a-z_]+">([^<]+)</span>', html
    )
    return dict(found)


def test_home_and_dashboard_lead_to_the_board_or_to_sign_in(client, world):
    home = client.get("/", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"].startswith("/login")
    board = client.get(BOARD, follow_redirects=False)
    assert board.headers["location"] == "/login?next=%2Fdashboard%2Forders"
    sign_in(client, OWNER)
    assert client.get("/", follow_redirects=False).headers["location"] == BOARD
    assert client.get("/dashboard", follow_redirects=False).headers["location"] == BOARD


def test_signing_in_lands_on_the_board_in_the_shell(client, world):
    sign_in(client, OWNER)
    page = client.get(BOARD)
    assert page.status_code == 200
    assert '<span class="practice">Harbor Optical</span>' in page.text
    assert 'aria-current="page">Orders</a>' in page.text
    assert "Sign out" in page.text and "Owner" in page.text
    assert tab_counts(page.text) == {
        "Draft": "1",
        "Received": "2",
        "At the lab": "1",
        "Ready for pickup": "0",
        "Shipped": "0",
        "Delivered": "0",
        "Cancelled": "0",
    }


def test_a_column_lists_the_longest_waiting_first_with_channel_days_and_overdue(client, world):
    sign_in(client, OWNER)
    listed = rows(client.get(BOARD + "?status=received").text)
    assert len(listed) == 2
    garcia, chen = listed
    assert garcia.startswith(world.numbers["garcia"]) and "Maria Garcia" in garcia
    assert "Partner API" in garcia and "Main Street" in garcia
    assert " 5 Overdue" in garcia
    assert chen.startswith(world.numbers["chen"]) and "Tray T-4411" in chen
    assert "Lab ordering API" in chen and "Overdue" not in chen and " 0 " in chen
    at_lab = rows(client.get(BOARD + "?status=in_progress").text)
    assert len(at_lab) == 1 and "Patient portal sync" in at_lab[0]
    draft = client.get(BOARD + "?status=draft").text
    assert f'href="/dashboard/drafts/{world.orders["draft"]}"' in draft
    assert "Dashboard" in rows(draft)[0]


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("garcia", {"garcia"}),
        ("MARIA GARCIA", {"garcia"}),
        ("Garcia, Maria", {"garcia"}),
        ("Wei", {"chen", "at_lab"}),
        ("T-4411", {"chen"}),
        ("INV-9001", {"chen"}),
        ("EXT-77", {"chen"}),
        ("number", set()),
    ],
)
def test_search_finds_orders_by_name_and_numbers_in_every_status(client, world, term, expected):
    sign_in(client, OWNER)
    page = client.get(BOARD, params={"q": term})
    assert page.status_code == 200
    found = {key for key, number in world.numbers.items() if number in page.text}
    assert found == expected
    if expected:
        assert f"Orders matching “{term}”" in unescape(page.text)
    else:
        assert "No order matches" in unescape(page.text)


def test_search_by_order_number(client, world):
    sign_in(client, OWNER)
    page = client.get(BOARD, params={"q": world.numbers["at_lab"]})
    listed = rows(page.text)
    assert len(listed) == 1 and "At the lab" in listed[0]


def test_filters_narrow_the_columns_and_their_counts(client, world):
    sign_in(client, OWNER)
    by_location = client.get(BOARD, params={"status": "received", "location": world.location_id})
    assert [r.split()[0] for r in rows(by_location.text)] == [world.numbers["garcia"]]
    assert tab_counts(by_location.text)["Received"] == "1"
    by_channel = client.get(BOARD, params={"status": "received", "channel": "labs"})
    assert [r.split()[0] for r in rows(by_channel.text)] == [world.numbers["chen"]]
    tomorrow = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    future = client.get(BOARD, params={"status": "received", "from": tomorrow})
    assert rows(future.text) == [] and "No orders here." in future.text


def test_bad_filters_are_refused_in_words_and_kept_as_typed(client, world):
    sign_in(client, OWNER)
    page = client.get(BOARD, params={"status": "lost", "from": "last tuesday", "lab": "x"})
    assert page.status_code == 400
    text = unescape(page.text)
    assert "Choose one of the board's columns." in text
    assert "The start date is not a date (YYYY-MM-DD)." in text
    assert "Choose a lab from the list." in text
    assert 'value="last tuesday"' in page.text


def test_another_practice_sees_only_its_own_orders(client, world):
    sign_in(client, OTHER)
    page = client.get(BOARD, params={"q": "Maria Garcia"})
    found = {key for key, number in world.numbers.items() if number in page.text}
    assert found == {"foreign"}
    assert "Hilltop Vision" in page.text and "Harbor Optical" not in page.text


def test_paging_walks_a_column_without_repeats(client, db, world):
    with db.transaction() as s:
        for _ in range(55):
            _place(s, world.practice_id, "practice")
    sign_in(client, OWNER)
    first = client.get(BOARD, params={"status": "received"})
    next_link = re.search(r'<a href="([^"]+)">Next page</a>', first.text)
    assert next_link is not None
    second = client.get(unescape(next_link[1]))
    numbers_first = [r.split()[0] for r in rows(first.text)]
    numbers_second = [r.split()[0] for r in rows(second.text)]
    assert len(numbers_first) == 50 and len(numbers_second) == 7
    assert not set(numbers_first) & set(numbers_second)
    assert "Next page" not in second.text and "First page" in second.text


def test_the_counts_refresh_in_place_under_the_same_filters(client, db, world):
    assert client.get(BOARD + "/counts").status_code == 401
    sign_in(client, OWNER)
    page = client.get(BOARD, params={"status": "received", "channel": "labs"})
    url = unescape(re.search(r'data-counts="([^"]+)"', page.text)[1])
    assert url == "/dashboard/orders/counts?status=received&channel=labs"
    assert client.get(url).json()["received"] == "1"
    with db.transaction() as s:
        _place(s, world.practice_id, "labs")
    counts = client.get(url)
    assert counts.headers["cache-control"] == "no-store"
    assert counts.json() == {
        "draft": "0",
        "received": "2",
        "in_progress": "0",
        "completed": "0",
        "shipped": "0",
        "delivered": "0",
        "cancelled": "0",
    }
    assert client.get(BOARD + "/counts", params={"from": "soon"}).status_code == 400
