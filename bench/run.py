"""Partner API throughput with wrk, beside a bare-framework floor, at growing order counts.

    .venv/bin/python bench/run.py [--sizes 10000,100000,1000000] [--databases sqlite,postgresql]
                                  [--clients 1,4,16] [--seconds 10] [--p99-runs 5]
                                  [--out bench/last-run.md]
                                  [--keep DIR] [--seed-only]

Quick mode while developing:

    .venv/bin/python bench/run.py --sizes 10000 --databases sqlite --clients 1,16 --seconds 2

For each database (SQLite: files in a temp dir; PostgreSQL: a throw-away cluster from
scripts/run_tests.py) it creates the schema, then seeds one practice up to each size, each
size in its own copy of the previous one (bulk inserts), runs ``optihub documents rebuild``
(``--keep DIR`` keeps these databases for the next run: seeding 1M orders takes a quarter of
an hour per database; ``--seed-only`` seeds without measuring), starts one uvicorn process on a
loopback port (uvloop, httptools, OptiHub's JSON access log on), and a bare Starlette app
(bench/floor.py) serving the exact bytes the real server returned for each endpoint. wrk
(one thread, N keep-alive connections, installed with apt-get when missing) drives every
endpoint and its own floor for the same time, after a 1 s warm-up. The servers of the
smallest and largest sizes stay up until every size is measured; then the list at the most
clients runs on them in turns (``--p99-runs`` rounds, the order swapped each round), and the
medians of those p99s are compared, so both sizes meet the same moments of the machine.
Everything stays on 127.0.0.1; every wrk run is time-limited; servers are stopped and temp dirs
removed on exit.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from sqlalchemy import create_engine, func, insert, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.run_tests import apt_install, is_root, postgres_cluster  # noqa: E402
from tests import factories  # noqa: E402

from optihub.auth.keys import InstanceKey, KeyRing, ensure_signing_key  # noqa: E402
from optihub.auth.tokens import RevocationList, TokenService  # noqa: E402
from optihub.db.migrate import upgrade  # noqa: E402
from optihub.db.models import (  # noqa: E402
    Frame,
    Location,
    Order,
    OrderDocument,
    OrderLine,
    OrderStatusChange,
    Patient,
)
from optihub.db.session import Database  # noqa: E402
from optihub.domain import rx as rx_rules  # noqa: E402
from optihub.reads import orders as order_reads  # noqa: E402
from optihub.services.orders import rx_snapshot  # noqa: E402
from optihub.settings import Settings  # noqa: E402
from optihub.surfaces.partner.projection import ORDERS as PARTNER_ORDERS  # noqa: E402

BIN = Path(sys.prefix) / "bin"
LIST_PATH = "/api/v1/partner/orders?limit=50"
DETAIL_PATH = "/api/v1/partner/orders/{id}"
HEALTHZ_PATH = "/healthz"
DETAIL_SCRIPT = ROOT / "bench" / "detail.lua"
# A throw-away bench instance: the server and the minted token share this instance key.
SECRET = "bench-only-key"  # noqa: S105
STATUSES = ["received", "in_progress", "completed", "shipped", "delivered", "cancelled"]
BATCH = 5000
DETAIL_IDS = 1000
# OptiHub's JSON access log, one line per request (compact JSON or with spaces).
ACCESS_LINE = re.compile(r'"event": ?"request"')
WRK_TIMEOUT = "10s"  # a request slower than this counts as a socket timeout error
# (endpoint, floor, path, needs the token, wrk script)
ENDPOINTS = [
    ("list", "floor-list", LIST_PATH, True, None),
    ("detail", "floor-detail", DETAIL_PATH, True, DETAIL_SCRIPT),
    ("healthz", "floor-healthz", HEALTHZ_PATH, False, None),
]


def say(message: str) -> None:
    print(message, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if not (is_root() and shutil.which("apt-get")):
        raise SystemExit(
            "wrk is not on PATH and cannot be installed here (that needs root and apt-get): "
            "install the package `wrk` (e.g. `sudo apt-get install wrk`) and run again"
        )
    say("wrk not found: apt-get update -qq && apt-get install -y wrk")
    apt_install("wrk")
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("`apt-get install -y wrk` did not provide wrk; install it and run again")
    return found


# --- seeding ---------------------------------------------------------------------------------

FIRST_NAMES = ["Maya", "Liam", "Ava", "Noah", "Sofia", "Ethan", "Zoe", "Lucas", "Amara", "Kai"]
FIRST_NAMES += ["Priya", "Mateo", "Hana", "Omar", "Grace", "Diego", "Nora", "Ravi", "Elena", "Sam"]
LAST_NAMES = ["Okafor", "Nguyen", "Garcia", "Smith", "Kowalski", "Haddad", "Silva", "Chen"]
LAST_NAMES += ["Johnson", "Rossi", "Müller", "O'Brien", "Patel", "Kim", "Dubois", "Levy"]
FRAMES = [
    ("Ray-Ban", "RB5154 Clubmaster", "Tortoise", Decimal("189.00")),
    ("Ray-Ban", "RB2140 Wayfarer", "Black", Decimal("171.00")),
    ("Oakley", "OX8046 Airdrop", "Satin Black", Decimal("163.00")),
    ("Warby Parker", "Durand", "Crystal", Decimal("95.00")),
    ("Persol", "PO3007V", "Havana", Decimal("245.00")),
    ("Lindberg", "Strip 9704", "Titanium", Decimal("520.00")),
]
LENSES = [
    ({"style": "Single Vision", "material": "Polycarbonate", "coats": ["AR"]}, Decimal("95.00")),
    ({"style": "Comfort Progressive", "material": "Trivex", "coats": ["AR"]}, Decimal("120.00")),
    (
        {"style": "Varilux X", "material": "1.67", "coats": ["AR", "Blue"], "tint": None},
        Decimal("310.00"),
    ),
    ({"style": "Single Vision", "material": "CR-39", "coats": [], "color": "Grey"}, Decimal("60")),
]
PAYMENTS = ["none", "deposit", "full"]


def rx_pool(rng: random.Random, count: int = 24) -> list[dict[str, Any]]:
    """Typed-in Rx snapshots in the app's own shape (services.orders.rx_snapshot)."""

    def eye() -> rx_rules.EyeRx:
        cylinder = rng.choice([None, Decimal("-0.50"), Decimal("-0.75"), Decimal("-1.25")])
        return rx_rules.EyeRx(
            sphere=Decimal(rng.randrange(-24, 13)) / 4,
            cylinder=cylinder,
            axis=rng.randrange(1, 181) if cylinder is not None else None,
            add=rng.choice([None, None, Decimal("1.50"), Decimal("2.25")]),
            distance_pd=Decimal(rng.randrange(58, 68)) / 2,
        )

    return [rx_snapshot(rx_rules.SpectacleRx(right=eye(), left=eye())) for _ in range(count)]


@dataclass
class Practice:
    """The seeded practice: what each new order is drawn from, and how many exist."""

    id: int
    location_ids: list[uuid.UUID]
    patient_ids: list[uuid.UUID]
    frames: list[tuple[uuid.UUID, dict[str, Any], Decimal]]
    rx: list[dict[str, Any]]
    rng: random.Random
    orders: int = 0
    start: datetime = field(default_factory=lambda: datetime.now(UTC) - timedelta(days=365))


def frame_details(frame: Frame) -> dict[str, Any]:
    """The frame as an order keeps it (``frame_details``)."""
    return {
        "sku": frame.sku,
        "brand": frame.brand,
        "model": frame.model,
        "color": frame.color,
        "material": frame.material,
        "eye_size": frame.eye_size,
        "bridge": frame.bridge,
        "temple": frame.temple,
        "a": str(frame.a),
        "b": str(frame.b),
        "ed": str(frame.ed),
    }


def create_practice(db: Database, patients: int = 300) -> Practice:
    rng = random.Random(7)
    with db.transaction() as s:
        practice = factories.practice(s, "Bench Optical")
        locations = [
            factories.location(s, practice.id, "Main Street"),
            factories.location(s, practice.id, "Harbor Point Mall"),
        ]
        people = []
        for n in range(patients):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            people.append(
                factories.patient(
                    s,
                    practice.id,
                    first_name=first,
                    last_name=last,
                    email=f"{first}.{last}{n}@example.com".lower().replace("'", ""),
                    phone=f"617555{n:04d}",
                    date_of_birth=date(1940, 1, 1) + timedelta(days=rng.randrange(30_000)),
                )
            )
        frames = []
        for brand, model, color, price in FRAMES:
            frame = factories.frame(
                s, practice.id, brand=brand, model=model, color=color, price=price
            )
            frames.append((frame.id, frame_details(frame), price))
        return Practice(
            id=practice.id,
            location_ids=[location.id for location in locations],
            patient_ids=[person.id for person in people],
            frames=frames,
            rx=rx_pool(rng),
            rng=rng,
        )


def add_orders(db: Database, practice: Practice, count: int) -> None:
    """Bulk-insert ``count`` more orders (two lines and one status change each)."""
    rng, pid = practice.rng, practice.id
    first, last = practice.orders, practice.orders + count
    year = 365 * 24 * 3600
    progress = Progress(
        TextColumn(f"  seeding orders {first:,} → {last:,}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with progress:
        task = progress.add_task("seed", total=count)
        for batch_first in range(first, last, BATCH):
            orders, lines, history = [], [], []
            for n in range(batch_first, min(batch_first + BATCH, last)):
                order_id = uuid.uuid4()
                created = practice.start + timedelta(seconds=rng.randrange(year))
                status = rng.choice(STATUSES)
                updated = created + (
                    timedelta(0)
                    if status == "received"
                    else timedelta(seconds=rng.randrange(3600, 21 * 24 * 3600))
                )
                frame_id, frame_details, frame_price = rng.choice(practice.frames)
                lens, lens_price = rng.choice(LENSES)
                tax = (lens_price * Decimal("0.0625")).quantize(Decimal("0.01"))
                subtotal = frame_price + lens_price
                total = subtotal + tax
                paid = {"none": Decimal("0"), "deposit": Decimal("50.00"), "full": total}[
                    rng.choice(PAYMENTS)
                ]
                orders.append(
                    {
                        "id": order_id,
                        "practice_id": pid,
                        "number": f"ORD{n:012d}BNCH",
                        "external_id": f"B-{n}",
                        "location_id": rng.choice(practice.location_ids),
                        "patient_id": rng.choice(practice.patient_ids),
                        "created_via": "bench",
                        "type": "spectacles",
                        "status": status,
                        "frame_id": frame_id,
                        "frame_details": frame_details,
                        "lens": lens,
                        "rx_snapshot": rng.choice(practice.rx) if rng.random() < 0.5 else None,
                        "currency": "USD",
                        "subtotal": subtotal,
                        "tax_total": tax,
                        "total": total,
                        "amount_paid": paid,
                        "patient_balance": total - paid,
                        "priority": rng.random() < 0.05,
                        "cancellation_requested": False,
                        "created_at": created,
                        "updated_at": updated,
                        "status_changed_at": updated,
                    }
                )
                common = {"practice_id": pid, "order_id": order_id, "quantity": 1}
                lines.append(
                    common
                    | {
                        "id": uuid.uuid4(),
                        "position": 0,
                        "kind": "frame",
                        "sku": frame_details["sku"],
                        "description": f"{frame_details['brand']} {frame_details['model']}",
                        "unit_price": frame_price,
                        "retail_price": frame_price,
                        "tax": Decimal("0"),
                    }
                )
                lines.append(
                    common
                    | {
                        "id": uuid.uuid4(),
                        "position": 1,
                        "kind": "lens",
                        "sku": None,
                        "description": f"{lens['style']} {lens['material']} lenses",
                        "unit_price": lens_price,
                        "retail_price": lens_price,
                        "tax": tax,
                    }
                )
                history.append(
                    {
                        "practice_id": pid,
                        "order_id": order_id,
                        "from_status": None,
                        "to_status": "received",
                        "at": created,
                        "actor_label": "bench",
                        "via": "bench",
                    }
                )
            with db.transaction() as s:
                for model, rows in (
                    (Order, orders),
                    (OrderLine, lines),
                    (OrderStatusChange, history),
                ):
                    # The ORM bulk insert leaves None values out (SQL NULL, as the app's own
                    # inserts do) and sends one executemany per run of rows with the same
                    # None columns: sorted, that is a few statements per batch, not one per row.
                    rows.sort(key=lambda row: tuple(k for k, v in row.items() if v is None))
                    s.execute(insert(model), rows)
            practice.orders += len(orders)
            progress.advance(task, len(orders))


def settle(db: Database) -> None:
    """What a running database does on its own after a bulk load: PostgreSQL's autovacuum
    (statistics, visibility map), SQLite's WAL checkpoint."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        raw = db.engine.raw_connection()  # outside any transaction, which a checkpoint needs
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()


def recount(db: Database, practice_id: int) -> None:
    """Refill ``order_counts`` (orders per practice and status, which list totals read) as
    the app's session hooks would have kept it: the bulk inserts go around them."""
    with db.reading() as conn:
        if not inspect(conn).has_table("order_counts"):
            return
    where = {"practice_id": practice_id}
    with db.transaction() as s:
        s.execute(text("DELETE FROM order_counts WHERE practice_id = :practice_id"), where)
        s.execute(
            text(
                "INSERT INTO order_counts (practice_id, status, count) "
                "SELECT practice_id, status, COUNT(*) FROM orders "
                "WHERE practice_id = :practice_id GROUP BY practice_id, status"
            ),
            where,
        )


def sample_ids(db: Database, count: int) -> list[str]:
    with db.reading() as conn:
        rows = conn.execute(select(Order.id).order_by(func.random()).limit(count))
        return [str(row[0]) for row in rows]


def rebuild_documents(env: dict[str, str], *, everything: bool = False) -> None:
    command = [str(BIN / "optihub"), "documents", "rebuild"]
    if everything:
        command.append("--all")
    probe = subprocess.run(
        [*command, "--help"], env=env, cwd=ROOT, capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        say(
            "  WARNING: `optihub documents rebuild` is not available yet "
            f"(exit {probe.returncode}): skipping the document rebuild"
        )
        return
    say("  optihub documents rebuild")
    started = time.perf_counter()
    subprocess.run(command, env=env, cwd=ROOT, check=True)
    say(f"  documents rebuilt in {time.perf_counter() - started:.1f} s")


# --- servers ---------------------------------------------------------------------------------


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def uvicorn(target: list[str], env: dict[str, str], log_path: Path, port: int) -> Iterator[str]:
    """One uvicorn process (uvloop, httptools, no uvicorn access log) on a loopback port."""
    base = f"http://127.0.0.1:{port}"
    command = [str(BIN / "uvicorn"), *target, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--loop", "uvloop", "--http", "httptools", "--no-access-log"]
    command += ["--log-level", "warning"]
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + 60
            with httpx.Client(trust_env=False, timeout=2) as client:
                while True:
                    if process.poll() is not None:
                        tail = log_path.read_text(errors="replace")[-3000:]
                        raise SystemExit(f"{' '.join(target)} exited at start:\n{tail}")
                    try:
                        if client.get(f"{base}/healthz").status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    if time.monotonic() > deadline:
                        raise SystemExit(f"{' '.join(target)}: /healthz not ready after 60 s")
                    time.sleep(0.1)
            yield base
        finally:
            stop(process)


def mint_token(db: Database, env: dict[str, str], practice_id: int) -> str:
    settings = Settings.from_env(env)
    key = InstanceKey.from_settings(settings)
    with db.transaction() as s:
        ensure_signing_key(s, key)
    keyring = KeyRing(db, key)
    keyring.load()
    tokens = TokenService(
        keyring,
        RevocationList(db),
        issuer=settings.issuer,
        audience=settings.api_audience,
        access_token_ttl=3600 * 4,
    )
    return tokens.issue_access_token(
        client_id="bench", subject="bench", scope="orders:read", practice_ids=[practice_id]
    ).token


# --- wrk -------------------------------------------------------------------------------------


@dataclass
class Result:
    rps: float
    p50: float | None
    p99: float | None
    requests: int
    non_2xx: int
    socket_errors: dict[str, int]

    @property
    def errors(self) -> str:
        parts = [f"{self.non_2xx} non-2xx"] if self.non_2xx else []
        parts += [f"{n} {kind}" for kind, n in self.socket_errors.items() if n]
        return ", ".join(parts) or "0"


UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def parse_wrk(output: str) -> Result:
    def latency(percent: str) -> float | None:
        match = re.search(rf"^\s*{percent}%\s+([\d.]+)(us|ms|s|m|h)\s*$", output, re.MULTILINE)
        return float(match[1]) * UNITS_MS[match[2]] if match else None

    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    requests = re.search(r"^\s*(\d+) requests in", output, re.MULTILINE)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if rps is None or requests is None:
        raise RuntimeError(f"could not read wrk's output:\n{output}")
    return Result(
        rps=float(rps[1]),
        p50=latency("50"),
        p99=latency("99"),
        requests=int(requests[1]),
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=dict(
            zip(("connect", "read", "write", "timeout"), map(int, sockets.groups()), strict=True)
        )
        if sockets
        else {},
    )


@dataclass
class Wrk:
    binary: str
    env: dict[str, str]

    def run(
        self, url: str, clients: int, seconds: int, headers: list[str], script: Path | None
    ) -> Result:
        assert url.startswith("http://127.0.0.1:"), url  # loopback only
        command = [self.binary, "-t1", f"-c{clients}", f"-d{seconds}s", "--latency"]
        command += ["--timeout", WRK_TIMEOUT]
        for header in headers:
            command += ["-H", header]
        if script is not None:
            command += ["-s", str(script)]
        done = subprocess.run(
            [*command, url],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=seconds + 30,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        return parse_wrk(done.stdout)


# --- one database ------------------------------------------------------------------------------


@dataclass
class Row:
    orders: int
    endpoint: str
    clients: int
    result: Result
    floor: Result | None  # None: this row is a floor


@dataclass
class Held:
    """A size's server, kept up after its rows for the p99 compared across sizes."""

    base: str
    auth: list[str]


def fmt_ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def ratio_text(result: Result, floor: Result) -> str:
    return f"{result.rps / floor.rps:.3f}" if floor.rps else "—"


def table(rows: list[Row]) -> list[str]:
    out = [
        "| orders | endpoint | clients | req/s | p50 ms | p99 ms | ratio to floor | errors |",
        "|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        r = row.result
        ratio = "1.00" if row.floor is None else ratio_text(r, row.floor)
        out.append(
            f"| {row.orders:,} | {row.endpoint} | {row.clients} | {r.rps:,.0f} | "
            f"{fmt_ms(r.p50)} | {fmt_ms(r.p99)} | {ratio} | {r.errors} |"
        )
    return out


def summary(
    rows: list[Row],
    sizes: list[int],
    clients: list[int],
    turns: dict[int, list[float]] | None = None,
) -> list[str]:
    """The goal lines under a database's table. ``turns``: p99s of the list at the most
    clients, by size, from the runs taken in turns on the smallest and largest size."""

    def find(size: int, n: int) -> Result | None:
        for row in rows:
            if row.endpoint == "list" and row.orders == size and row.clients == n:
                return row.result
        return None

    def plural(n: int) -> str:
        return f"{n} client" if n == 1 else f"{n} clients"

    lo, hi = min(clients), max(clients)
    out = []
    for size in sizes:
        a, b = find(size, lo), find(size, hi)
        value = f"{b.rps / a.rps:.2f}" if a and b and lo != hi else "n/a (needs two client counts)"
        out.append(
            f"- {hi} vs {lo}: list req/s at {plural(hi)} ÷ at {plural(lo)}, "
            f"{size:,} orders: **{value}**"
        )
    small, big = find(min(sizes), hi), find(max(sizes), hi)
    if small and big and small.p99 and big.p99 and min(sizes) != max(sizes):
        value = f"{big.p99 / small.p99:.2f}** ({fmt_ms(big.p99)} ms ÷ {fmt_ms(small.p99)} ms)"
    else:
        value = "n/a** (needs two sizes)"
    out.append(
        f"- list p99 at {max(sizes):,} orders ÷ p99 at {min(sizes):,} orders, "
        f"{plural(hi)}, the rows above: **{value}"
    )
    small_p99s, big_p99s = (turns or {}).get(min(sizes)), (turns or {}).get(max(sizes))
    if small_p99s and big_p99s and min(sizes) != max(sizes):
        small_p99, big_p99 = statistics.median(small_p99s), statistics.median(big_p99s)
        out.append(
            f"- the same, median of {len(big_p99s)} runs each taken in turns with both servers "
            f"up: **{big_p99 / small_p99:.2f}** ({fmt_ms(big_p99)} ms of "
            f"{', '.join(map(fmt_ms, big_p99s))} ÷ {fmt_ms(small_p99)} ms of "
            f"{', '.join(map(fmt_ms, small_p99s))})"
        )
    return out


# --- seeded databases, one per size --------------------------------------------------------
#
# Each size is measured on its own database: a copy of the next smaller one with the orders
# added (SQLite: a file copy; PostgreSQL: CREATE DATABASE ... TEMPLATE). With --keep DIR they
# stay in DIR (SQLite files, a PostgreSQL cluster in DIR/pg) with a note of what was seeded,
# and the next run measures them again after migrating them to the current schema and
# checking a sample of stored documents against a fresh render (re-rendering all when one
# differs): seeding 1M orders takes a quarter of an hour per database.

SEED_VERSION = 1  # raise when seeding changes what a kept database holds


class Seeded:
    """The per-size databases of one backend, in ``folder``."""

    def __init__(self, name: str, folder: Path, server_url: str | None) -> None:
        self.name, self.folder, self.server_url = name, folder, server_url

    def url(self, size: int) -> str:
        if self.server_url is None:
            return f"sqlite:///{self.folder / f'sqlite-{size}.db'}"
        return str(make_url(self.server_url).set(database=f"bench_{size}"))

    def _note(self, size: int) -> Path:
        return self.folder / f"{self.name}-{size}.json"

    def kept(self, size: int) -> dict[str, Any] | None:
        """The note of a complete database of this size from an earlier run, if it is there."""
        note = self._note(size)
        if not note.exists():
            return None
        found: dict[str, Any] = json.loads(note.read_text())
        if found.get("seed") != SEED_VERSION or found.get("orders") != size:
            return None
        try:
            db = Database(self.url(size))
            try:
                with db.reading() as conn:
                    counted = conn.scalar(select(func.count()).select_from(Order))
            finally:
                db.dispose()
        except Exception:
            return None
        return found if counted == size else None

    def keep(self, size: int, practice: Practice) -> None:
        note = {"seed": SEED_VERSION, "orders": size, "practice_id": practice.id}
        self._note(size).write_text(json.dumps(note))

    def forget(self, size: int) -> None:
        self._note(size).unlink(missing_ok=True)
        if self.server_url is None:
            for suffix in ("", "-wal", "-shm"):
                Path(str(self.folder / f"sqlite-{size}.db") + suffix).unlink(missing_ok=True)
        else:
            self._admin(f'DROP DATABASE IF EXISTS "bench_{size}"')

    def copy(self, smaller: int, size: int) -> None:
        """The database of ``size`` starts as a copy of the one of ``smaller``."""
        if self.server_url is None:
            shutil.copyfile(self.folder / f"sqlite-{smaller}.db", self.folder / f"sqlite-{size}.db")
        else:
            self._admin(f'CREATE DATABASE "bench_{size}" TEMPLATE "bench_{smaller}"')

    def create(self, size: int) -> None:
        if self.server_url is not None:
            self._admin(f'CREATE DATABASE "bench_{size}"')

    def _admin(self, sql: str) -> None:
        assert self.server_url is not None
        engine = create_engine(self.server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        try:
            with engine.connect() as conn:
                conn.execute(text(sql))
        finally:
            engine.dispose()


def load_practice(db: Database, practice_id: int, orders: int) -> Practice:
    """The seeded practice of a kept database, to add orders to it."""
    with db.reading() as conn:
        locations = conn.scalars(
            select(Location.id).where(Location.practice_id == practice_id).order_by(Location.id)
        ).all()
        patients = conn.scalars(
            select(Patient.id).where(Patient.practice_id == practice_id).order_by(Patient.id)
        ).all()
    with db.sessions() as session:
        frames = session.scalars(
            select(Frame).where(Frame.practice_id == practice_id).order_by(Frame.sku)
        )
        frame_rows = [(frame.id, frame_details(frame), frame.price) for frame in frames]
    return Practice(
        id=practice_id,
        location_ids=list(locations),
        patient_ids=list(patients),
        frames=frame_rows,
        rx=rx_pool(random.Random(7)),
        rng=random.Random(orders),
        orders=orders,
    )


def stale_documents(db: Database, practice_id: int, sample: int = 50) -> int:
    """How many of a sample of stored partner documents differ from a fresh render."""
    with db.reading() as conn:
        rows = conn.execute(
            select(OrderDocument.order_id, OrderDocument.summary)
            .where(OrderDocument.practice_id == practice_id, OrderDocument.projection == "partner")
            .order_by(func.random())
            .limit(sample)
        ).all()
        stale = 0
        for order_id, summary in rows:
            view = order_reads.view(conn, practice_id, order_id)
            if PARTNER_ORDERS.render(view)[0] != summary:
                stale += 1
    return stale if rows else sample


def seed_size(
    seeded: Seeded, size: int, smaller: int | None, env: dict[str, str]
) -> tuple[Database, Practice]:
    """The database of ``size`` orders: kept from an earlier run, or seeded now."""
    url = seeded.url(size)
    found = seeded.kept(size)
    if found is not None:
        say(f"[{seeded.name}] {size:,} orders: kept from an earlier run ({url})")
        upgrade(url)
        db = Database(url)
        practice = load_practice(db, found["practice_id"], size)
        stale = stale_documents(db, practice.id)
        if stale:
            say(f"  {stale} of a sample of stored documents differ from a fresh render")
            rebuild_documents(env | {"OPTIHUB_DATABASE_URL": url}, everything=True)
            settle(db)
        return db, practice
    seeded.forget(size)
    if smaller is None:
        seeded.create(size)
        upgrade(url)
        db = Database(url)
        practice = create_practice(db)
    else:
        seeded.copy(smaller, size)
        upgrade(url)
        db = Database(url)
        practice = load_practice(db, seeded.kept(smaller)["practice_id"], smaller)  # type: ignore[index]
    say(f"[{seeded.name}] seeding up to {size:,} orders")
    started = time.perf_counter()
    add_orders(db, practice, size - practice.orders)
    recount(db, practice.id)
    say(f"  {practice.orders:,} orders in {time.perf_counter() - started:.1f} s")
    rebuild_documents(env | {"OPTIHUB_DATABASE_URL": url})
    settle(db)  # after the rebuild, which writes every new order's document
    seeded.keep(size, practice)
    return db, practice


def bench_database(
    name: str,
    server_url: str | None,
    args: argparse.Namespace,
    wrk_binary: str,
    report: list[str],
) -> None:
    workdir = Path(tempfile.mkdtemp(prefix=f"optihub-bench-{name}-"))
    folder = args.keep.resolve() if args.keep else workdir
    folder.mkdir(parents=True, exist_ok=True)
    seeded = Seeded(name, folder, server_url)
    rows: list[Row] = []
    turns: dict[int, list[float]] = {}
    held: dict[int, Held] = {}
    held_servers = ExitStack()  # the smallest and largest size's servers, until the turns
    try:
        data_dir = workdir / "data"
        data_dir.mkdir()
        env = dict(
            os.environ,
            OPTIHUB_DATA_DIR=str(data_dir),
            OPTIHUB_SECRET_KEY=SECRET,
            OPTIHUB_RUN_WORKER="false",
            OPTIHUB_LOG_LEVEL="info",
            OPTIHUB_LOG_JSON="true",
        )
        # Every size is seeded before any server starts: a size is seeded in a copy of the
        # smaller one, and PostgreSQL copies a database only while nobody is connected to it.
        seeded_sizes: dict[int, tuple[Database, Practice]] = {}
        smaller = None
        for size in args.sizes:
            db, practice = seed_size(seeded, size, smaller, env)
            db.dispose()  # its pool reconnects when measured
            seeded_sizes[size] = (db, practice)
            smaller = size
        for size, (db, practice) in seeded_sizes.items():
            try:
                if size == args.sizes[0] and db.engine.dialect.name == "postgresql":
                    with db.reading() as conn:
                        version = conn.exec_driver_sql("SHOW server_version").scalar()
                    kind = "a kept cluster" if args.keep else "a throw-away cluster"
                    report.append(
                        f"PostgreSQL {version}: {kind} (fsync off), VACUUM ANALYZE after "
                        "each seeding step.\n"
                    )
                if not args.seed_only:
                    ids = sample_ids(db, DETAIL_IDS)
                    size_env = env | {"OPTIHUB_DATABASE_URL": seeded.url(size)}
                    hold = held_servers if size in (args.sizes[0], args.sizes[-1]) else None
                    size_rows, server = bench_size(
                        name, size, db, size_env, practice, ids, workdir, args, wrk_binary, hold
                    )
                    rows += size_rows
                    if hold is not None:
                        held[size] = server
            finally:
                db.dispose()
        if len(held) > 1 and args.p99_runs:
            wrk = Wrk(wrk_binary, dict(os.environ))
            turns = take_turns(name, wrk, held, args)  # held in ascending size
    finally:
        held_servers.close()
        if rows:
            section = [
                f"## {name}",
                "",
                *table(rows),
                "",
                *summary(rows, args.sizes, args.clients, turns),
                "",
            ]
            say("\n" + "\n".join(section))
            report += section
        shutil.rmtree(workdir, ignore_errors=True)


def bench_size(
    name: str,
    size: int,
    db: Database,
    env: dict[str, str],
    practice: Practice,
    ids: list[str],
    workdir: Path,
    args: argparse.Namespace,
    wrk_binary: str,
    hold: ExitStack | None = None,
) -> tuple[list[Row], Held]:
    """The size's rows. With ``hold``, its server stays up until that stack is closed."""
    port = free_port()
    server_env = env | {
        "OPTIHUB_PORT": str(port),
        "OPTIHUB_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    token = mint_token(db, server_env, practice.id)
    auth = [f"Authorization: Bearer {token}"]
    ids_file = workdir / "detail-ids.txt"
    ids_file.write_text("\n".join(ids) + "\n")
    floor_dir = workdir / f"floor-{size}"
    floor_dir.mkdir()
    server_log = workdir / f"server-{size}.log"
    say(f"[{name} {size:,}] starting the server (log: {server_log.name})")
    with ExitStack() as own:
        server = uvicorn(["bench.app:create", "--factory"], server_env, server_log, port)
        base = (hold or own).enter_context(server)
        with httpx.Client(
            base_url=base, trust_env=False, timeout=60, headers={"Authorization": f"Bearer {token}"}
        ) as client:
            bodies = {}
            for filename, path in [
                ("list.json", LIST_PATH),
                ("detail.json", DETAIL_PATH.format(id=ids[0])),
                ("healthz.json", HEALTHZ_PATH),
            ]:
                response = client.get(path)
                if response.status_code != 200:
                    raise SystemExit(f"GET {path} → {response.status_code}: {response.text[:500]}")
                bodies[filename] = response.content
                (floor_dir / filename).write_bytes(response.content)
        total = json.loads(bodies["list.json"]).get("pagination", {}).get("total")
        if total is not None and total != size:
            say(f"  WARNING: the list says pagination.total = {total}, but {size:,} orders exist")
        say(
            f"  GET {LIST_PATH} → 200 ({len(bodies['list.json']):,} bytes), detail "
            f"{len(bodies['detail.json']):,} bytes, healthz {len(bodies['healthz.json'])} bytes"
        )
        if not ACCESS_LINE.search(server_log.read_text(errors="replace")):
            raise SystemExit(f"no JSON access-log line in {server_log}: is the access log on?")
        floor_env = dict(os.environ, OPTIHUB_BENCH_FLOOR_DIR=str(floor_dir))
        floor_log = workdir / f"floor-{size}.log"
        with uvicorn(["bench.floor:app"], floor_env, floor_log, free_port()) as floor_base:
            wrk = Wrk(wrk_binary, dict(os.environ, OPTIHUB_BENCH_IDS=str(ids_file)))
            rows = drive(name, size, wrk, base, floor_base, auth, args)
    log = server_log.read_text(errors="replace")
    details = set(re.findall(r'"path": ?"/api/v1/partner/orders/([0-9a-f-]{36})"', log))
    lines = len(ACCESS_LINE.findall(log))
    say(f"  server access log: {lines:,} request lines; detail requests hit {len(details):,} ids")
    return rows, Held(base, auth)


def drive(
    name: str,
    size: int,
    wrk: Wrk,
    base: str,
    floor_base: str,
    auth: list[str],
    args: argparse.Namespace,
) -> list[Row]:
    rows: list[Row] = []
    for clients in args.clients:
        for endpoint, floor_name, path, needs_token, script in ENDPOINTS:
            headers = auth if needs_token else []
            url_path = "/" if script else path  # the script sets each request's path
            floor_result = None
            for label, root in ((floor_name, floor_base), (endpoint, base)):
                url = root + url_path
                say(
                    f"[{name} {size:,}] {label}, {clients} client{'s' if clients > 1 else ''}: "
                    f"1 s warm-up + {args.seconds} s"
                )
                wrk.run(url, clients, 1, headers, script)
                result = wrk.run(url, clients, args.seconds, headers, script)
                ratio = "" if floor_result is None else f", {ratio_text(result, floor_result)}×"
                say(
                    f"  {result.rps:,.0f} req/s, p50 {fmt_ms(result.p50)} ms, "
                    f"p99 {fmt_ms(result.p99)} ms, errors {result.errors}{ratio}"
                )
                rows.append(Row(size, label, clients, result, floor_result))
                floor_result = floor_result or result
    return rows


def take_turns(
    name: str, wrk: Wrk, servers: dict[int, Held], args: argparse.Namespace
) -> dict[int, list[float]]:
    """p99s of the list at the most clients, by size: ``--p99-runs`` rounds over the held
    servers, the order swapped each round, each run after a 1 s warm-up."""
    clients = max(args.clients)
    sizes = list(servers)
    p99s: dict[int, list[float]] = {size: [] for size in sizes}
    for round_ in range(args.p99_runs):
        for size in sizes if round_ % 2 == 0 else sizes[::-1]:
            held = servers[size]
            say(
                f"[{name} {size:,}] list, {clients} clients, in turns "
                f"({round_ + 1} of {args.p99_runs}): 1 s warm-up + {args.seconds} s"
            )
            url = held.base + LIST_PATH
            wrk.run(url, clients, 1, held.auth, None)
            result = wrk.run(url, clients, args.seconds, held.auth, None)
            say(f"  {result.rps:,.0f} req/s, p99 {fmt_ms(result.p99)} ms, errors {result.errors}")
            if result.p99 is not None:
                p99s[size].append(result.p99)
    return p99s


# --- main ------------------------------------------------------------------------------------


def int_list(raw: str) -> list[int]:
    values = [int(part.replace("_", "")) for part in raw.split(",") if part.strip()]
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError("expected positive integers, comma-separated")
    return values


def name_list(raw: str) -> list[str]:
    values = [part.strip() for part in raw.split(",") if part.strip()]
    unknown = set(values) - {"sqlite", "postgresql"}
    if not values or unknown:
        raise argparse.ArgumentTypeError("databases: sqlite and/or postgresql")
    return values


def describe(wrk_binary: str, args: argparse.Namespace) -> list[str]:
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
    wrk_version = output(wrk_binary, "-v").splitlines()[0]
    return [
        "# Partner API under wrk",
        "",
        f"- run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {commit}{dirty}",
        f"- machine: {os.cpu_count()} cores ({cpu}), {platform.platform()}, "
        f"Python {platform.python_version()}",
        f"- load: {wrk_version.split(' [')[0]}, one thread, N keep-alive connections, "
        f"{args.seconds} s per row after a 1 s warm-up, on the same cores as the server; "
        f"for the p99 compared across sizes, the list at the most clients runs {args.p99_runs} "
        "more times on the smallest and on the largest size, in turns, with both servers up "
        "(the order swapped each round), and their medians are compared",
        "- server: one uvicorn process (uvloop, httptools), OptiHub's JSON access log on",
        "- floor: bare Starlette app (bench/floor.py), same uvicorn flags, returning the "
        "exact bytes the server returned for that endpoint; same requests (headers, paths)",
        f"- list: `GET {LIST_PATH}`; detail: random ids from {DETAIL_IDS:,} (bench/detail.lua)",
        f"- load average at start: {load_average()} (anything else on these cores skews the rows)",
        "",
    ]


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int_list, default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--databases", type=name_list, default=["sqlite", "postgresql"])
    parser.add_argument("--clients", type=int_list, default=[1, 4, 16])
    parser.add_argument("--seconds", type=int, default=10)  # p99 over 5 s moved ±20%
    parser.add_argument(
        "--p99-runs",
        type=int,
        default=5,
        metavar="N",
        help="rounds of the list at the most clients on the smallest and largest size, in "
        "turns, whose median p99s are compared (0: compare the rows' own runs only)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "last-run.md")
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        metavar="DIR",
        help="keep each size's seeded database in DIR and measure it again on the next run",
    )
    parser.add_argument(
        "--seed-only", action="store_true", help="seed (and keep, with --keep) without measuring"
    )
    args = parser.parse_args()
    args.sizes = sorted(set(args.sizes))
    if args.seconds < 1:
        parser.error("--seconds must be at least 1")
    if args.p99_runs < 0:
        parser.error("--p99-runs must be 0 or more")

    wrk_binary = ensure_wrk()
    report = describe(wrk_binary, args)
    if os.getloadavg()[0] > 0.5:
        say(f"WARNING: load average {load_average()}: other work on this machine skews results")
    complete = False
    try:
        for name in args.databases:
            if name == "sqlite":
                bench_database("sqlite", None, args, wrk_binary, report)
                continue
            with postgres_cluster(args.keep / "pg" if args.keep else None) as pg_url:
                if pg_url is None:
                    raise SystemExit("PostgreSQL could not be started (see above)")
                bench_database("postgresql", pg_url, args, wrk_binary, report)
        complete = True
        report.append(f"Load average at the end: {load_average()}.")
    except KeyboardInterrupt:
        say("\ninterrupted: servers stopped, temp dirs removed")
        return 130
    finally:
        if not complete:
            report.append("**Incomplete run** (interrupted or failed; rows above are real).")
        if not args.seed_only:
            args.out.write_text("\n".join(report).rstrip() + "\n")
            say(f"report written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
