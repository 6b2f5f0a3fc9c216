"""Webhook deliveries per second: one ``optihub worker`` and two, on PostgreSQL, to a bare
loopback receiver; and the partner inventory batch of 100 that makes the events.

    .venv/bin/python bench/webhooks.py [--batches 30] [--databases postgresql,sqlite]

Seeds the demo data into a throw-away PostgreSQL cluster as bench/dialects.py does, turns
the demo's own subscriptions off, subscribes the bench's app to ``inventory.updated`` at a
bare receiver (bench/webhook_receiver.py, uvicorn), then, for one worker and for two:
starts the worker process(es) and pauses them once they are idle; sends ``--batches``
partner inventory batches of 100 stock changes (one event per changed frame: up to 3,000
events by default; a change to the quantity a frame already has makes none, so the events
written are counted), timing each batch; resumes the workers and times the deliveries from
the first to the last arrival at the receiver. Each event must arrive once (by
``X-Webhook-Id``); repeats are counted.

Goals (issue 25): one worker ≥ 1,000 deliveries a second; two ≥ 1.6 × one; the inventory
batch's p99 ≤ 2 × its p50.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
from sqlalchemy import func, or_, select, update

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.dialects import Backend, backend_url, mint_tokens, prepare, server_env  # noqa: E402
from bench.run import BIN, free_port, say, stop, uvicorn  # noqa: E402
from optihub.db.models import (  # noqa: E402
    Event,
    Frame,
    Location,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from optihub.db.session import Database  # noqa: E402

ONE_WORKER_GOAL = 1000.0
TWO_WORKERS_GOAL = 1.6
BATCH = 100


def partner_token(backend: Backend, env: dict[str, str]) -> str:
    scope = "inventory:write webhooks:write webhooks:read"
    return mint_tokens(backend, env, {"partner": scope})["partner"]


def quiet_other_subscriptions(backend: Backend) -> tuple[list[str], str]:
    """Turn off the demo's subscriptions (their targets are not reachable from here); the
    practice's frame SKUs and one of its locations (a practice with several names one)."""
    db = Database(backend.url)
    try:
        with db.transaction() as session:
            session.execute(update(WebhookSubscription).values(enabled=False))
        with db.reading() as conn:
            skus = list(
                conn.scalars(select(Frame.sku).where(Frame.practice_id == backend.practice_id))
            )
            location = conn.scalar(
                select(Location.id).where(Location.practice_id == backend.practice_id).limit(1)
            )
        return skus, str(location)
    finally:
        db.dispose()


def events_written(backend: Backend) -> int:
    """``inventory.updated`` events in the outbox: a batch writes one per frame whose stock
    it *changed*, so a change to the quantity a frame already has writes none (one change in
    10,000 here: about one run in two of 30 batches expected 3,000 and waited for ever)."""
    db = Database(backend.url)
    try:
        with db.reading() as conn:
            return int(
                conn.scalar(
                    select(func.count()).select_from(Event).where(Event.type == "inventory.updated")
                )
                or 0
            )
    finally:
        db.dispose()


def where_deliveries_are(backend: Backend) -> list[str]:
    """When fewer arrived than were written: the deliveries by status (with their next
    attempt and lease) and the attempts' errors, to tell a stall from a slow run."""
    db = Database(backend.url)
    try:
        with db.reading() as conn:
            statuses = conn.execute(
                select(
                    WebhookDelivery.status,
                    func.count(),
                    func.min(WebhookDelivery.next_attempt_at),
                    func.max(WebhookDelivery.locked_until),
                    func.max(WebhookDelivery.attempt_count),
                ).group_by(WebhookDelivery.status)
            ).all()
            errors = conn.execute(
                select(WebhookAttempt.response_code, WebhookAttempt.error, func.count())
                .where(or_(WebhookAttempt.error.is_not(None), WebhookAttempt.response_code >= 300))
                .group_by(WebhookAttempt.response_code, WebhookAttempt.error)
            ).all()
            unrelayed = conn.scalar(
                select(func.count()).select_from(Event).where(Event.relayed_at.is_(None))
            )
        return [
            *(
                f"    {s}: {n:,} (next attempt from {at}, leased to {lease}, attempts ≤ {most})"
                for s, n, at, lease, most in statuses
            ),
            *(f"    attempt {code} {error}: {n:,}" for code, error, n in errors),
            f"    events not relayed: {unrelayed:,}",
        ]
    finally:
        db.dispose()


def cpu_busy() -> tuple[float, float]:
    """The machine's (busy, total) CPU seconds so far, every core (Linux /proc/stat)."""
    fields = [float(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields) - idle) / ticks, sum(fields) / ticks


def process_cpu(processes: list[subprocess.Popen[bytes]]) -> float:
    """CPU seconds the worker processes used so far (user + system)."""
    ticks = os.sysconf("SC_CLK_TCK")
    used = 0.0
    for process in processes:
        if Path(str(process.args[0])).name != "optihub":
            continue
        stat = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        used += (float(stat[11]) + float(stat[12])) / ticks
    return used


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def send_batches(
    client: httpx.Client, headers: dict[str, str], skus: list[str], location: str, batches: int
) -> list[float]:
    """``batches`` inventory batches of 100 changed quantities; each one's seconds."""
    took = []
    for _ in range(batches):
        chosen = random.sample(skus, BATCH)
        body = {
            "updates": [
                {"sku": s, "location_id": location, "quantity": random.randint(1, 10_000)}
                for s in chosen
            ]
        }
        started = time.perf_counter()
        response = client.post("/api/v1/partner/inventory", json=body, headers=headers)
        took.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise SystemExit(f"inventory batch → {response.status_code}: {response.text[:300]}")
    return took


def wait_for(receiver: httpx.Client, expected: int, limit: float) -> dict:
    deadline = time.monotonic() + limit
    stats = receiver.get("/stats").json()
    while stats["distinct"] < expected and time.monotonic() < deadline:
        time.sleep(0.05)
        stats = receiver.get("/stats").json()
    return dict(stats)


def run_workers(count: int, env: dict[str, str], workdir: Path) -> list[subprocess.Popen[bytes]]:
    """``count`` ``optihub worker`` processes, started, ready (idle in their loop) and then
    paused (SIGSTOP) until ``resume``: the deliveries are timed from the first arrival, and
    a worker still importing while the other delivers would time the start-up of one on
    the core the other uses (two workers measured 0.8-1.1 x one that way). With
    OPTIHUB_BENCH_SPY (a folder) each worker is sampled by a py-spy attached to it
    (``stop_workers`` stops py-spy with SIGINT, the one signal on which it writes its file)."""
    workers = []
    for n in range(count):
        log = (workdir / f"worker-{count}-{n}.log").open("ab")
        workers.append(
            subprocess.Popen(
                [str(BIN / "optihub"), "worker"], cwd=ROOT, env=env, stdout=log, stderr=log
            )
        )
    deadline = time.monotonic() + 120
    for n, worker in enumerate(workers):
        log_path = workdir / f"worker-{count}-{n}.log"
        while "webhook worker running" not in log_path.read_text(errors="replace"):
            if worker.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"worker {n} did not start:\n{log_path.read_text()[-2000:]}")
            time.sleep(0.1)
    time.sleep(1.5)  # its first loop (periodic jobs, an empty claim) done: idle
    for worker in workers:
        worker.send_signal(signal.SIGSTOP)
    processes = []
    spy = os.environ.get("OPTIHUB_BENCH_SPY")
    for n, worker in enumerate(workers):
        if spy:
            out = Path(spy) / f"worker-{count}-{n}.txt"
            command = [str(BIN / "py-spy"), "record", "-r", "200", "--format", "raw"]
            command += ["--threads", "-o", str(out), "--pid", str(worker.pid)]
            log = (workdir / f"worker-{count}-{n}.log").open("ab")
            processes.append(subprocess.Popen(command, stdout=log, stderr=log))
        processes.append(worker)
    return processes


def resume(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if Path(str(process.args[0])).name == "optihub":
            process.send_signal(signal.SIGCONT)


def stop_workers(processes: list[subprocess.Popen[bytes]]) -> None:
    resume(processes)
    for process in processes:
        if Path(str(process.args[0])).name == "py-spy" and process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)
        stop(process)


def bench(name: str, batches: int) -> list[str]:
    workdir = Path(tempfile.mkdtemp(prefix=f"optihub-webhooks-{name}-"))
    try:
        with ExitStack() as stack:
            url = stack.enter_context(backend_url(name))
            backend = Backend(name, url)
            port = free_port()
            env = server_env(
                url,
                workdir,
                OPTIHUB_LOG_LEVEL="warning",
                OPTIHUB_WEBHOOK_ALLOWED_HOSTS="127.0.0.1",
                OPTIHUB_PORT=str(port),
                OPTIHUB_PUBLIC_URL=f"http://127.0.0.1:{port}",
            )
            prepare(backend, env)
            skus, location = quiet_other_subscriptions(backend)
            if len(skus) < BATCH:
                raise SystemExit(f"the demo practice has {len(skus)} frames, fewer than {BATCH}")
            headers = {"Authorization": f"Bearer {partner_token(backend, env)}"}
            receiver_base = stack.enter_context(
                uvicorn(
                    ["bench.webhook_receiver:app"],
                    dict(os.environ),
                    workdir / "rx.log",
                    free_port(),
                )
            )
            base = stack.enter_context(
                uvicorn(["bench.app:create", "--factory"], env, workdir / "server.log", port)
            )
            client = stack.enter_context(httpx.Client(base_url=base, timeout=60, trust_env=False))
            receiver = stack.enter_context(
                httpx.Client(base_url=receiver_base, timeout=10, trust_env=False)
            )
            made = client.post(
                "/api/v1/partner/webhooks",
                headers=headers,
                json={"url": f"{receiver_base}/hook", "events": ["inventory.updated"]},
            )
            if made.status_code not in (200, 201):
                raise SystemExit(f"POST /webhooks → {made.status_code}: {made.text[:300]}")
            rows = []
            batch_times: list[float] = []
            rates: dict[int, float] = {}
            for workers in (1, 2):
                receiver.post("/reset")
                processes = run_workers(workers, env, workdir)
                try:
                    say(f"[{name}] {batches} inventory batches of {BATCH} (workers paused)")
                    before = events_written(backend)
                    batch_times += send_batches(client, headers, skus, location, batches)
                    expected = events_written(backend) - before
                    say(f"[{name}] {workers} worker(s) delivering {expected:,} events")
                    busy_before, total_before = cpu_busy()
                    worker_before = process_cpu(processes)
                    resume(processes)
                    wait_for(receiver, expected, limit=600)
                    busy_after, total_after = cpu_busy()
                    worker_cpu = process_cpu(processes) - worker_before
                    time.sleep(1.0)  # late repeats arrive too
                    stats = dict(receiver.get("/stats").json())
                finally:
                    stop_workers(processes)
                if stats["distinct"] < expected:
                    say("  fewer arrived than were written; the deliveries:")
                    say("\n".join(where_deliveries_are(backend)))
                span = (stats["last"] or 0) - (stats["first"] or 0)
                rate = (stats["distinct"] - 1) / span if span > 0 else 0.0
                rates[workers] = rate
                # From the workers' resumption to the last arrival: the machine's cores
                # busy (other engineers' work included), and the workers' own CPU.
                machine = (busy_after - busy_before) / (total_after - total_before)
                rows.append(
                    f"| {workers} | {expected:,} | {stats['distinct']:,} | "
                    f"{stats['received'] - stats['distinct']:,} | {span:.1f} | {rate:,.0f} | "
                    f"{machine:.0%} | {worker_cpu:.1f} |"
                )
                say(f"  {stats['distinct']:,} of {expected:,} delivered, {rate:,.0f} a second")
            p50, p99 = percentile(batch_times, 0.5), percentile(batch_times, 0.99)
            one = rates[1]
            two = rates[2] / one if one else 0.0
            title = "PostgreSQL" if name == "postgresql" else "SQLite"
            return [
                f"## {title}",
                "",
                "| workers | events | delivered once or more | repeats | seconds (first → last"
                " arrival) | deliveries a second | machine CPU busy | workers' CPU seconds |",
                "|---:|---:|---:|---:|---:|---:|---:|---:|",
                *rows,
                "",
                f"- one worker: **{one:,.0f}** a second (≥ {ONE_WORKER_GOAL:,.0f}: "
                f"{'met' if one >= ONE_WORKER_GOAL else '**missed**'})",
                f"- two workers ÷ one: **{two:.2f}** (≥ {TWO_WORKERS_GOAL}: "
                f"{'met' if two >= TWO_WORKERS_GOAL else '**missed**'})",
                f"- inventory batch of {BATCH} ({len(batch_times)} batches): p50 "
                f"{p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, p99 ÷ p50 **{p99 / p50:.2f}** "
                f"(≤ 2: {'met' if p99 <= 2 * p50 else '**missed**'}); the slowest five (ms, in"
                f" the order sent: batch number): "
                + ", ".join(
                    f"{n}: {batch_times[n] * 1000:.0f}"
                    for n in sorted(
                        sorted(range(len(batch_times)), key=batch_times.__getitem__)[-5:]
                    )
                ),
            ]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument(
        "--databases",
        type=lambda raw: [p.strip() for p in raw.split(",") if p.strip()],
        default=["postgresql"],
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "webhooks-last-run.md")
    args = parser.parse_args()
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    lines = [
        "# Webhook deliveries: one worker and two (bench/webhooks.py)",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} cores; load"
        f" average at the start {load}; {args.batches} batches of {BATCH} per worker count.",
        "",
    ]
    for name in args.databases:
        section = bench(name, args.batches)
        say("\n" + "\n".join(section))
        lines += [*section, ""]
    args.out.write_text("\n".join(lines).rstrip() + "\n")
    say(f"report written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
