"""Server CPU per create: what one create costs OptiHub's server, HTTP included.

    .venv/bin/python bench/create_cpu.py labs portal practice fulfillment [--creates 500] \
        [--database sqlite|postgresql]

Seeds the demo data into a fresh SQLite file (or a throw-away PostgreSQL server, as
bench/dialects.py starts one) as bench/dialects.py does, starts one uvicorn
process of OptiHub (``bench.app:create``, access log at warning), sends each named create
(the bodies bench/dialects.py sends, a new external id and patient each time) 20 times to
warm up, then ``--creates`` times one after another from one client, and prints the
server process's CPU time (user + system, every thread; OptiHub's process only) divided by
the creates, and on PostgreSQL the database server's own CPU time a create beside it.

One client at a time: no queueing, no contention, so the figure is the work a create
costs. bench/dialects.py's ratios at 4 clients add what concurrency costs on top. 0.10 of a
write floor of F writes a second is 1000 / (0.10 × F) ms of server CPU a create (F = 5,200:
about 1.9 ms). Figures move by about ±15 % between runs on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.dialects import (  # noqa: E402
    DEMO_EMAIL,
    UNIQUE,
    Backend,
    backend_url,
    cpu_ticks,
    create_bodies,
    free_port,
    lab_setup,
    letters,
    mint_tokens,
    portal_setup,
    prepare,
    server_env,
    server_pid,
    uvicorn,
)

CREATES = ("labs", "portal", "practice", "fulfillment")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dialects", nargs="*", help=f"any of {', '.join(CREATES)} (all four)")
    parser.add_argument("--creates", type=int, default=500)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    unknown = sorted(set(args.dialects) - set(CREATES))
    if unknown:
        parser.error(f"no such create: {', '.join(unknown)} (choose from {', '.join(CREATES)})")
    workdir = Path(tempfile.mkdtemp(prefix="optihub-create-cpu-"))
    try:
        with backend_url(args.database) as url:
            backend = Backend(args.database, url)
            port = free_port()
            env = server_env(
                url,
                workdir,
                OPTIHUB_PORT=str(port),
                OPTIHUB_PUBLIC_URL=f"http://127.0.0.1:{port}",
                OPTIHUB_LOG_LEVEL="warning",
            )
            prepare(backend, env)
            tokens = mint_tokens(backend, env)
            auth = {d: {"Authorization": f"Bearer {t}"} for d, t in tokens.items()}
            server = ["bench.app:create", "--factory"]
            with (
                uvicorn(server, env, workdir / "server.log", port) as base,
                httpx.Client(base_url=base, trust_env=False, timeout=60) as client,
            ):
                lab = lab_setup(client, auth["labs"] | {"User-Email": DEMO_EMAIL})
                portal_setup(client, auth["portal"])
                bodies = create_bodies(backend.practice_id, lab)
                pid = server_pid(base)
                for dialect in args.dialects or CREATES:
                    shown, path, body = bodies[dialect]
                    template = json.dumps(body)
                    headers = auth[dialect] | {"Content-Type": "application/json"}
                    if dialect == "labs":
                        headers["User-Email"] = DEMO_EMAIL

                    def send(count: int, path: str, template: str, headers: dict) -> None:
                        for _ in range(count):
                            sent = template.replace(UNIQUE, letters(12))
                            answer = client.post(path, content=sent, headers=headers)
                            assert answer.is_success, (path, answer.status_code, answer.text)

                    send(20, path, template, headers)
                    time.sleep(0.5)
                    before, database_before = cpu_ticks(pid), database_ticks()
                    send(args.creates, path, template, headers)
                    tick = os.sysconf("SC_CLK_TCK")
                    spent = (cpu_ticks(pid) - before) / tick
                    each = spent * 1000 / args.creates
                    database = (database_ticks() - database_before) / tick * 1000 / args.creates
                    print(
                        f"{dialect}: {shown}: {each:.2f} ms of server CPU a create "
                        f"({args.creates} creates, one at a time)"
                        + (
                            f"; PostgreSQL's own: {database:.2f} ms"
                            if args.database != "sqlite"
                            else ""
                        )
                    )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def database_ticks() -> int:
    """CPU time of every PostgreSQL process on this machine (the bench's own server: its
    backends, WAL writer, checkpointer…), in clock ticks; 0 without one."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # ended in between
            continue
        name, _, rest = text.partition(" (")[2].partition(")")
        if name.startswith("postgres"):
            fields = rest.split()
            total += int(fields[11]) + int(fields[12])
    return total


if __name__ == "__main__":
    raise SystemExit(main())
