"""The board served again from its copy (``dashboard.board_copies``), and never stale: a
page is rendered once and then answered from the copy while nothing it shows changed;
each kind of change below makes the next request render it again, showing the change."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from optihub.dashboard import board as board_page
from optihub.dashboard import board_copies
from optihub.db.models import (
    Lab,
    LabAccount,
    Location,
    Membership,
    OAuthClient,
    Patient,
    Practice,
    User,
)
from optihub.domain.orders import OrderStatus
from optihub.services.context import Actor
from optihub.services.orders import NewOrder, change_order_status, place_order
from tests import factories
from tests.api.dashboard.test_board import BOARD, OWNER, build_world, rows, sign_in, tab_counts


class Renders:
    """How many times the route rendered the board (the copy is served without it)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = board_page.render

        def counting(*args, **kwargs):
            self.count += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(board_page, "render", counting)


@pytest.fixture
def world(db):
    return build_world(db)


@pytest.fixture
def renders(monkeypatch) -> Renders:
    return Renders(monkeypatch)


def _load_twice(client, renders: Renders, path: str = BOARD):
    first = client.get(path)
    second = client.get(path)
    assert first.status_code == second.status_code == 200
    return first, second


def test_an_unchanged_board_is_served_again_with_the_same_bytes_and_headers(client, world, renders):
    sign_in(client, OWNER)
    first, second = _load_twice(client, renders)
    assert renders.count == 1, "the second request was rendered again"
    assert second.content == first.content
    for header in (
        "content-type",
        "cache-control",
        "vary",
        "content-security-policy",
        "x-frame-options",
        "x-content-type-options",
        "referrer-policy",
    ):
        assert second.headers[header] == first.headers[header], header
    assert second.headers["x-request-id"] != first.headers["x-request-id"]
    assert "set-cookie" not in second.headers
    # Another query string is another page: rendered, then served again.
    _load_twice(client, renders, BOARD + "?status=in_progress")
    assert renders.count == 2


def test_a_status_move_shows_at_once(client, db, world, renders):
    sign_in(client, OWNER)
    before, _ = _load_twice(client, renders)
    assert tab_counts(before.text)["Ready for pickup"] == "0"
    with db.transaction() as s:
        change_order_status(
            s, factories.actor(world.practice_id), world.orders["chen"], OrderStatus.IN_PROGRESS
        )
    after = client.get(BOARD)
    assert renders.count == 2
    assert tab_counts(after.text)["Received"] == "1"
    assert tab_counts(after.text)["At the lab"] == "2"


def test_a_patient_renamed_shows_at_once(client, db, world, renders):
    sign_in(client, OWNER)
    _load_twice(client, renders)
    with db.transaction() as s:
        patient = s.scalars(select(Patient).where(Patient.last_name == "Chen")).one()
        patient.last_name = "Chen-Okafor"
    assert any("Wei Chen-Okafor" in row for row in rows(client.get(BOARD).text))
    assert renders.count == 2


def test_a_new_location_shows_in_the_filter_at_once(client, db, world, renders):
    sign_in(client, OWNER)
    _load_twice(client, renders)
    with db.transaction() as s:
        factories.location(s, world.practice_id, "Quayside")
    assert ">Quayside</option>" in client.get(BOARD).text
    assert renders.count == 2


def test_a_location_renamed_shows_at_once(client, db, world, renders):
    sign_in(client, OWNER)
    _load_twice(client, renders)
    with db.transaction() as s:
        location = s.get(Location, world.location_id)
        location.name = "Main Street East"
    page = client.get(BOARD)
    assert any("Main Street East" in row for row in rows(page.text))
    assert renders.count == 2


def test_a_lab_renamed_shows_at_once(client, db, world, renders):
    with db.transaction() as s:
        lab = factories_lab(s, world)
    sign_in(client, OWNER)
    _load_twice(client, renders)
    with db.transaction() as s:
        s.get(Lab, lab).name = "Coastline Optical Lab"
    assert ">Coastline Optical Lab</option>" in client.get(BOARD).text
    assert renders.count == 2


def factories_lab(s, world) -> object:
    lab = Lab(name="Seaside Lab", code="SEA")
    s.add(lab)
    s.flush()
    s.add(LabAccount(practice_id=world.practice_id, lab_id=lab.id, account_number="A-1"))
    return lab.id


def test_an_app_renamed_shows_at_once(client, db, world, renders):
    with db.transaction() as s:
        s.add(OAuthClient(client_id="clearview", name="Clearview PMS"))
        s.flush()
        actor = Actor(world.practice_id, via="practice", client_id="clearview", label="app")
        place_order(s, actor, NewOrder())
    sign_in(client, OWNER)
    first, _ = _load_twice(client, renders)
    assert "Clearview PMS" in first.text
    with db.transaction() as s:
        app = s.scalars(select(OAuthClient).where(OAuthClient.client_id == "clearview")).one()
        app.name = "Clearview Practice"
    assert "Clearview Practice" in client.get(BOARD).text
    assert renders.count == 2


@pytest.mark.parametrize(
    "change",
    [
        ("practice", "name", "Harbor Optical & Contact Lenses"),
        ("practice", "timezone", "Europe/London"),
        ("practice", "overdue_days", {"received": 30}),
        ("user", "first_name", "Dana-Marie"),
        ("membership", "role", "staff"),
    ],
)
def test_a_change_to_the_practice_or_the_user_shows_at_once(client, db, world, renders, change):
    sign_in(client, OWNER)
    _load_twice(client, renders)
    what, field, value = change
    with db.transaction() as s:
        user = s.scalars(select(User).where(User.email == OWNER)).one()
        target = {
            "practice": lambda: s.get(Practice, world.practice_id),
            "user": lambda: user,
            "membership": lambda: s.get(Membership, (world.practice_id, user.id)),
        }[what]()
        setattr(target, field, value)
    client.get(BOARD)
    assert renders.count == 2


def test_a_signed_out_session_gets_no_copy(client, world, renders):
    sign_in(client, OWNER)
    _load_twice(client, renders)
    kept = dict(client.cookies)
    page = client.get(BOARD)
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    assert client.post("/logout", data={"csrf_token": token}).status_code in (200, 303)
    client.cookies.clear()
    for name, value in kept.items():
        client.cookies.set(name, value)
    replayed = client.get(BOARD, follow_redirects=False)
    assert replayed.status_code == 303
    assert replayed.headers["location"].startswith("/login")


def test_a_tampered_cookie_gets_no_copy(client, world, renders):
    sign_in(client, OWNER)
    _load_twice(client, renders)
    value = client.cookies["optihub_session"]
    client.cookies.clear()
    client.cookies.set("optihub_session", value[:-2] + ("AA" if value[-2:] != "AA" else "BB"))
    response = client.get(BOARD, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_the_page_is_rendered_again_when_a_days_count_turns_over(
    client, world, renders, monkeypatch
):
    sign_in(client, OWNER)
    _load_twice(client, renders)
    assert renders.count == 1
    later = time.time() + 24 * 3600  # the copies' clock only: the cookie's stays true
    monkeypatch.setattr(board_copies, "time", SimpleNamespace(time=lambda: later))
    assert client.get(BOARD).status_code == 200
    assert renders.count == 2


def test_a_page_with_a_message_to_show_is_never_a_copy(client, db, world, renders):
    sign_in(client, OWNER)
    _load_twice(client, renders)
    with db.transaction() as s:
        other = s.get(Practice, world.other_practice_id)
        user = s.scalars(select(User).where(User.email == OWNER)).one()
        s.add(Membership(practice_id=other.id, user_id=user.id, role="staff"))
    page = client.get(BOARD)
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    switched = client.post(
        "/dashboard/practice",
        data={"csrf_token": token, "practice_id": str(world.practice_id)},
        follow_redirects=False,
    )
    assert switched.status_code == 303
    shown = client.get(BOARD)
    assert "You are working in Harbor Optical." in shown.text
    again = client.get(BOARD)
    assert "You are working in Harbor Optical." not in again.text


def test_a_refused_query_is_not_kept(client, world, renders):
    sign_in(client, OWNER)
    for _ in range(2):
        assert client.get(BOARD, params={"from": "yesterday"}).status_code == 400
    assert renders.count == 2


def test_the_counts_the_open_board_polls_are_kept_and_never_stale(client, db, world, monkeypatch):
    calls = []
    original = board_page.board_reads.counts

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(board_page.board_reads, "counts", counting)
    sign_in(client, OWNER)
    counts = BOARD + "/counts?status=received"
    first, second = client.get(counts), client.get(counts)
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json() and first.json()["in_progress"] == "1"
    assert second.headers["content-type"] == "application/json"
    assert second.headers["cache-control"] == "no-store"
    assert len(calls) == 1
    with db.transaction() as s:
        change_order_status(
            s, factories.actor(world.practice_id), world.orders["chen"], OrderStatus.IN_PROGRESS
        )
    assert client.get(counts).json()["in_progress"] == "2"
    assert len(calls) == 2
