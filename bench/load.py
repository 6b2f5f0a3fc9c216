"""Partner API load test: 100k orders, list and detail throughput beside the framework floor.

    .venv/bin/python bench/load.py [--orders 100000] [--seconds 15] [--concurrency 16]

Seeds a practice on a fresh SQLite file (or OPTIHUB_BENCH_DATABASE_URL), starts one uvicorn
process on a loopback port, and drives it from this process with httpx (bounded in time and
count, loopback only). Prints a Markdown table; bench/README.md keeps one run's figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
from sqlalchemy import insert

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import factories  # noqa: E402

from optihub.auth.keys import InstanceKey, KeyRing, ensure_signing_key  # noqa: E402
from optihub.auth.tokens import RevocationList, TokenService  # noqa: E402
from optihub.db.migrate import upgrade  # noqa: E402
from optihub.db.models import Order, OrderLine, OrderStatusChange  # noqa: E402
from optihub.db.session import Database  # noqa: E402
from optihub.settings import Settings  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed(db: Database, count: int) -> tuple[int, list[uuid.UUID]]:
    with db.transaction() as s:
        practice = factories.practice(s, "Bench Optical")
        location = factories.location(s, practice.id)
        patient = factories.patient(s, practice.id)
        frame = factories.frame(s, practice.id)
        ids = (practice.id, location.id, patient.id, frame.id)
    practice_id, location_id, patient_id, frame_id = ids
    statuses = ["received", "in_progress", "completed", "shipped", "delivered", "cancelled"]
    start = datetime.now(UTC) - timedelta(days=365)
    order_ids: list[uuid.UUID] = []
    rng = random.Random(7)
    batch = 5000
    for first in range(0, count, batch):
        orders, lines, history = [], [], []
        for n in range(first, min(first + batch, count)):
            order_id = uuid.uuid4()
            order_ids.append(order_id)
            at = start + timedelta(seconds=n * 300)
            orders.append(
                {
                    "id": order_id,
                    "practice_id": practice_id,
                    "number": f"ORD{n:012d}BNCH",
                    "external_id": f"B-{n}",
                    "location_id": location_id,
                    "patient_id": patient_id,
                    "created_via": "bench",
                    "type": "spectacles",
                    "status": rng.choice(statuses),
                    "frame_id": frame_id,
                    "frame_details": {"sku": "RB-1", "brand": "Ray-Ban", "model": "RB5154"},
                    "lens": {"style": "Comfort Progressive", "material": "Trivex", "coats": ["AR"]},
                    "rx_snapshot": {
                        "right": {"sphere": "-2.00", "cylinder": "-0.75", "axis": 90},
                        "left": {"sphere": "-1.75"},
                    },
                    "currency": "USD",
                    "subtotal": Decimal("309.00"),
                    "tax_total": Decimal("7.50"),
                    "total": Decimal("316.50"),
                    "amount_paid": Decimal("50.00"),
                    "patient_balance": Decimal("266.50"),
                    "priority": False,
                    "cancellation_requested": False,
                    "created_at": at,
                    "updated_at": at,
                }
            )
            lines += [
                {
                    "id": uuid.uuid4(),
                    "practice_id": practice_id,
                    "order_id": order_id,
                    "position": 0,
                    "kind": "frame",
                    "description": "Frame",
                    "quantity": 1,
                    "unit_price": Decimal("189.00"),
                    "retail_price": Decimal("189.00"),
                    "tax": Decimal("0"),
                },
                {
                    "id": uuid.uuid4(),
                    "practice_id": practice_id,
                    "order_id": order_id,
                    "position": 1,
                    "kind": "lens",
                    "description": "Lenses",
                    "quantity": 1,
                    "unit_price": Decimal("120.00"),
                    "retail_price": Decimal("120.00"),
                    "tax": Decimal("7.50"),
                },
            ]
            history.append(
                {
                    "practice_id": practice_id,
                    "order_id": order_id,
                    "from_status": None,
                    "to_status": "received",
                    "at": at,
                    "actor_label": "bench",
                    "via": "bench",
                }
            )
        with db.transaction() as s:
            s.execute(insert(Order), orders)
            s.execute(insert(OrderLine), lines)
            s.execute(insert(OrderStatusChange), history)
        print(f"  seeded {min(first + batch, count):,} / {count:,} orders", flush=True)
    return practice_id, order_ids


async def drive(base: str, path_for, headers: dict, seconds: float, concurrency: int):
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=30
    ) as client:

        async def one_user() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.get(path_for())
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    errors += 1

        began = time.perf_counter()
        await asyncio.gather(*(one_user() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="optihub-bench-"))
    url = os.environ.get("OPTIHUB_BENCH_DATABASE_URL") or f"sqlite:///{workdir / 'bench.db'}"
    port = free_port()
    env = dict(
        os.environ,
        OPTIHUB_DATABASE_URL=url,
        OPTIHUB_DATA_DIR=str(workdir),
        OPTIHUB_SECRET_KEY="bench-only-key",  # noqa: S106  (throw-away bench instance)
        OPTIHUB_PORT=str(port),
        OPTIHUB_PUBLIC_URL=f"http://127.0.0.1:{port}",
        OPTIHUB_RUN_WORKER="false",
        OPTIHUB_LOG_LEVEL="warning",
        OPTIHUB_BENCH_FLOOR_FILE=str(workdir / "floor.json"),
    )
    print(f"database: {url.split('://')[0]}; seeding {args.orders:,} orders", flush=True)
    upgrade(url)
    db = Database(url)
    practice_id, order_ids = seed(db, args.orders)
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
        access_token_ttl=3600,
    )
    token = tokens.issue_access_token(
        client_id="bench", subject="bench", scope="orders:read", practice_ids=[practice_id]
    ).token
    headers = {"Authorization": f"Bearer {token}"}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.app:create",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        listing = httpx.get(f"{base}/api/v1/partner/orders?limit=50", headers=headers, timeout=30)
        assert listing.status_code == 200, listing.text
        (workdir / "floor.json").write_bytes(listing.content)
        rng = random.Random(11)
        runs = {
            "framework floor (same bytes as the list page)": lambda: "/bench/floor",
            "GET /orders?limit=50": lambda: "/api/v1/partner/orders?limit=50",
            "GET /orders/{id}": lambda: f"/api/v1/partner/orders/{rng.choice(order_ids)}",
        }
        results = {}
        for name, path_for in runs.items():
            asyncio.run(drive(base, path_for, headers, 2, args.concurrency))  # warm-up
            results[name] = asyncio.run(
                drive(base, path_for, headers, args.seconds, args.concurrency)
            )
            print(f"  {name}: {results[name]['rps']:.0f} req/s", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=20)
        db.dispose()
    floor = results["framework floor (same bytes as the list page)"]["rps"]
    print(
        f"\n{args.orders:,} orders, {args.concurrency} concurrent clients, "
        f"{args.seconds:.0f} s per endpoint, one uvicorn process, {url.split('://')[0]}\n"
    )
    print("| endpoint | req/s | ratio to floor | p50 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r['rps']:.0f} | {r['rps'] / floor:.2f} | {r['p50']:.1f} | "
            f"{r['p99']:.1f} | {r['errors']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
