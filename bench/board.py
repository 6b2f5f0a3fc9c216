"""The staff dashboard's orders board under wrk, signed in, at 10k and 1M orders.

    .venv/bin/python bench/board.py [--sizes 10000,1000000] [--clients 4] [--seconds 10]
                                    [--p99-runs 3] [--keep DIR] [--out bench/board-last-run.md]

Quick mode while developing: ``--sizes 2000,20000 --seconds 2 --p99-runs 1``.

For each size a SQLite database is seeded with one practice (an owner who signs in, two
locations, frames, ``size // 4`` patients with mostly distinct names, ``size`` orders in every
status, bulk-inserted as bench/run.py does), each size in a copy of the smaller one. One
uvicorn process (uvloop, httptools, OptiHub's JSON access log on) serves each size; the bench
signs in through ``/login`` like a browser and sends the session cookie with every request.
Measured, each beside a bare Starlette route serving the very same bytes (bench/board_floor.py):

- ``board``: ``GET /dashboard/orders`` (the landing page: counts of every column, the first
  50 cards of "Received");
- ``search``: ``GET /dashboard/orders?q=<first last>`` (one patient's orders by name).

The servers of every size stay up; then each page runs on them in turns (``--p99-runs``
rounds, the order swapped each round) and the medians of the p99s are compared: the goal is
p99 at the largest size ≤ 1.5 × p99 at the smallest, and the board ≥ 0.10 of its floor.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import shutil
import statistics
import sys
import tempfile
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import factories  # noqa: E402

from bench import run as partner_bench  # noqa: E402
from bench.run import Result, Wrk, ensure_wrk, fmt_ms, free_port, say, uvicorn  # noqa: E402
from optihub.db.migrate import upgrade  # noqa: E402
from optihub.db.models import Patient  # noqa: E402
from optihub.db.session import Database  # noqa: E402
from optihub.services import users  # noqa: E402

OWNER = "owner@bench.test"
PASSWORD = "bench-owner-password"  # noqa: S105
SECRET = "bench-only-key"  # noqa: S105
FIRST = partner_bench.FIRST_NAMES
SYLLABLES = ["ka", "lor", "ven", "mi", "dro", "sel", "ta", "nu", "bri", "gan", "ost", "re"]
SYLLABLES += ["val", "che", "mon", "dor", "pi", "zan", "wel", "fa", "ther", "qui", "lo", "sta"]
BATCH = 5000
# The patient searched for: one of the seeded names, the same at every size.
SEARCHED = ("Imogen", "Thistlewood")


@dataclass
class Size:
    orders: int
    url: str
    practice: partner_bench.Practice


def surname(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 3, 3, 4)))).capitalize()


def add_patients(db: Database, practice: partner_bench.Practice, count: int) -> None:
    """Bulk-insert ``count`` more patients (names mostly distinct, as a practice's are)."""
    rng = practice.rng
    for first_row in range(0, count, BATCH):
        rows = []
        for _ in range(first_row, min(first_row + BATCH, count)):
            patient_id = uuid.uuid4()
            rows.append(
                {
                    "id": patient_id,
                    "practice_id": practice.id,
                    "first_name": rng.choice(FIRST),
                    "last_name": surname(rng),
                    "date_of_birth": date(1940, 1, 1) + timedelta(days=rng.randrange(30_000)),
                }
            )
            practice.patient_ids.append(patient_id)
        with db.transaction() as s:
            s.execute(insert(Patient), rows)


def seed_first(db: Database, orders: int) -> partner_bench.Practice:
    rng = random.Random(11)
    with db.transaction() as s:
        created = factories.practice(s, "Bench Optical")
        users.create_user(s, email=OWNER, password=PASSWORD, practice_id=created.id, role="owner")
        locations = [
            factories.location(s, created.id, "Main Street"),
            factories.location(s, created.id, "Harbor Point Mall"),
        ]
        frames = []
        for brand, model, color, price in partner_bench.FRAMES:
            frame = factories.frame(
                s, created.id, brand=brand, model=model, color=color, price=price
            )
            frames.append((frame.id, partner_bench.frame_details(frame), price))
        searched = factories.patient(s, created.id, first_name=SEARCHED[0], last_name=SEARCHED[1])
    practice = partner_bench.Practice(
        id=created.id,
        location_ids=[location.id for location in locations],
        patient_ids=[searched.id],
        frames=frames,
        rx=partner_bench.rx_pool(rng),
        rng=rng,
    )
    grow(db, practice, orders)
    return practice


def grow(db: Database, practice: partner_bench.Practice, orders: int) -> None:
    """Patients to a quarter of the orders, then orders up to ``orders``."""
    add_patients(db, practice, max(0, orders // 4 - len(practice.patient_ids)))
    partner_bench.add_orders(db, practice, orders - practice.orders)
    partner_bench.settle(db)


def sign_in(base: str) -> str:
    """The session cookie of the owner, signed in through the sign-in page."""
    with httpx.Client(base_url=base, trust_env=False, timeout=30) as client:
        page = client.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        if csrf is None:
            raise SystemExit(f"no CSRF token on /login ({page.status_code})")
        response = client.post(
            "/login", data={"email": OWNER, "password": PASSWORD, "csrf_token": csrf[1]}
        )
        if response.status_code != 303:
            raise SystemExit(f"sign-in refused: {response.status_code} {response.text[:300]}")
        return f"optihub_session={client.cookies['optihub_session']}"


PAGES = {
    "board": "/dashboard/orders",
    "search": "/dashboard/orders?q=" + "+".join(SEARCHED),
}
# Each page again, each request with a different ignored parameter (bench/board_fresh.lua):
# never answered from a kept copy of the page (dashboard/board_copies.py), so these rows are
# the cost of rendering it.
FRESH = ROOT / "bench" / "board_fresh.lua"
MEASURED: dict[str, tuple[str, Path | None]] = {
    **{name: (path, None) for name, path in PAGES.items()},
    **{f"{name}, rendered each time": (path, FRESH) for name, path in PAGES.items()},
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--p99-runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "board-last-run.md")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    wrk_binary = ensure_wrk()
    workdir = Path(tempfile.mkdtemp(prefix="optihub-board-bench-"))
    folder = args.keep.resolve() if args.keep else workdir
    folder.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    try:
        seeded: list[Size] = []
        practice = None
        previous: Path | None = None
        for size in sizes:
            path = folder / f"board-{size}.db"
            url = f"sqlite:///{path}"
            if path.exists() and args.keep:
                say(f"[{size:,}] using the kept database {path}")
                practice = partner_bench.Practice(0, [], [], [], [], random.Random(0), orders=size)
            else:
                if previous is not None:
                    shutil.copyfile(previous, path)
                upgrade(url)
                db = Database(url)
                try:
                    say(f"[{size:,}] seeding")
                    if practice is None or previous is None:
                        practice = seed_first(db, size)
                    else:
                        grow(db, practice, size)
                finally:
                    db.dispose()
            seeded.append(Size(size, url, practice))
            previous = path
        rows, p99s = measure(seeded, args, wrk_binary, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report = render(rows, p99s, sizes, args, started, load)
    args.out.write_text(report)
    say("\n" + report)
    return 0


@dataclass
class Row:
    orders: int
    page: str
    result: Result
    floor: Result


def measure(
    seeded: list[Size], args: argparse.Namespace, wrk_binary: str, workdir: Path
) -> tuple[list[Row], dict[str, dict[int, list[float]]]]:
    wrk = Wrk(wrk_binary, dict(os.environ))
    rows: list[Row] = []
    servers: dict[int, tuple[str, str]] = {}
    with ExitStack() as stack:
        for size in seeded:
            port = free_port()
            env = dict(
                os.environ,
                OPTIHUB_DATABASE_URL=size.url,
                OPTIHUB_DATA_DIR=str(workdir / f"data-{size.orders}"),
                OPTIHUB_SECRET_KEY=SECRET,
                OPTIHUB_RUN_WORKER="false",
                OPTIHUB_LOG_LEVEL="info",
                OPTIHUB_LOG_JSON="true",
                OPTIHUB_PORT=str(port),
                OPTIHUB_PUBLIC_URL=f"http://127.0.0.1:{port}",
            )
            log = workdir / f"server-{size.orders}.log"
            base = stack.enter_context(uvicorn(["bench.app:create", "--factory"], env, log, port))
            cookie = sign_in(base)
            servers[size.orders] = (base, cookie)
            floor_dir = workdir / f"floor-{size.orders}"
            floor_dir.mkdir()
            with httpx.Client(
                base_url=base, trust_env=False, timeout=60, headers={"Cookie": cookie}
            ) as client:
                for name, path in PAGES.items():
                    response = client.get(path)
                    if response.status_code != 200 or "Sign out" not in response.text:
                        raise SystemExit(f"GET {path} → {response.status_code}")
                    (floor_dir / f"{name}.html").write_bytes(response.content)
                    say(f"[{size.orders:,}] GET {path} → 200, {len(response.content):,} bytes")
            floor_env = dict(os.environ, OPTIHUB_BENCH_FLOOR_DIR=str(floor_dir))
            with uvicorn(
                ["bench.board_floor:app"], floor_env, workdir / "floor.log", free_port()
            ) as floor:
                for name, (path, script) in MEASURED.items():
                    results = []
                    for root in (floor, base):
                        wrk.run(root + path, args.clients, 1, [f"Cookie: {cookie}"], script)
                        results.append(
                            wrk.run(
                                root + path,
                                args.clients,
                                args.seconds,
                                [f"Cookie: {cookie}"],
                                script,
                            )
                        )
                    floor_result, result = results
                    rows.append(Row(size.orders, name, result, floor_result))
                    say(
                        f"[{size.orders:,}] {name}: {result.rps:,.0f} req/s, p99 "
                        f"{fmt_ms(result.p99)} ms; floor {floor_result.rps:,.0f} req/s "
                        f"→ {result.rps / floor_result.rps:.3f}"
                    )
        p99s: dict[str, dict[int, list[float]]] = {name: {} for name in MEASURED}
        order = list(servers)
        for round_ in range(args.p99_runs):
            for size in order if round_ % 2 == 0 else order[::-1]:
                base, cookie = servers[size]
                for name, (path, script) in MEASURED.items():
                    wrk.run(base + path, args.clients, 1, [f"Cookie: {cookie}"], script)
                    result = wrk.run(
                        base + path, args.clients, args.seconds, [f"Cookie: {cookie}"], script
                    )
                    say(f"[{size:,}] {name} in turns ({round_ + 1}): p99 {fmt_ms(result.p99)} ms")
                    if result.p99 is not None:
                        p99s[name].setdefault(size, []).append(result.p99)
    return rows, p99s


def render(
    rows: list[Row],
    p99s: dict[str, dict[int, list[float]]],
    sizes: list[int],
    args: argparse.Namespace,
    started: datetime,
    load: str,
) -> str:
    out = [
        "# Orders board: last run",
        "",
        f"- run: {started:%Y-%m-%d %H:%M} UTC; {os.cpu_count()} cores, "
        f"{platform.platform()}, Python {platform.python_version()}",
        f"- load average at start: {load}",
        f"- wrk, one thread, {args.clients} keep-alive connections, {args.seconds} s per row after "
        "a 1 s warm-up, on the same cores as the server; a signed-in owner's session cookie",
        "- server: one uvicorn process (uvloop, httptools), OptiHub's JSON access log on, SQLite",
        "- floor: bare Starlette route (bench/board_floor.py) serving the exact bytes of the page",
        "",
        "| orders | page | req/s | p50 ms | p99 ms | floor req/s | ratio to floor | errors |",
        "|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        r = row.result
        out.append(
            f"| {row.orders:,} | {row.page} | {r.rps:,.0f} | {fmt_ms(r.p50)} | {fmt_ms(r.p99)} | "
            f"{row.floor.rps:,.0f} | {r.rps / row.floor.rps:.3f} | {r.errors} |"
        )
    out += ["", "## p99 across sizes (runs in turns, medians)", ""]
    small, large = sizes[0], sizes[-1]
    for name, by_size in p99s.items():
        if small in by_size and large in by_size:
            low, high = statistics.median(by_size[small]), statistics.median(by_size[large])
            runs = "; ".join(
                f"{size:,}: " + ", ".join(fmt_ms(v) for v in values)
                for size, values in by_size.items()
            )
            verdict = "meets" if high <= 1.5 * low else "MISSES"
            out.append(
                f"- {name}: p99 {fmt_ms(low)} ms at {small:,} → {fmt_ms(high)} ms at {large:,}: "
                f"**{high / low:.2f}×** ({verdict} ≤ 1.5×). Runs: {runs}"
            )
    for page in ("board", "board, rendered each time"):
        board = [r for r in rows if r.page == page]
        if board:
            worst = min(r.result.rps / r.floor.rps for r in board)
            verdict = "meets" if worst >= 0.10 else "MISSES"
            out.append(f"- {page}: lowest ratio to its floor **{worst:.3f}** ({verdict} ≥ 0.10)")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
