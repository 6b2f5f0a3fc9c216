"""Realistic demo data, built through the services (so it carries events and history).

One practice with two locations, ~200 frames with stock, 50 patients with prescriptions,
~300 orders spread over every lifecycle state, a lab with its catalogs and the practice's
account, pricebooks and two price tiers, a dozen appointments over the next two weeks,
invoices for a few finished orders, a doctor and two opticians, and the owner login printed
by ``optihub serve --demo``.
"""

from __future__ import annotations

import json
import random
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from optihub.db.models import (
    Employee,
    Event,
    Frame,
    Lab,
    LabAccount,
    LensAddon,
    LensMaterial,
    LensStyle,
    Location,
    Order,
    OrderStatusChange,
    Patient,
    User,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from optihub.db.models.practice import employee_locations
from optihub.domain import rx as rx_rules
from optihub.domain.board import DEFAULT_OVERDUE_DAYS
from optihub.domain.orders import OrderStatus
from optihub.reads import catalog
from optihub.reads.catalog import LabAccountView
from optihub.services import appointments as appointment_service
from optihub.services import frames as frame_service
from optihub.services import invoices as invoice_service
from optihub.services import lab_orders, oauth_clients
from optihub.services import orders as order_service
from optihub.services import patients as patient_service
from optihub.services import practices as practice_service
from optihub.services import prescriptions as rx_service
from optihub.services import pricebooks as pricebook_service
from optihub.services import users as user_service
from optihub.services.context import Actor
from optihub.services.webhooks import Encrypter

DEMO_EMAIL = "owner@demo.optihub.test"
DEMO_PASSWORD = "optihub-demo"  # noqa: S105  (published demo login)
DEMO_PRACTICE = "Clearview Eyecare (demo)"

BRANDS = {
    "Ray-Ban": ["RB5154 Clubmaster", "RB2140 Wayfarer", "RB5228", "RB7047", "RB6335"],
    "Oakley": ["OX8046 Airdrop", "OX3227 Holbrook RX", "OX8156 Crosslink"],
    "Tom Ford": ["FT5401", "FT5634-B", "FT5178"],
    "Silhouette": ["Momentum 5529", "TMA Icon 5541", "Urban Lite 2904"],
    "Lindberg": ["Strip 9704", "Spirit 2287", "NOW 6545"],
    "Persol": ["PO3007V", "PO3092V", "PO2469V"],
    "Prada": ["PR 17WV", "VPR 16M", "PR 08WV"],
    "Flexon": ["Flexon E1116", "Flexon Autoflex 53", "Flexon H6000"],
    "Kate Spade": ["Valencia", "Alaysha", "Marciann"],
    "Nike": ["Nike 7136", "Nike 5540 Kids", "Nike 8134"],
}
COLORS = [
    "Black",
    "Tortoise",
    "Havana",
    "Gunmetal",
    "Gold",
    "Silver",
    "Crystal",
    "Navy",
    "Burgundy",
]
# Frame materials in the lab-order contract's words (``services.lab_orders.FRAME_MATERIALS``).
MATERIALS = ["zyl", "zyl", "metal", "metal", "drilled_rimless", "grooved_rimless", "carbon_fiber"]
FIRST = [
    "Emma",
    "Liam",
    "Olivia",
    "Noah",
    "Ava",
    "Elijah",
    "Sophia",
    "James",
    "Isabella",
    "Lucas",
    "Mia",
    "Mateo",
    "Amelia",
    "Ethan",
    "Harper",
    "Aiden",
    "Evelyn",
    "Jackson",
    "Grace",
    "Daniel",
    "Chloe",
    "Henry",
    "Zoe",
    "Samuel",
    "Nora",
]
LAST = [
    "Garcia",
    "Smith",
    "Nguyen",
    "Johnson",
    "Patel",
    "Williams",
    "Brown",
    "Kim",
    "Lopez",
    "Miller",
    "Davis",
    "Martinez",
    "Wilson",
    "Anderson",
    "Chen",
    "Thomas",
    "Moore",
    "Clark",
    "Lewis",
    "Walker",
    "Young",
    "Hall",
    "Allen",
    "King",
    "Wright",
]
# Where the 300 orders sit, roughly like a busy practice's board.
STATUS_MIX = [
    (OrderStatus.DRAFT, 20),
    (OrderStatus.RECEIVED, 50),
    (OrderStatus.IN_PROGRESS, 70),
    (OrderStatus.COMPLETED, 40),
    (OrderStatus.SHIPPED, 40),
    (OrderStatus.DELIVERED, 60),
    (OrderStatus.CANCELLED, 20),
]
PATH = [
    OrderStatus.RECEIVED,
    OrderStatus.IN_PROGRESS,
    OrderStatus.COMPLETED,
    OrderStatus.SHIPPED,
    OrderStatus.DELIVERED,
]


@dataclass(frozen=True)
class DemoResult:
    practice_id: int
    created: bool


def demo_exists(session: Session) -> int | None:
    """The demo practice id when the demo owner already exists."""
    user = session.scalar(select(User).where(User.email == DEMO_EMAIL))
    if user is None:
        return None
    return user_service.practice_ids_of(session, user.id)[0]


def _quarter(rng: random.Random, low: float, high: float) -> Decimal:
    return Decimal(round(rng.uniform(low, high) * 4) / 4).quantize(Decimal("0.01"))


def _random_eye(rng: random.Random, multifocal: bool) -> rx_rules.EyeRx:
    cylinder = _quarter(rng, -2.5, 0) if rng.random() < 0.6 else None
    if cylinder is not None and cylinder == 0:
        cylinder = None
    add = _quarter(rng, 1, 2.75) if multifocal else None
    return rx_rules.EyeRx(
        sphere=_quarter(rng, -6, 3),
        cylinder=cylinder,
        axis=rng.randint(1, 180) if cylinder is not None else None,
        add=add,
        distance_pd=Decimal(rng.choice(["30.5", "31", "31.5", "32", "32.5", "33"])),
        seg_height=Decimal(rng.choice(["17", "18", "19", "20"])) if multifocal else None,
    )


def seed_demo(
    session: Session,
    *,
    progress: Callable[[str, int], None] | None = None,
    key: Encrypter | None = None,
) -> DemoResult:
    """Create the demo data unless it exists already (then nothing changes). With ``key``
    (the instance key, which encrypts webhook secrets) the practice's apps have a webhook
    subscription with a delivery log."""
    existing = demo_exists(session)
    if existing is not None:
        return DemoResult(existing, created=False)
    step = progress or (lambda _label, _n: None)
    rng = random.Random(2026)  # noqa: S311  (demo data, not security)
    now = datetime.now(UTC).replace(microsecond=0)

    practice = practice_service.create_practice(session, name=DEMO_PRACTICE)
    actor = Actor(practice_id=practice.id, via="demo", label="demo seed")
    weekdays = [practice_service.OpeningHours(d, time(9), time(18)) for d in range(5)]
    saturday = [practice_service.OpeningHours(5, time(10), time(14))]
    locations = [
        practice_service.create_location(
            session,
            practice.id,
            name="Clearview Downtown",
            hours=weekdays + saturday,
            phone="6175550100",
            address_line1="120 Tremont St",
            city="Boston",
            state="MA",
            postal_code="02108",
        ),
        practice_service.create_location(
            session,
            practice.id,
            name="Clearview Harbor",
            hours=weekdays,
            phone="6175550175",
            address_line1="33 Seaport Blvd",
            city="Boston",
            state="MA",
            postal_code="02210",
        ),
    ]
    owner = user_service.create_user(
        session,
        email=DEMO_EMAIL,
        password=DEMO_PASSWORD,
        practice_id=practice.id,
        role="owner",
        first_name="Dana",
        last_name="Whitfield",
    )
    step("people", 1)

    frames = []
    for index in range(200):
        brand = rng.choice(list(BRANDS))
        eye = rng.randint(46, 58)
        frame = frame_service.create_frame(
            session,
            actor,
            frame_service.FrameDetails(
                sku=f"{brand[:3].upper()}-{1000 + index}",
                upc=f"{rng.randint(10**11, 10**12 - 1)}",
                brand=brand,
                model=rng.choice(BRANDS[brand]),
                color=rng.choice(COLORS),
                material=rng.choice(MATERIALS),
                eye_size=eye,
                bridge=rng.randint(15, 22),
                temple=rng.choice([135, 140, 145, 150]),
                a=Decimal(eye),
                b=Decimal(rng.randint(30, 44)),
                ed=Decimal(eye + rng.randint(2, 6)),
                price=Decimal(rng.randrange(9900, 42900, 500)) / 100,
                wholesale_price=Decimal(rng.randrange(3500, 16000, 250)) / 100,
            ),
        )
        frames.append(frame)
    changes = [
        frame_service.StockChange(frame.id, location.id, quantity=rng.choice([0, 1, 1, 2, 3, 4, 6]))
        for frame in frames
        for location in locations
    ]
    frame_service.apply_stock_changes(session, actor, changes)
    step("frames", 200)

    lab = Lab(name="Precision Optical Lab", code="precision")
    session.add(lab)
    session.flush()
    styles = [
        LensStyle(lab_id=lab.id, name=name, lens_type=kind)
        for name, kind in [
            ("Essential Single Vision", "single_vision"),
            ("Digital HD Single Vision", "single_vision"),
            ("Comfort Progressive", "multifocal"),
            ("Premium Free-Form Progressive", "multifocal"),
            ("FT-28 Bifocal", "multifocal"),
        ]
    ]
    materials = [
        LensMaterial(lab_id=lab.id, name=name, index=Decimal(ix))
        for name, ix in [
            ("CR-39 Plastic", "1.50"),
            ("Polycarbonate", "1.59"),
            ("Trivex", "1.53"),
            ("High Index 1.67", "1.67"),
            ("High Index 1.74", "1.74"),
        ]
    ]
    for style in styles:
        style.materials = materials if "Bifocal" not in style.name else materials[:3]
    session.add_all(styles + materials)
    session.flush()
    session.add_all(
        [
            LensAddon(lab_id=lab.id, kind="coat", name=n, coat_type=t)
            for n, t in [
                ("Crizal Sapphire AR", "ar"),
                ("Basic AR", "ar"),
                ("Silver Mirror", "mirror"),
                ("Scratch Guard", "scratch"),
                ("UV400", "uv"),
                ("Blue Light Filter", None),
            ]
        ]
        + [
            LensAddon(lab_id=lab.id, kind="color", name=n)
            for n in [
                "Clear",
                "Transitions Gen S Gray",
                "Transitions XTRActive Brown",
                "Polarized Gray",
            ]
        ]
        + [
            LensAddon(lab_id=lab.id, kind="tint", name=n)
            for n in ["Gray", "Brown", "G-15", "Rose", "Yellow"]
        ]
    )
    session.add(
        LabAccount(
            practice_id=practice.id,
            lab_id=lab.id,
            account_number="PX-20417",
            frame_handling_options=[
                "Frame to follow",
                "Lab supplies frame",
                "Uncut lenses only",
                "Enclosed",
            ],
            frame_materials=["zyl", "metal", "drilled_rimless", "grooved_rimless"],
            mounting_options=["Mount lenses in frame", "Edge only", "Uncut"],
            order_types=["rx", "stock", "sunglass"],
            redo_types=["Doctor redo", "Lab error", "Patient remake", "Breakage"],
            services=["Rush", "Edge polish", "Nylon cord", "Drill mount"],
        )
    )
    session.flush()
    _second_lab(session, practice.id)
    step("labs", 2)

    patients = []
    prescriptions = []
    rxs = []
    for index in range(50):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        patient = patient_service.create_patient(
            session,
            actor,
            patient_service.PatientDetails(
                first_name=first,
                last_name=last,
                email=f"{first}.{last}.{index}@example.com".lower(),
                phone=f"617555{1000 + index:04d}",
                date_of_birth=date(rng.randint(1945, 2015), rng.randint(1, 12), rng.randint(1, 28)),
                city="Boston",
                state="MA",
                postal_code="02116",
            ),
        )
        patients.append(patient)
        multifocal = patient.date_of_birth is not None and patient.date_of_birth.year < 1982
        issued = (now - timedelta(days=rng.randint(10, 600))).date()
        rxs.append(
            rx_rules.SpectacleRx(
                right=_random_eye(rng, multifocal), left=_random_eye(rng, multifocal)
            )
        )
        prescriptions.append(
            rx_service.create_spectacle_prescription(
                session,
                actor,
                patient_id=patient.id,
                rx=rxs[-1],
                issued_on=issued,
                expires_on=issued + timedelta(days=730),
                prescriber_name="Dr. Ana Ruiz, OD",
            )
        )
    step("patients", 50)

    plan = [status for status, count in STATUS_MIX for _ in range(count)]
    rng.shuffle(plan)
    staff = Actor(
        practice_id=practice.id,
        via="dashboard",
        user_id=owner.id,
        label=f"Dana Whitfield <{DEMO_EMAIL}>",
    )
    channels = _channel_actors(practice.id, owner.id)
    accounts = catalog.lab_accounts(session, practice.id)
    billable = []
    backdating = _Backdating()
    drafts = 0
    for index, final in enumerate(plan):
        who = rng.randrange(len(patients))
        times = _timeline(rng, now, final)
        if final == OrderStatus.DRAFT:
            order = _lab_draft(
                session, channels["labs"], rng, drafts, patients[who], rxs[who], frames, accounts
            )
            drafts += 1
            # The order-entry tool names no location: the patient's usual one.
            backdating.located(order, locations[who % len(locations)].id)
        else:
            order = _order(
                session,
                channels[_channel(rng)],
                rng,
                index,
                final,
                times[0],
                patients[who].id,
                prescriptions[who].id,
                rng.choice(locations).id,
                rng.choice(frames),
                lab.id,
                styles,
            )
            _walk(session, staff, order.id, final)
        backdating.add(order, times)
        if final in (OrderStatus.COMPLETED, OrderStatus.DELIVERED) and len(billable) < 5:
            billable.append(order.id)
        if index % 25 == 24:
            step("orders", 25)
    step("orders", len(plan) % 25)
    _practice_records(session, actor, rng, locations, patients, billable)
    _employees(session, practice.id, locations)
    backdating.write(session)
    session.flush()
    if key is not None:
        _webhooks(session, practice.id, key, now)
    _ = owner
    return DemoResult(practice.id, created=True)


DEMO_HOOK_URL = "https://pms.clearview.example/hooks/optihub"


def _webhooks(session: Session, practice_id: int, key: Encrypter, now: datetime) -> None:
    """The practice-management app connected to the practice, subscribed to its orders'
    events, with the log of its last deliveries: delivered, one after a retry, one given
    up. The demo's earlier events count as relayed (they came before the subscription)."""
    app = oauth_clients.register_client(
        session,
        name="Clearview PMS",
        scope="orders:read webhooks:read webhooks:write",
        redirect_uris=[],
        practice_ids=[practice_id],
    )
    subscription = WebhookSubscription(
        practice_id=practice_id,
        surface="partner",
        client_id=app.client.client_id,
        url=DEMO_HOOK_URL,
        events=["order.created", "order.status_changed"],
        enabled=True,
        description="Order status into the practice-management system",
        secret_ciphertext=key.encrypt("whsec_" + secrets.token_urlsafe(32)),
        last_status="delivered",
        last_delivery_at=now - timedelta(minutes=12),
    )
    session.add(subscription)
    session.execute(
        update(Event)
        .where(Event.practice_id == practice_id, Event.relayed_at.is_(None))
        .values(relayed_at=now)
    )
    recent = session.scalars(
        select(Event)
        .where(Event.practice_id == practice_id, Event.type == "order.status_changed")
        .order_by(Event.created_at.desc())
        .limit(8)
    ).all()
    session.flush()
    outcomes = [(200,)] * 5 + [(503, 200), (200,), (500, 502, 503, 503)]
    for index, (event, codes) in enumerate(zip(recent, outcomes, strict=False)):
        sent = now - timedelta(minutes=12 + 37 * index)
        final = codes[-1]
        delivery = WebhookDelivery(
            practice_id=practice_id,
            subscription_id=subscription.id,
            event_id=event.id,
            event_code=event.type,
            payload=json.dumps(event.data),
            status="delivered" if final == 200 else "failed",
            attempt_count=len(codes),
            next_attempt_at=sent,
            last_response_code=final,
            last_error=None if final == 200 else f"HTTP {final}",
            created_at=sent - timedelta(minutes=5 * (len(codes) - 1)),
            delivered_at=sent if final == 200 else None,
        )
        session.add(delivery)
        session.flush()
        for attempt, code in enumerate(codes):
            session.add(
                WebhookAttempt(
                    practice_id=practice_id,
                    delivery_id=delivery.id,
                    attempted_at=sent - timedelta(minutes=5 * (len(codes) - 1 - attempt)),
                    response_code=code,
                    error=None if code == 200 else f"HTTP {code}",
                    duration_ms=60 + 17 * attempt,
                )
            )
    session.flush()


# (kind, code, name, retail price, cost, attributes) of the practice's pricebooks.
PRICEBOOK_ITEMS: list[tuple[str, str, str, str, str | None, dict[str, Any]]] = [
    ("lenses", "LNS-SV-CR39", "Essential Single Vision, CR-39", "89.00", "24.00", {}),
    ("lenses", "LNS-SV-POLY", "Digital HD Single Vision, Polycarbonate", "149.00", "41.00", {}),
    ("lenses", "LNS-PAL-167", "Premium Free-Form Progressive, 1.67", "399.00", "118.00", {}),
    ("contactlenses", "CL-AO6", "Acuvue Oasys 6pk", "62.00", "38.50", {"replacement": "2 weeks"}),
    (
        "contactlenses",
        "CL-DT90",
        "Dailies Total1 90pk",
        "119.00",
        "78.00",
        {"replacement": "daily"},
    ),
    (
        "contactlenses",
        "CL-BTOR6",
        "Biofinity Toric 6pk",
        "84.00",
        "52.00",
        {"replacement": "monthly"},
    ),
    ("proffees", "EXAM-COMP", "Comprehensive eye exam", "150.00", None, {"cpt": "92004"}),
    ("proffees", "EXAM-CL", "Contact lens fitting", "95.00", None, {"cpt": "92310"}),
    ("proffees", "EXAM-PED", "Pediatric eye exam", "120.00", None, {"cpt": "92002"}),
    ("proffees", "RETINA-IMG", "Retinal imaging (Optomap)", "45.00", None, {}),
    ("merchandise", "KIT-CLEAN", "Lens cleaning kit", "14.99", "3.20", {}),
    ("merchandise", "CASE-HARD", "Hard-shell eyeglass case", "19.99", "4.75", {}),
    ("merchandise", "CHAIN-BEAD", "Beaded eyeglass chain", "12.50", "2.80", {}),
    # Fulfillment SKUs (non-prescription): plano sunglasses and lens-care solutions.
    ("merchandise", "SUN-PLANO-BLK", "Plano sunglasses, matte black", "59.00", "18.00", {}),
    ("merchandise", "SUN-PLANO-TORT", "Plano sunglasses, tortoise", "59.00", "18.00", {}),
    ("merchandise", "SOL-MPS-360", "Multipurpose solution 360 ml", "11.99", "4.10", {}),
    ("addons", "AF-SPRAY", "Anti-fog spray", "9.99", "2.10", {}),
    ("addons", "AR-CRIZAL", "Crizal Sapphire anti-reflective coating", "120.00", "38.00", {}),
    ("addons", "PHOTO-GEN-S", "Transitions Gen S", "110.00", "42.00", {}),
    ("addons", "BLUE-FILTER", "Blue light filter", "60.00", "14.00", {}),
    ("misc", "RUSH", "Rush lab service", "35.00", None, {}),
    ("misc", "REPAIR", "Frame repair", "25.00", None, {}),
    ("misc", "SHIP-HOME", "Ship to home", "12.00", "8.50", {}),
]
APPOINTMENT_KINDS = ["eye_exam", "eye_exam", "contact_lens_fitting", "frame_pickup", "follow_up"]


# (first, last, title, npi, is_doctor, email, indexes of the locations they work at)
DEMO_EMPLOYEES: list[tuple[str, str, str, str | None, bool, str, tuple[int, ...]]] = [
    ("Priya", "Raman", "OD", "1467503981", True, "dr.raman@clearview.example", (0, 1)),
    ("Marcus", "Bell", "Optician", None, False, "marcus@clearview.example", (0,)),
    ("Elena", "Ortiz", "Optician", None, False, "elena@clearview.example", (1,)),
]


def _employees(session: Session, practice_id: int, locations: list[Location]) -> None:
    """A doctor working at both locations and an optician at each (no service places
    employees yet: their rows and their locations are written here)."""
    for first, last, title, npi, is_doctor, email, at in DEMO_EMPLOYEES:
        employee = Employee(
            practice_id=practice_id,
            first_name=first,
            last_name=last,
            title=title,
            npi=npi,
            is_doctor=is_doctor,
            email=email,
        )
        session.add(employee)
        session.flush()
        session.execute(
            employee_locations.insert(),
            [
                {
                    "practice_id": practice_id,
                    "employee_id": employee.id,
                    "location_id": locations[i].id,
                }
                for i in at
            ],
        )


def _practice_records(
    session: Session,
    actor: Actor,
    rng: random.Random,
    locations: list[Location],
    patients: list[Patient],
    billable: list[uuid.UUID],
) -> None:
    """Price tiers, pricebook items, a dozen appointments over the next two weeks (in the
    practice's own hours) and invoices for a few finished orders, one of them paid."""
    for name, discount, default in (("Retail", "0", True), ("Insurance A", "20", False)):
        pricebook_service.create_price_tier(
            session,
            actor,
            pricebook_service.PriceTierDetails(
                name=name,
                description=f"{discount} % off retail",
                discount_percent=Decimal(discount),
                is_default=default,
            ),
        )
    for kind, code, name, price, cost, attributes in PRICEBOOK_ITEMS:
        pricebook_service.create_item(
            session,
            actor,
            kind,
            pricebook_service.PricebookItemDetails(
                code=code,
                name=name,
                retail_price=Decimal(price),
                cost=Decimal(cost) if cost is not None else None,
                attributes=attributes,
            ),
        )
    zone = ZoneInfo("America/New_York")
    today = datetime.now(zone).date()
    for index in range(12):
        day = today + timedelta(days=1 + index * 13 // 12)
        if day.weekday() > 4:
            day += timedelta(days=7 - day.weekday())
        kind = APPOINTMENT_KINDS[index % len(APPOINTMENT_KINDS)]
        starts = datetime.combine(day, time(9 + rng.randrange(8), rng.choice([0, 30])), zone)
        appointment_service.create_appointment(
            session,
            actor,
            appointment_service.AppointmentDetails(
                location_id=locations[index % len(locations)].id,
                patient_id=rng.choice(patients).id,
                starts_at=starts,
                ends_at=starts + timedelta(minutes=60 if kind == "eye_exam" else 30),
                kind=kind,
                status="confirmed" if index < 4 else "scheduled",
            ),
        )
    for index, order_id in enumerate(billable):
        invoice = invoice_service.create_invoice(session, actor, order_id=order_id)
        if index == 0:
            invoice_service.record_payment(
                session, actor, invoice.id, amount=invoice.total, method="card"
            )
        elif index == 1:
            invoice_service.record_payment(
                session, actor, invoice.id, amount=Decimal("50.00"), method="cash"
            )


def _second_lab(session: Session, practice_id: int) -> None:
    """A lab whose addons depend on the style and material chosen (a real drill-down)."""
    lab = Lab(name="Northshore Digital Lens", code="northshore")
    session.add(lab)
    session.flush()
    poly = LensMaterial(lab_id=lab.id, name="Polycarbonate", index=Decimal("1.59"))
    trivex = LensMaterial(lab_id=lab.id, name="Trivex", index=Decimal("1.53"))
    hi67 = LensMaterial(lab_id=lab.id, name="High Index 1.67", index=Decimal("1.67"))
    sv = LensStyle(lab_id=lab.id, name="Northshore HD Single Vision", lens_type="single_vision")
    sport = LensStyle(lab_id=lab.id, name="Wrap Sport Single Vision", lens_type="single_vision")
    pal = LensStyle(lab_id=lab.id, name="Northshore Individual Progressive", lens_type="multifocal")
    sv.materials = [poly, trivex, hi67]
    sport.materials = [poly, trivex]
    pal.materials = [trivex, hi67]
    session.add_all([poly, trivex, hi67, sv, sport, pal])
    session.flush()
    addon = lambda kind, name, **kw: LensAddon(lab_id=lab.id, kind=kind, name=name, **kw)  # noqa: E731
    session.add_all(
        [
            addon("coat", "Northshore Premium AR", coat_type="ar"),
            addon("coat", "Hard Coat", coat_type="scratch"),
            addon("coat", "Flash Mirror Blue", coat_type="mirror", style_id=sport.id),
            addon("coat", "Backside UV", coat_type="uv", material_id=hi67.id),
            addon("color", "Clear"),
            addon("color", "Polarized Gray", style_id=sport.id),
            addon("color", "Photochromic Gray", material_id=trivex.id),
            addon("tint", "Gray"),
            addon("tint", "Brown"),
            addon("tint", "Gradient Gray", style_id=sport.id),
        ]
    )
    for number in ("NS-5521", "NS-5521-RUSH"):
        session.add(
            LabAccount(
                practice_id=practice_id,
                lab_id=lab.id,
                account_number=number,
                frame_handling_options=["Frame to follow", "Lenses only"],
                frame_materials=["metal", "zyl", "high_wrap"],
                mounting_options=["Edge and mount", "Uncut"],
                order_types=["rx", "frame"],
                redo_types=["Remake", "Warranty"],
                services=["Rush", "Roll and polish edges"],
            )
        )
    session.flush()


# The channels orders come through (``orders.created_via``: each dialect's name, and the
# dashboard), with their share of a practice's orders and who acts through them.
CHANNEL_MIX: list[tuple[str, int, str]] = [
    ("practice", 30, "EyeCloud Pro (practice software)"),
    ("portal", 20, "MVE portal sync"),
    ("labs", 15, "SpecCheck order entry"),
    ("dashboard", 15, "Dana Whitfield"),
    ("partner", 10, "Eyekiosk partner"),
    ("fulfillment", 10, "Blend storefront"),
]
# Of the orders waiting in a status, about one in OVERDUE_SHARE has waited past its threshold.
OVERDUE_SHARE = 4
NO_LENS_DRAFTS = 3  # drafts the order-entry tool sent without a lens: the staff choose it


def _channel_actors(practice_id: int, owner_id: uuid.UUID) -> dict[str, Actor]:
    return {
        via: Actor(
            practice_id=practice_id,
            via=via,
            user_id=owner_id if via in ("labs", "dashboard") else None,
            label=label,
        )
        for via, _share, label in CHANNEL_MIX
    }


def _channel(rng: random.Random) -> str:
    return rng.choices([c for c, _s, _l in CHANNEL_MIX], [s for _c, s, _l in CHANNEL_MIX])[0]


def _timeline(rng: random.Random, now: datetime, final: OrderStatus) -> list[datetime]:
    """When the order entered each status on its way to ``final`` (created first): the last
    one so long ago that some waiting orders are overdue (``domain.board``)."""
    threshold = DEFAULT_OVERDUE_DAYS.get(final)
    if threshold is None:
        days = rng.randint(0, 90)
    elif rng.randrange(OVERDUE_SHARE) == 0:
        days = rng.randint(threshold, threshold + 8)
    else:
        days = rng.randint(0, threshold - 1)
    at = now - timedelta(days=days, minutes=rng.randint(0, 600))
    if final == OrderStatus.DRAFT:
        steps = 0
    elif final == OrderStatus.CANCELLED:
        steps = 1
    else:
        steps = PATH.index(final)
    times = [at]
    for _ in range(steps):
        at -= timedelta(days=rng.randint(1, 6), minutes=rng.randint(0, 600))
        times.append(at)
    return times[::-1]


@dataclass
class _Backdating:
    """The demo's history as if it had happened over weeks (the services stamp "now"),
    written at the end in two statements: one row per order, one per status change."""

    orders: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    locations: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)

    def located(self, order: Order, location_id: uuid.UUID) -> None:
        self.locations[order.id] = location_id

    def add(self, order: Order, times: list[datetime]) -> None:
        submitted = times[0] if order.submitted_at is not None else None
        self.orders.append(
            {
                "id": order.id,
                "location_id": self.locations.get(order.id, order.location_id),
                "created_at": times[0],
                "status_changed_at": times[-1],
                "updated_at": times[-1],
                "submitted_at": submitted,
            }
        )
        self.changes += [
            {"id": change.id, "at": at} for change, at in zip(order.history, times, strict=True)
        ]

    def write(self, session: Session) -> None:
        session.execute(update(Order), self.orders)
        session.execute(update(OrderStatusChange), self.changes)


def _order(
    session: Session,
    actor: Actor,
    rng: random.Random,
    index: int,
    final: OrderStatus,
    created: datetime,
    patient_id: uuid.UUID,
    prescription_id: uuid.UUID,
    location_id: uuid.UUID,
    frame: Frame,
    lab_id: uuid.UUID,
    styles: list[LensStyle],
) -> Order:
    """An order placed with the Precision lab (received; ``_walk`` takes it further)."""
    lens_price = Decimal(rng.randrange(8900, 39900, 1000)) / 100
    style = rng.choice(styles)
    material = rng.choice(style.materials)
    return order_service.place_order(
        session,
        actor,
        order_service.NewOrder(
            type="spectacles",
            status=OrderStatus.RECEIVED,
            patient_id=patient_id,
            location_id=location_id,
            external_id=f"PMS-{50000 + index}",
            frame_id=frame.id,
            prescription_id=prescription_id,
            lens={
                "style": style.name,
                "style_id": str(style.id),
                "material": material.name,
                "material_id": str(material.id),
                "color": "Clear",
                "coats": ["Crizal Sapphire AR"],
                "tint": None,
            },
            lines=[
                order_service.LineItem(
                    f"{frame.brand} {frame.model}",
                    1,
                    frame.price or Decimal("0"),
                    kind="frame",
                    sku=frame.sku,
                ),
                order_service.LineItem(
                    "Lenses (pair)",
                    1,
                    lens_price,
                    kind="lens",
                    tax=(lens_price * Decimal("0.0625")).quantize(Decimal("0.01")),
                ),
            ],
            amount_paid=Decimal("50.00"),
            lab_fields={
                "lab_id": lab_id,
                "lab_account_number": "PX-20417",
                "lab_order_type": "rx",
                "submission_type": "new",
                "submitted_at": created,
            },
            created_at=created,
        ),
    )


def _eye_input(eye: rx_rules.EyeRx | None) -> lab_orders.EyeInput | None:
    if eye is None:
        return None
    return lab_orders.EyeInput(
        sphere=eye.sphere,
        cylinder=eye.cylinder,
        axis=eye.axis,
        add=eye.add,
        pd=eye.distance_pd,
        near_pd=eye.near_pd,
        seg_height=eye.seg_height,
        oc_height=eye.oc_height,
    )


def _ref(item_id: uuid.UUID) -> lab_orders.CatalogRef:
    return lab_orders.CatalogRef(str(item_id), item_id)


def _lens(
    session: Session, rng: random.Random, lab_id: uuid.UUID, multifocal: bool
) -> lab_orders.LensInput:
    """A lens the lab offers: a style of the Rx's kind, one of its materials, a colour and
    coats offered for that style and material."""
    kind = "multifocal" if multifocal else "single_vision"
    style = rng.choice(catalog.styles(session, lab_id, kind))
    material = rng.choice(catalog.materials(session, lab_id, style.id))
    addons = catalog.addons(session, lab_id, style.id, material.id)
    picked = set(rng.sample(addons.coats, k=min(len(addons.coats), rng.randint(0, 2))))
    coats = [coat for coat in addons.coats if coat in picked]  # in the catalog's order
    return lab_orders.LensInput(
        style=_ref(style.id),
        material=_ref(material.id),
        color=_ref(rng.choice(addons.colors).id),
        coats=tuple(_ref(coat_id) for coat_id, _name, _type in coats),
    )


def _lab_draft(
    session: Session,
    actor: Actor,
    rng: random.Random,
    index: int,
    patient: Patient,
    rx: rx_rules.SpectacleRx,
    frames: list[Frame],
    accounts: list[LabAccountView],
) -> Order:
    """A draft the order-entry tool saved (the lab-order API's draft mode), passing the draft
    rules: the practice reviews it on the dashboard and submits it to the lab."""
    account = accounts[index % len(accounts)]
    frame = rng.choice([f for f in frames if f.material in account.frame_materials])
    multifocal = any(eye is not None and eye.add is not None for eye in (rx.right, rx.left))
    submission = "redo" if index == 4 else "multi_pair" if index == 7 else "new"
    request = lab_orders.LabOrderRequest(
        submission_type=submission,
        order_type=lab_orders.RX_ORDER_TYPE,
        lab=_ref(account.lab_id),
        account_number=account.account_number,
        patient=lab_orders.PatientInput(
            patient.first_name, patient.last_name, patient.email, patient.phone
        ),
        mounting_option=rng.choice(account.mounting_options),
        lens=(None if index < NO_LENS_DRAFTS else _lens(session, rng, account.lab_id, multifocal)),
        frame=lab_orders.FrameInput(
            handling=rng.choice(account.frame_handling_options),
            manufacturer=frame.brand,
            model=frame.model,
            color=frame.color,
            sku=frame.sku,
            material=frame.material,
            eye_size=frame.eye_size,
            bridge=frame.bridge,
            temple=frame.temple,
            a=frame.a,
            b=frame.b,
            lens_ed=frame.ed,
        ),
        rx=lab_orders.RxInput(right_eye=_eye_input(rx.right), left_eye=_eye_input(rx.left)),
        services=(account.services[0],) if index % 5 == 1 else None,
        special_instructions="Patient is sensitive to lens thickness." if index % 6 == 2 else None,
        redo_data=(
            lab_orders.RedoInput(account.redo_types[0], "Seg height too low", "PMS-50012")
            if submission == "redo"
            else None
        ),
        multi_pair_data=(
            lab_orders.MultiPairInput("PMS-50031") if submission == "multi_pair" else None
        ),
    )
    return lab_orders.create_lab_order(session, actor, request, submit=False)


def _walk(session: Session, actor: Actor, order_id: object, final: OrderStatus) -> None:
    if final in (OrderStatus.DRAFT, OrderStatus.RECEIVED):
        return
    if final == OrderStatus.CANCELLED:
        order_service.change_order_status(session, actor, order_id, OrderStatus.CANCELLED)  # type: ignore[arg-type]
        return
    for status in PATH[1 : PATH.index(final) + 1]:
        order_service.change_order_status(session, actor, order_id, status)  # type: ignore[arg-type]
