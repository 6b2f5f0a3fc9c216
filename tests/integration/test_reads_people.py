"""The shared patient and prescription reads, as a surface would use them: filters,
ordering, keyset paging under concurrent updates, totals, eyes and tenancy."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, update

from optihub.db.models import Patient, Prescription, PrescriptionEye
from optihub.domain import rx as rx_rules
from optihub.reads import patients as patient_reads
from optihub.reads import prescriptions as rx_reads
from optihub.reads.order_views import Keyset
from optihub.services import patients as patient_service
from optihub.services import prescriptions as rx_service
from tests import factories

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def practices(db):
    with db.transaction() as s:
        mine = factories.practice(s, "Bright Eyes Optometry")
        other = factories.practice(s, "Other Optical")
    return mine.id, other.id


def _patient(db, practice_id, **details):
    with db.transaction() as s:
        return factories.patient(s, practice_id, **details).id


def _set_updated_at(db, model, ids_and_times):
    with db.transaction() as s:
        for row_id, at in ids_and_times:
            s.execute(update(model).where(model.id == row_id).values(updated_at=at))


def _patients_page(db, practice_id, flt=None, **kwargs):
    kwargs.setdefault("limit", 100)
    with db.reading() as reader:
        return patient_reads.page(
            reader, practice_id, flt or patient_reads.PatientFilter(), **kwargs
        )


def _ids(result):
    return [v.id for v in result.views]


def _drain(db, fetch, updated_since, limit, between_pages=None):
    """Every id a poller sees: first page by ``updated_since``, then by keyset."""
    seen = []
    result = fetch(updated_since=updated_since, after=None, limit=limit)
    pages = 0
    while result.views:
        seen.extend(_ids(result))
        pages += 1
        if between_pages is not None:
            between_pages(pages, seen)
        last = result.views[-1]
        result = fetch(
            updated_since=updated_since, after=Keyset(last.updated_at, last.id), limit=limit
        )
        assert pages < 50, "paging does not end"
    return seen


# --- patients -------------------------------------------------------------------------


def test_patient_default_order_is_last_then_first_name_then_id(db, practices):
    mine, other = practices
    brown = _patient(db, mine, first_name="Ada", last_name="Brown")
    adams_zoe = _patient(db, mine, first_name="Zoe", last_name="Adams")
    adams_ben = _patient(db, mine, first_name="Ben", last_name="Adams")
    twins = sorted(
        _patient(db, mine, first_name="Cal", last_name="Clark", email=None) for _ in range(2)
    )
    _patient(db, other, first_name="Aaron", last_name="Aaronson")

    everything = _patients_page(db, mine)
    assert _ids(everything) == [adams_ben, adams_zoe, brown, *twins]
    assert everything.total == 5

    second = _patients_page(db, mine, limit=2, offset=2)
    assert _ids(second) == [brown, twins[0]]
    assert second.total == 5


def test_patient_view_carries_every_field(db, practices):
    mine, _ = practices
    with db.transaction() as s:
        home = factories.location(s, mine).id
        patient_id = factories.patient(
            s,
            mine,
            first_name="Maya",
            last_name="Okafor",
            email="maya@example.com",
            phone="6175550123",
            date_of_birth=date(1984, 5, 17),
            address_line1="1 Main St",
            address_line2="Apt 2",
            city="Boston",
            state="MA",
            postal_code="02110",
            external_id="EHR-1",
        ).id
        s.execute(
            update(Patient)
            .where(Patient.id == patient_id)
            .values(home_location_id=home, notes="prefers mornings")
        )

    with db.reading() as reader:
        found = patient_reads.view(reader, mine, patient_id)
    assert found is not None
    assert (found.first_name, found.last_name) == ("Maya", "Okafor")
    assert (found.email, found.phone) == ("maya@example.com", "6175550123")
    assert found.date_of_birth == date(1984, 5, 17)
    assert (found.address_line1, found.address_line2) == ("1 Main St", "Apt 2")
    assert (found.city, found.state, found.postal_code, found.country) == (
        "Boston",
        "MA",
        "02110",
        "US",
    )
    assert found.external_id == "EHR-1"
    assert found.home_location_id == home
    assert found.notes == "prefers mornings"
    assert found.created_at.tzinfo is not None
    assert found.updated_at >= found.created_at


def test_patient_search_is_name_prefix_or_exact_contact(db, practices):
    mine, other = practices
    maya = _patient(db, mine, first_name="Maya", last_name="Okafor", email="maya@example.com")
    omar = _patient(db, mine, first_name="Omar", last_name="Nasser", phone="6175550199")
    _patient(db, mine, first_name="Li", last_name="Wu", email="li@example.com")
    _patient(db, other, first_name="Olga", last_name="Okafor")

    def search(term):
        return set(_ids(_patients_page(db, mine, patient_reads.PatientFilter(search=term))))

    assert search("oka") == {maya}  # last name, case-insensitive
    assert search("OM") == {omar}  # first name
    assert search("O") == {maya, omar}  # either name
    assert search("  oka ") == {maya}  # surrounding blanks ignored
    assert search("kafor") == set()  # a prefix, not a substring
    assert search("maya@example.com") == {maya}
    assert search("maya@example") == set()  # email is exact
    assert search("6175550199") == {omar}
    assert search("617555") == set()  # phone is exact
    # LIKE wildcards are literal characters in a search.
    assert search("%") == set()
    assert search("O_a") == set()
    assert _patients_page(db, mine, patient_reads.PatientFilter(search="o")).total == 2


def test_patient_filter_fields_narrow(db, practices):
    mine, other = practices
    a = _patient(
        db,
        mine,
        email="a@example.com",
        phone="6175550001",
        date_of_birth=date(1990, 1, 2),
        external_id="X-1",
    )
    b = _patient(
        db,
        mine,
        email="b@example.com",
        phone="6175550002",
        date_of_birth=date(1971, 7, 7),
        external_id="X-2",
    )
    c = _patient(db, mine, email=None, phone="6175550002", date_of_birth=None)
    foreign = _patient(
        db,
        other,
        email="a@example.com",
        phone="6175550001",
        date_of_birth=date(1990, 1, 2),
        external_id="X-1",
    )
    _set_updated_at(db, Patient, [(a, T0), (b, T0 + timedelta(days=1)), (c, T0)])

    def matching(**fields):
        result = _patients_page(db, mine, patient_reads.PatientFilter(**fields))
        assert result.total == len(result.views)
        return set(_ids(result))

    assert matching() == {a, b, c}
    assert matching(email="a@example.com") == {a}
    assert matching(phone="6175550002") == {b, c}
    assert matching(phone="6175550002", email="b@example.com") == {b}
    assert matching(date_of_birth=date(1990, 1, 2)) == {a}
    assert matching(external_id="X-2") == {b}
    assert matching(external_id="nope") == set()
    assert matching(updated_since=T0 + timedelta(hours=1)) == {b}
    assert matching(updated_since=T0) == {a, b, c}  # inclusive
    assert matching(ids=(a, c, foreign)) == {a, c}
    assert matching(ids=()) == set()


def test_patient_updated_since_orders_oldest_first(db, practices):
    mine, _ = practices
    first = _patient(db, mine, last_name="Zed")
    second = _patient(db, mine, last_name="Young")
    third = _patient(db, mine, last_name="Xu")
    _set_updated_at(
        db,
        Patient,
        [(first, T0 + timedelta(minutes=2)), (second, T0), (third, T0 + timedelta(minutes=1))],
    )
    result = _patients_page(db, mine, patient_reads.PatientFilter(updated_since=T0))
    assert _ids(result) == [second, third, first]


def test_patient_keyset_sees_every_row_once_while_rows_change(db, practices):
    mine, other = practices
    ids = [_patient(db, mine) for _ in range(9)]
    _patient(db, other)
    # Four rows share one timestamp, so a page boundary falls inside the tie.
    times = [T0] * 4 + [T0 + timedelta(seconds=s) for s in range(1, 6)]
    _set_updated_at(db, Patient, list(zip(ids, times, strict=True)))
    order = sorted(zip(times, ids, strict=True))
    touched = []

    def touch_unseen(pages, seen):
        # An update moves a row not yet seen to the end of the feed (offset paging would
        # skip the row that slides into its place).
        unseen = [i for _, i in order if i not in seen and i not in touched]
        if pages <= 2 and unseen:
            with db.transaction() as s:
                row = patient_service.get_patient(s, mine, unseen[0])
                patient_service.update_patient(
                    s,
                    factories.actor(mine),
                    row.id,
                    patient_service.PatientDetails(
                        first_name="Renamed", last_name=row.last_name, email=row.email
                    ),
                )
            touched.append(unseen[0])

    def fetch(*, updated_since, after, limit):
        result = _patients_page(
            db,
            mine,
            patient_reads.PatientFilter(updated_since=updated_since),
            after=after,
            limit=limit,
        )
        assert result.total == 9  # the keyset position does not change the total
        return result

    seen = _drain(db, fetch, T0 - timedelta(days=1), 3, touch_unseen)
    assert len(touched) == 2
    assert Counter(seen) == Counter(ids)
    # The untouched rows come in (updated_at, id) order, then the touched ones.
    untouched = [i for _, i in order if i not in touched]
    assert seen == untouched + touched


def test_patient_keyset_shows_a_seen_row_again_after_it_changes(db, practices):
    mine, _ = practices
    ids = [_patient(db, mine) for _ in range(3)]
    _set_updated_at(db, Patient, [(i, T0 + timedelta(seconds=n)) for n, i in enumerate(ids)])
    first = _patients_page(db, mine, patient_reads.PatientFilter(updated_since=T0), limit=2)
    assert _ids(first) == ids[:2]
    with db.transaction() as s:
        s.get(Patient, ids[0]).notes = "called"
    last = first.views[-1]
    rest = _patients_page(db, mine, after=Keyset(last.updated_at, last.id), limit=10)
    assert _ids(rest) == [ids[2], ids[0]]
    assert rest.total == 3


def test_patient_after_alone_uses_the_update_order(db, practices):
    mine, _ = practices
    early = _patient(db, mine, last_name="Zed")
    late = _patient(db, mine, last_name="Abel")
    _set_updated_at(db, Patient, [(early, T0), (late, T0 + timedelta(seconds=1))])
    start = Keyset(T0 - timedelta(days=1), uuid.UUID(int=0))
    assert _ids(_patients_page(db, mine, after=start)) == [early, late]
    assert _ids(_patients_page(db, mine, after=Keyset(T0, early))) == [late]
    assert _ids(_patients_page(db, mine, after=Keyset(T0, uuid.UUID(int=0)))) == [early, late]


def test_patient_tenancy_and_unknown_ids(db, practices):
    mine, other = practices
    own = _patient(db, mine, first_name="Maya", last_name="Okafor", external_id="E-1")
    foreign = _patient(db, other, first_name="Maya", last_name="Okafor", external_id="E-1")

    with db.reading() as reader:
        assert patient_reads.view(reader, mine, own) is not None
        assert patient_reads.view(reader, mine, foreign) is None
        assert patient_reads.view(reader, other, own) is None
        assert patient_reads.view(reader, mine, uuid.uuid4()) is None
    for flt in (
        patient_reads.PatientFilter(),
        patient_reads.PatientFilter(search="okafor"),
        patient_reads.PatientFilter(external_id="E-1"),
        patient_reads.PatientFilter(ids=(own, foreign)),
        patient_reads.PatientFilter(updated_since=T0),
    ):
        result = _patients_page(db, mine, flt)
        assert (_ids(result), result.total) == ([own], 1), flt
    keyset = _patients_page(db, mine, after=Keyset(T0, uuid.UUID(int=0)))
    assert _ids(keyset) == [own]


# --- prescriptions --------------------------------------------------------------------


def _rx(db, practice_id, patient_id, issued_on, expires_on=None, rx=None):
    with db.transaction() as s:
        return rx_service.create_spectacle_prescription(
            s,
            factories.actor(practice_id),
            patient_id=patient_id,
            rx=rx or factories.spectacle_rx(),
            issued_on=issued_on,
            expires_on=expires_on,
            prescriber_name="Dr. Chen",
        ).id


def _contact_rx(db, practice_id, patient_id, issued_on):
    """No service records contact-lens prescriptions yet: written as an import would."""
    with db.transaction() as s:
        prescription = Prescription(
            practice_id=practice_id,
            patient_id=patient_id,
            kind="contact_lens",
            issued_on=issued_on,
            external_id="CL-1",
            notes="daily wear",
        )
        prescription.eyes = [
            PrescriptionEye(
                practice_id=practice_id,
                side="left",
                sphere=Decimal("-3.25"),
                base_curve=Decimal("8.6"),
                diameter=Decimal("14.2"),
                brand="Acuvue Oasys",
            )
        ]
        s.add(prescription)
        s.flush()
        return prescription.id


def _rx_page(db, practice_id, flt=None, **kwargs):
    kwargs.setdefault("limit", 100)
    with db.reading() as reader:
        return rx_reads.page(reader, practice_id, flt or rx_reads.PrescriptionFilter(), **kwargs)


@pytest.fixture
def people(db, practices):
    mine, other = practices
    return {
        "mine": mine,
        "other": other,
        "ana": _patient(db, mine, first_name="Ana"),
        "bo": _patient(db, mine, first_name="Bo"),
        "stranger": _patient(db, other, first_name="Sam"),
    }


def test_prescription_eyes_belong_to_their_prescription(db, people):
    mine = people["mine"]
    strong = rx_rules.SpectacleRx(
        right=rx_rules.EyeRx(
            sphere=Decimal("-6.50"),
            cylinder=Decimal("-1.25"),
            axis=175,
            add=Decimal("2.00"),
            prism_horizontal=rx_rules.Prism(Decimal("1.5"), "in"),
            distance_pd=Decimal("32"),
            near_pd=Decimal("30.5"),
            seg_height=Decimal("18"),
        ),
        left=None,
    )
    weak = _rx(db, mine, people["ana"], date(2024, 1, 10))
    right_only = _rx(db, mine, people["bo"], date(2024, 2, 10), rx=strong)
    contact = _contact_rx(db, mine, people["ana"], date(2024, 3, 10))

    views = {v.id: v for v in _rx_page(db, mine).views}
    assert set(views) == {weak, right_only, contact}

    w = views[weak]
    assert w.patient_id == people["ana"]
    assert w.kind == "spectacle"
    assert w.prescriber_name == "Dr. Chen"
    assert w.right is not None and w.left is not None
    assert (w.right.sphere, w.right.cylinder, w.right.axis) == (
        Decimal("-2.00"),
        Decimal("-0.75"),
        90,
    )
    assert w.right.distance_pd == Decimal("31.5")
    assert (w.left.sphere, w.left.cylinder, w.left.distance_pd) == (
        Decimal("-1.75"),
        None,
        Decimal("31"),
    )

    r = views[right_only]
    assert r.patient_id == people["bo"]
    assert r.left is None
    assert r.right == rx_reads.EyeView(
        sphere=Decimal("-6.50"),
        cylinder=Decimal("-1.25"),
        axis=175,
        add=Decimal("2.00"),
        prism_horizontal=Decimal("1.5"),
        prism_horizontal_base="in",
        prism_vertical=None,
        prism_vertical_base=None,
        distance_pd=Decimal("32"),
        near_pd=Decimal("30.5"),
        seg_height=Decimal("18"),
        oc_height=None,
        base_curve=None,
        diameter=None,
        brand=None,
    )

    c = views[contact]
    assert (c.kind, c.external_id, c.notes) == ("contact_lens", "CL-1", "daily wear")
    assert c.right is None
    assert c.left is not None
    assert (c.left.base_curve, c.left.diameter, c.left.brand) == (
        Decimal("8.6"),
        Decimal("14.2"),
        "Acuvue Oasys",
    )

    with db.reading() as reader:
        assert rx_reads.view(reader, mine, right_only) == r
        assert rx_reads.view(reader, mine, contact) == c


def test_prescription_page_loads_eyes_in_one_query(db, people):
    mine = people["mine"]

    def statements_for_page(limit):
        count = 0

        def count_statement(*_args):
            nonlocal count
            count += 1

        event.listen(db.engine, "before_cursor_execute", count_statement)
        try:
            result = _rx_page(db, mine, limit=limit)
        finally:
            event.remove(db.engine, "before_cursor_execute", count_statement)
        return count, len(result.views)

    _rx(db, mine, people["ana"], date(2024, 1, 1))
    one = statements_for_page(1)
    for day in range(2, 7):
        _rx(db, mine, people["ana"], date(2024, 1, day))
    many = statements_for_page(100)
    assert one[1] == 1 and many[1] == 6
    assert many[0] == one[0]


def test_prescription_default_order_is_newest_issue_first(db, people):
    mine = people["mine"]
    old = _rx(db, mine, people["ana"], date(2023, 5, 1))
    same_day = sorted(
        (_rx(db, mine, people["bo"], date(2024, 6, 1)) for _ in range(2)), reverse=True
    )
    newest = _rx(db, mine, people["ana"], date(2024, 9, 1))
    _rx(db, people["other"], people["stranger"], date(2025, 1, 1))

    result = _rx_page(db, mine)
    assert _ids(result) == [newest, *same_day, old]
    assert result.total == 4
    page_two = _rx_page(db, mine, limit=2, offset=2)
    assert (_ids(page_two), page_two.total) == ([same_day[1], old], 4)


def test_prescription_filter_fields_narrow(db, people):
    mine = people["mine"]
    expired = _rx(db, mine, people["ana"], date(2022, 1, 1), expires_on=date(2023, 1, 1))
    ends_on_day = _rx(db, mine, people["ana"], date(2023, 6, 1), expires_on=date(2024, 6, 1))
    open_ended = _rx(db, mine, people["bo"], date(2024, 2, 1))
    contact = _contact_rx(db, mine, people["bo"], date(2024, 3, 1))
    _set_updated_at(
        db,
        Prescription,
        [
            (expired, T0),
            (ends_on_day, T0),
            (open_ended, T0 + timedelta(days=2)),
            (contact, T0 + timedelta(days=1)),
        ],
    )

    def matching(**fields):
        result = _rx_page(db, mine, rx_reads.PrescriptionFilter(**fields))
        assert result.total == len(result.views)
        return set(_ids(result))

    assert matching() == {expired, ends_on_day, open_ended, contact}
    assert matching(patient_id=people["ana"]) == {expired, ends_on_day}
    assert matching(patient_id=people["stranger"]) == set()
    assert matching(kind="contact_lens") == {contact}
    assert matching(kind="spectacle") == {expired, ends_on_day, open_ended}
    assert matching(kind="spectacle", patient_id=people["bo"]) == {open_ended}
    assert matching(issued_from=date(2023, 6, 1)) == {ends_on_day, open_ended, contact}
    assert matching(issued_from=date(2023, 6, 2)) == {open_ended, contact}
    assert matching(current_on=date(2024, 6, 1)) == {ends_on_day, open_ended, contact}
    assert matching(current_on=date(2024, 6, 2)) == {open_ended, contact}
    assert matching(updated_since=T0 + timedelta(hours=1)) == {open_ended, contact}
    ordered = _rx_page(db, mine, rx_reads.PrescriptionFilter(updated_since=T0 + timedelta(1)))
    assert _ids(ordered) == [contact, open_ended]  # oldest update first


def test_prescription_keyset_sees_every_row_once_while_rows_change(db, people):
    mine = people["mine"]
    ids = [_rx(db, mine, people["ana"], date(2024, 1, 1) + timedelta(days=n)) for n in range(8)]
    _rx(db, people["other"], people["stranger"], date(2024, 1, 1))
    times = [T0] * 3 + [T0 + timedelta(seconds=s) for s in range(1, 6)]
    _set_updated_at(db, Prescription, list(zip(ids, times, strict=True)))
    order = [i for _, i in sorted(zip(times, ids, strict=True))]
    touched = []

    def touch_unseen(pages, seen):
        unseen = [i for i in order if i not in seen and i not in touched]
        if pages <= 2 and unseen:
            with db.transaction() as s:
                s.get(Prescription, unseen[0]).notes = "rechecked"
            touched.append(unseen[0])

    def fetch(*, updated_since, after, limit):
        result = _rx_page(
            db,
            mine,
            rx_reads.PrescriptionFilter(updated_since=updated_since),
            after=after,
            limit=limit,
        )
        assert result.total == 8
        for v in result.views:
            assert v.right is not None and v.left is not None
        return result

    seen = _drain(db, fetch, T0 - timedelta(days=1), 3, touch_unseen)
    assert len(touched) == 2
    assert Counter(seen) == Counter(ids)
    assert seen == [i for i in order if i not in touched] + touched


def test_prescription_tenancy_and_unknown_ids(db, people):
    mine, other = people["mine"], people["other"]
    own = _rx(db, mine, people["ana"], date(2024, 1, 1))
    foreign = _rx(db, other, people["stranger"], date(2024, 1, 1))

    with db.reading() as reader:
        assert rx_reads.view(reader, mine, own) is not None
        assert rx_reads.view(reader, mine, foreign) is None
        assert rx_reads.view(reader, other, own) is None
        assert rx_reads.view(reader, mine, uuid.uuid4()) is None
    for flt in (
        rx_reads.PrescriptionFilter(),
        rx_reads.PrescriptionFilter(kind="spectacle"),
        rx_reads.PrescriptionFilter(updated_since=T0),
        rx_reads.PrescriptionFilter(current_on=date(2024, 6, 1)),
    ):
        result = _rx_page(db, mine, flt)
        assert (_ids(result), result.total) == ([own], 1), flt
    assert _ids(_rx_page(db, mine, after=Keyset(T0, uuid.UUID(int=0)))) == [own]
    assert _rx_page(db, other).views[0].id == foreign


def test_reads_accept_a_session(db, people):
    mine = people["mine"]
    rx_id = _rx(db, mine, people["ana"], date(2024, 1, 1))
    with db.transaction() as s:
        found = rx_reads.view(s, mine, rx_id)
        patient = patient_reads.view(s, mine, people["ana"])
    assert found is not None and found.right is not None
    assert patient is not None and patient.first_name == "Ana"


def test_prescription_after_alone_uses_the_update_order(db, people):
    mine = people["mine"]
    early = _rx(db, mine, people["ana"], date(2022, 1, 1))
    late = _rx(db, mine, people["ana"], date(2024, 1, 1))
    _set_updated_at(db, Prescription, [(early, T0), (late, T0 + timedelta(seconds=1))])
    start = Keyset(T0 - timedelta(days=1), uuid.UUID(int=0))
    assert _ids(_rx_page(db, mine, after=start)) == [early, late]
    assert _ids(_rx_page(db, mine, after=Keyset(T0, early))) == [late]
