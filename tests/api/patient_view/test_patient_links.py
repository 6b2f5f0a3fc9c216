"""The patient's link: made and revoked on the order page, opened at /p/{token} with no
account. What it shows, what it never shows, and how an expired, revoked, tampered or
unknown link answers."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from optihub.db.base import utcnow
from optihub.db.models import AuditEntry, PatientLink
from optihub.domain.orders import OrderStatus
from optihub.services import patient_links
from optihub.services.context import Actor
from tests.api.dashboard.conftest import Agent, text_of
from tests.api.patient_view import world as w


@pytest.fixture
def world(db) -> w.PatientWorld:
    return w.build(db)


def _agent(client, email: str) -> Agent:
    return Agent(client).sign_in(email)


def _order_page(agent: Agent, order_id) -> str:
    response = agent.get(f"/dashboard/orders/{order_id}")
    assert response.status_code == 200, response.text
    return response.text


def _link_on(page: str) -> str:
    found = re.search(r'id="patient-link-address">http://testserver(/p/[A-Za-z0-9_-]+)<', page)
    assert found is not None, "no patient link on the order page"
    return found[1]


def _make_link(agent: Agent, order_id) -> str:
    response = agent.post(f"/dashboard/orders/{order_id}/patient-link")
    assert response.status_code == 303, response.text
    return _link_on(_order_page(agent, order_id))


def test_staff_make_a_link_and_the_patient_sees_progress_pickup_and_rx(client, world, db):
    staff = _agent(client, w.STAFF)
    before = _order_page(staff, world.order_id)
    assert "Create a link for the patient" in before
    path = _make_link(staff, world.order_id)
    assert len(path) == len("/p/") + patient_links.TOKEN_LENGTH

    page = client.get(path)
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Harbor Optical" in text
    assert "Jordan, your glasses" in text
    assert "Your order is being made at the lab." in text
    # Progress in plain words, each step reached with its day.
    today = utcnow().astimezone(ZoneInfo("America/New_York"))
    day = f"{today.day} {today:%b %Y}"
    assert re.search(rf"Ordered {day} .*At the lab {day} .*Ready for pickup .*Picked up", text)
    assert 'aria-current="step"' in page.text
    # Where and when to pick it up.
    assert "Harbor Optical Main Street" in text
    assert "12 Main Street, Portland ME 04101" in text
    assert "Mon\u2013Fri 9:00\u201317:30" in text and "Sat 10:00\u201314:00" in text
    # The Rx as opticians write it.
    assert "+2.00" in text and f"{w.MINUS}0.75 × 090" in text
    assert f"{w.MINUS}0.50 × 180" in text and "+1.75" in text
    assert "1.00 Δ BI" in text
    assert "Binocular PD 63.5 mm" in text
    assert "Issued 2 Nov 2026, valid until 2 Nov 2028" in text
    # The synced PDF, byte for byte.
    assert f'href="{path}/prescription.pdf"' in page.text
    pdf = client.get(f"{path}/prescription.pdf")
    assert pdf.status_code == 200
    assert pdf.content == w.PDF
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("attachment")
    assert pdf.headers["cache-control"] == "no-store"

    with db.transaction() as s:
        audited = s.scalars(select(AuditEntry.action)).all()
    assert "patient_link.created" in audited


def test_the_page_follows_the_order_to_ready_and_picked_up(client, world, db):
    path = _make_link(_agent(client, w.STAFF), world.order_id)
    w.move(db, world, OrderStatus.COMPLETED)
    text = text_of(client.get(path).text)
    assert "Your order is ready for pickup." in text
    w.move(db, world, OrderStatus.DELIVERED)
    text = text_of(client.get(path).text)
    assert "Your order has been picked up." in text
    assert re.search(r"Picked up \d+ \w{3} \d{4}", text)


def test_the_page_carries_private_headers_and_no_cookie(client, world):
    path = _make_link(_agent(client, w.STAFF), world.order_id)
    client.cookies.clear()
    for url in (path, f"{path}/prescription.pdf", "/p/" + "A" * 44, "/p/short"):
        response = client.get(url)
        assert response.headers["cache-control"] == "no-store", url
        assert "noindex" in response.headers["x-robots-tag"], url
        assert response.headers["referrer-policy"] == "no-referrer", url
        assert "set-cookie" not in response.headers, url


def test_nothing_else_of_the_patient_or_practice_is_reachable(client, world):
    path = _make_link(_agent(client, w.STAFF), world.order_id)
    page = client.get(path).text
    # The only addresses on the page: its stylesheet and its own PDF.
    assert set(re.findall(r'(?:href|src|action)="([^"]*)"', page)) == {
        "/static/patient/patient.css",
        f"{path}/prescription.pdf",
        f"{path}/prescription.json",
    }
    for secret in (
        str(world.order_id),
        str(world.patient_id),
        str(world.second_order_id),
        str(world.location_id),
        world.order_number,
        world.second_order_number,
        "Rivera",  # the last name
        w.PATIENT_EMAIL,
        "Sam",  # staff
        "Olivia",
        "Hilltop",
        "Sunglasses",
        "320",  # prices
        "dashboard",
    ):
        assert secret not in page, secret
    # The token opens nothing under the staff or API paths.
    token = path.removeprefix("/p/")
    staff_page = client.get(f"/dashboard/orders/{world.order_id}?t={token}", follow_redirects=False)
    assert staff_page.status_code == 303
    assert staff_page.headers["location"].startswith("/login")
    assert client.get(f"/p/{token}/{world.second_order_id}").status_code == 404


def test_revoked_link_is_gone_with_no_data(client, world, db):
    staff = _agent(client, w.STAFF)
    path = _make_link(staff, world.order_id)
    with db.transaction() as s:
        link_id = s.scalar(select(PatientLink.id))
    response = staff.post(f"/dashboard/orders/{world.order_id}/patient-link/{link_id}/revoke")
    assert response.status_code == 303
    for url in (path, f"{path}/prescription.pdf", f"{path}/prescription.json"):
        gone = client.get(url)
        assert gone.status_code == 410
        assert "This link is no longer active" in gone.text
        assert "Harbor" not in gone.text and "Jordan" not in gone.text
        assert "%PDF" not in gone.text
        assert gone.headers["cache-control"] == "no-store"
    after = text_of(_order_page(staff, world.order_id))
    assert "Create a link for the patient" in after
    assert "Revoked" in after and "by Sam Harbor" in after


def test_expired_link_is_gone_with_no_data(client, world, db):
    key = client.app.state.patient_link_key
    with db.transaction() as s:
        issued = patient_links.create_link(
            s,
            Actor(practice_id=world.practice_id, via="dashboard"),
            world.order_id,
            key,
            now=utcnow() - patient_links.LINK_LIFETIME - timedelta(minutes=1),
        )
    gone = client.get(f"/p/{issued.token}")
    assert gone.status_code == 410
    assert "This link has expired" in gone.text
    assert "Harbor" not in gone.text and "Jordan" not in gone.text
    # A day before its end it still works (the lifetime is 30 days).
    with db.transaction() as s:
        fresh = patient_links.create_link(
            s,
            Actor(practice_id=world.practice_id, via="dashboard"),
            world.order_id,
            key,
            now=utcnow() - timedelta(days=29),
        )
    assert client.get(f"/p/{fresh.token}").status_code == 200


def test_tampered_unknown_and_malformed_links_are_not_found(client, world, db):
    path = _make_link(_agent(client, w.STAFF), world.order_id)
    token = path.removeprefix("/p/")
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    other_nonce = ("B" if token[0] != "B" else "C") + token[1:]
    for bad in (flipped, other_nonce, token[:-2], token + "x", "A" * 44, "not-a-token", "%00"):
        response = client.get(f"/p/{bad}")
        assert response.status_code == 404, bad
        assert "This link does not work" in response.text
        assert "Harbor" not in response.text
        assert client.get(f"/p/{bad}/prescription.pdf").status_code == 404
    # A correctly signed token of a link that was never stored (another instance key
    # would not sign it; this one did, but the database has no such link).
    key = client.app.state.patient_link_key
    assert client.get(f"/p/{key.token('Q' * 22)}").status_code == 404


def test_the_database_holds_no_token(client, world, db):
    path = _make_link(_agent(client, w.STAFF), world.order_id)
    token = path.removeprefix("/p/")
    with db.transaction() as s:
        link = s.scalars(select(PatientLink)).one()
        assert token not in (link.token_hash, link.nonce)
        assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert link.expires_at - link.created_at == timedelta(days=30)


def test_another_practice_cannot_make_or_revoke_this_orders_links(client, world, db):
    staff = _agent(client, w.STAFF)
    _make_link(staff, world.order_id)
    with db.transaction() as s:
        link_id = s.scalar(select(PatientLink.id))
    outsider = _agent(client, w.OTHER_OWNER)
    made = outsider.post(f"/dashboard/orders/{world.order_id}/patient-link")
    assert made.status_code == 404
    revoked = outsider.post(f"/dashboard/orders/{world.order_id}/patient-link/{link_id}/revoke")
    assert revoked.status_code == 404
    # Nor through its own order's address.
    revoked = outsider.post(
        f"/dashboard/orders/{world.other_order_id}/patient-link/{link_id}/revoke"
    )
    assert revoked.status_code == 404
    with db.transaction() as s:
        assert s.scalars(select(PatientLink)).one().revoked_at is None
        assert len(s.scalars(select(PatientLink)).all()) == 1


def test_a_second_link_is_not_made_while_one_is_live(client, world, db):
    staff = _agent(client, w.STAFF)
    first = _make_link(staff, world.order_id)
    again = staff.post(f"/dashboard/orders/{world.order_id}/patient-link")
    assert again.status_code == 303
    page = _order_page(staff, world.order_id)
    assert "has a live link already" in page
    assert _link_on(page) == first
    with db.transaction() as s:
        assert len(s.scalars(select(PatientLink)).all()) == 1


def test_forms_need_the_csrf_token(client, world, db):
    staff = _agent(client, w.STAFF)
    refused = staff.post(f"/dashboard/orders/{world.order_id}/patient-link", csrf=False)
    assert refused.status_code == 403
    with db.transaction() as s:
        assert s.scalars(select(PatientLink)).all() == []


def test_an_order_without_its_own_rx_shows_the_patients_synced_prescription(client, world):
    """Orders synced from a practice-management system name no prescription: the page
    shows the patient's latest spectacle prescription issued by the order's day, and its
    PDF."""
    path = _make_link(_agent(client, w.STAFF), world.second_order_id)
    page = client.get(path)
    text = text_of(page.text)
    assert f"{w.MINUS}0.75 × 090" in text and "Issued 2 Nov 2026" in text
    assert client.get(f"{path}/prescription.pdf").content == w.PDF
    assert "Sunglasses" not in text and "Progressive" not in text


def test_the_prescription_downloads_as_fhir_r5_json(client, world):
    from tests.api.fhir.conftest import valid

    path = _make_link(_agent(client, w.STAFF), world.order_id)
    assert f'href="{path}/prescription.json"' in client.get(path).text
    download = client.get(f"{path}/prescription.json")
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("application/fhir+json")
    assert download.headers["content-disposition"].startswith("attachment")
    assert download.headers["cache-control"] == "no-store"
    resource = download.json()
    valid(resource)  # a valid R5 resource, its codes checked too
    assert resource["resourceType"] == "VisionPrescription" and resource["status"] == "active"
    right = next(s for s in resource["lensSpecification"] if s["eye"] == "right")
    assert (right["sphere"], right["cylinder"], right["axis"], right["add"]) == (2, -0.75, 90, 2)
    assert right["prism"] == [{"amount": 1, "base": "in"}]
    # The same resource a clinical system reads through /fhir/r5 for this prescription.
    assert f"/p/{world.order_id}" not in download.text
