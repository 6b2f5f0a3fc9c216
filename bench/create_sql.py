"""What each create's SQL costs by itself on SQLite: the statements one create ran, replayed.

    .venv/bin/python bench/create_sql.py [labs portal practice fulfillment] [--replays 2000] \
        [--each]

Seeds the demo data into a fresh SQLite file as bench/dialects.py does, sends each create
(the bodies bench/dialects.py sends) through the application in this process a few times,
then once more while recording every statement it sends to SQLite with its parameters (a
SQLAlchemy ``before_cursor_execute`` listener, and ``db.prepared.send`` for the statements
sent past SQLAlchemy). The database file is copied just before that request, and the
statements are replayed on the copy with Python's ``sqlite3`` (OptiHub's PRAGMAs):

- ``--replays`` times in ``BEGIN IMMEDIATE`` … ``ROLLBACK``: SQLite's work on the statements
  (parse, bind, B-tree and index updates) and ``sqlite3``'s own per call;
- ``--commits`` times on a fresh copy each, with ``COMMIT``: the same plus writing the pages
  to the WAL (copying the file is left out of the time).

Each connection runs the statements once, rolled back, before it is timed: the schema read
and the statements compiled, as on OptiHub's pooled connections; a fresh copy then
commits a row of its own, so its WAL file is there before the timed commit.

``--each`` also prints each statement's own time in the rolled-back replays, slowest
first: how the lab order's patient lookup (1.4 ms of its 2.4 ms of SQL, a plan that read
every patient of the practice) was found.

The CPU time of the process (``time.process_time``) is divided by the replays. What is
left of ``bench/create_cpu.py``'s server CPU a create, once this is taken away, is
OptiHub's own Python work and the HTTP server's: the figure says how much of a create the
database itself is, not how fast OptiHub is.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.dialects import backend_url  # noqa: E402
from bench.in_process import creates_in_process  # noqa: E402

CREATES = ("labs", "portal", "practice", "fulfillment")
TRANSACTION = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")

Statement = tuple[str, Any, bool]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("creates", nargs="*", help=f"any of {', '.join(CREATES)} (all four)")
    parser.add_argument("--replays", type=int, default=2000)
    parser.add_argument("--commits", type=int, default=100)
    parser.add_argument(
        "--each",
        action="store_true",
        help="also each statement's own time in the rolled-back replays, slowest first",
    )
    args = parser.parse_args()
    wanted = args.creates or list(CREATES)
    workdir = Path(tempfile.mkdtemp(prefix="optihub-create-sql-"))
    try:
        with backend_url("sqlite") as url:
            run(url, workdir, wanted, args.replays, args.commits, each=args.each)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def run(
    url: str, workdir: Path, wanted: list[str], replays: int, commits: int, *, each: bool = False
) -> None:
    path = Path(url.removeprefix("sqlite:///"))
    recorded: list[Statement] = []
    recording = [False]

    def sent(sql: str, parameters: Any, many: bool) -> None:
        if recording[0]:
            recorded.append((sql, parameters, many))

    print("\n| create | statements | SQL, rolled back | SQL and COMMIT |\n|---|---:|---:|---:|")
    with creates_in_process("sqlite", url, workdir, sent) as (client, creates):
        for create in creates:
            if create.dialect not in wanted:
                continue
            for _ in range(3):  # warm: the statement caches, first-use imports
                create.post(client)
            snapshot = workdir / f"{create.dialect}.db"
            copy_database(path, snapshot)
            recorded.clear()
            recording[0] = True
            try:
                create.post(client)
            finally:
                recording[0] = False
            statements = [s for s in recorded if not s[0].lstrip().upper().startswith(TRANSACTION)]
            rolled_back = replay(snapshot, statements, replays, commit=False)
            committed = (
                sum(
                    replay(fresh_copy(snapshot, workdir), statements, 1, commit=True)
                    for _ in range(commits)
                )
                / commits
            )
            print(
                f"| {create.dialect} | {len(statements)} | {rolled_back * 1000:.3f} ms "
                f"| {committed * 1000:.3f} ms |"
            )
            if each:
                for spent, sql in sorted(
                    zip(each_statement(snapshot, statements, replays), statements, strict=True),
                    key=lambda pair: -pair[0],
                ):
                    print(f"|   | {spent * 1e6:.1f} µs | `{' '.join(sql[0].split())[:90]}` | |")


def copy_database(source: Path, target: Path) -> None:
    """``source`` as it stands (the WAL checkpointed into it first) into ``target``."""
    with sqlite3.connect(source) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    backup = sqlite3.connect(target)
    with sqlite3.connect(source) as connection:
        connection.backup(backup)
    backup.close()


def fresh_copy(snapshot: Path, workdir: Path) -> Path:
    target = workdir / "replay.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(snapshot, target)
    return target


def replay(database: Path, statements: list[Statement], times: int, *, commit: bool) -> float:
    """CPU seconds a replay of ``statements`` takes (the mean of ``times``)."""
    connection = _warmed(database, statements)
    # And a commit of its own: the WAL file made and its first frames written before the
    # timed commit (a fresh copy has no WAL yet).
    connection.execute("CREATE TABLE IF NOT EXISTS bench_warm (x)")
    connection.execute("INSERT INTO bench_warm VALUES (1)")
    end = "COMMIT" if commit else "ROLLBACK"
    started = time.process_time()
    for _ in range(times):
        _run(connection, statements, end)
    spent = time.process_time() - started
    connection.close()
    return spent / times


def each_statement(database: Path, statements: list[Statement], times: int) -> list[float]:
    """Each statement's own wall time in rolled-back replays (the mean of ``times``): the
    one that reads far more than it needs stands out (a plan that walks a whole index)."""
    connection = _warmed(database, statements)
    spent = [0.0] * len(statements)
    for _ in range(times):
        connection.execute("BEGIN IMMEDIATE")
        for index, statement in enumerate(statements):
            started = time.perf_counter()
            _send(connection, statement)
            spent[index] += time.perf_counter() - started
        connection.execute("ROLLBACK")
    connection.close()
    return [total / times for total in spent]


def _warmed(database: Path, statements: list[Statement]) -> sqlite3.Connection:
    """A connection with OptiHub's PRAGMAs that has run ``statements`` once, rolled back,
    untimed: the schema read and the statements compiled, as on OptiHub's pooled
    connections (``sqlite3`` keeps each connection's statements)."""
    connection = sqlite3.connect(database, isolation_level=None)
    for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL"):
        connection.execute(f"PRAGMA {pragma}")
    _run(connection, statements, "ROLLBACK")
    return connection


def _run(connection: sqlite3.Connection, statements: list[Statement], end: str) -> None:
    connection.execute("BEGIN IMMEDIATE")
    for statement in statements:
        _send(connection, statement)
    connection.execute(end)


def _send(connection: sqlite3.Connection, statement: Statement) -> None:
    sql, parameters, many = statement
    if many:
        connection.executemany(sql, parameters)
    else:
        connection.execute(sql, parameters if parameters is not None else ())


if __name__ == "__main__":
    raise SystemExit(main())
