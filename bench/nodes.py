"""Scale-out: every dialect's order list served by one process and by two, on one
PostgreSQL and one Redis, beside the floor served the same two ways.

    .venv/bin/python bench/nodes.py [--seconds 10] [--databases postgresql,sqlite]

Seeds the demo data into a throw-away PostgreSQL cluster (and starts a throw-away Redis for
the shared rate-limit counters) as bench/dialects.py does, then for each dialect's list (a
full page of 50, 16 clients, wrk) measures OptiHub with one uvicorn process and with
``--workers 2`` (what ``optihub serve --workers 2`` runs), and the floor (a bare Starlette
route serving the same bytes, bench/dialects_floor.py) with one and two processes, all in
this run. The goal (issue 25): two processes ≥ 1.3 × one, for every list. wrk shares the
machine's two cores with the servers, as it does in bench/dialects.py.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.run_tests import redis_server  # noqa: E402

from bench.dialects import (  # noqa: E402
    Backend,
    Call,
    backend_url,
    letters,
    mint_tokens,
    prepare,
    read_calls,
    server_env,
)
from bench.run import BIN, Result, Wrk, ensure_wrk, fmt_ms, free_port, say, stop  # noqa: E402

GOAL = 1.3
CLIENTS = 16


@contextmanager
def served(target: list[str], env: dict[str, str], log: Path, workers: int) -> Any:
    """uvicorn with ``workers`` processes on a free loopback port, ready when it answers."""
    import subprocess

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [str(BIN / "uvicorn"), *target, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--loop", "uvloop", "--http", "httptools", "--no-access-log"]
    command += ["--log-level", "warning", "--workers", str(workers)]
    with log.open("ab") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)
        try:
            deadline = time.monotonic() + 90
            with httpx.Client(trust_env=False, timeout=2) as client:
                ready = 0
                # With two processes, wait until several answers in a row (both are up).
                while ready < 20:
                    if process.poll() is not None:
                        raise SystemExit(f"{target} exited at start:\n{log.read_text()[-3000:]}")
                    try:
                        ready = ready + 1 if client.get(f"{base}/healthz").is_success else 0
                    except httpx.TransportError:
                        ready = 0
                    if time.monotonic() > deadline:
                        raise SystemExit(f"{target}: not ready after 90 s")
                    time.sleep(0.05)
            time.sleep(1.0 if workers > 1 else 0.1)
            yield base
        finally:
            stop(process)


def wrk(wrk_binary: str, base: str, call: Call, seconds: int) -> Result:
    env = dict(os.environ, OPTIHUB_BENCH_RUN=letters())
    Wrk(wrk_binary, env).run(base + call.path, CLIENTS, 1, call.header_lines(), None)  # warm
    time.sleep(0.5)
    result = Wrk(wrk_binary, env).run(base + call.path, CLIENTS, seconds, call.header_lines(), None)
    time.sleep(1.0)  # requests still in flight finish before the next run
    return result


def bench(name: str, seconds: int, wrk_binary: str) -> list[str]:
    workdir = Path(tempfile.mkdtemp(prefix=f"optihub-nodes-{name}-"))
    try:
        with ExitStack() as stack:
            url = stack.enter_context(backend_url(name))
            redis = stack.enter_context(redis_server())
            if redis is None:
                raise SystemExit("Redis is needed (shared counters of several processes)")
            backend = Backend(name, url)
            env = server_env(url, workdir, OPTIHUB_REDIS_URL=redis)
            prepare(backend, env)
            tokens = mint_tokens(backend, env)
            auth = {d: {"Authorization": f"Bearer {t}"} for d, t in tokens.items()}
            floor_dir = workdir / "floor"
            floor_dir.mkdir()
            app = ["bench.app:create", "--factory"]
            with (
                served(app, env, workdir / "one.log", 1) as base,
                httpx.Client(base_url=base, trust_env=False, timeout=60) as client,
            ):
                calls, _lab = read_calls(client, backend.practice_id, auth, floor_dir)
            lists = [c for c in calls if c.kind == "list"]
            floor_env = dict(os.environ, OPTIHUB_BENCH_FLOOR_DIR=str(floor_dir))
            figures: dict[tuple[str, str, int], Result] = {}
            for workers in (1, 2):
                with served(
                    ["bench.app:create", "--factory"], env, workdir / f"app-{workers}.log", workers
                ) as base:
                    for call in lists:
                        say(f"[{name}] {call.dialect} list, OptiHub, {workers} process(es)")
                        figures[("app", call.path, workers)] = wrk(wrk_binary, base, call, seconds)
                with served(
                    ["bench.dialects_floor:app"],
                    floor_env,
                    workdir / f"floor-{workers}.log",
                    workers,
                ) as floor:
                    for call in lists:
                        say(f"[{name}] {call.dialect} list, floor, {workers} process(es)")
                        figures[("floor", call.path, workers)] = wrk(
                            wrk_binary, floor, call, seconds
                        )
            return report(name, backend, lists, figures)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def report(
    name: str, backend: Backend, lists: list[Call], figures: dict[tuple[str, str, int], Result]
) -> list[str]:
    title = "PostgreSQL" if name == "postgresql" else "SQLite"
    out = [
        f"## {title} and Redis (the demo practice, {backend.orders} orders)",
        "",
        "| dialect | list | 1 process req/s | 2 processes req/s | 2 ÷ 1 | goal | p99 ms (1 / 2) "
        "| floor 1 / 2 req/s | floor 2 ÷ 1 | non-2xx |",
        "|---|---|---:|---:|---:|---|---|---|---:|---|",
    ]
    for call in lists:
        one, two = figures[("app", call.path, 1)], figures[("app", call.path, 2)]
        f1, f2 = figures[("floor", call.path, 1)], figures[("floor", call.path, 2)]
        ratio = two.rps / one.rps if one.rps else 0.0
        verdict = f"≥ {GOAL}: {'met' if ratio >= GOAL else '**missed**'}"
        out.append(
            f"| {call.dialect} | {call.shown.removeprefix('list ')} | {one.rps:,.0f} | "
            f"{two.rps:,.0f} | {ratio:.2f} | {verdict} | {fmt_ms(one.p99)} / {fmt_ms(two.p99)} | "
            f"{f1.rps:,.0f} / {f2.rps:,.0f} | {f2.rps / f1.rps if f1.rps else 0:.2f} | "
            f"{one.non_2xx + two.non_2xx} |"
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument(
        "--databases",
        type=lambda raw: [p.strip() for p in raw.split(",") if p.strip()],
        default=["postgresql"],
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "nodes-last-run.md")
    args = parser.parse_args()
    wrk_binary = ensure_wrk()
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    lines = [
        "# Scale-out: one process and two (bench/nodes.py)",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} cores;"
        f" load average at the start {load}; wrk {CLIENTS} clients, {args.seconds} s a row"
        " after a 1 s warm-up.",
        "",
    ]
    for name in args.databases:
        section = bench(name, args.seconds, wrk_binary)
        say("\n" + "\n".join(section))
        lines += [*section, ""]
    args.out.write_text("\n".join(lines).rstrip() + "\n")
    say(f"report written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
