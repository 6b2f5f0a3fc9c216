"""The settings page (/dashboard/settings): the owner changes the time zone (and every time
follows it), the overdue thresholds (whole days 1–365, a refusal writes nothing), the
locations' names and the portal's status names; managers and staff see them read-only and
are refused changes; another practice's location is a 404; CSRF."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from optihub.db.models import AuditEntry, Lab, LabAccount, Location, PortalStatusMapping, Practice
from optihub.services import status_names
from tests import factories
from tests.api.dashboard.conftest import MANAGER, OWNER, STAFF, text_of
from tests.api.dashboard.test_webhooks_pages import hooks  # noqa: F401  (a delivery at 14:05 UTC)

SETTINGS = "/dashboard/settings"


@pytest.fixture
def places(db, world) -> dict[str, uuid.UUID]:
    with db.transaction() as s:
        main = factories.location(s, world.practice_id, "Main Street")
        theirs = factories.location(s, world.other_practice_id, "Hilltop Plaza")
        lab = Lab(name="Precision Optics", code="PRX")
        s.add(lab)
        s.flush()
        s.add(LabAccount(practice_id=world.practice_id, lab_id=lab.id, account_number="PX-2041"))
        status_names.set_status_mapping(
            s, world.practice_id, "Lab - glazing", status_names.OrderStatus.IN_PROGRESS
        )
    return {"main": main.id, "theirs": theirs.id}


def practice_of(db, practice_id: int) -> Practice:
    with db.transaction() as s:
        row = s.get(Practice, practice_id)
        assert row is not None
        s.expunge(row)
    return row


def location_name(db, location_id: uuid.UUID) -> str:
    with db.reading() as r:
        return str(r.scalar(select(Location.name).where(Location.id == location_id)))


def mappings(db, practice_id: int) -> dict[str, str]:
    with db.reading() as r:
        rows = r.execute(
            select(PortalStatusMapping.name, PortalStatusMapping.status).where(
                PortalStatusMapping.practice_id == practice_id
            )
        ).all()
    return {str(name): str(status) for name, status in rows}


# -- reading --------------------------------------------------------------------------------


def test_the_owner_sees_every_setting_with_its_forms(world, places, agent):
    page = agent(OWNER).get(SETTINGS)

    assert page.status_code == 200
    assert 'aria-current="page">Settings<' in page.text
    text = text_of(page.text)
    assert "Main Street" in page.text
    assert "Hilltop Plaza" not in text  # another practice's location
    assert "Precision Optics PRX PX-2041" in text
    assert "“lab - glazing” At the lab" in text
    assert '<option value="America/New_York" selected>America/New York</option>' in page.text
    assert '<option value="Asia/Tokyo">' in page.text
    for action in ("timezone", "overdue", "locations", "portal-statuses"):
        assert f'action="{SETTINGS}/{action}"' in page.text


@pytest.mark.parametrize("email", [MANAGER, STAFF])
def test_managers_and_staff_see_the_settings_read_only(world, places, agent, email):
    page = agent(email).get(SETTINGS)

    assert page.status_code == 200
    text = text_of(page.text)
    assert "Only the practice's owner changes these settings" in text
    assert "America/New York" in text
    assert "Received 2 days (default)" in text
    assert "Main Street" in text and "PX-2041" in text and "lab - glazing" in text
    assert "<form" not in page.text.split("<main", 1)[1]  # no form in the page itself


@pytest.mark.parametrize("email", [MANAGER, STAFF])
def test_managers_and_staff_cannot_change_settings(db, world, places, agent, email):
    person = agent(email)
    changes = (
        (f"{SETTINGS}/timezone", {"timezone": "Asia/Tokyo"}),
        (f"{SETTINGS}/overdue", {"days_received": "5"}),
        (f"{SETTINGS}/locations", {"name": "Second Store"}),
        (f"{SETTINGS}/locations/{places['main']}", {"name": "Renamed"}),
        (f"{SETTINGS}/portal-statuses", {"name": "Done", "status": "completed"}),
        (f"{SETTINGS}/portal-statuses/remove", {"name": "lab - glazing"}),
    )
    for path, data in changes:
        response = person.post(path, data)
        assert response.status_code == 403, path
        assert "Your role in this practice does not allow this" in text_of(response.text)
    practice = practice_of(db, world.practice_id)
    assert practice.timezone == "America/New_York"
    assert practice.overdue_days is None
    assert location_name(db, places["main"]) == "Main Street"
    assert mappings(db, world.practice_id) == {"lab - glazing": "in_progress"}


# -- time zone -----------------------------------------------------------------------------------


def test_a_new_time_zone_is_stored_and_every_time_follows_it(db, world, hooks, agent):  # noqa: F811
    owner = agent(OWNER)
    before = text_of(owner.get("/dashboard/webhooks").text)
    assert "2 Mar 2026, 09:05" in before  # 14:05 UTC in New York

    response = owner.post(f"{SETTINGS}/timezone", {"timezone": "Asia/Tokyo"})

    assert response.status_code == 303
    assert practice_of(db, world.practice_id).timezone == "Asia/Tokyo"
    assert "Times are now shown in Asia/Tokyo." in text_of(owner.get(SETTINGS).text)
    after = text_of(owner.get("/dashboard/webhooks").text)
    assert "2 Mar 2026, 23:05" in after and "09:05" not in after
    with db.reading() as r:
        assert r.scalar(
            select(AuditEntry.details).where(AuditEntry.action == "practice.timezone_changed")
        ) == {"from": "America/New_York", "to": "Asia/Tokyo"}


def test_an_unknown_time_zone_is_refused(db, world, agent):
    refused = agent(OWNER).post(f"{SETTINGS}/timezone", {"timezone": "Mars/Olympus_Mons"})

    assert refused.status_code == 400
    assert "Choose a time zone from the list." in text_of(refused.text)
    assert practice_of(db, world.practice_id).timezone == "America/New_York"


# -- overdue thresholds ----------------------------------------------------------------------------


def test_overdue_thresholds_are_stored_and_empty_ones_take_the_default(db, world, agent):
    owner = agent(OWNER)

    response = owner.post(
        f"{SETTINGS}/overdue",
        {
            "days_draft": "",
            "days_received": " 3 ",
            "days_in_progress": "21",
            "days_completed": "365",
        },
    )

    assert response.status_code == 303
    assert practice_of(db, world.practice_id).overdue_days == {
        "received": 3,
        "in_progress": 21,
        "completed": 365,
    }
    page = owner.get(SETTINGS).text
    assert 'name="days_in_progress" type="text" inputmode="numeric" class="days" value="21"' in page
    assert 'name="days_draft" type="text" inputmode="numeric" class="days" value=""' in page
    read_only = text_of(agent(STAFF).get(SETTINGS).text)
    assert "At the lab 21 days" in read_only and "Draft 2 days (default)" in read_only


@pytest.mark.parametrize("bad", ["0", "366", "2.5", "-1", "ten", "1e2"])
def test_bad_thresholds_are_refused_with_nothing_written(db, world, agent, bad):
    owner = agent(OWNER)
    owner.post(f"{SETTINGS}/overdue", {"days_received": "4"})

    refused = owner.post(f"{SETTINGS}/overdue", {"days_received": "6", "days_shipped": bad})

    assert refused.status_code == 400
    text = text_of(refused.text)
    assert "Nothing was saved." in text
    assert "Shipped: give a whole number of days from 1 to 365." in text
    # What was typed is still there, the bad box marked.
    assert f'name="days_shipped" type="text" inputmode="numeric" class="days" value="{bad}"' in (
        refused.text.replace("&#34;", '"')
    )
    assert 'aria-describedby="overdue-shipped-error"' in refused.text
    assert 'class="days" value="6"' in refused.text
    assert practice_of(db, world.practice_id).overdue_days == {"received": 4}


# -- locations -----------------------------------------------------------------------------------


def test_the_owner_adds_and_renames_locations(db, world, places, agent):
    owner = agent(OWNER)

    added = owner.post(f"{SETTINGS}/locations", {"name": "  Harbor   Street "})
    renamed = owner.post(f"{SETTINGS}/locations/{places['main']}", {"name": "Main Street East"})

    assert added.status_code == 303 and renamed.status_code == 303
    with db.reading() as r:
        names = r.scalars(
            select(Location.name)
            .where(Location.practice_id == world.practice_id)
            .order_by(Location.name)
        ).all()
    assert names == ["Harbor Street", "Main Street East"]
    assert "Harbor Street" in agent(STAFF).get(SETTINGS).text


def test_an_empty_location_name_is_refused_keeping_the_form(db, world, places, agent):
    owner = agent(OWNER)

    empty = owner.post(f"{SETTINGS}/locations/{places['main']}", {"name": "   "})
    unnamed = owner.post(f"{SETTINGS}/locations", {"name": ""})

    for response in (empty, unnamed):
        assert response.status_code == 400
        assert "Give the location a name." in text_of(response.text)
    assert location_name(db, places["main"]) == "Main Street"


def test_another_practices_location_is_not_found(db, world, places, agent):
    owner = agent(OWNER)
    for path in (f"{SETTINGS}/locations/{places['theirs']}", f"{SETTINGS}/locations/nonsense"):
        response = owner.post(path, {"name": "Taken Over"})
        assert response.status_code == 404
        assert "There is no such location in this practice." in text_of(response.text)
    assert location_name(db, places["theirs"]) == "Hilltop Plaza"


# -- portal status names -------------------------------------------------------------------------


def test_the_owner_maps_and_unmaps_portal_status_names(db, world, places, agent):
    owner = agent(OWNER)

    mapped = owner.post(
        f"{SETTINGS}/portal-statuses", {"name": "Ready - front desk", "status": "completed"}
    )

    assert mapped.status_code == 303
    assert mappings(db, world.practice_id) == {
        "lab - glazing": "in_progress",
        "ready - front desk": "completed",
    }
    with db.reading() as r:
        assert status_names.status_for(r, world.practice_id, "READY - Front Desk") == "completed"
    text = text_of(owner.get(SETTINGS).text)
    assert "Orders the portal sends as “Ready - front desk” now go to Ready for pickup." in text

    removed = owner.post(f"{SETTINGS}/portal-statuses/remove", {"name": "lab - glazing"})

    assert removed.status_code == 303
    assert mappings(db, world.practice_id) == {"ready - front desk": "completed"}
    gone = owner.post(f"{SETTINGS}/portal-statuses/remove", {"name": "lab - glazing"})
    assert gone.status_code == 404


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"name": "  ", "status": "completed"}, "Give the status name, 1 to 100 characters."),
        ({"name": "Almost", "status": "finished"}, "Choose the OptiHub status the name means."),
    ],
)
def test_a_bad_mapping_is_refused_keeping_what_was_typed(db, world, places, agent, data, problem):
    refused = agent(OWNER).post(f"{SETTINGS}/portal-statuses", data)

    assert refused.status_code == 400
    assert problem in text_of(refused.text)
    assert f'value="{data["name"]}"' in refused.text
    assert mappings(db, world.practice_id) == {"lab - glazing": "in_progress"}


# -- CSRF ----------------------------------------------------------------------------------------


def test_forms_without_their_csrf_token_are_refused(db, world, places, agent):
    owner = agent(OWNER)
    for path, data in (
        (f"{SETTINGS}/timezone", {"timezone": "Asia/Tokyo"}),
        (f"{SETTINGS}/overdue", {"days_received": "5"}),
        (f"{SETTINGS}/locations", {"name": "Second Store"}),
        (f"{SETTINGS}/portal-statuses", {"name": "Done", "status": "completed"}),
    ):
        for token in (None, "forged"):
            response = owner.post(path, data | ({"csrf_token": token} if token else {}), csrf=False)
            assert response.status_code == 403, path
    practice = practice_of(db, world.practice_id)
    assert practice.timezone == "America/New_York"
    assert practice.overdue_days is None
    assert mappings(db, world.practice_id) == {"lab - glazing": "in_progress"}
