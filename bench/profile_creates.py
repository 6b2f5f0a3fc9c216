"""Where each dialect's main create call spends its time: statements and functions.

    .venv/bin/py-spy record -r 500 --format raw -o var/creates.txt -- \
        .venv/bin/python bench/profile_creates.py [--requests 150]
    .venv/bin/python bench/profile_creates.py --stacks var/creates.txt

Seeds the demo data into a fresh SQLite file as bench/dialects.py does, then sends each
create (lab order, portal patient, practice patient, fulfillment order) ``--requests``
times through the application in this process (Starlette's test client: no network, no
uvicorn), with the bodies bench/dialects.py sends, and prints the SQL statements one request
runs (a SQLAlchemy ``before_cursor_execute`` listener, and ``db.prepared.send`` for the
statements sent past SQLAlchemy), by kind and by table.

Run under py-spy (which samples every thread: the routes run in the thread pool), the
second command reads its raw stacks and prints, per create, the share of the route's
samples each OptiHub function (and the commit, flushes and SQLite calls) holds, inclusive.

In-process figures leave out the server (uvicorn, the socket); they say where the
application's own time goes. Not a benchmark: the ratios to the write floor are
bench/dialects.py's.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.dialects import backend_url  # noqa: E402
from bench.in_process import creates_in_process  # noqa: E402

TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE|JOIN)\s+([a-z_]+)", re.IGNORECASE)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=150)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--stacks", type=Path, help="aggregate a py-spy raw file instead")
    parser.add_argument(
        "--shares",
        type=Path,
        help="print each function's inclusive share of every sample in a py-spy raw file "
        "(e.g. one bench/dialects.py --spy wrote of the whole server)",
    )
    parser.add_argument("--match", default="", help="--shares: only functions matching this")
    parser.add_argument("--only", help="one dialect's create (labs, portal, practice, fulfillment)")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--statements", action="store_true", help="also print one request's queries, in order"
    )
    parser.add_argument(
        "--spy",
        type=Path,
        help="sample this process with py-spy (raw stacks to this file) during the measured"
        " requests only: warm-up (the framework builds its routes on the first request) left out",
    )
    args = parser.parse_args()
    if args.stacks is not None:
        aggregate(args.stacks, args.top)
        return 0
    if args.shares is not None:
        shares(args.shares, args.top, args.match)
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="optihub-profile-creates-"))
    try:
        with backend_url(args.database) as url:
            profile(args, workdir, url)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def profile(args: argparse.Namespace, workdir: Path, url: str) -> None:
    """Seed, then send each create as the module says and print what it ran."""
    statements: list[str] = []
    trips = [0]  # queries sent (one round trip each; the driver's own BEGIN and COMMIT aside)
    queries: list[str] = []  # the last request's, in order (``--statements``)

    def sent(sql: str, _parameters: Any, _many: bool) -> None:
        # One query past SQLAlchemy may carry the statements deferred before it.
        statements.extend(JOINED.split(sql))
        queries.append(sql)
        trips[0] += 1

    with creates_in_process(args.database, url, workdir, sent) as (client, creates):
        for create in creates:
            if args.only and create.dialect != args.only:
                continue
            for _ in range(5):  # warm: statement caches, first-use imports
                create.post(client)
            statements.clear()
            trips[0] = 0
            spy = start_spy(args.spy, create.dialect) if args.spy else None
            started = time.perf_counter()
            for _ in range(args.requests):
                queries.clear()
                create.post(client)
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(timeout=60)
            each_ms = (time.perf_counter() - started) * 1000 / args.requests
            report(create.dialect, create.shown, statements, trips[0], args.requests, each_ms)
        if args.statements:
            print("\nthe last request's queries, in order:\n")
            for query in queries:
                parts = JOINED.split(query)
                shown = " ".join(" ".join(parts[0].split())[:90].split())
                more = (
                    f" (+ {', '.join(' '.join(p.split()[:3]) for p in parts[1:])})"
                    if parts[1:]
                    else ""
                )
                print(f"- `{shown}`{more}")


def start_spy(path: Path, dialect: str) -> subprocess.Popen[bytes]:
    """py-spy sampling this process (every thread) into ``path`` with the dialect's name."""
    out = path.with_name(f"{path.stem}-{dialect}{path.suffix}")
    spy = subprocess.Popen(
        [
            *(str(Path(sys.executable).with_name("py-spy")), "record", "-r", "400"),
            *("--format", "raw", "--pid", str(os.getpid()), "-o", str(out)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)  # attached before the first measured request
    return spy


def report(
    dialect: str, shown: str, statements: list[str], trips: int, n: int, each_ms: float
) -> None:
    kinds = Counter(s.split(None, 1)[0].upper() for s in statements)
    tables = Counter(t.lower() for s in statements for t in TABLE.findall(s)[:1])
    print(f"\n## {dialect}: {shown}\n")
    print(f"- in this process: {each_ms:.2f} ms a request (test client, one at a time)")
    print(
        f"- statements per request: {len(statements) / n:.1f} ("
        + ", ".join(f"{k} {v / n:.1f}" for k, v in kinds.most_common())
        + ")"
    )
    print(f"- queries sent per request (round trips; BEGIN aside): {trips / n:.1f}")
    print(
        "- by table (the first table each names): "
        + ", ".join(f"{t} {v / n:.1f}" for t, v in tables.most_common(14))
    )


# The route function each create runs in (py-spy's frame names).
ENTRIES = {
    "labs": "create_order.<locals>.run (optihub/surfaces/labs/orders.py",
    "portal": "_writer.<locals>.write (optihub/surfaces/portal/routes.py",
    "practice": "create_patients (optihub/surfaces/practice/routes.py",
    "fulfillment": "post_order (optihub/surfaces/fulfillment/routes.py",
}
JOINED = re.compile(r";(?=(?:INSERT|UPDATE|DELETE|SELECT|WITH|COMMIT)\b)")
SHOWN = re.compile(r"optihub/(?!surfaces/)|commit|flush \(|execute \(sqlite3")


def aggregate(path: Path, top: int) -> None:
    """Per create: each function's inclusive share of the route's samples."""
    totals: Counter[str] = Counter()
    inclusive: dict[str, Counter[str]] = {name: Counter() for name in ENTRIES}
    with path.open() as stacks:
        for line in stacks:
            stack, _, count = line.rstrip().rpartition(" ")
            frames = stack.split(";")
            for name, entry in ENTRIES.items():
                if any(frame.startswith(entry) for frame in frames):
                    totals[name] += int(count)
                    for key in {re.sub(r":\d+\)$", ")", frame) for frame in frames}:
                        inclusive[name][key] += int(count)
                    break
    for name in ENTRIES:
        print(f"\n## {name}: {totals[name]:,} samples in the route\n")
        print("| share | function |\n|---:|---|")
        shown = [(n, key) for key, n in inclusive[name].most_common() if SHOWN.search(key)]
        for n, key in shown[:top]:
            print(f"| {n / max(totals[name], 1):.0%} | `{key}` |")


def shares(path: Path, top: int, match: str) -> None:
    """Each function's inclusive share of all the samples (every thread, the loop's too)."""
    total = 0
    inclusive: Counter[str] = Counter()
    with path.open() as stacks:
        for line in stacks:
            stack, _, count = line.rstrip().rpartition(" ")
            total += int(count)
            for key in {re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")}:
                inclusive[key] += int(count)
    print(f"\n## {path.name}: {total:,} samples\n")
    print("| share | function |\n|---:|---|")
    wanted = re.compile(match) if match else None
    shown = [(n, k) for k, n in inclusive.most_common() if wanted is None or wanted.search(k)]
    for n, key in shown[:top]:
        print(f"| {n / max(total, 1):.1%} | `{key}` |")


if __name__ == "__main__":
    raise SystemExit(main())
