"""Every dialect's order reads and main create calls under wrk, each beside its floor.

    .venv/bin/python bench/dialects.py [--seconds 10] [--databases sqlite,postgresql]
                                       [--out bench/dialects-last-run.md]
    .venv/bin/python bench/dialects.py --quick      # 2 s rows, report in bench/results/

One database per backend (SQLite: a fresh file in a temp dir, the default; PostgreSQL: a
throw-away cluster from scripts/run_tests.py), migrated and seeded with OptiHub's demo data
(``optihub.demo.seed_demo``: one practice, ~300 orders from every channel in every status,
labs and lab accounts, the owner owner@demo.optihub.test), its order documents rendered
(``optihub documents rebuild``). One uvicorn process of OptiHub (bench.app:create: uvloop,
httptools, the JSON access log on, no worker) and one bare Starlette floor
(bench/dialects_floor.py, same flags). One OAuth app is registered for the practice with
every scope the bench uses and a rate of its own far above the practice dialect's 100 a
minute (``OAuthClient.rate_limit``, as ``optihub client rate-limit`` sets it); each
dialect's token is minted for that app with that dialect's scopes only.

Rows, each run back to back with its floor (floor first, then OptiHub; 1 s warm-up each,
``--seconds`` measured; after every wrk run the bench waits until that server is idle
again), reads before writes so every read floor still holds the bytes the server would
answer:

- the order list of every dialect that has one, a full page of 50, at 1 and 16 clients:
  partner ``?limit=50``, fulfillment ``?per_page=50``, labs ``?lab=&account_number=&limit=50``
  (the practice's lab account with the most orders), practice ``?page_size=50``;
- an order's detail at 16 clients, by the id the dialect uses (the first order of its list):
  partner, fulfillment and practice (labs has no detail route);
- the portal's ``GET /api/Orders?externalId=`` of an order synced through the portal at 16;
- the four creates at 4 clients (bench/post_unique.lua: every request's body has its own
  external ids, patient names and emails): lab order ``POST /v1/orders`` (submitted, lens
  from the lab's catalog), portal ``POST /api/Patients`` (a new ``ExternalId``), practice
  ``POST /v2/{id}/patients``, fulfillment ``POST /fulfillment/v1/orders`` (a new patient,
  so never merged).

Read floors serve the exact bytes the server returned for that exact request (fetched with
httpx before any row runs; anything but 200, or a list that is not a full page of 50,
stops the bench). The write floor reads the body and
stores it as one SQLite row (WAL, synchronous=NORMAL), committed, answering 201. Each
create is sent once with httpx first; a refusal is printed and its row is not measured.
Goals (from the issue): list ≥ 0.25 of its floor and 16 clients ≥ 1 client, detail ≥ 0.30,
portal read ≥ 0.30, creates ≥ 0.10 of the write floor.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import signal
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.run_tests import postgres_cluster  # noqa: E402
from tests import factories  # noqa: E402

from bench.run import (  # noqa: E402
    ACCESS_LINE,
    FIRST_NAMES,
    LAST_NAMES,
    Result,
    Wrk,
    ensure_wrk,
    fmt_ms,
    free_port,
    rebuild_documents,
    say,
    settle,
    uvicorn,
)
from optihub.auth.keys import InstanceKey, KeyRing, ensure_signing_key  # noqa: E402
from optihub.auth.tokens import RevocationList, TokenService  # noqa: E402
from optihub.db.migrate import upgrade  # noqa: E402
from optihub.db.models import Order, Patient, PortalRecord  # noqa: E402
from optihub.db.session import Database  # noqa: E402
from optihub.demo import DEMO_EMAIL, seed_demo  # noqa: E402
from optihub.services.oauth_clients import register_client  # noqa: E402
from optihub.settings import Settings  # noqa: E402

SECRET = "bench-only-key"  # noqa: S105  (a throw-away instance: server and tokens share it)
PAGE = 50
LIST_CLIENTS = (1, 16)
READ_CLIENTS = 16
WRITE_CLIENTS = 4
# Far above any rate the bench reaches: the practice dialect's 100 a minute per module
# would otherwise answer 429 after the first hundred requests.
BENCH_RATE = "100000000/minute"
POST_SCRIPT = ROOT / "bench" / "post_unique.lua"
UNIQUE = "{{u}}"  # replaced by post_unique.lua with a token no other request has
GOALS = {"list": 0.25, "detail": 0.30, "read": 0.30, "create": 0.10}
# The scopes each dialect's token carries: those of the routes measured (and the catalog
# reads the lab-order bench uses to build a valid order).
SCOPES = {
    "partner": "orders:read",
    "fulfillment": "fulfillment:read fulfillment:write",
    "labs": "lab_orders:read lab_orders:write lab_catalog:read",
    "practice": "read:orders create:patients",
    "portal": "portal:sync",
}
# The records the portal read and the portal creates link to, synced once before measuring.
PORTAL_LOCATION = "BENCH-LOC-1"
PORTAL_PATIENT = "BENCH-PAT-1"
PORTAL_ORDER = "BENCH-ORD-1"
# A pricebook SKU of the demo practice (merchandise: no stock to run out of).
FULFILLMENT_SKU = "SOL-MPS-360"


@dataclass
class Call:
    """One measured request: what wrk sends to OptiHub and to the floor alike."""

    dialect: str
    kind: str  # list, detail, read or create
    shown: str  # the call as the report prints it
    path: str  # with its query string
    headers: dict[str, str]
    clients: tuple[int, ...]
    body: str | None = None  # POST: JSON with UNIQUE where each request needs its own value

    @property
    def goal(self) -> float:
        return GOALS[self.kind]

    def header_lines(self) -> list[str]:
        return [f"{name}: {value}" for name, value in self.headers.items()]


@dataclass
class Row:
    call: Call
    clients: int
    result: Result | None
    floor: Result | None
    refused: str | None = None  # the first response of a create that was not 2xx
    written: str | None = None  # a create's requests and the rows they left in the database

    @property
    def ratio(self) -> float | None:
        if self.result is None or self.floor is None or not self.floor.rps:
            return None
        return self.result.rps / self.floor.rps


@dataclass
class Backend:
    name: str
    url: str
    practice_id: int = 0
    orders: int = 0
    client_id: str = ""


def letters(n: int = 8) -> str:
    return "".join(random.choice(string.ascii_lowercase) for _ in range(n))


# --- data ------------------------------------------------------------------------------------


def prepare(backend: Backend, env: dict[str, str]) -> None:
    """Migrate, seed the demo practice, register the bench's app, render the documents."""
    say(f"[{backend.name}] migrating and seeding the demo data")
    upgrade(backend.url)
    settings = Settings.from_env(env)
    db = Database(backend.url)
    try:
        with db.transaction() as session:
            backend.practice_id = seed_demo(
                session, key=InstanceKey.from_settings(settings)
            ).practice_id
        with db.transaction() as session:
            registered = register_client(
                session,
                name="Dialect bench",
                scope=" ".join(SCOPES.values()),
                redirect_uris=[],
                practice_ids=[backend.practice_id],
            )
            registered.client.rate_limit = BENCH_RATE
            backend.client_id = registered.client.client_id
        with db.reading() as conn:
            backend.orders = int(
                conn.scalar(
                    select(func.count())
                    .select_from(Order)
                    .where(Order.practice_id == backend.practice_id)
                )
                or 0
            )
        say(f"  practice {backend.practice_id}: {backend.orders} orders; app {backend.client_id}")
        with db.transaction() as session:
            synced = portal_synced(session, backend.practice_id)
        say(f"  {synced:,} more patients, kept as synced through the portal")
    finally:
        db.dispose()
    rebuild_documents(env)
    db = Database(backend.url)
    try:
        settle(db)
    finally:
        db.dispose()


PANEL = 3_000  # patients a practice has, kept as synced through its portal


def portal_synced(session: Any, practice_id: int, count: int = PANEL) -> int:
    """A practice's patient panel, each patient kept as a portal record as at a practice
    whose portal system syncs its patients (the demo data has 50 patients and no portal
    records). The creates then add to tables of a practice's size, which the settling
    analyzes: on PostgreSQL, a table analyzed at 50 rows and grown by thousands in the
    measured seconds keeps the plans made for 50 (a scan of every row) until autovacuum
    analyzes it again, which a practice's tables, grown over months, do not meet."""
    rng = random.Random(11)
    for n in range(1, count + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        external_id = f"BENCH-SYNCED-{n}"
        patient = factories.patient(
            session,
            practice_id,
            first_name=first,
            last_name=last,
            email=f"{first}.{last}.{n}@example.com".lower().replace("'", ""),
            phone=f"617555{n % 10_000:04d}",
            date_of_birth=date(1940, 1, 1) + timedelta(days=rng.randrange(30_000)),
        )
        patient.external_id = external_id
        session.add(
            PortalRecord(
                practice_id=practice_id,
                resource="Patients",
                external_id=external_id,
                record_id=patient.id,
                digest="0" * 64,
                body={"ExternalId": external_id},
            )
        )
    return count


def mint_tokens(
    backend: Backend, env: dict[str, str], scopes: dict[str, str] | None = None
) -> dict[str, str]:
    """One token per dialect, for the bench's app and the one practice, with the scopes of
    the routes measured (as bench/run.py ``mint_token`` does)."""
    settings = Settings.from_env(env)
    key = InstanceKey.from_settings(settings)
    db = Database(backend.url)
    try:
        with db.transaction() as session:
            ensure_signing_key(session, key)
        keyring = KeyRing(db, key)
        keyring.load()
        tokens = TokenService(
            keyring,
            RevocationList(db),
            issuer=settings.issuer,
            audience=settings.api_audience,
            access_token_ttl=3600 * 4,
        )
        return {
            dialect: tokens.issue_access_token(
                client_id=backend.client_id,
                subject=backend.client_id,
                scope=scope,
                practice_ids=[backend.practice_id],
            ).token
            for dialect, scope in (scopes or SCOPES).items()
        }
    finally:
        db.dispose()


# --- the calls -------------------------------------------------------------------------------


def fetch(client: httpx.Client, path: str, headers: dict[str, str]) -> httpx.Response:
    response = client.get(path, headers=headers)
    if response.status_code != 200:
        raise SystemExit(f"GET {path} → {response.status_code}: {response.text[:800]}")
    return response


def lab_setup(client: httpx.Client, headers: dict[str, str]) -> dict[str, Any]:
    """The practice's lab account with the most orders, and a valid lens from its catalog."""
    accounts = fetch(client, "/v1/labs", headers).json()["data"]
    if not accounts:
        raise SystemExit("GET /v1/labs: the demo practice has no lab account")
    best, best_count = None, -1
    for account in accounts:
        query = httpx.QueryParams(lab=account["id"], account_number=account["account_number"])
        page = fetch(client, f"/v1/orders?{query}&limit=100", headers).json()["data"]
        if len(page) > best_count:
            best, best_count = account, len(page)
    assert best is not None
    lab, number = best["id"], best["account_number"]
    account = httpx.QueryParams(lab=lab, account_number=number)
    settings = fetch(client, f"/v1/labs/{lab}/order_settings?account_number={number}", headers)
    styles = fetch(client, f"/v1/catalogs/styles?{account}&lens_type=single_vision", headers)
    style = styles.json()["data"][0]["id"]
    materials = fetch(client, f"/v1/catalogs/materials?{account}&style={style}", headers)
    material = materials.json()["data"][0]["id"]
    addons = fetch(
        client, f"/v1/catalogs/addons?{account}&style={style}&material={material}", headers
    ).json()["data"]
    options = settings.json()
    return {
        "lab": lab,
        "account_number": number,
        "mounting_option": options["mounting_options"][0],
        "frame_handling": options["frame_handling_options"][0],
        "style": style,
        "material": material,
        "color": addons["colors"][0]["id"],
        "coats": [addons["coats"][0]["id"]] if addons["coats"] else [],
    }


def portal_setup(client: httpx.Client, headers: dict[str, str]) -> None:
    """A location, a patient and an order synced through the portal (the demo data has no
    portal records): the order read by ``externalId``, the location the new patients name."""
    records = [
        (
            "Locations",
            {
                "ExternalId": PORTAL_LOCATION,
                "Name": "Bench Street",
                "Active": True,
                "Address1": "1 Bench Street",
                "City": "Boston",
                "State": "MA",
                "ZipCode": "02110",
                "Phone": "6175550142",
            },
        ),
        (
            "Patients",
            {
                "ExternalId": PORTAL_PATIENT,
                "FirstName": "Rowan",
                "LastName": "Portalsync",
                "Birthday": "1979-03-14",
                "EmailAddress": "rowan.portalsync@example.com",
                "Phone": "6175550143",
                "LocationExternalId": PORTAL_LOCATION,
                "Active": True,
            },
        ),
        (
            "Orders",
            {
                "ExternalId": PORTAL_ORDER,
                "Created": "2026-03-02T10:15:00-05:00",
                "PatientExternalId": PORTAL_PATIENT,
                "LocationExternalId": PORTAL_LOCATION,
                "OrderBalance": 412.5,
                "PatientBalance": 112.5,
                "ReceiptNote": "Progressives, AR coat",
                "Type": "Spectacles",
                "OrderDetails": [
                    {
                        "OrderDetailExternalId": "BENCH-ORD-1-1",
                        "ProductDescription": "Ray-Ban RB5154 Clubmaster 51-21 Tortoise",
                        "Quantity": 1,
                        "RetailPrice": 189.0,
                        "UnitPrice": 189.0,
                        "Tax1": 0,
                        "Tax2": 0,
                    },
                    {
                        "OrderDetailExternalId": "BENCH-ORD-1-2",
                        "ProductDescription": "Comfort Progressive 1.67 with Crizal AR",
                        "Quantity": 1,
                        "RetailPrice": 223.5,
                        "UnitPrice": 223.5,
                        "Tax1": 13.97,
                        "Tax2": 0,
                    },
                ],
            },
        ),
    ]
    for resource, record in records:
        response = client.post(f"/api/{resource}", json=record, headers=headers)
        if response.status_code != 200:
            raise SystemExit(f"POST /api/{resource} → {response.status_code}: {response.text}")


def create_headers(auth: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """Each create's request headers: its dialect's ``Authorization`` (``auth``), a JSON
    body, and the lab-order API's acting user."""
    json_type = {"Content-Type": "application/json"}
    return {
        "labs": auth["labs"] | {"User-Email": DEMO_EMAIL} | json_type,
        "portal": auth["portal"] | json_type,
        "practice": auth["practice"] | json_type,
        "fulfillment": auth["fulfillment"] | json_type,
    }


def create_bodies(practice_id: int, lab: dict[str, Any]) -> dict[str, tuple[str, str, Any]]:
    """The four creates: dialect → (shown, path, body with UNIQUE where it must differ)."""
    u = UNIQUE
    return {
        "labs": (
            "create `POST /v1/orders` (submit)",
            "/v1/orders",
            {
                "mode": "submit",
                "submission_type": "new",
                "order_type": "rx",
                "lab": lab["lab"],
                "account_number": lab["account_number"],
                "patient": {
                    "first_name": "Ada",
                    "last_name": f"Bench{u}",
                    "email": f"ada.{u}@example.com",
                    "phone_number": "617-555-0187",
                },
                "mounting_option": lab["mounting_option"],
                "lens": {
                    "style": lab["style"],
                    "material": lab["material"],
                    "color": lab["color"],
                    "coats": lab["coats"],
                },
                "frame": {
                    "handling": lab["frame_handling"],
                    "manufacturer": "Ray-Ban",
                    "model": "RB5154 Clubmaster",
                    "color": "Tortoise",
                    "material": "zyl",
                    "eye_size": 51,
                    "bridge": 21,
                    "temple": 145,
                },
                "rx": {
                    "right_eye": {"sphere": -2.25, "cylinder": -0.75, "axis": 90, "pd": 32},
                    "left_eye": {"sphere": -2.0, "pd": 31.5},
                },
                "special_instructions": f"Bench order {u}",
            },
        ),
        "portal": (
            "create `POST /api/Patients` (new ExternalId)",
            "/api/Patients",
            {
                "ExternalId": f"BP-{u}",
                "FirstName": "Robin",
                "LastName": f"Bench{u}",
                "Birthday": "1984-05-17",
                "EmailAddress": f"robin.{u}@example.com",
                "Phone": "6175550199",
                "LocationExternalId": PORTAL_LOCATION,
                "Active": True,
                "AllowEmailReminders": True,
            },
        ),
        "practice": (
            f"create `POST /v2/{practice_id}/patients`",
            f"/v2/{practice_id}/patients",
            {
                "name_first": "Jordan",
                "name_last": f"Bench{u}",
                "email": f"jordan.{u}@example.com",
                "phone": "6175550123",
                "dob": "1991-08-30",
                "city": "Boston",
                "state": "MA",
                "zip": "02116",
            },
        ),
        "fulfillment": (
            "create `POST /fulfillment/v1/orders` (new patient)",
            "/fulfillment/v1/orders",
            {
                "patient": {
                    "external_id": f"BFP-{u}",
                    "first_name": "Casey",
                    "last_name": f"Bench{u}",
                    "email": f"casey.{u}@example.com",
                },
                "address": {
                    "address_1": "77 Summer St",
                    "city": "Boston",
                    "state": "MA",
                    "zip_code": "02110",
                    "country": "US",
                },
                "external_id": f"BFO-{u}",
                "products": {
                    "prescription": [],
                    "non_prescription": [{"sku": FULFILLMENT_SKU, "quantity": 2}],
                },
                "shipping": {"carrier": "UPS", "service_level": "ground"},
            },
        ),
    }


def read_calls(
    client: httpx.Client, practice_id: int, auth: dict[str, dict[str, str]], floor_dir: Path
) -> tuple[list[Call], dict[str, Any]]:
    """The read calls, each fetched once (200 or the bench stops; a list must be a full page)
    with its exact bytes kept for the floor; and the lab account and lens the lab-order
    create uses. A detail reads the first order of its dialect's list."""
    labs_headers = auth["labs"] | {"User-Email": DEMO_EMAIL}
    lab = lab_setup(client, labs_headers)
    portal_setup(client, auth["portal"])
    lab_query = str(httpx.QueryParams(lab=lab["lab"], account_number=lab["account_number"]))
    # dialect, list path, headers, key of the rows in the body (None: a bare array),
    # key of an order's id in a row and the detail path (None: the dialect has no detail)
    lists: list[tuple[str, str, dict[str, str], str | None, str | None, str | None]] = [
        (
            "partner",
            "/api/v1/partner/orders?limit=50",
            auth["partner"],
            "data",
            "id",
            "/api/v1/partner/orders/{id}",
        ),
        (
            "fulfillment",
            "/fulfillment/v1/orders?per_page=50",
            auth["fulfillment"],
            None,
            "id",
            "/fulfillment/v1/orders/{id}",
        ),
        ("labs", f"/v1/orders?{lab_query}&limit=50", labs_headers, "data", None, None),
        (
            "practice",
            f"/v2/{practice_id}/orders?page_size=50",
            auth["practice"],
            "data",
            "order_id",
            f"/v2/{practice_id}/orders/{{id}}",
        ),
    ]
    reads: dict[str, dict[str, str]] = {}
    list_calls, other_calls = [], []
    for dialect, path, headers, rows_key, id_key, detail in lists:
        response = fetch(client, path, headers)
        rows = response.json() if rows_key is None else response.json()[rows_key]
        if len(rows) != PAGE:
            raise SystemExit(f"GET {path}: {len(rows)} orders, not a full page of {PAGE}")
        keep(reads, floor_dir, path, response)
        say(f"  GET {path} → 200, {len(rows)} orders, {len(response.content):,} bytes")
        shown = path.replace(lab_query, "lab=…&account_number=…")
        list_calls.append(Call(dialect, "list", f"list `GET {shown}`", path, headers, LIST_CLIENTS))
        if id_key is not None and detail is not None:
            one = detail.format(id=rows[0][id_key])
            shown = f"detail `GET {detail.format(id='{id}')}`"
            other_calls.append(Call(dialect, "detail", shown, one, headers, (READ_CLIENTS,)))
    portal = f"/api/Orders?externalId={PORTAL_ORDER}"
    shown = "read `GET /api/Orders?externalId=`"
    other_calls.append(Call("portal", "read", shown, portal, auth["portal"], (READ_CLIENTS,)))
    for call in other_calls:
        response = fetch(client, call.path, call.headers)
        keep(reads, floor_dir, call.path, response)
        say(f"  GET {call.path} → 200, {len(response.content):,} bytes")
    (floor_dir / "reads.json").write_text(json.dumps(reads, indent=1))
    return list_calls + other_calls, lab


def keep(
    reads: dict[str, dict[str, str]], floor_dir: Path, path: str, response: httpx.Response
) -> None:
    """The exact bytes and content type of a read, for the floor to serve."""
    name = f"read-{len(reads)}.body"
    (floor_dir / name).write_bytes(response.content)
    reads[path] = {"file": name, "content_type": response.headers["content-type"]}


def create_calls(
    client: httpx.Client,
    practice_id: int,
    auth: dict[str, dict[str, str]],
    lab: dict[str, Any],
    workdir: Path,
) -> tuple[list[Call], list[Row]]:
    """The creates, each sent once first: a refusal is printed and its row not measured."""
    headers = create_headers(auth)
    calls, refused = [], []
    for dialect, (shown, path, body) in create_bodies(practice_id, lab).items():
        template = json.dumps(body)
        call = Call(dialect, "create", shown, path, headers[dialect], (WRITE_CLIENTS,), template)
        (workdir / f"body-{dialect}.json").write_text(template)
        response = client.post(
            path, content=template.replace(UNIQUE, "first" + letters()), headers=call.headers
        )
        if response.is_success:
            say(f"  POST {path} → {response.status_code}, {len(response.content):,} bytes")
            calls.append(call)
        else:
            say(f"  POST {path} → {response.status_code}: NOT MEASURED\n{response.text[:2000]}")
            refused.append(Row(call, WRITE_CLIENTS, None, None, f"refused: {response.status_code}"))
    return calls, refused


# --- measuring -------------------------------------------------------------------------------


def run_wrk(
    wrk_binary: str, base: str, call: Call, clients: int, seconds: int, workdir: Path
) -> Result:
    """One wrk run, then a wait until that server is idle again (``wait_idle``)."""
    env = dict(os.environ, OPTIHUB_BENCH_RUN=letters())
    script = None
    if call.body is not None:
        env["OPTIHUB_BENCH_BODY"] = str(workdir / f"body-{call.dialect}.json")
        script = POST_SCRIPT
    result = Wrk(wrk_binary, env).run(
        base + call.path, clients, seconds, call.header_lines(), script
    )
    wait_idle(base)
    return result


def server_pid(base: str) -> int:
    """The process of the uvicorn this bench started on ``base``'s port."""
    needle = f"--port\0{base.rsplit(':', 1)[1]}\0".encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"uvicorn" in command and needle in command:
                return int(entry.name)
    raise SystemExit(f"no uvicorn process found for {base}")


def cpu_ticks(pid: int) -> int:
    """User + system CPU time of the process (all its threads), in clock ticks."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def wait_idle(base: str, window: float = 0.1, limit: float = 30.0) -> None:
    """Wait until the server on ``base`` spends (almost) no CPU over ``window`` seconds.

    When wrk stops, the requests it had in flight are still being served: a slow route at 16
    clients has a second or more of them. Left alone they would run during the next run,
    against the next row's floor on the same cores, or hold up the measured run after a
    warm-up (a 1 s labs list row once counted no answer at all)."""
    pid = server_pid(base)
    deadline = time.monotonic() + limit
    before = cpu_ticks(pid)
    while time.monotonic() < deadline:
        time.sleep(window)
        now = cpu_ticks(pid)
        if now - before <= 1:
            return
        before = now
    say(f"  WARNING: {base} still busy {limit:.0f} s after wrk stopped")


def records(backend: Backend) -> tuple[int, int]:
    """The practice's orders and patients, to check that every create made its record."""
    db = Database(backend.url)
    try:
        with db.reading() as conn:
            orders = conn.scalar(
                select(func.count())
                .select_from(Order)
                .where(Order.practice_id == backend.practice_id)
            )
            patients = conn.scalar(
                select(func.count())
                .select_from(Patient)
                .where(Patient.practice_id == backend.practice_id)
            )
        return int(orders or 0), int(patients or 0)
    finally:
        db.dispose()


def measure(
    backend: Backend,
    calls: list[Call],
    base: str,
    floor: str,
    args: argparse.Namespace,
    wrk_binary: str,
    workdir: Path,
) -> list[Row]:
    rows = []
    for call in calls:
        clients_wanted = [
            c for c in call.clients if args.only is None or call_selected(call, c, args.only)
        ]
        for clients in clients_wanted * args.repeat:
            plural = "s" if clients > 1 else ""
            say(
                f"[{backend.name}] {call.dialect} {call.kind}, {clients} client{plural}: "
                f"floor, then OptiHub, 1 s warm-up + {args.seconds} s each"
            )
            run_wrk(wrk_binary, floor, call, clients, 1, workdir)
            floor_result = run_wrk(wrk_binary, floor, call, clients, args.seconds, workdir)
            before = records(backend) if call.body is not None else None
            warm = run_wrk(wrk_binary, base, call, clients, 1, workdir)
            spy = start_spy(args.spy, base, call, clients) if args.spy else None
            result = run_wrk(wrk_binary, base, call, clients, args.seconds, workdir)
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(timeout=60)
            row = Row(call, clients, result, floor_result)
            if before is not None:
                # wrk leaves out the answers still in flight when it stops (up to one per
                # connection and run), so a few more records than answers are expected.
                after = records(backend)
                answered = warm.requests - warm.non_2xx + result.requests - result.non_2xx
                row.written = (
                    f"{answered:,} 2xx answers counted by wrk (warm-up included); "
                    f"{after[0] - before[0]:,} new orders, {after[1] - before[1]:,} new patients"
                )
                say(f"  {row.written}")
            ratio = f"{row.ratio:.3f}" if row.ratio is not None else "—"
            say(
                f"  {result.rps:,.0f} req/s (p50 {fmt_ms(result.p50)} ms, p99 "
                f"{fmt_ms(result.p99)} ms, errors {result.errors}); floor "
                f"{floor_result.rps:,.0f} req/s (errors {floor_result.errors}) → {ratio}"
            )
            rows.append(row)
    return rows


def start_spy(folder: Path, base: str, call: Call, clients: int) -> subprocess.Popen[bytes]:
    """py-spy sampling OptiHub's server (every thread, raw stacks) during a measured run,
    into ``folder``/<dialect>-<kind>-<clients>[-n].txt (read them with
    ``bench/profile_creates.py --shares``)."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{call.dialect}-{call.kind}-{clients}"
    out = folder / f"{stem}.txt"
    n = 1
    while out.exists():
        n += 1
        out = folder / f"{stem}-{n}.txt"
    spy = subprocess.Popen(
        [
            *(str(Path(sys.executable).with_name("py-spy")), "record", "-r", "250"),
            # OPTIHUB_BENCH_SPY_GIL=1: only the thread holding the interpreter lock (CPU).
            *(("--gil",) if os.environ.get("OPTIHUB_BENCH_SPY_GIL") else ()),
            *("--format", "raw", "--pid", str(server_pid(base)), "-o", str(out)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)  # attached before wrk starts
    return spy


def call_selected(call: Call, clients: int, only: list[str]) -> bool:
    """Whether ``--only`` names this row: ``dialect:kind`` or ``dialect:kind:clients``
    (e.g. ``labs:list``, ``partner:list:16``, ``practice:create``)."""
    for wanted in only:
        parts = wanted.split(":")
        if parts[0] != call.dialect or (len(parts) > 1 and parts[1] != call.kind):
            continue
        if len(parts) > 2 and int(parts[2]) != clients:
            continue
        return True
    return False


def check_floor(floor: str, calls: list[Call], floor_dir: Path) -> None:
    """The floor answers each read with the bytes OptiHub returned, and each create 201."""
    kept = json.loads((floor_dir / "reads.json").read_text())
    with httpx.Client(base_url=floor, trust_env=False, timeout=30) as client:
        for call in calls:
            if call.body is None:
                response = client.get(call.path, headers=call.headers)
                entry = kept[call.path]
                same = response.content == (floor_dir / entry["file"]).read_bytes()
                if response.status_code != 200 or not same:
                    raise SystemExit(
                        f"floor GET {call.path}: {response.status_code}, not the same bytes"
                    )
                if response.headers["content-type"] != entry["content_type"]:
                    raise SystemExit(
                        f"floor GET {call.path}: content type {response.headers['content-type']}"
                    )
            else:
                response = client.post(call.path, content=call.body, headers=call.headers)
                if response.status_code != 201:
                    raise SystemExit(f"floor POST {call.path}: {response.status_code}")


@contextmanager
def backend_url(name: str) -> Iterator[str]:
    if name == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="optihub-dialects-sqlite-"))
        try:
            yield f"sqlite:///{folder / 'dialects.db'}"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    with postgres_cluster() as url:
        if url is None:
            raise SystemExit("PostgreSQL could not be started (see above)")
        yield url


def server_env(url: str, workdir: Path, **settings: str) -> dict[str, str]:
    """The environment of an OptiHub process a bench starts: its database, a data directory
    in ``workdir``, the benches' shared instance key, no webhook worker, JSON logs at info;
    ``settings`` (full ``OPTIHUB_…`` names) add to it or override it."""
    return (
        dict(
            os.environ,
            OPTIHUB_DATABASE_URL=url,
            OPTIHUB_DATA_DIR=str(workdir / "data"),
            OPTIHUB_SECRET_KEY=SECRET,
            OPTIHUB_RUN_WORKER="false",
            OPTIHUB_LOG_LEVEL="info",
            OPTIHUB_LOG_JSON="true",
        )
        | settings
    )


def bench_backend(
    name: str, args: argparse.Namespace, wrk_binary: str
) -> tuple[Backend, list[Row]]:
    workdir = Path(tempfile.mkdtemp(prefix=f"optihub-dialects-{name}-"))
    try:
        with backend_url(name) as url:
            backend = Backend(name, url)
            port = free_port()
            env = server_env(
                url,
                workdir,
                OPTIHUB_PORT=str(port),
                OPTIHUB_PUBLIC_URL=f"http://127.0.0.1:{port}",
            )
            prepare(backend, env)
            tokens = mint_tokens(backend, env)
            auth = {d: {"Authorization": f"Bearer {t}"} for d, t in tokens.items()}
            floor_dir = workdir / "floor"
            floor_dir.mkdir()
            server_log = workdir / "server.log"
            say(f"[{name}] starting OptiHub (bench.app:create) on port {port}")
            with ExitStack() as stack:
                base = stack.enter_context(
                    uvicorn(["bench.app:create", "--factory"], env, server_log, port)
                )
                with httpx.Client(base_url=base, trust_env=False, timeout=60) as client:
                    reads, lab = read_calls(client, backend.practice_id, auth, floor_dir)
                    writes, refused = create_calls(client, backend.practice_id, auth, lab, workdir)
                if not ACCESS_LINE.search(server_log.read_text(errors="replace")):
                    raise SystemExit(f"no JSON access-log line in {server_log}: is it on?")
                floor_env = dict(os.environ, OPTIHUB_BENCH_FLOOR_DIR=str(floor_dir))
                floor = stack.enter_context(
                    uvicorn(
                        ["bench.dialects_floor:app"], floor_env, workdir / "floor.log", free_port()
                    )
                )
                check_floor(floor, reads + writes, floor_dir)
                rows = measure(backend, reads + writes, base, floor, args, wrk_binary, workdir)
            log = server_log.read_text(errors="replace")
            say(f"  server access log: {len(ACCESS_LINE.findall(log)):,} request lines")
            return backend, rows + refused
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# --- report ----------------------------------------------------------------------------------


def verdict(value: float | None, goal: float) -> str:
    if value is None:
        return "—"
    return f"≥ {goal:.2f}: {'met' if value >= goal else '**missed**'}"


def table(rows: list[Row]) -> list[str]:
    out = [
        "| dialect | call | clients | req/s | p50 ms | p99 ms | floor req/s | ratio | goal "
        "| non-2xx |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for row in rows:
        r, f = row.result, row.floor
        if r is None or f is None:
            out.append(
                f"| {row.call.dialect} | {row.call.shown} | {row.clients} | — | — | — | — | — | "
                f"{row.refused} | — |"
            )
            continue
        ratio = f"{row.ratio:.3f}" if row.ratio is not None else "—"
        errors = r.errors + (f" (floor: {f.errors})" if f.errors != "0" else "")
        out.append(
            f"| {row.call.dialect} | {row.call.shown} | {row.clients} | {r.rps:,.0f} | "
            f"{fmt_ms(r.p50)} | {fmt_ms(r.p99)} | {f.rps:,.0f} | {ratio} | "
            f"{verdict(row.ratio, row.call.goal)} | {errors} |"
        )
    return out


def scaling(rows: list[Row]) -> list[str]:
    """Each list's req/s at 16 clients ÷ at 1 client (goal ≥ 1)."""
    out = []
    lists: dict[str, dict[int, Result]] = {}
    for row in rows:
        if row.call.kind == "list" and row.result is not None:
            lists.setdefault(row.call.dialect, {})[row.clients] = row.result
    low, high = min(LIST_CLIENTS), max(LIST_CLIENTS)
    for dialect, by_clients in lists.items():
        if low in by_clients and high in by_clients and by_clients[low].rps:
            value = by_clients[high].rps / by_clients[low].rps
            out.append(
                f"- {dialect} list, req/s at {high} clients ÷ at {low}: **{value:.2f}** "
                f"({verdict(value, 1.0)})"
            )
    return out


def describe(wrk_binary: str, args: argparse.Namespace, load: str) -> list[str]:
    def output(*command: str) -> str:
        try:
            done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
        except OSError:
            return "?"
        return (done.stdout + done.stderr).strip()

    cpu = "?"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    commit = output("git", "rev-parse", "--short", "HEAD")
    dirty = " (uncommitted changes)" if output("git", "status", "--porcelain") else ""
    wrk_version = output(wrk_binary, "-v").splitlines()[0].split(" [")[0]
    title = "# Every dialect under wrk, beside its floor: last run"
    if args.quick or args.only:
        title = (
            f"# Every dialect under wrk: QUICK DEVELOPMENT RUN ({args.seconds} s rows"
            f"{', some rows only' if args.only else ''}; not a measurement to quote)"
        )
    return [
        title,
        "",
        "Command: `.venv/bin/python bench/dialects.py"
        + (" --quick" if args.quick else f" --seconds {args.seconds}")
        + f" --databases {','.join(args.databases)}"
        + (f" --only {','.join(args.only)}" if args.only else "")
        + (f" --repeat {args.repeat}" if args.repeat > 1 else "")
        + "`",
        "",
        f"- run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {commit}{dirty}",
        f"- machine: {os.cpu_count()} cores ({cpu}), {platform.platform()}, "
        f"Python {platform.python_version()}",
        f"- load average at start: {load} (anything else on these cores skews the rows)",
        f"- load: {wrk_version}, one thread, N keep-alive connections, {args.seconds} s per row "
        "after a 1 s warm-up, the floor then OptiHub back to back, on the same cores as the "
        "servers",
        "- server: one uvicorn process (bench.app:create; uvloop, httptools), OptiHub's JSON "
        "access log on, no worker; the demo data (`seed_demo`), documents rebuilt",
        "- read floor: bare Starlette route (bench/dialects_floor.py), same uvicorn flags, the "
        "exact bytes and content type OptiHub returned for that exact request (same path, "
        "query and headers sent to both)",
        "- write floor: bare Starlette route reading the body and storing it as one SQLite row "
        "(WAL, synchronous=NORMAL), committed, 201 with a small JSON body; creates send a "
        "different body each request (bench/post_unique.lua)",
        "- tokens: one app registered for the practice (rate limit of its own: "
        f"{BENCH_RATE}), one token per dialect with that dialect's scopes; labs calls carry "
        f"`User-Email: {DEMO_EMAIL}`",
        "- not in the table: labs has no order detail route (only `GET /v1/orders`); the "
        "portal has no order list (`GET /api/Orders` reads one order by `externalId`)",
        "",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="2 s rows, for development")
    parser.add_argument(
        "--databases",
        type=lambda raw: [part.strip() for part in raw.split(",") if part.strip()],
        default=["sqlite"],
        help="sqlite and/or postgresql (default sqlite)",
    )
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--only",
        type=lambda raw: [part.strip() for part in raw.split(",") if part.strip()],
        default=None,
        help="only these rows: dialect:kind[:clients], comma-separated (e.g. "
        "labs:list,partner:list:16,practice:create); the set-up is the same",
    )
    parser.add_argument(
        "--spy",
        type=Path,
        default=None,
        help="sample OptiHub's server with py-spy during each measured run (raw stacks in "
        "this folder; the samples slow the server: not for figures)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="measure each row this many times (default 1)"
    )
    args = parser.parse_args()
    if set(args.databases) - {"sqlite", "postgresql"} or not args.databases:
        parser.error("--databases: sqlite and/or postgresql")
    if args.quick:
        args.seconds = 2
    if args.seconds < 1:
        parser.error("--seconds must be at least 1")
    if args.out is None:
        args.out = (
            ROOT / "bench" / "results" / "dialects-quick-run.md"
            if args.quick or args.only
            else ROOT / "bench" / "dialects-last-run.md"
        )
    wrk_binary = ensure_wrk()
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    if os.getloadavg()[0] > 0.5:
        say(f"WARNING: load average {load}: other work on this machine skews results")
    report = describe(wrk_binary, args, load)
    complete = False
    try:
        for name in args.databases:
            backend, rows = bench_backend(name, args, wrk_binary)
            section = [
                f"## {'SQLite' if name == 'sqlite' else 'PostgreSQL'} "
                f"(the demo practice, {backend.orders} orders seeded)",
                "",
                *table(rows),
                "",
                *scaling(rows),
                *(
                    f"- {row.call.dialect} create: {row.written}"
                    for row in rows
                    if row.written is not None
                ),
                "",
            ]
            say("\n" + "\n".join(section))
            report += section
        complete = True
        report.append(
            "Load average at the end: " + " ".join(f"{v:.2f}" for v in os.getloadavg()) + "."
        )
    except KeyboardInterrupt:
        say("\ninterrupted: servers stopped, temp dirs removed")
        return 130
    finally:
        if not complete:
            report.append("**Incomplete run** (interrupted or failed; rows above are real).")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(report).rstrip() + "\n")
        say(f"report written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
