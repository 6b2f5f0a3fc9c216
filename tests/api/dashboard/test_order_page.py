"""The order page: GET /dashboard/orders/{id} and its forms (move on, cancel, replacement).

The order is placed through the services as the partner API would place it, moved once by
a lab's app, and fanned out to a webhook subscriber; the page is read and driven with the
app's TestClient and a signed-in session, as staff use it."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from html import unescape
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from optihub.db.base import utcnow
from optihub.db.models import (
    AuditEntry,
    Event,
    Order,
    OrderStatusChange,
    Practice,
    WebhookDelivery,
    WebhookSubscription,
)
from optihub.domain import rx as rx_rules
from optihub.domain.orders import OrderStatus
from optihub.events.relay import relay_events
from optihub.services import orders as order_service
from optihub.services import users
from optihub.services.context import Actor
from tests import factories
from tests.api.dashboard.conftest import sign_in_as

STAFF = "optician@harbor.example"
MANAGER = "manager@harbor.example"
OWNER = "owner@harbor.example"
OTHER = "someone@hilltop.example"
PASSWORD = "harbor-password-1"
MINUS = "\u2212"


@dataclass
class OrderWorld:
    practice_id: int
    other_practice_id: int
    order_id: uuid.UUID
    number: str


def _rx() -> rx_rules.SpectacleRx:
    return rx_rules.SpectacleRx(
        right=rx_rules.EyeRx(
            sphere=Decimal("2.00"),
            cylinder=Decimal("-0.75"),
            axis=90,
            add=Decimal("2.25"),
            prism_horizontal=rx_rules.Prism(Decimal("1.00"), "in"),
            distance_pd=Decimal("32"),
            near_pd=Decimal("30.5"),
            seg_height=Decimal("18"),
        ),
        left=rx_rules.EyeRx(
            sphere=Decimal("-1.75"),
            add=Decimal("2.25"),
            prism_vertical=rx_rules.Prism(Decimal("0.50"), "up"),
            distance_pd=Decimal("31.5"),
            near_pd=Decimal("30"),
            seg_height=Decimal("18"),
        ),
    )


def place_world(db, testdata: Path, *, tracing: bool = True) -> OrderWorld:
    """Harbor Optical (New York time) with staff, a manager and an owner; Hilltop Vision
    beside it. One order placed through the partner API by an app, then sent to the lab by
    the lab's app."""
    with db.transaction() as s:
        practice = factories.practice(s, "Harbor Optical")
        other = factories.practice(s, "Hilltop Vision")
        s.get_one(Practice, practice.id).timezone = "America/New_York"
        for email, role, first, last in (
            (STAFF, "staff", "Olive", "Optician"),
            (MANAGER, "manager", "Max", "Manager"),
            (OWNER, "owner", "Oona", "Owner"),
        ):
            users.create_user(
                s,
                email=email,
                password=PASSWORD,
                practice_id=practice.id,
                role=role,
                first_name=first,
                last_name=last,
            )
        users.create_user(s, email=OTHER, password=PASSWORD, practice_id=other.id, role="owner")
        patient = factories.patient(
            s,
            practice.id,
            first_name="Grace",
            last_name="Hopper",
            email="grace@example.com",
            phone="6175550199",
            date_of_birth=date(1966, 12, 9),
        )
        location = factories.location(s, practice.id, "Harbor Street")
        app = Actor(practice_id=practice.id, via="partner", label="Acme PMS (app)")
        order = order_service.place_order(
            s,
            app,
            order_service.NewOrder(
                patient_id=patient.id,
                location_id=location.id,
                rx=_rx(),
                multifocal=True,
                frame_details={
                    "brand": "Ray-Ban",
                    "model": "RB5154 Clubmaster",
                    "color": "Tortoise",
                    "material": "zyl",
                    "eye_size": 55,
                    "bridge": 18,
                    "temple": 140,
                    "a": "55.0",
                    "b": "38.0",
                    "ed": "58.5",
                },
                frame_tracing=(
                    (testdata / "oma" / "lens_protocol-R360_1.oma").read_text() if tracing else None
                ),
                lens={
                    "style": "Comfort Progressive",
                    "material": "Polycarbonate",
                    "color": "Clear",
                    "coats": ["Basic AR", "Blue Filter"],
                    "tint": None,
                },
                lines=[
                    order_service.LineItem("Ray-Ban RB5154", 1, Decimal("189.00"), kind="frame"),
                    order_service.LineItem(
                        "Progressive lenses (pair)",
                        1,
                        Decimal("320.00"),
                        kind="lens",
                        tax=Decimal("20.00"),
                    ),
                ],
                amount_paid=Decimal("150.00"),
            ),
        )
        lab_app = Actor(practice_id=practice.id, via="labs", label="Precision Lab connector")
        order_service.change_order_status(s, lab_app, order.id, OrderStatus.IN_PROGRESS)
        world = OrderWorld(practice.id, other.id, order.id, order.number)
    return world


@pytest.fixture
def world(db, testdata) -> OrderWorld:
    return place_world(db, testdata)


def sign_in(client, email: str) -> None:
    sign_in_as(client, email, PASSWORD)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found[1]


def text_of(html: str) -> str:
    """What a reader sees: tags dropped, entities read, spaces collapsed."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def section(html: str, heading_id: str) -> str:
    """The text of the page's section titled by ``heading_id``."""
    found = re.search(
        rf'<section[^>]*aria-labelledby="{heading_id}".*?</section>', html, flags=re.DOTALL
    )
    assert found is not None, heading_id
    return text_of(found[0])


def url(world: OrderWorld) -> str:
    return f"/dashboard/orders/{world.order_id}"


def order_row(db, order_id: uuid.UUID) -> Order:
    with Session(db.engine) as s:
        order = s.get(Order, order_id)
    assert order is not None
    return order


def count(db, model) -> int:
    with db.reading() as reader:
        return int(reader.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
def staff(client, world):
    sign_in(client, STAFF)
    return client


# -- what the page shows ----------------------------------------------------------------------


def test_the_page_shows_patient_rx_frame_lens_and_money_in_the_trade_words(staff, world):
    page = staff.get(url(world))
    assert page.status_code == 200, page.text
    html = page.text
    assert f"<h1>Order {world.number}" in html
    heading = text_of(re.search(r"<h1>.*?</h1>", html, flags=re.DOTALL)[0])  # type: ignore[index]
    assert heading == f"Order {world.number} At the lab"
    assert "placed" in text_of(html) and "through Partner API" in text_of(html)

    patient = section(html, "patient-title")
    assert "Grace Hopper" in patient and "9 Dec 1966" in patient
    today = datetime.now(UTC).date()
    age = today.year - 1966 - ((today.month, today.day) < (12, 9))
    assert f"(age {age})" in patient or f"(age {age - 1})" in patient  # New York's date
    assert "6175550199" in patient and "grace@example.com" in patient

    rx = section(html, "rx-title")
    # OD: +2.00 −0.75 × 090, add +2.25, 1.00 Δ BI; OS: sphere only, 0.50 Δ BU.
    assert f"OD +2.00 {MINUS}0.75 × 090 +2.25 1.00 Δ BI 32 30.5 18" in rx
    assert f"OS {MINUS}1.75 DS — +2.25 0.50 Δ BU 31.5 30 18" in rx
    assert "Binocular PD 63.5 mm (near 60.5 mm)." in rx
    assert "Written in minus cylinder form" in rx
    # Never a field path, an enum value or a hyphen-minus for a power.
    for raw in ("distance_pd", "prism_horizontal", "in_progress", "-0.75", "-1.75"):
        assert raw not in text_of(html)

    frame = section(html, "frame-title")
    assert "Ray-Ban RB5154 Clubmaster 55□18 140" in frame
    assert "Material Zyl (acetate)" in frame and "Colour Tortoise" in frame
    for figure in ("A (eye size) 55 mm", "B 38 mm", "DBL (bridge) 18 mm", "ED 58.5 mm"):
        assert figure in frame
    assert "Temple 140 mm" in frame and "Eye size" not in frame.replace("A (eye size)", "")
    # The tracing, drawn, with its own A and B (the box of the traced shape) and the frame's DBL.
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in html and 'data-side="R"' in html
    assert "A 55.00 mm · B 38.01 mm · DBL 18 mm" in frame

    lens = section(html, "lens-title")
    assert "Style Comfort Progressive" in lens and "Material Polycarbonate" in lens
    assert "Colour Clear" in lens and "Coatings Basic AR, Blue Filter" in lens

    money = section(html, "lines-title")
    assert "Ray-Ban RB5154 1 $189.00 — $189.00" in money
    assert "Progressive lenses (pair) 1 $320.00 $20.00 $320.00" in money
    assert "Subtotal $509.00 Tax $20.00 Total $529.00 Paid $150.00 Balance $379.00" in money


def test_transposition_shows_the_same_lens_in_plus_cylinder_form(staff, world):
    plus = staff.get(url(world) + "?cyl=plus")
    assert plus.status_code == 200
    rx = section(plus.text, "rx-title")
    # +2.00 −0.75 × 090 is +1.25 +0.75 × 180; the sphere-only eye does not change.
    assert "OD +1.25 +0.75 × 180" in rx
    assert f"OS {MINUS}1.75 DS" in rx
    assert "Shown in plus cylinder form (the same lens)" in rx
    assert re.search(r'href="[^"]*\?cyl=plus#rx" aria-current="true">Plus cylinder', plus.text)

    minus = section(staff.get(url(world) + "?cyl=minus").text, "rx-title")
    assert f"OD +2.00 {MINUS}0.75 × 090" in minus
    # An unknown form is the Rx as written.
    written = section(staff.get(url(world) + "?cyl=sideways").text, "rx-title")
    assert f"OD +2.00 {MINUS}0.75 × 090" in written and "Written in minus" in written
    # The stored Rx is untouched.
    assert order_row(staff.app.state.db, world.order_id).rx_snapshot["right"]["axis"] == 90


def test_history_says_who_moved_the_order_when_and_through_which_channel(staff, world, db):
    html = staff.get(url(world)).text
    history = section(html, "history-title")
    # Newest first, in the practice's time (New York), with the dialects' titles.
    with Session(db.engine) as s:
        changes = s.scalars(
            select(OrderStatusChange)
            .where(OrderStatusChange.order_id == world.order_id)
            .order_by(OrderStatusChange.id)
        ).all()
    from zoneinfo import ZoneInfo

    moved = changes[-1].at.astimezone(ZoneInfo("America/New_York"))
    when = f"{moved.day} {moved:%b %Y, %H:%M}"
    assert f"Received → At the lab {when} Precision Lab connector Lab ordering API" in history, (
        history
    )
    assert "Placed as Received" in history and "Acme PMS (app) Partner API" in history
    assert history.index("At the lab") < history.index("Placed as Received")


def test_deliveries_the_order_caused_are_listed_with_their_outcome(staff, world, db):
    with db.transaction() as s:
        subscription = WebhookSubscription(
            practice_id=world.practice_id,
            surface="partner",
            url="https://pms.example/hooks/optihub",
            events=["*"],
            description="Acme PMS",
            secret_ciphertext="not-used",
        )
        s.add(subscription)
        s.flush()
        relay_events(s, utcnow(), staff.app.state.surfaces.webhook_renderers())
    with db.transaction() as s:
        deliveries = s.scalars(
            select(WebhookDelivery).order_by(WebhookDelivery.created_at, WebhookDelivery.id)
        ).all()
        codes = {d.event_code for d in deliveries}
        assert len(deliveries) >= 2, codes
        created = next(d for d in deliveries if "created" in d.event_code)
        created.status, created.attempt_count, created.last_response_code = "delivered", 1, 200
        created.delivered_at = datetime.now(UTC)
        changed = next(d for d in deliveries if "status" in d.event_code)
        changed.attempt_count, changed.last_response_code = 3, 503
        changed.last_error = "HTTP 503"
    # An event of another order of the practice is not this order's.
    with db.transaction() as s:
        order_service.place_order(
            s, factories.actor(world.practice_id), order_service.NewOrder(type="other")
        )

    html = staff.get(url(world)).text
    trail = section(html, "deliveries-title")
    assert "Order placed" in trail and "Status changed Received → At the lab" in trail
    assert trail.count("https://pms.example/hooks/optihub") == len(deliveries)
    assert "Partner API · Acme PMS" in trail
    assert re.search(r"Delivered 1 HTTP 200", trail)
    assert re.search(r"Retrying .*? 3 HTTP 503", trail)
    assert trail.count("Order placed") == 1


def test_an_event_without_subscribers_says_so(staff, world):
    trail = section(staff.get(url(world)).text, "deliveries-title")
    assert "Order placed" in trail and "Waiting to be sent to subscribed apps." in trail


def test_an_order_without_rx_frame_or_tracing_says_so(staff, world, db):
    with db.transaction() as s:
        bare = order_service.place_order(
            s, factories.actor(world.practice_id), order_service.NewOrder(type="other")
        )
    html = staff.get(f"/dashboard/orders/{bare.id}").text
    assert "No prescription with this order." in html and "No frame with this order." in html
    assert "No lens chosen." in html and "No patient on this order." in html
    assert "<svg" not in html


# -- moving the order -------------------------------------------------------------------------


def test_moving_the_order_on_goes_through_the_service(staff, world, db):
    html = staff.get(url(world)).text
    actions = section(html, "actions-title")
    assert "Mark ready for pickup" in actions and "Mark shipped" in actions
    assert "Cancel order" in actions
    events = count(db, Event)
    response = staff.post(
        url(world) + "/status",
        data={"csrf_token": csrf_of(html), "from": "in_progress", "to": "completed"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == url(world)
    assert order_row(db, world.order_id).status == "completed"
    with Session(db.engine) as s:
        last = s.scalars(
            select(OrderStatusChange)
            .where(OrderStatusChange.order_id == world.order_id)
            .order_by(OrderStatusChange.id.desc())
        ).first()
        emitted = s.scalars(
            select(Event).where(Event.type == "order.status_changed").order_by(Event.created_at)
        ).all()
        completed = s.scalars(select(Event).where(Event.type == "order.completed")).all()
    assert last is not None
    assert (last.from_status, last.to_status, last.via) == ("in_progress", "completed", "dashboard")
    assert last.actor_label == f"Olive Optician <{STAFF}>"
    assert (emitted[-1].data["id"], emitted[-1].data["previous_status"]) == (
        str(world.order_id),
        "in_progress",
    )
    assert emitted[-1].data["status"] == "completed" and len(completed) == 1
    assert count(db, Event) == events + 2

    page = staff.get(url(world)).text
    assert f"Order {world.number} is now Ready for pickup." in page
    history = section(page, "history-title")
    assert history.startswith("Status history Change When By Through At the lab → Ready")
    assert "Olive Optician <optician@harbor.example> Dashboard" in history


@pytest.mark.parametrize("email", [MANAGER, OWNER])
def test_managers_and_owners_move_orders_too(client, world, db, email):
    sign_in(client, email)
    html = client.get(url(world)).text
    response = client.post(
        url(world) + "/status",
        data={"csrf_token": csrf_of(html), "from": "in_progress", "to": "shipped"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert order_row(db, world.order_id).status == "shipped"


def test_an_illegal_move_is_refused_and_nothing_is_written(staff, world, db):
    html = staff.get(url(world)).text
    before = order_row(db, world.order_id)
    events, changes, audits = count(db, Event), count(db, OrderStatusChange), count(db, AuditEntry)
    response = staff.post(
        url(world) + "/status",
        data={"csrf_token": csrf_of(html), "from": "in_progress", "to": "delivered"},
        follow_redirects=False,
    )
    assert response.status_code == 409
    problem = text_of(re.search(r'<div class="problems".*?</div>', response.text, re.DOTALL)[0])  # type: ignore[index]
    assert problem == (
        "Not done An order that is At the lab cannot become Delivered. From At the lab it can go "
        "to: Ready for pickup, Shipped, Cancelled. Nothing was changed."
    )
    assert 'role="alert"' in response.text
    after = order_row(db, world.order_id)
    assert after.status == "in_progress" and after.updated_at == before.updated_at
    assert (count(db, Event), count(db, OrderStatusChange), count(db, AuditEntry)) == (
        events,
        changes,
        audits,
    )

    nonsense = staff.post(
        url(world) + "/status",
        data={"csrf_token": csrf_of(html), "from": "in_progress", "to": "teleported"},
    )
    assert nonsense.status_code == 400 and "Choose one of the moves" in nonsense.text
    assert order_row(db, world.order_id).status == "in_progress"


def test_a_move_from_a_status_the_order_has_left_is_refused(staff, world, db):
    html = staff.get(url(world)).text
    response = staff.post(
        url(world) + "/status",
        data={"csrf_token": csrf_of(html), "from": "received", "to": "in_progress"},
    )
    assert response.status_code == 409
    assert "Someone changed this order meanwhile: it is now At the lab." in response.text
    assert count(db, OrderStatusChange) == 2


def test_cancelling_records_the_reason(staff, world, db):
    html = staff.get(url(world)).text
    response = staff.post(
        url(world) + "/status",
        data={
            "csrf_token": csrf_of(html),
            "from": "in_progress",
            "to": "cancelled",
            "note": "Patient moved away",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert order_row(db, world.order_id).status == "cancelled"
    page = staff.get(url(world)).text
    assert f"Order {world.number} was cancelled." in page
    assert "At the lab → Cancelled “Patient moved away”" in section(page, "history-title")
    assert "its journey is over" in section(page, "actions-title")
    # A closed order offers no move; a forged one is refused.
    refused = staff.post(
        url(world) + "/status",
        data={"csrf_token": csrf_of(page), "from": "cancelled", "to": "received"},
    )
    assert refused.status_code == 409 and "It is closed" in refused.text


def test_a_replacement_of_a_delivered_order_is_requested_then_made(staff, world, db):
    with db.transaction() as s:
        for target in (OrderStatus.SHIPPED, OrderStatus.DELIVERED):
            order_service.change_order_status(
                s, factories.actor(world.practice_id), world.order_id, target
            )
    html = staff.get(url(world)).text
    assert "Request a redo or replacement" in html
    empty = staff.post(url(world) + "/replacement", data={"csrf_token": csrf_of(html)})
    assert empty.status_code == 400 and "Say why a replacement is needed" in empty.text
    response = staff.post(
        url(world) + "/replacement",
        data={"csrf_token": csrf_of(html), "reason": "Lab error: wrong axis"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    original = order_row(db, world.order_id)
    assert original.replacement_request_status == "pending"
    with Session(db.engine) as s:
        asked = s.scalars(select(Event).where(Event.type == "order.replacement_requested")).all()
    assert [e.data["reason"] for e in asked] == ["Lab error: wrong axis"]

    page = staff.get(url(world)).text
    actions = section(page, "actions-title")
    assert "Replacement requested, waiting for a decision : “Lab error: wrong axis”" in actions
    assert "Request a redo or replacement" not in actions
    made = staff.post(
        url(world) + "/replacement/make", data={"csrf_token": csrf_of(page)}, follow_redirects=False
    )
    assert made.status_code == 303
    new_url = made.headers["location"]
    assert new_url != url(world)
    new_page = staff.get(new_url).text
    assert "Replacement order" in new_page and "Replaces" in new_page
    assert order_row(db, world.order_id).replacement_request_status == "fulfilled"


def test_a_replacement_cannot_be_asked_before_shipping(staff, world, db):
    html = staff.get(url(world)).text
    assert "Request a redo or replacement" not in html
    response = staff.post(
        url(world) + "/replacement", data={"csrf_token": csrf_of(html), "reason": "Scratched"}
    )
    assert response.status_code == 409 and "a replacement can be requested once it" in response.text
    assert order_row(db, world.order_id).replacement_request_status is None


# -- refusals ---------------------------------------------------------------------------------


def test_forms_without_their_csrf_token_are_refused(staff, world, db):
    for data in (
        {"from": "in_progress", "to": "completed"},
        {"csrf_token": "forged", "to": "completed"},
    ):
        response = staff.post(url(world) + "/status", data=data, follow_redirects=False)
        assert response.status_code == 403
    assert staff.post(url(world) + "/replacement", data={"reason": "x"}).status_code == 403
    assert order_row(db, world.order_id).status == "in_progress"
    assert count(db, OrderStatusChange) == 2


def test_another_practice_an_unknown_and_a_malformed_id_are_not_found(client, world, db):
    sign_in(client, OTHER)
    html = client.get("/dashboard/orders").text
    foreign = client.get(url(world))
    assert foreign.status_code == 404 and "No such order" in foreign.text
    assert world.number not in foreign.text
    moved = client.post(
        url(world) + "/status",
        data={"csrf_token": csrf_of(html), "from": "in_progress", "to": "cancelled"},
    )
    assert moved.status_code == 404
    assert order_row(db, world.order_id).status == "in_progress"

    client.cookies.clear()
    sign_in(client, STAFF)
    assert client.get(f"/dashboard/orders/{uuid.uuid4()}").status_code == 404
    malformed = client.get("/dashboard/orders/not-an-order")
    assert malformed.status_code == 404 and "No such order" in malformed.text


def test_anonymous_visitors_are_sent_to_sign_in(client, world, db):
    page = client.get(url(world), follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == f"/login?next=%2Fdashboard%2Forders%2F{world.order_id}"
    # A form posted without a session is refused (no CSRF token to match).
    posted = client.post(url(world) + "/status", data={"to": "completed"}, follow_redirects=False)
    assert posted.status_code == 403
    assert order_row(db, world.order_id).status == "in_progress"


def test_a_draft_goes_to_its_review_page(staff, world, db):
    with db.transaction() as s:
        draft = order_service.place_order(
            s,
            factories.actor(world.practice_id),
            order_service.NewOrder(type="other", status=OrderStatus.DRAFT),
        )
    response = staff.get(f"/dashboard/orders/{draft.id}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/dashboard/drafts/{draft.id}"
    # A draft is submitted on its review page (the lab's rules), not moved from here.
    html = staff.get(url(world)).text
    moved = staff.post(
        f"/dashboard/orders/{draft.id}/status",
        data={"csrf_token": csrf_of(html), "from": "draft", "to": "received"},
        follow_redirects=False,
    )
    assert moved.status_code == 303
    assert moved.headers["location"] == f"/dashboard/drafts/{draft.id}"
    assert order_row(db, draft.id).status == "draft"


def test_age_counts_whole_years():
    from optihub.dashboard.order_page import age_on

    assert age_on(date(1966, 12, 9), date(2026, 12, 8)) == 59
    assert age_on(date(1966, 12, 9), date(2026, 12, 9)) == 60
    assert age_on(None, date(2026, 12, 9)) is None
    assert age_on(date(2030, 1, 1), date(2026, 12, 9)) is None
