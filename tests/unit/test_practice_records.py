"""The practice's records read by the practice API: appointments, invoices, pricebooks,
locations (filters, every sort key with the id breaking ties, tenant scoping), and the
pricebook writes (atomic bulk frames, frame patches, price tiers)."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from optihub.db.models import AuditEntry, Event, Frame, PricebookItem, PriceTier
from optihub.errors import BadRequest, Conflict, NotFound, ValidationFailed
from optihub.reads import appointments as appointment_reads
from optihub.reads import invoices as invoice_reads
from optihub.reads import locations as location_reads
from optihub.reads import pricebooks as pricebook_reads
from optihub.services import appointments, invoices, orders, pricebooks
from optihub.services.frames import FrameDetails
from tests import factories

NY = ZoneInfo("America/New_York")


def _sorted_ids(views):
    return [v.id for v in views]


def _check_order(views, key, descending):
    """Rows ordered by ``key`` (None last ascending, first descending), ids ascending
    within a tie: what every sort promises."""
    values = [getattr(v, key) for v in views]
    for before, after in itertools.pairwise(views):
        a, b = getattr(before, key), getattr(after, key)
        if a == b:
            assert before.id < after.id, (key, values)
        elif a is None or b is None:
            assert (a is None) == descending, (key, values)
        else:
            assert (a > b) if descending else (a < b), (key, values)


# --------------------------------------------------------------------------- appointments


@pytest.fixture
def booked(db):
    """Practice A: two locations, two patients, six appointments (two on the same day,
    one late in the evening New York time); practice B: one appointment."""
    with db.transaction() as s:
        a = factories.practice(s, "A")
        b = factories.practice(s, "B")
        downtown = factories.location(s, a.id, "Downtown")
        harbor = factories.location(s, a.id, "Harbor")
        maya = factories.patient(s, a.id)
        theo = factories.patient(s, a.id, first_name="Theo")
        actor = factories.actor(a.id)

        def book(day, hour, minute, location, patient, kind="eye_exam"):
            start = datetime(2026, 3, day, hour, minute, tzinfo=NY)
            return appointments.create_appointment(
                s,
                actor,
                appointments.AppointmentDetails(
                    location_id=location.id,
                    patient_id=patient.id,
                    starts_at=start,
                    ends_at=start + timedelta(minutes=45),
                    kind=kind,
                ),
            ).id

        ids = {
            "9th": book(9, 10, 0, downtown, maya),
            "10th_am": book(10, 9, 0, harbor, theo, "follow_up"),
            "10th_late": book(10, 23, 30, downtown, theo),  # 03:30 UTC on the 11th
            "11th": book(11, 14, 0, harbor, maya, "follow_up"),
            "12th": book(12, 8, 0, downtown, maya),
            "20th": book(20, 16, 0, harbor, theo, "contact_lens_fitting"),
        }
        b_location = factories.location(s, b.id)
        b_patient = factories.patient(s, b.id)
        start = datetime(2026, 3, 10, 12, tzinfo=UTC)
        foreign = appointments.create_appointment(
            s,
            factories.actor(b.id),
            appointments.AppointmentDetails(
                location_id=b_location.id,
                patient_id=b_patient.id,
                starts_at=start,
                ends_at=start + timedelta(hours=1),
            ),
        ).id
    return {
        "practice": a.id,
        "other": b.id,
        "ids": ids,
        "foreign": foreign,
        "downtown": downtown.id,
        "harbor": harbor.id,
        "maya": maya.id,
        "theo": theo.id,
    }


def _appointments(db, practice_id, **kwargs):
    flt = appointment_reads.AppointmentFilter(
        **{k: v for k, v in kwargs.items() if k not in {"sort", "limit", "offset"}}
    )
    options = {k: v for k, v in kwargs.items() if k in {"sort", "limit", "offset"}}
    with db.reading() as r:
        return appointment_reads.page(r, practice_id, flt, **({"limit": 50} | options))


def test_appointments_default_to_start_order_and_stay_in_their_practice(db, booked):
    page = _appointments(db, booked["practice"])
    ids = booked["ids"]
    assert page.total == 6
    assert _sorted_ids(page.views) == [
        ids["9th"],
        ids["10th_am"],
        ids["10th_late"],
        ids["11th"],
        ids["12th"],
        ids["20th"],
    ]
    assert booked["foreign"] not in _sorted_ids(page.views)
    other = _appointments(db, booked["other"])
    assert _sorted_ids(other.views) == [booked["foreign"]]


def test_appointment_days_are_inclusive_and_the_practices_own(db, booked):
    ids = booked["ids"]
    tenth = _appointments(
        db, booked["practice"], date_from=date(2026, 3, 10), date_to=date(2026, 3, 10)
    )
    # 23:30 in New York is 03:30 UTC the next day, and still the 10th for the practice.
    assert _sorted_ids(tenth.views) == [ids["10th_am"], ids["10th_late"]]
    assert tenth.total == 2
    span = _appointments(
        db, booked["practice"], date_from=date(2026, 3, 11), date_to=date(2026, 3, 12)
    )
    assert _sorted_ids(span.views) == [ids["11th"], ids["12th"]]
    since = _appointments(db, booked["practice"], date_from=date(2026, 3, 12))
    assert _sorted_ids(since.views) == [ids["12th"], ids["20th"]]
    until = _appointments(db, booked["practice"], date_to=date(2026, 3, 9))
    assert _sorted_ids(until.views) == [ids["9th"]]
    assert _appointments(db, booked["practice"], date_to=date.max).total == 6
    assert _appointments(db, booked["practice"], date_from=date.min).total == 6


def test_appointments_filter_by_location_and_patient(db, booked):
    ids = booked["ids"]
    harbor = _appointments(db, booked["practice"], location_id=booked["harbor"])
    assert _sorted_ids(harbor.views) == [ids["10th_am"], ids["11th"], ids["20th"]]
    maya_downtown = _appointments(
        db, booked["practice"], location_id=booked["downtown"], patient_id=booked["maya"]
    )
    assert _sorted_ids(maya_downtown.views) == [ids["9th"], ids["12th"]]
    # another practice's location filters to nothing, never to its rows
    assert _appointments(db, booked["other"], location_id=booked["harbor"]).total == 0


@pytest.mark.parametrize("key", sorted(appointment_reads.SORT_FIELDS))
@pytest.mark.parametrize("descending", [False, True])
def test_every_appointment_sort_key_orders_with_the_id_breaking_ties(db, booked, key, descending):
    views = _appointments(db, booked["practice"], sort=[(key, descending)]).views
    assert len(views) == 6
    _check_order(views, key, descending)


def test_appointment_sort_by_several_keys_and_pages(db, booked):
    ids = booked["ids"]
    sort = [("kind", True), ("starts_at", True)]
    views = _appointments(db, booked["practice"], sort=sort).views
    assert _sorted_ids(views) == [
        ids["11th"],
        ids["10th_am"],
        ids["12th"],
        ids["10th_late"],
        ids["9th"],
        ids["20th"],
    ]
    second = _appointments(db, booked["practice"], sort=sort, limit=2, offset=2)
    assert second.total == 6
    assert _sorted_ids(second.views) == [ids["12th"], ids["10th_late"]]
    # equal kinds, no further key: the id decides
    by_kind = _appointments(db, booked["practice"], sort=[("kind", False)]).views
    exams = [v.id for v in by_kind if v.kind == "eye_exam"]
    assert exams == sorted([ids["9th"], ids["10th_late"], ids["12th"]])


def test_unknown_sort_key_is_refused_with_the_allowed_keys(db, booked):
    with pytest.raises(BadRequest) as refused:
        _appointments(db, booked["practice"], sort=[("practice_id", False)])
    assert refused.value.field == "sort"
    assert refused.value.allowed == sorted(appointment_reads.SORT_FIELDS)


def test_appointment_detail_is_not_found_for_another_practice(db, booked):
    with db.reading() as r:
        view = appointment_reads.detail(r, booked["practice"], booked["ids"]["20th"])
        assert view.kind == "contact_lens_fitting"
        assert view.ends_at - view.starts_at == timedelta(minutes=45)
        assert view.patient_id == booked["theo"]
        with pytest.raises(NotFound):
            appointment_reads.detail(r, booked["practice"], booked["foreign"])
        with pytest.raises(NotFound):
            appointment_reads.detail(r, booked["practice"], uuid.uuid4())


def test_an_appointment_needs_the_practices_own_patient_and_a_real_slot(db, booked):
    start = datetime(2026, 4, 1, 9, tzinfo=NY)
    with db.transaction() as s:
        foreign_patient = factories.patient(s, booked["other"])
        with pytest.raises(ValidationFailed) as refused:
            appointments.create_appointment(
                s,
                factories.actor(booked["practice"]),
                appointments.AppointmentDetails(
                    location_id=booked["downtown"],
                    patient_id=foreign_patient.id,
                    starts_at=start,
                    ends_at=start,
                ),
            )
    assert {e.field for e in refused.value.errors} == {"patient_id", "ends_at"}
    assert _appointments(db, booked["practice"]).total == 6


# --------------------------------------------------------------------------- invoices


@pytest.fixture
def billed(db):
    with db.transaction() as s:
        a = factories.practice(s, "A")
        b = factories.practice(s, "B")
        actor = factories.actor(a.id)
        maya = factories.patient(s, a.id)
        theo = factories.patient(s, a.id)
        order = orders.place_order(
            s,
            actor,
            orders.NewOrder(
                patient_id=maya.id,
                lines=[
                    orders.LineItem("Ray-Ban RB5154", 1, Decimal("189.00"), kind="frame"),
                    orders.LineItem("Lenses (pair)", 2, Decimal("75.50"), tax=Decimal("9.44")),
                ],
            ),
        )
        from_order = invoices.create_invoice(s, actor, order_id=order.id)
        exam = invoices.create_invoice(
            s,
            actor,
            patient_id=theo.id,
            lines=[
                invoices.InvoiceLineDetails("Comprehensive eye exam", 1, Decimal("150.00")),
                invoices.InvoiceLineDetails(
                    "Anti-fog spray", 3, Decimal("9.99"), tax=Decimal("1.87")
                ),
            ],
        )
        invoices.record_payment(s, actor, exam.id, amount=Decimal("100.00"), method="card")
        invoices.record_payment(
            s, actor, exam.id, amount=Decimal("81.84"), method="insurance", payer="insurance"
        )
        small = invoices.create_invoice(
            s,
            actor,
            patient_id=maya.id,
            lines=[invoices.InvoiceLineDetails("Lens cleaning kit", 1, Decimal("14.99"))],
        )
        foreign = invoices.create_invoice(
            s,
            factories.actor(b.id),
            lines=[invoices.InvoiceLineDetails("Exam", 1, Decimal("90.00"))],
        )
    return {
        "practice": a.id,
        "other": b.id,
        "order": order.id,
        "maya": maya.id,
        "theo": theo.id,
        "from_order": from_order.id,
        "exam": exam.id,
        "small": small.id,
        "foreign": foreign.id,
    }


def _invoices(db, practice_id, sort=invoice_reads.DEFAULT_SORT, limit=50, offset=0, **filters):
    with db.reading() as r:
        return invoice_reads.page(
            r,
            practice_id,
            invoice_reads.InvoiceFilter(**filters),
            limit=limit,
            offset=offset,
            sort=sort,
        )


def test_an_invoice_from_an_order_bills_its_lines_with_totals(db, billed):
    with db.reading() as r:
        invoice = invoice_reads.detail(r, billed["practice"], billed["from_order"])
    assert invoice.order_id == billed["order"]
    assert invoice.patient_id == billed["maya"]
    assert [(line.position, line.description, line.quantity) for line in invoice.lines] == [
        (1, "Ray-Ban RB5154", 1),
        (2, "Lenses (pair)", 2),
    ]
    assert invoice.subtotal == Decimal("340.00")
    assert invoice.tax_total == Decimal("9.44")
    assert invoice.total == Decimal("349.44")
    assert invoice.balance == Decimal("349.44")
    assert invoice.status == "open"
    assert invoice.payments == ()
    assert invoice.number.startswith("INV")


def test_payments_lower_the_balance_until_the_invoice_is_paid(db, billed):
    with db.reading() as r:
        exam = invoice_reads.detail(r, billed["practice"], billed["exam"])
    assert exam.subtotal == Decimal("179.97")
    assert exam.total == Decimal("181.84")
    assert [(p.amount, p.method, p.payer) for p in exam.payments] == [
        (Decimal("100.00"), "card", "patient"),
        (Decimal("81.84"), "insurance", "insurance"),
    ]
    assert exam.amount_paid == Decimal("181.84")
    assert exam.balance == Decimal("0.00")
    assert exam.status == "paid"
    with db.transaction() as s, pytest.raises(ValidationFailed) as refused:
        invoices.record_payment(
            s,
            factories.actor(billed["practice"]),
            billed["small"],
            amount=Decimal("15.00"),
            method="cash",
        )
    assert refused.value.errors[0].message == "Only 14.99 is owed."


def test_invoices_filter_by_patient_order_status_and_creation_day(db, billed):
    p = billed["practice"]
    assert set(_sorted_ids(_invoices(db, p, patient_id=billed["maya"]).views)) == {
        billed["from_order"],
        billed["small"],
    }
    assert _sorted_ids(_invoices(db, p, order_id=billed["order"]).views) == [billed["from_order"]]
    assert _sorted_ids(_invoices(db, p, status="paid").views) == [billed["exam"]]
    today = datetime.now(NY).date()
    assert _invoices(db, p, created_from=today, created_to=today).total == 3
    assert _invoices(db, p, created_to=today - timedelta(days=1)).total == 0
    assert _invoices(db, p, created_from=today + timedelta(days=1)).total == 0
    assert _invoices(db, p, status="paid", patient_id=billed["maya"]).total == 0


@pytest.mark.parametrize("key", sorted(invoice_reads.SORT_FIELDS))
@pytest.mark.parametrize("descending", [False, True])
def test_every_invoice_sort_key_orders_with_the_id_breaking_ties(db, billed, key, descending):
    views = _invoices(db, billed["practice"], sort=[(key, descending)]).views
    assert len(views) == 3
    _check_order(views, key, descending)


def test_invoice_sort_by_total_and_paging(db, billed):
    views = _invoices(db, billed["practice"], sort=[("total", True)], limit=2).views
    assert _sorted_ids(views) == [billed["from_order"], billed["exam"]]
    last = _invoices(db, billed["practice"], sort=[("total", True)], limit=2, offset=2)
    assert last.total == 3
    assert _sorted_ids(last.views) == [billed["small"]]
    assert last.views[0].lines[0].description == "Lens cleaning kit"


def test_invoices_stay_in_their_practice(db, billed):
    assert billed["foreign"] not in _sorted_ids(_invoices(db, billed["practice"]).views)
    assert _sorted_ids(_invoices(db, billed["other"]).views) == [billed["foreign"]]
    with db.reading() as r, pytest.raises(NotFound):
        invoice_reads.detail(r, billed["practice"], billed["foreign"])
    with db.transaction() as s, pytest.raises(ValidationFailed) as refused:
        invoices.create_invoice(s, factories.actor(billed["other"]), order_id=billed["order"])
    assert refused.value.errors[0].field == "order_id"


# --------------------------------------------------------------------------- pricebooks


@pytest.fixture
def priced(db):
    with db.transaction() as s:
        a = factories.practice(s, "A")
        b = factories.practice(s, "B")
        actor = factories.actor(a.id)
        plain = factories.frame(s, a.id, sku="RB-1", brand="Ray-Ban", model="RB2140")
        listed = factories.frame(
            s, a.id, sku="OX-1", brand="Oakley", model="Holbrook", price=Decimal("210.00")
        )
        unpriced = factories.frame(
            s, a.id, sku="FL-1", brand="Flexon", model="E1116", price=None, wholesale_price=None
        )
        override = pricebooks.create_item(
            s,
            actor,
            "frames",
            pricebooks.PricebookItemDetails(
                code="OX-1",
                name="Oakley Holbrook",
                retail_price=Decimal("179.00"),
                cost=Decimal("70.00"),
                frame_id=listed.id,
            ),
        )
        items = {}
        for kind, code, name, price, cost in [
            ("contactlenses", "CL-AO6", "Acuvue Oasys 6pk", "62.00", "38.50"),
            ("contactlenses", "CL-DT90", "Dailies Total1 90pk", "119.00", None),
            ("contactlenses", "CL-B6", "Biofinity 6pk", "62.00", "30.00"),
            ("proffees", "EXAM", "Comprehensive eye exam", "150.00", None),
            ("merchandise", "KIT", "Lens cleaning kit", "14.99", "3.20"),
            ("addons", "AF", "Anti-fog spray", "9.99", "2.10"),
            ("misc", "RUSH", "Rush lab service", "35.00", None),
            ("lenses", "SV-CR39", "Single vision CR-39", "89.00", "24.00"),
        ]:
            items[code] = pricebooks.create_item(
                s,
                actor,
                kind,
                pricebooks.PricebookItemDetails(
                    code=code,
                    name=name,
                    retail_price=Decimal(price),
                    cost=Decimal(cost) if cost else None,
                    attributes={"note": code.lower()},
                ),
            ).id
        retail = pricebooks.create_price_tier(
            s, actor, pricebooks.PriceTierDetails("Retail", is_default=True)
        )
        insurance = pricebooks.create_price_tier(
            s, actor, pricebooks.PriceTierDetails("Insurance A", "VSP", Decimal("20"))
        )
        b_actor = factories.actor(b.id)
        foreign_frame = factories.frame(s, b.id, sku="RB-1")
        foreign_item = pricebooks.create_item(
            s,
            b_actor,
            "contactlenses",
            pricebooks.PricebookItemDetails("CL-AO6", "Acuvue Oasys 6pk", Decimal("55.00")),
        )
        foreign_tier = pricebooks.create_price_tier(
            s, b_actor, pricebooks.PriceTierDetails("Insurance A")
        )
    return {
        "practice": a.id,
        "other": b.id,
        "plain": plain.id,
        "listed": listed.id,
        "unpriced": unpriced.id,
        "override": override.id,
        "items": items,
        "retail": retail.id,
        "insurance": insurance.id,
        "foreign": {
            "frames": foreign_frame.id,
            "contactlenses": foreign_item.id,
            "tierprices": foreign_tier.id,
        },
    }


def _pricebook(db, practice_id, kind, sort=pricebook_reads.DEFAULT_SORT, **kwargs):
    options = {"limit": 50} | {k: v for k, v in kwargs.items() if k in {"limit", "offset"}}
    flt = pricebook_reads.PricebookFilter(
        **{k: v for k, v in kwargs.items() if k not in {"limit", "offset"}}
    )
    with db.reading() as r:
        return pricebook_reads.page(r, practice_id, kind, flt, sort=sort, **options)


def test_frames_pricebook_is_the_catalog_with_pricebook_prices_winning(db, priced):
    page = _pricebook(db, priced["practice"], "frames")
    rows = {row.code: row for row in page.views}
    assert page.total == 3
    assert [row.name for row in page.views] == [
        "Flexon E1116",
        "Oakley Holbrook",
        "Ray-Ban RB2140",
    ]
    assert (rows["OX-1"].retail_price, rows["OX-1"].cost) == (
        Decimal("179.00"),
        Decimal("70.00"),
    )
    assert (rows["RB-1"].retail_price, rows["RB-1"].cost) == (
        Decimal("189.00"),
        Decimal("76.00"),
    )
    assert (rows["FL-1"].retail_price, rows["FL-1"].cost) == (None, None)
    assert rows["RB-1"].id == priced["plain"]
    assert rows["RB-1"].kind == "frames"
    assert rows["RB-1"].attributes["brand"] == "Ray-Ban"
    assert rows["RB-1"].attributes["eye_size"] == 51
    assert priced["foreign"]["frames"] not in _sorted_ids(page.views)


@pytest.mark.parametrize(
    ("kind", "codes"),
    [
        ("contactlenses", ["CL-AO6", "CL-B6", "CL-DT90"]),
        ("proffees", ["EXAM"]),
        ("merchandise", ["KIT"]),
        ("addons", ["AF"]),
        ("misc", ["RUSH"]),
        ("lenses", ["SV-CR39"]),
    ],
)
def test_item_pricebooks_hold_their_kind_only(db, priced, kind, codes):
    page = _pricebook(db, priced["practice"], kind, sort=[("code", False)])
    assert [row.code for row in page.views] == codes
    assert page.total == len(codes)
    assert all(row.kind == kind for row in page.views)
    first = page.views[0]
    assert first.id == priced["items"][codes[0]]
    assert first.attributes == {"note": codes[0].lower()}


def test_tierprices_are_the_price_tiers_with_their_discount(db, priced):
    page = _pricebook(db, priced["practice"], "tierprices")
    assert [(row.name, row.attributes["discount_percent"]) for row in page.views] == [
        ("Insurance A", Decimal("20.00")),
        ("Retail", Decimal("0.00")),
    ]
    assert page.views[0].attributes["description"] == "VSP"
    assert [row.attributes["is_default"] for row in page.views] == [False, True]
    assert page.views[0].retail_price is None
    assert priced["foreign"]["tierprices"] not in _sorted_ids(page.views)


@pytest.mark.parametrize("kind", ["frames", "contactlenses", "tierprices"])
@pytest.mark.parametrize("key", sorted(pricebook_reads.SORT_FIELDS["items"]))
@pytest.mark.parametrize("descending", [False, True])
def test_every_pricebook_sort_key_orders_with_the_id_breaking_ties(
    db, priced, kind, key, descending
):
    views = _pricebook(db, priced["practice"], kind, sort=[(key, descending)]).views
    assert len(views) == {"frames": 3, "contactlenses": 3, "tierprices": 2}[kind]
    _check_order(views, key, descending)


def test_pricebook_price_sort_puts_ties_by_id_and_missing_prices_last(db, priced):
    lenses = _pricebook(db, priced["practice"], "contactlenses", sort=[("retail_price", False)])
    ties = sorted([priced["items"]["CL-AO6"], priced["items"]["CL-B6"]])
    assert _sorted_ids(lenses.views) == [*ties, priced["items"]["CL-DT90"]]
    frames = _pricebook(db, priced["practice"], "frames", sort=[("retail_price", False)])
    assert [row.code for row in frames.views] == ["OX-1", "RB-1", "FL-1"]
    frames = _pricebook(db, priced["practice"], "frames", sort=[("cost", True)])
    assert [row.code for row in frames.views] == ["FL-1", "RB-1", "OX-1"]
    second = _pricebook(
        db, priced["practice"], "contactlenses", sort=[("retail_price", False)], limit=1, offset=1
    )
    assert (second.total, _sorted_ids(second.views)) == (3, [ties[1]])


def test_pricebook_search_and_unknown_kind(db, priced):
    assert [r.code for r in _pricebook(db, priced["practice"], "frames", search="oak").views] == [
        "OX-1"
    ]
    found = _pricebook(db, priced["practice"], "contactlenses", search="cl-d")
    assert [r.code for r in found.views] == ["CL-DT90"]
    with pytest.raises(BadRequest) as refused:
        _pricebook(db, priced["practice"], "sunglasses")
    assert refused.value.field == "kind"
    assert "tierprices" in refused.value.allowed


@pytest.mark.parametrize("kind", ["frames", "contactlenses", "tierprices"])
def test_pricebook_detail_is_not_found_across_practices_and_kinds(db, priced, kind):
    with db.reading() as r:
        with pytest.raises(NotFound):
            pricebook_reads.detail(r, priced["practice"], kind, priced["foreign"][kind])
        own = pricebook_reads.page(r, priced["practice"], kind, limit=1).views[0]
        assert pricebook_reads.detail(r, priced["practice"], kind, own.id) == own
        other_kind = "proffees" if kind != "proffees" else "misc"
        with pytest.raises(NotFound):
            pricebook_reads.detail(r, priced["practice"], other_kind, own.id)


# --------------------------------------------------------------------------- pricebook writes


def _frame_count(db, practice_id):
    with db.reading() as r:
        return r.scalar(
            select(func.count()).select_from(Frame).where(Frame.practice_id == practice_id)
        )


def _details(sku, **overrides):
    return FrameDetails(
        **{
            "sku": sku,
            "brand": "Lindberg",
            "model": "Strip 9704",
            "eye_size": 50,
            "bridge": 19,
            "temple": 140,
            "price": Decimal("450.00"),
            "wholesale_price": Decimal("160.00"),
        }
        | overrides
    )


def test_bulk_pricebook_frames_are_all_created(db, priced):
    with db.transaction() as s:
        created = pricebooks.create_frames(
            s, factories.actor(priced["practice"]), [_details("LB-1"), _details("LB-2")]
        )
    assert [f.sku for f in created] == ["LB-1", "LB-2"]
    page = _pricebook(db, priced["practice"], "frames", sort=[("code", False)], search="LB-")
    assert [(r.code, r.retail_price, r.cost) for r in page.views] == [
        ("LB-1", Decimal("450.00"), Decimal("160.00")),
        ("LB-2", Decimal("450.00"), Decimal("160.00")),
    ]
    with db.reading() as r:
        audited = r.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "frame.created")
        )
    assert audited == 3 + 1 + 2  # the fixture's four frames, then these two


@pytest.mark.parametrize(
    ("batch", "index", "field"),
    [
        ([_details("LB-1"), _details("LB-2", price=Decimal("-1"))], 1, "price"),
        ([_details("LB-1"), _details("LB-2"), _details("LB-1")], 2, "sku"),
        ([_details("LB-1"), _details("RB-1")], 1, "sku"),  # already in the catalog
        ([_details(""), _details("LB-2")], 0, "sku"),
        ([_details("LB-1", bridge=120)], 0, "bridge"),
    ],
)
def test_one_bad_record_writes_no_frame_and_names_its_index(db, priced, batch, index, field):
    before = _frame_count(db, priced["practice"])
    with db.transaction() as s, pytest.raises(ValidationFailed) as refused:
        pricebooks.create_frames(s, factories.actor(priced["practice"]), batch)
    error = refused.value.errors[0]
    assert (error.index, error.field) == (index, field)
    assert refused.value.message.startswith(f"Record {index}: {field}")
    assert _frame_count(db, priced["practice"]) == before


def test_a_frame_sku_of_another_practice_is_free(db, priced):
    with db.transaction() as s:
        pricebooks.create_frames(s, factories.actor(priced["other"]), [_details("OX-1")])
    assert _frame_count(db, priced["other"]) == 2


def test_a_write_failure_inside_a_batch_undoes_the_batch_even_if_the_caller_commits(
    db, priced, monkeypatch
):
    real = pricebooks.frame_service.create_frame
    calls = []

    def flaky(session, actor, details):
        calls.append(details.sku)
        if len(calls) == 2:
            raise Conflict("A frame with SKU LB-2 already exists")
        return real(session, actor, details)

    monkeypatch.setattr(pricebooks.frame_service, "create_frame", flaky)
    before = _frame_count(db, priced["practice"])
    with db.transaction() as s, pytest.raises(Conflict) as refused:
        pricebooks.create_frames(
            s, factories.actor(priced["practice"]), [_details("LB-1"), _details("LB-2")]
        )
        # the session stays usable and commits: nothing of the batch is in it
    assert refused.value.message == "Record 1: A frame with SKU LB-2 already exists"
    assert _frame_count(db, priced["practice"]) == before


def test_patching_a_pricebook_frame_changes_price_cost_and_names(db, priced):
    with db.transaction() as s:
        pricebooks.patch_frame(
            s,
            factories.actor(priced["practice"]),
            priced["plain"],
            pricebooks.FramePatch(
                model="RB2140 Wayfarer", price=Decimal("199.00"), cost=Decimal("80")
            ),
        )
        # a frame priced by its pricebook item: the item takes the new price too
        pricebooks.patch_frame(
            s,
            factories.actor(priced["practice"]),
            priced["listed"],
            pricebooks.FramePatch(price=Decimal("169.00")),
        )
    with db.reading() as r:
        plain = pricebook_reads.detail(r, priced["practice"], "frames", priced["plain"])
        listed = pricebook_reads.detail(r, priced["practice"], "frames", priced["listed"])
        item = r.execute(
            select(PricebookItem.retail_price, PricebookItem.cost).where(
                PricebookItem.id == priced["override"]
            )
        ).one()
        events = r.execute(
            select(Event.type, Event.data).where(Event.practice_id == priced["practice"])
        ).all()
    assert (plain.name, plain.retail_price, plain.cost) == (
        "Ray-Ban RB2140 Wayfarer",
        Decimal("199.00"),
        Decimal("80.00"),
    )
    assert plain.attributes["color"] == "Tortoise"  # untouched
    assert (listed.retail_price, listed.cost) == (Decimal("169.00"), Decimal("70.00"))
    assert tuple(item) == (Decimal("169.00"), Decimal("70.00"))
    repriced = [data["sku"] for kind, data in events if kind == "inventory.updated"]
    assert sorted(repriced) == ["OX-1", "RB-1"]


def test_patching_a_frame_validates_and_is_scoped(db, priced):
    actor = factories.actor(priced["practice"])
    with db.transaction() as s:
        with pytest.raises(ValidationFailed) as refused:
            pricebooks.patch_frame(
                s, actor, priced["plain"], pricebooks.FramePatch(cost=Decimal("-5"))
            )
        assert refused.value.errors[0].field == "cost"
        with pytest.raises(NotFound):
            pricebooks.patch_frame(
                s, actor, priced["foreign"]["frames"], pricebooks.FramePatch(price=Decimal("1"))
            )


def test_price_tier_names_are_unique_per_practice(db, priced):
    actor = factories.actor(priced["practice"])
    with db.transaction() as s:
        with pytest.raises(Conflict) as refused:
            pricebooks.create_price_tier(s, actor, pricebooks.PriceTierDetails("insurance a"))
        assert refused.value.message == "A price tier named insurance a already exists"
        with pytest.raises(Conflict):
            pricebooks.update_price_tier(
                s, actor, priced["retail"], pricebooks.PriceTierPatch(name="Insurance A")
            )
        # the same name in another practice is fine (the fixture made one), and renaming a
        # tier to its own name is no conflict
        pricebooks.update_price_tier(
            s, actor, priced["insurance"], pricebooks.PriceTierPatch(name="Insurance A")
        )
    assert [r.name for r in _pricebook(db, priced["practice"], "tierprices").views] == [
        "Insurance A",
        "Retail",
    ]


def test_price_tier_updates_validate_and_keep_one_default(db, priced):
    actor = factories.actor(priced["practice"])
    with db.transaction() as s:
        with pytest.raises(ValidationFailed) as refused:
            pricebooks.update_price_tier(
                s,
                actor,
                priced["insurance"],
                pricebooks.PriceTierPatch(discount_percent=Decimal("120")),
            )
        assert refused.value.errors[0].field == "discount_percent"
        pricebooks.update_price_tier(
            s,
            actor,
            priced["insurance"],
            pricebooks.PriceTierPatch(discount_percent=Decimal("15.5"), is_default=True),
        )
    rows = {r.name: r.attributes for r in _pricebook(db, priced["practice"], "tierprices").views}
    assert rows["Insurance A"]["discount_percent"] == Decimal("15.50")
    assert rows["Insurance A"]["is_default"] is True
    assert rows["Retail"]["is_default"] is False
    with db.reading() as r:
        foreign_default = r.scalar(
            select(PriceTier.is_default).where(PriceTier.id == priced["foreign"]["tierprices"])
        )
    assert foreign_default is False  # untouched: another practice's tiers


def test_deleting_a_price_tier(db, priced):
    actor = factories.actor(priced["practice"])
    with db.transaction() as s:
        pricebooks.create_item(
            s,
            actor,
            "proffees",
            pricebooks.PricebookItemDetails(
                "EXAM-INS",
                "Exam (Insurance A)",
                Decimal("45.00"),
                price_tier_id=priced["insurance"],
            ),
        )
    with db.transaction() as s:
        pricebooks.delete_price_tier(s, actor, priced["insurance"])
        with pytest.raises(NotFound):
            pricebooks.delete_price_tier(s, actor, priced["foreign"]["tierprices"])
    assert [r.name for r in _pricebook(db, priced["practice"], "tierprices").views] == ["Retail"]
    assert [r.code for r in _pricebook(db, priced["practice"], "proffees").views] == ["EXAM"]
    with db.transaction() as s, pytest.raises(NotFound):
        pricebooks.delete_price_tier(s, actor, priced["insurance"])
    assert len(_pricebook(db, priced["other"], "tierprices").views) == 1


def test_pricebook_item_codes_are_unique_per_kind(db, priced):
    actor = factories.actor(priced["practice"])
    with db.transaction() as s:
        with pytest.raises(Conflict):
            pricebooks.create_item(
                s,
                actor,
                "contactlenses",
                pricebooks.PricebookItemDetails("CL-AO6", "Again", Decimal("1")),
            )
        pricebooks.create_item(
            s, actor, "misc", pricebooks.PricebookItemDetails("CL-AO6", "Other kind", Decimal("1"))
        )
        with pytest.raises(ValidationFailed) as refused:
            pricebooks.create_item(
                s,
                actor,
                "frames",
                pricebooks.PricebookItemDetails(
                    "OX-1B", "Twice", Decimal("1"), frame_id=priced["listed"]
                ),
            )
        assert refused.value.errors[0].field == "frame_id"


# --------------------------------------------------------------------------- locations


def test_locations_with_hours_sorted_and_scoped(db):
    with db.transaction() as s:
        a = factories.practice(s, "A")
        b = factories.practice(s, "B")
        harbor = factories.location(s, a.id, "Harbor")
        downtown = factories.location(s, a.id, "Downtown")
        foreign = factories.location(s, b.id, "Downtown")
    with db.reading() as r:
        page = location_reads.page(r, a.id, location_reads.LocationFilter(), limit=10)
        assert _sorted_ids(page.views) == [downtown.id, harbor.id]
        assert page.total == 2
        assert [h.weekday for h in page.views[0].hours] == [0, 1, 2, 3, 4]
        backwards = location_reads.page(
            r, a.id, location_reads.LocationFilter(), limit=10, sort=[("name", True)]
        )
        assert _sorted_ids(backwards.views) == [harbor.id, downtown.id]
        for key in location_reads.SORT_FIELDS:
            for descending in (False, True):
                views = location_reads.page(
                    r, a.id, location_reads.LocationFilter(), limit=10, sort=[(key, descending)]
                ).views
                _check_order(views, key, descending)
        named = location_reads.page(r, a.id, location_reads.LocationFilter(name="har"), limit=10)
        assert _sorted_ids(named.views) == [harbor.id]
        assert location_reads.detail(r, a.id, harbor.id).name == "Harbor"
        with pytest.raises(NotFound):
            location_reads.detail(r, a.id, foreign.id)
