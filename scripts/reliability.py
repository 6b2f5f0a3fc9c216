"""The reliability suite: two OptiHub nodes over one PostgreSQL and one Redis, under load,
through five faults, each counted.

    .venv/bin/python scripts/reliability.py [--minutes 10]     # `make reliability`
    .venv/bin/python scripts/reliability.py --short            # inside `make test`

It starts its own throw-away PostgreSQL cluster and Redis (``scripts/run_tests.py``'s
``postgres_cluster`` and ``redis_server``), migrates and seeds the demo practice and
registers an app as ``bench/dialects.py`` does, then starts two serving nodes
(``optihub serve`` on two free ports, each with its own data directory and its built-in
webhook worker; one database, one Redis, one instance key, one public URL, as behind one
load balancer) and a webhook receiver on loopback with a partner subscription and a
fulfillment subscription to every event. A load generator (Python threads with httpx: it
checks correctness, not speed) sends writes of every dialect (lab order create, portal
patient upsert, practice patient create, fulfillment order create, partner order status
update) and, in the soak, reads too, over both nodes, and keeps every acknowledged (2xx)
write. Then, one after the other:

1. kill -9 of node A under write load: every acknowledged write is in the database, node B
   answers 2xx throughout, the deliveries node A had claimed are sent by node B after the
   lease (``OPTIHUB_WEBHOOK_LEASE_SECONDS``: 60 s, 10 s with ``--short``), each event once
   per subscription (a copy twice only when it was in flight at the kill, same
   X-Webhook-Id). Node A is started again.
2. PostgreSQL stopped (``pg_ctl stop -m fast``), held down a few seconds, started again
   (``pg_ctl restart``): every answer is 2xx or a 503 with Retry-After in the dialect's
   own envelope, no 500, no client timeout (15 s) or connection error; ``/readyz`` 503
   meanwhile; both nodes answer 2xx again by themselves (how long is printed).
3. Redis terminated, started again on the same port later: no 5xx; the rate limit still
   answers (the documented policy: a local limit per process); a limit of 100 a minute
   for the pair holds again after Redis is back.
4. The webhook receiver down (10 s; 3 minutes in the long run), then up: every event
   arrives once per subscription (checked against the outbox); the order of arrival is
   reported (docs/webhooks.md promises no order, so it is not a check).
5. Soak (long run: ``--minutes``; ``--short``: about 20 s, ratios reported, not judged):
   reads and writes of every dialect at about half the capacity measured first, no 5xx,
   p99 of the last minute ≤ 1.5 × the first, each node's RSS grown < 10 % after a 1-minute
   warm-up.

It prints one table (also written to ``bench/reliability-last-run.md`` by a long run) and
exits 1 when an acknowledged write is missing or any check fails. See docs/reliability.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import queue
import random
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select, text, update

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

from bench.dialects import (  # noqa: E402
    PORTAL_ORDER,
    UNIQUE,
    Backend,
    create_bodies,
    lab_setup,
    portal_setup,
    prepare,
)
from scripts.run_tests import (  # noqa: E402
    free_port,
    is_root,
    pg_bindir,
    postgres_cluster,
    redis_server,
)

from optihub.auth.keys import InstanceKey, KeyRing, ensure_signing_key  # noqa: E402
from optihub.auth.tokens import RevocationList, TokenService  # noqa: E402
from optihub.db.models import (  # noqa: E402
    Event,
    Order,
    Patient,
    PortalRecord,
    WebhookDelivery,
    WebhookSubscription,
)
from optihub.db.session import Database  # noqa: E402
from optihub.demo import DEMO_EMAIL  # noqa: E402
from optihub.events.relay import webhook_id  # noqa: E402
from optihub.services.oauth_clients import register_client  # noqa: E402
from optihub.settings import Settings  # noqa: E402

SECRET = "reliability-only-key"  # noqa: S105  (a throw-away instance)
CLIENT_TIMEOUT = 15.0
LIMITED_RATE = "100/minute"
# Seconds the receiver holds each answer just before node A is killed (fault 1).
SLOW_RECEIVER = 2.0
# Each dialect's token: the scopes of the calls the load sends (bench/dialects.py's, plus
# the partner's status update and webhooks, and the fulfillment notifications).
SCOPES = {
    "partner": "orders:read orders:full webhooks:read webhooks:write",
    "fulfillment": "fulfillment:read fulfillment:write",
    "labs": "lab_orders:read lab_orders:write lab_catalog:read",
    "practice": "read:orders create:patients",
    "portal": "portal:sync",
}
# The app whose rate is set to LIMITED_RATE with `optihub client rate-limit` (fault 3).
LIMITED_SCOPE = "read:stores"


def say(message: str) -> None:
    print(f"[reliability] {message}", flush=True)


def now() -> float:
    return time.time()


def unique() -> str:
    return "".join(random.choices(string.ascii_lowercase + string.digits, k=12))  # noqa: S311


def as_uuid(raw: Any) -> uuid.UUID | None:
    """A row id from a dialect's id: a UUID, or ``prefix_<32 hex>`` (the lab dialect's)."""
    if raw is None:
        return None
    text_id = str(raw)
    for candidate in (text_id, text_id.rpartition("_")[2]):
        try:
            return uuid.UUID(candidate)
        except ValueError:
            continue
    return None


# --- the pieces: nodes, receiver, PostgreSQL, Redis --------------------------------------------


class Node:
    """One ``optihub serve`` process on its own port and data directory."""

    def __init__(self, name: str, port: int, env: dict[str, str], workdir: Path) -> None:
        self.name = name
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.env = dict(env, OPTIHUB_PORT=str(port), OPTIHUB_DATA_DIR=str(workdir / name))
        self.log = workdir / f"node-{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.launched = 0.0

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> float:
        """Start and wait for /readyz 200; returns the seconds it took."""
        self.launch()
        return self.ready()

    def launch(self) -> None:
        self.launched = time.monotonic()
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(BIN / "optihub"), "serve"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def ready(self) -> float:
        """Wait for /readyz 200; returns the seconds since the launch."""
        assert self.process is not None
        started = self.launched
        deadline = started + 120
        with httpx.Client(trust_env=False, timeout=2) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    tail = self.log.read_text(errors="replace")[-3000:]
                    raise SystemExit(f"node {self.name} exited at start:\n{tail}")
                try:
                    if client.get(f"{self.base}/readyz").status_code == 200:
                        return time.monotonic() - started
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
        raise SystemExit(f"node {self.name}: /readyz not 200 after 120 s")

    def kill9(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def log_count(self, event: str) -> int:
        needle = f'"event": "{event}"'
        text_log = self.log.read_text(errors="replace")
        return text_log.count(needle) + text_log.count(f'"event":"{event}"')


@dataclass
class Arrival:
    path: str
    webhook_id: str
    at: float


class QuietServer(ThreadingHTTPServer):
    """A killed sender leaves its request half answered: not worth a traceback."""

    allow_reuse_address = True
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        return


class Receiver:
    """A webhook receiver on loopback: records every POST (path, X-Webhook-Id, when) as it
    arrives, answers 204 after ``hold`` seconds (so a kill finds deliveries in flight).
    ``down()`` closes the port (connections refused), ``up()`` opens it again."""

    def __init__(self, hold: float) -> None:
        self.hold = hold
        self.arrivals: list[Arrival] = []
        self.port = free_port()
        self.server: QuietServer | None = None
        self.thread: threading.Thread | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def up(self) -> None:
        state = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                state.arrivals.append(Arrival(self.path, self.headers["X-Webhook-Id"], now()))
                if state.hold:
                    time.sleep(state.hold)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                return

        self.server = QuietServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def down(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


class Postgres:
    """Stop and start the throw-away cluster ``postgres_cluster`` made (found from the
    server's own ``data_directory``)."""

    def __init__(self, db: Database) -> None:
        with db.reading() as conn:
            self.datadir = Path(str(conn.scalar(text("SHOW data_directory"))))
        bindir = pg_bindir()
        assert bindir is not None
        self.pg_ctl = str(bindir / "pg_ctl")
        self.as_user = ["runuser", "-u", "postgres", "--"] if is_root() else []

    def _run(self, *args: str) -> None:
        subprocess.run(
            [*self.as_user, self.pg_ctl, "-D", str(self.datadir), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        self._run("-m", "fast", "-w", "stop")

    def start(self) -> None:
        # `restart` of a stopped cluster starts it with the options it last ran with
        # (postmaster.opts): port, socket directory, settings.
        log = str(self.datadir.parent / "server.log")
        subprocess.run(
            [*self.as_user, self.pg_ctl, "-D", str(self.datadir), "-l", log, "-w", "restart"],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


class Redis:
    """Terminate the Redis ``redis_server`` started (found by its port), and start a new
    one on the same port (stopped at the end)."""

    def __init__(self, url: str, workdir: Path) -> None:
        self.port = int(url.rsplit(":", 1)[1].split("/")[0])
        self.workdir = workdir
        self.replacement: subprocess.Popen[bytes] | None = None

    def _pid(self) -> int | None:
        needle = f":{self.port}".encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"redis-server" in command and needle in command:
                return int(entry.name)
        return None

    def terminate(self) -> None:
        if self.replacement is not None and self.replacement.poll() is None:
            self.replacement.terminate()
            self.replacement.wait(timeout=10)
            return
        pid = self._pid()
        if pid is None:
            raise SystemExit(f"no redis-server process found on port {self.port}")
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while self._pid() is not None and time.monotonic() < deadline:
            time.sleep(0.05)

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None
        options = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.replacement = subprocess.Popen(
            [binary, "--port", str(self.port), *options],
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(200):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise SystemExit("the new Redis did not listen within 10 s")

    def close(self) -> None:
        if self.replacement is not None and self.replacement.poll() is None:
            self.replacement.terminate()
            self.replacement.wait(timeout=10)


# --- requests and what they acknowledge -------------------------------------------------------


@dataclass(frozen=True)
class Ack:
    """A write a 2xx acknowledged: what must be in the database afterwards."""

    kind: str  # order, patient, portal_patient, in_progress
    key: str  # a row id, or the portal's ExternalId
    op: str
    at: float


@dataclass
class Sample:
    op: str
    dialect: str
    node: str
    phase: str
    started: float
    seconds: float
    status: int | None
    error: str | None = None  # a client-side failure: timeout or connection error
    retry_after: str | None = None
    envelope_ok: bool | None = None  # a non-2xx: is the body in the dialect's envelope?
    write: bool = False
    answer: str = ""  # a non-2xx other than 503: the start of its body, to say what it was

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def shape(body: Any) -> tuple[Any, ...]:
    """The envelope of an error body: its keys, and the keys of what they hold."""
    if isinstance(body, dict):
        return tuple(sorted((k, shape(v) if isinstance(v, dict) else ()) for k, v in body.items()))
    if isinstance(body, list):
        return ("list",)
    return (type(body).__name__,)


@dataclass
class Call:
    op: str
    dialect: str
    method: str
    path: str
    headers: dict[str, str]
    content: bytes | None
    write: bool
    # from the 2xx response: what it acknowledged (None: nothing to check)
    ack: Callable[[httpx.Response], Ack | None] | None = None


class Workload:
    """Builds each dialect's calls (bodies from bench/dialects.py ``create_bodies``)."""

    def __init__(self, practice_id: int, lab: dict[str, Any], tokens: dict[str, str]) -> None:
        self.practice_id = practice_id
        self.bodies = {d: json.dumps(b[2]) for d, b in create_bodies(practice_id, lab).items()}
        self.paths = {d: b[1] for d, b in create_bodies(practice_id, lab).items()}
        json_type = {"Content-Type": "application/json", "Accept": "application/json"}
        self.headers = {d: {"Authorization": f"Bearer {t}"} | json_type for d, t in tokens.items()}
        self.headers["labs"] |= {"User-Email": DEMO_EMAIL}
        # Orders acknowledged by a create, waiting for a partner status update.
        self.orders: queue.Queue[str] = queue.Queue(maxsize=10_000)
        self.lab = lab
        self.portal_order = PORTAL_ORDER  # synced by portal_setup

    def body(self, dialect: str, u: str) -> bytes:
        return self.bodies[dialect].replace(UNIQUE, u).encode()

    def _order_ack(self, op: str, id_of: Callable[[Any], Any]) -> Callable[[httpx.Response], Ack]:
        def ack(response: httpx.Response) -> Ack:
            row = as_uuid(id_of(response.json()))
            key = str(row) if row else f"unreadable id in {response.text[:200]}"
            if row is not None:
                with suppress(queue.Full):
                    self.orders.put_nowait(key)
            return Ack("order", key, op, now())

        return ack

    def writes(self) -> list[Callable[[], Call | None]]:
        def labs() -> Call:
            return Call(
                "lab order create",
                "labs",
                "POST",
                self.paths["labs"],
                self.headers["labs"],
                self.body("labs", unique()),
                True,
                self._order_ack("lab order create", lambda b: b["id"]),
            )

        def portal() -> Call:
            u = unique()

            def ack(_response: httpx.Response) -> Ack:
                return Ack("portal_patient", f"BP-{u}", "portal patient upsert", now())

            return Call(
                "portal patient upsert",
                "portal",
                "POST",
                self.paths["portal"],
                self.headers["portal"],
                self.body("portal", u),
                True,
                ack,
            )

        def practice() -> Call:
            def ack(response: httpx.Response) -> Ack:
                body = response.json()
                raw = body.get("data", body) if isinstance(body, dict) else body
                row = as_uuid(raw.get("patient_id") or raw.get("id"))
                return Ack("patient", str(row), "practice patient create", now())

            return Call(
                "practice patient create",
                "practice",
                "POST",
                self.paths["practice"],
                self.headers["practice"],
                self.body("practice", unique()),
                True,
                ack,
            )

        def fulfillment() -> Call:
            return Call(
                "fulfillment order create",
                "fulfillment",
                "POST",
                self.paths["fulfillment"],
                self.headers["fulfillment"],
                self.body("fulfillment", unique()),
                True,
                self._order_ack("fulfillment order create", lambda b: b["id"]),
            )

        def partner() -> Call | None:
            try:
                order = self.orders.get_nowait()
            except queue.Empty:
                return None

            def ack(_response: httpx.Response) -> Ack:
                return Ack("in_progress", order, "partner status update", now())

            return Call(
                "partner status update",
                "partner",
                "PATCH",
                f"/api/v1/partner/orders/{order}",
                self.headers["partner"],
                json.dumps({"status": "in_progress", "note": "reliability"}).encode(),
                True,
                ack,
            )

        return [labs, portal, practice, fulfillment, partner]

    def reads(self) -> list[Callable[[], Call | None]]:
        pid = self.practice_id
        lab_query = str(
            httpx.QueryParams(lab=self.lab["lab"], account_number=self.lab["account_number"])
        )
        table = [
            ("partner order list", "partner", "/api/v1/partner/orders?limit=50"),
            ("fulfillment order list", "fulfillment", "/fulfillment/v1/orders?per_page=50"),
            ("lab order list", "labs", f"/v1/orders?{lab_query}&limit=50"),
            ("practice order list", "practice", f"/v2/{pid}/orders?page_size=50"),
            ("portal order read", "portal", f"/api/Orders?externalId={self.portal_order}"),
        ]

        def make(op: str, dialect: str, path: str) -> Callable[[], Call]:
            return lambda: Call(op, dialect, "GET", path, self.headers[dialect], None, False)

        return [make(*row) for row in table]


class Run:
    """Everything the faults share: nodes, receiver, database, the samples and acks."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.short: bool = args.short
        self.phase = "setup"
        self.samples: list[Sample] = []
        self.acks: list[Ack] = []
        self.envelopes: dict[str, tuple[Any, ...]] = {}
        self.nodes: list[Node] = []
        self.receiver: Receiver
        self.db: Database
        self.workload: Workload
        self.pg: Postgres
        self.redis: Redis
        self.limited_token = ""
        self.practice_id = 0
        self.subscriptions: dict[str, str] = {}  # receiver path -> subscription id
        # (start, end) wall times of fault windows in which a copy of a delivery may arrive
        # twice: the receiver had it when its worker died or lost the database.
        self.inflight_windows: list[tuple[str, float, float]] = []
        self.rows: list[Row] = []
        self.window_checks: list[str] = []

    def subscription_ids(self) -> list[uuid.UUID]:
        """The receiver's subscriptions (not the demo data's own, which never answers)."""
        return [uuid.UUID(sid) for sid in self.subscriptions.values()]

    @property
    def lease(self) -> int:
        return 10 if self.short else 60

    def send(self, client: httpx.Client, call: Call, node: Node) -> Sample:
        phase = self.phase
        started = now()
        t0 = time.perf_counter()
        sample = Sample(call.op, call.dialect, node.name, phase, started, 0.0, None)
        sample.write = call.write
        try:
            response = client.request(
                call.method, node.base + call.path, headers=call.headers, content=call.content
            )
        except httpx.TimeoutException as exc:
            sample.error = f"timeout ({type(exc).__name__})"
        except httpx.TransportError as exc:
            sample.error = f"connection ({type(exc).__name__})"
        else:
            sample.status = response.status_code
            if response.is_success:
                if call.ack is not None:
                    try:
                        acked = call.ack(response)
                    except Exception as exc:  # an answer we cannot read is a failure
                        acked = Ack("unreadable", f"{type(exc).__name__}: {exc}", call.op, now())
                    if acked is not None:
                        self.acks.append(acked)
            else:
                sample.retry_after = response.headers.get("Retry-After")
                try:
                    body = response.json()
                except ValueError:
                    body = None
                sample.envelope_ok = body is not None and shape(body) == self.envelopes.get(
                    call.dialect
                )
                if response.status_code != 503:
                    sample.answer = response.text[:160]
        sample.seconds = time.perf_counter() - t0
        self.samples.append(sample)
        return sample


@dataclass
class Row:
    fault: str
    checked: str
    counts: str
    figures: str
    ok: bool | None  # None: reported, not judged

    @property
    def result(self) -> str:
        return "—" if self.ok is None else ("pass" if self.ok else "**FAIL**")


class Load:
    """Threads sending calls round-robin over the live nodes (``targets``), closed-loop or
    at a fixed total ``rate`` (requests a second)."""

    def __init__(
        self,
        run: Run,
        calls: list[Callable[[], Call | None]],
        threads: int,
        rate: float | None = None,
    ) -> None:
        self.run = run
        self.calls = calls
        self.threads = threads
        self.rate = rate
        self.targets: list[Node] = list(run.nodes)
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []
        self._slot_lock = threading.Lock()
        self._next_slot = 0.0
        self._counter = itertools.count()

    def _slot(self) -> None:
        if self.rate is None:
            return
        with self._slot_lock:
            slot = max(self._next_slot, time.monotonic())
            self._next_slot = slot + 1.0 / self.rate
        delay = slot - time.monotonic()
        if delay > 0:
            self._stop.wait(delay)

    def _work(self, offset: int) -> None:
        with httpx.Client(trust_env=False, timeout=CLIENT_TIMEOUT) as client:
            for n in itertools.count(offset):
                if self._stop.is_set():
                    return
                self._slot()
                if self._stop.is_set():
                    return
                call = self.calls[n % len(self.calls)]()
                if call is None:
                    call = self.calls[0]()
                    if call is None:
                        continue
                targets = self.targets
                node = targets[next(self._counter) % len(targets)]
                self.run.send(client, call, node)

    def start(self) -> Load:
        self._next_slot = time.monotonic()
        for i in range(self.threads):
            worker = threading.Thread(target=self._work, args=(i,), daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def stop(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=CLIENT_TIMEOUT + 5)


# --- checks against the database --------------------------------------------------------------


def missing_acks(run: Run, acks: list[Ack]) -> list[Ack]:
    """The acknowledged writes that are not in the database."""
    orders = {a.key for a in acks if a.kind in {"order", "in_progress"}}
    patients = {a.key for a in acks if a.kind == "patient"}
    portal = {a.key for a in acks if a.kind == "portal_patient"}
    found_orders: dict[str, str] = {}
    found_patients: set[str] = set()
    found_portal: set[str] = set()
    with run.db.reading() as conn:
        for chunk in chunks(sorted(orders)):
            ids = [uuid.UUID(k) for k in chunk if as_uuid(k)]
            for row_id, status in conn.execute(
                select(Order.id, Order.status).where(Order.id.in_(ids))
            ):
                found_orders[str(row_id)] = status
        for chunk in chunks(sorted(patients)):
            ids = [uuid.UUID(k) for k in chunk if as_uuid(k)]
            found_patients |= {
                str(r) for r in conn.scalars(select(Patient.id).where(Patient.id.in_(ids)))
            }
        for chunk in chunks(sorted(portal)):
            found_portal |= set(
                conn.scalars(
                    select(Patient.external_id).where(
                        Patient.practice_id == run.practice_id, Patient.external_id.in_(chunk)
                    )
                )
            )
    missing = []
    for ack in acks:
        if ack.kind == "order":
            present = ack.key in found_orders
        elif ack.kind == "in_progress":
            present = found_orders.get(ack.key) in {"in_progress", "completed", "shipped"}
        elif ack.kind == "patient":
            present = ack.key in found_patients
        elif ack.kind == "portal_patient":
            present = ack.key in found_portal
        else:
            present = False
        if not present:
            missing.append(ack)
    return missing


def chunks(items: list[str], size: int = 500) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def outbox_settled(run: Run) -> tuple[int, int]:
    """(events not yet fanned out, deliveries to the receiver still pending). The demo
    data's own subscription (to an address that never answers) is left out."""
    ours = run.subscription_ids()
    with run.db.reading() as conn:
        unrelayed = conn.scalar(
            select(func.count()).select_from(Event).where(Event.relayed_at.is_(None))
        )
        pending = conn.scalar(
            select(func.count())
            .select_from(WebhookDelivery)
            .where(WebhookDelivery.status == "pending", WebhookDelivery.subscription_id.in_(ours))
        )
    return int(unrelayed or 0), int(pending or 0)


def wait_outbox(run: Run, limit: float) -> tuple[bool, float]:
    """Wait until every event is fanned out and every delivery delivered (or failed)."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if outbox_settled(run) == (0, 0):
            return True, time.monotonic() - started
        time.sleep(0.5)
    return False, time.monotonic() - started


@dataclass
class Audit:
    expected: int = 0
    received: int = 0
    missing: int = 0
    duplicates: int = 0
    allowed_duplicates: int = 0
    unknown: int = 0
    failed: int = 0
    out_of_order: int = 0
    pending: int = 0
    details: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.missing == 0
            and self.unknown == 0
            and self.failed == 0
            and self.pending == 0
            and self.duplicates == self.allowed_duplicates
        )

    def counts(self) -> str:
        text_counts = (
            f"{self.expected} deliveries in the outbox, {self.received} arrivals; missing "
            f"{self.missing}, duplicates {self.duplicates} (in flight at a fault: "
            f"{self.allowed_duplicates}), unknown {self.unknown}, failed {self.failed}"
        )
        if self.pending:
            text_counts += f", still pending {self.pending}"
        return text_counts


def audit_webhooks(run: Run, since: float, until: float) -> Audit:
    """Deliveries of the events created in [since, until) against the receiver's arrivals:
    each once per subscription (twice only when its first copy arrived within a fault
    window), none unknown, none failed; and how many arrived out of event order."""
    start, end = datetime.fromtimestamp(since, UTC), datetime.fromtimestamp(until, UTC)
    with run.db.reading() as conn:
        rows = conn.execute(
            select(
                WebhookDelivery.subscription_id,
                WebhookDelivery.event_id,
                WebhookDelivery.event_code,
                WebhookDelivery.status,
                Event.type,
                Event.created_at,
            )
            .join(Event, Event.id == WebhookDelivery.event_id)
            .where(Event.created_at >= start, Event.created_at < end)
        ).all()
    audit = Audit()
    by_path = {sid: path for path, sid in run.subscriptions.items()}
    expected: dict[tuple[str, str], tuple[Any, str]] = {}
    for subscription_id, event_id, code, status, event_type, created in rows:
        path = by_path.get(str(subscription_id))
        if path is None:
            continue
        expected[(path, webhook_id(event_id, event_type, code))] = (created, status)
    audit.expected = len(expected)
    audit.failed = sum(1 for _c, status in expected.values() if status == "failed")
    audit.pending = sum(1 for _c, status in expected.values() if status == "pending")
    event_ids = {wid.split(":")[0] for _p, wid in expected}
    arrivals: dict[tuple[str, str], list[float]] = {}
    order: dict[str, list[str]] = {}
    for arrival in list(run.receiver.arrivals):
        key = (arrival.path, arrival.webhook_id)
        if key not in expected:
            # An id of one of these events that the outbox has no delivery for.
            if key[0] in run.subscriptions and arrival.webhook_id.split(":")[0] in event_ids:
                audit.unknown += 1
                audit.details.append(f"unknown arrival {key}")
            continue
        arrivals.setdefault(key, []).append(arrival.at)
        order.setdefault(arrival.path, []).append(arrival.webhook_id)
    audit.received = sum(len(v) for v in arrivals.values())
    for key in expected:
        copies = arrivals.get(key, [])
        if not copies:
            audit.missing += 1
            audit.details.append(f"missing {key}")
        elif len(copies) > 1:
            audit.duplicates += 1
            first = copies[0]
            if any(lo - 1.0 <= first <= hi for _n, lo, hi in run.inflight_windows):
                audit.allowed_duplicates += 1
            else:
                audit.details.append(f"duplicate {key} at {copies}")
    # Arrival order against event order (created_at), per subscription, first copies only.
    for path, ids in order.items():
        seen: set[str] = set()
        firsts = [i for i in ids if not (i in seen or seen.add(i))]  # type: ignore[func-returns-value]
        created = [expected[(path, i)][0] for i in firsts]
        latest = None
        for value in created:
            if latest is not None and value < latest:
                audit.out_of_order += 1
            latest = value if latest is None or value > latest else latest
    return audit


# --- the faults ---------------------------------------------------------------------------


def phase(run: Run, name: str) -> None:
    run.phase = name
    say(f"--- {name}")


def of_phase(run: Run, name: str) -> list[Sample]:
    return [s for s in run.samples if s.phase == name]


def check_fresh(run: Run) -> list[Row]:
    """A write on node A is read on node B at once, through every dialect: B reads each
    order first (so any copy B's process keeps is warm), A changes its status, B reads it
    again straight away and must show the change. The same for the portal's order."""
    node_a, node_b = run.nodes
    name = "0 one store"
    phase(run, name)
    w = run.workload
    pid = run.practice_id
    rounds = 5 if run.short else 20
    seen: dict[str, list[bool]] = {}
    stale: list[str] = []

    def read(client: httpx.Client, dialect: str, path: str) -> bytes:
        answer = client.get(node_b.base + path, headers=w.headers[dialect])
        if answer.status_code != 200:
            raise SystemExit(f"{dialect} {path} on B: {answer.status_code} {answer.text[:200]}")
        return answer.content

    def patch(client: httpx.Client, order: uuid.UUID, status: str) -> None:
        answer = client.patch(
            f"{node_a.base}/api/v1/partner/orders/{order}",
            headers=w.headers["partner"],
            content=json.dumps({"status": status}).encode(),
        )
        if answer.status_code != 200:
            raise SystemExit(f"partner PATCH on A: {answer.status_code} {answer.text[:200]}")

    def judge(label: str, fresh: bool) -> None:
        seen.setdefault(label, []).append(fresh)
        if not fresh:
            stale.append(label)

    lab_list = str(httpx.QueryParams(lab=w.lab["lab"], account_number=w.lab["account_number"]))
    with httpx.Client(trust_env=False, timeout=CLIENT_TIMEOUT) as client:
        for _ in range(rounds):
            made = client.post(
                node_a.base + w.paths["labs"],
                headers=w.headers["labs"],
                content=w.body("labs", unique()),
            )
            if made.status_code != 200:
                raise SystemExit(f"lab order on A: {made.status_code} {made.text[:200]}")
            lab_id = made.json()["id"]
            order = as_uuid(lab_id)
            assert order is not None
            paths = {
                "partner detail": ("partner", f"/api/v1/partner/orders/{order}"),
                "partner list": ("partner", "/api/v1/partner/orders?limit=50"),
                "fulfillment detail": ("fulfillment", f"/fulfillment/v1/orders/{order}"),
                "labs list": ("labs", f"/v1/orders?{lab_list}&limit=50"),
                "practice detail": ("practice", f"/v2/{pid}/orders/{order}"),
            }
            before = {label: read(client, *where) for label, where in paths.items()}
            patch(client, order, "in_progress")
            for label, where in paths.items():
                judge(label, read(client, *where) != before[label])
        with run.db.reading() as conn:
            portal_order = conn.scalar(
                select(PortalRecord.record_id).where(
                    PortalRecord.practice_id == pid,
                    PortalRecord.resource == "Orders",
                    PortalRecord.external_id == w.portal_order,
                )
            )
        portal_path = f"/api/Orders?externalId={w.portal_order}"
        # The portal names an order's state by the practice's own status records: sync the
        # three this check moves through (names the core knows by default).
        for ext, label in (("RS-NEW", "Ordered"), ("RS-LAB", "At lab"), ("RS-READY", "Ready")):
            synced = client.post(
                f"{node_a.base}/api/OrderStatuses",
                headers=w.headers["portal"],
                content=json.dumps({"ExternalId": ext, "Name": label}).encode(),
            )
            if synced.status_code != 200:
                raise SystemExit(f"portal OrderStatuses: {synced.status_code} {synced.text}")
        for status in ("in_progress", "completed"):
            before_portal = read(client, "portal", portal_path)
            patch(client, portal_order, status)
            judge("portal read", read(client, "portal", portal_path) != before_portal)
    counts = ", ".join(f"{label} {sum(v)}/{len(v)}" for label, v in seen.items())
    say(f"read on B right after the change on A: {counts}")
    return [
        Row(
            name,
            "a status changed on node A is read on node B at once, every dialect",
            f"fresh on B: {counts}",
            "B read each order first (its copies warm); no wait between A's answer and B's read"
            + (f"; stale: {', '.join(sorted(set(stale)))}" if stale else ""),
            not stale,
        )
    ]


def fault_kill(run: Run) -> list[Row]:
    node_a, node_b = run.nodes
    name = "1 kill -9 node A"
    phase(run, name)
    acks_before = len(run.acks)
    before, during = (4.0, 6.0) if run.short else (20.0, 30.0)
    started = now()
    load = Load(run, run.workload.writes(), threads=6).start()
    time.sleep(before - SLOW_RECEIVER)
    # The receiver answers slowly for a moment, so the kill finds node A in the middle of
    # a batch: deliveries claimed, some of them received (in flight), none recorded.
    quick = run.receiver.hold
    run.receiver.hold = SLOW_RECEIVER
    time.sleep(SLOW_RECEIVER)
    killed_at = now()
    node_a.kill9()
    run.receiver.hold = quick
    load.targets = [node_b]  # as a load balancer's health check would, once it notices
    say(f"killed node A (pid {node_a.pid}) with SIGKILL")
    run.inflight_windows.append(("kill", killed_at - SLOW_RECEIVER - 1.0, killed_at))
    # Node A's claims still held: the deliveries its worker holds (``locked_by``: its host
    # and process) whose lease has not run out. Node B may send them once it has.
    holder = f"{socket.gethostname()}:{node_a.pid}"
    killed = datetime.fromtimestamp(killed_at, UTC)
    with run.db.reading() as conn:
        orphaned = list(
            conn.execute(
                select(WebhookDelivery.id, WebhookDelivery.locked_until).where(
                    WebhookDelivery.subscription_id.in_(run.subscription_ids()),
                    WebhookDelivery.status == "pending",
                    WebhookDelivery.locked_by == holder,
                    WebhookDelivery.locked_until > datetime.now(UTC),
                )
            )
        )
    say(f"deliveries claimed by node A at the kill: {len(orphaned)}")
    time.sleep(during)
    load.stop()
    ended = now()
    samples = of_phase(run, name)
    on_b = [s for s in samples if s.node == "B"]
    b_bad = [s for s in on_b if not s.ok]
    a_after = [s for s in samples if s.node == "A" and s.started >= killed_at]
    inflight_a = [s for s in samples if s.node == "A" and s.started < killed_at and not s.ok]
    acks = run.acks[acks_before:]
    missing = missing_acks(run, acks)
    # The claimed deliveries are sent by node B once the lease runs out.
    settled, waited = wait_outbox(run, run.lease + 90)
    delays = []
    late = 0
    if orphaned:
        lease_ends = {row[0]: aware(row[1]) for row in orphaned}
        with run.db.reading() as conn:
            for delivery_id, delivered_at in conn.execute(
                select(WebhookDelivery.id, WebhookDelivery.delivered_at).where(
                    WebhookDelivery.id.in_(list(lease_ends))
                )
            ):
                if delivered_at is not None:
                    delays.append((aware(delivered_at) - killed).total_seconds())
                    # Sent before node A's own lease on it ran out: taken from A's hands.
                    late += aware(delivered_at) < lease_ends[delivery_id]
    audit = audit_webhooks(run, started, ended)
    say(f"node B: {len(on_b)} answers, {len(b_bad)} not 2xx; acknowledged writes {len(acks)}")
    rows = [
        Row(
            name,
            "every acknowledged write is in the database",
            f"{len(acks)} acknowledged ({by_op(acks)}); missing {len(missing)}",
            f"load: 6 threads, {before:.0f} s on A+B, then {during:.0f} s on B",
            not missing and len(acks) > 0,
        ),
        Row(
            name,
            "node B answers 2xx during and after the kill",
            f"B: {len(on_b)} answers, {len(b_bad)} not 2xx {statuses(b_bad)}; A in flight at "
            f"the kill: {len(inflight_a)} unanswered (unacknowledged); A after: {len(a_after)}",
            "",
            not b_bad and len(on_b) > 0,
        ),
        Row(
            name,
            f"deliveries claimed by A sent by B after the lease ({run.lease} s)",
            f"{len(orphaned)} claimed by A at the kill, {len(delays)} delivered, "
            f"{late} before the lease ran out",
            (
                f"delivered {min(delays):.1f}–{max(delays):.1f} s after the kill"
                if delays
                else "no claim was held at the kill"
            )
            + f"; outbox {'drained' if settled else 'NOT drained'} after {waited:.0f} s",
            settled and len(delays) == len(orphaned) and late == 0,
        ),
        Row(
            name,
            "each event once per subscription (X-Webhook-Id)",
            audit.counts(),
            f"arrived out of event order: {audit.out_of_order}",
            audit.ok,
        ),
    ]
    for detail in audit.details[:10] + [f"missing {a}" for a in missing[:10]]:
        say(f"  {detail}")
    took = node_a.start()
    say(f"node A started again in {took:.1f} s")
    rows[1].figures = f"node A restarted, ready in {took:.1f} s"
    return rows


def aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def by_op(acks: list[Ack]) -> str:
    counts = Counter(a.op for a in acks)
    return ", ".join(f"{op} {n}" for op, n in sorted(counts.items()))


def statuses(samples: list[Sample]) -> str:
    """``(409: 1)``, and for each status other than 503 the first call that got it and
    what it answered, so a failed check says what went wrong."""
    counts = Counter(str(s.status or s.error) for s in samples)
    if not counts:
        return ""
    first: dict[str, Sample] = {}
    for s in samples:
        first.setdefault(str(s.status or s.error), s)
    said = []
    for k, v in sorted(counts.items()):
        s = first[k]
        what = f" e.g. {s.op} on {s.node}: {s.answer!r}" if s.answer else ""
        said.append(f"{k}: {v}{what}")
    return "(" + "; ".join(said) + ")"


def readiness_poller(
    run: Run, stop: threading.Event, seen: list[tuple[float, str, int | None]]
) -> threading.Thread:
    def poll() -> None:
        with httpx.Client(trust_env=False, timeout=CLIENT_TIMEOUT) as client:
            while not stop.is_set():
                for node in run.nodes:
                    try:
                        status: int | None = client.get(f"{node.base}/readyz").status_code
                    except httpx.HTTPError:
                        status = None
                    seen.append((now(), node.name, status))
                stop.wait(0.25)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    return thread


def fault_postgres(run: Run) -> list[Row]:
    name = "2 PostgreSQL restart"
    phase(run, name)
    acks_before = len(run.acks)
    hold = 3.0 if run.short else 10.0
    before, after = (3.0, 8.0) if run.short else (15.0, 20.0)
    calls = run.workload.writes() + run.workload.reads()
    load = Load(run, calls, threads=6).start()
    ready: list[tuple[float, str, int | None]] = []
    stop_poll = threading.Event()
    poller = readiness_poller(run, stop_poll, ready)
    time.sleep(before)
    stopping = now()
    run.pg.stop()
    stopped = now()
    say(f"PostgreSQL stopped (-m fast) in {stopped - stopping:.1f} s; down for {hold:.0f} s")
    time.sleep(hold)
    run.pg.start()
    back = now()
    say(f"PostgreSQL started again ({back - stopped:.1f} s after it stopped)")
    run.inflight_windows.append(("postgres", stopping, back + 10))
    time.sleep(after)
    load.stop()
    stop_poll.set()
    poller.join()
    samples = of_phase(run, name)
    five_hundreds = [s for s in samples if s.status is not None and s.status >= 500]
    errors500 = [s for s in five_hundreds if s.status != 503]
    bad503 = [s for s in five_hundreds if s.status == 503 and not (s.retry_after and s.envelope_ok)]
    client_errors = [s for s in samples if s.error is not None]
    other = [s for s in samples if s.status is not None and not s.ok and s.status < 500]
    unavailable = [s for s in samples if s.status == 503]
    # Recovery: per node, from PostgreSQL answering again to the first 2xx after which
    # every answer of that node is 2xx.
    recovery: dict[str, float | None] = {}
    for node in run.nodes:
        mine = sorted((s for s in samples if s.node == node.name), key=lambda s: s.started)
        last_bad = max((s.started for s in mine if not s.ok), default=None)
        good = [
            s
            for s in mine
            if s.ok and s.started >= back and (last_bad is None or s.started > last_bad)
        ]
        recovery[node.name] = (good[0].started + good[0].seconds - back) if good else None
    ready_503 = {n.name: 0 for n in run.nodes}
    for at, node_name, status in ready:
        if stopping <= at <= back and status == 503:
            ready_503[node_name] += 1
    ready_end = {node_name: status for _at, node_name, status in ready if _at > back + after - 2}
    missing = missing_acks(run, run.acks[acks_before:])
    recovered = all(v is not None and v <= 15 for v in recovery.values())
    return [
        Row(
            name,
            "every answer 2xx or 503 + Retry-After in the dialect's envelope",
            f"{len(samples)} answers: 503 {len(unavailable)} (without Retry-After or "
            f"envelope: {len(bad503)}), other 5xx {len(errors500)} {statuses(errors500)}, "
            f"4xx {len(other)} {statuses(other)}",
            f"down {back - stopping:.1f} s (stop {stopped - stopping:.1f} s, held "
            f"{hold:.0f} s, start {back - stopped - hold:.1f} s)",
            not errors500 and not bad503 and not other,
        ),
        Row(
            name,
            f"no client timeout ({CLIENT_TIMEOUT:.0f} s) or connection error",
            f"{len(client_errors)} {statuses(client_errors)}",
            f"slowest answer {max((s.seconds for s in samples), default=0):.2f} s",
            not client_errors,
        ),
        Row(
            name,
            "/readyz 503 while down, 200 after",
            ", ".join(f"{n}: {c} × 503 while down" for n, c in ready_503.items())
            + "; at the end "
            + ", ".join(f"{n}: {s}" for n, s in sorted(ready_end.items())),
            "polled every 0.25 s per node",
            all(c > 0 for c in ready_503.values()) and all(s == 200 for s in ready_end.values()),
        ),
        Row(
            name,
            "both nodes answer 2xx again by themselves (≤ 15 s)",
            f"acknowledged writes {len(run.acks) - acks_before}, missing {len(missing)}",
            ", ".join(
                f"{n}: {'never' if v is None else f'{max(v, 0):.1f} s'}"
                for n, v in recovery.items()
            )
            + " after PostgreSQL was back",
            recovered and not missing,
        ),
    ]


def limited_burst(run: Run, count: int) -> Counter[int | str]:
    """``count`` requests of the rate-limited app, alternating between the nodes."""
    path = f"/v2/{run.practice_id}/stores"
    headers = {"Authorization": f"Bearer {run.limited_token}"}
    answers: Counter[int | str] = Counter()
    numbers = iter(range(count))
    lock = threading.Lock()

    def send() -> None:
        with httpx.Client(trust_env=False, timeout=CLIENT_TIMEOUT) as client:
            for n in numbers:  # shared: each request once, over 4 threads
                node = run.nodes[n % 2]
                try:
                    answer: int | str = client.get(node.base + path, headers=headers).status_code
                except httpx.HTTPError as exc:
                    answer = type(exc).__name__
                with lock:
                    answers[answer] += 1

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def fault_redis(run: Run) -> list[Row]:
    name = "3 Redis stopped"
    phase(run, name)
    calls = run.workload.writes() + run.workload.reads()
    load = Load(run, calls, threads=4).start()
    amount = int(LIMITED_RATE.split("/")[0])
    shared_before = limited_burst(run, amount + 20)
    say(f"limit {LIMITED_RATE} with Redis up: {dict(shared_before)}")
    backs_before = sum(node.log_count("shared_counters_back") for node in run.nodes)
    run.redis.terminate()
    down_at = now()
    say("Redis terminated")
    time.sleep(1.0)
    local = limited_burst(run, 2 * amount + 50)
    say(f"limit {LIMITED_RATE} with Redis away: {dict(local)}")
    time.sleep(2.0 if run.short else 15.0)
    run.redis.start()
    up_at = now()
    say(f"Redis started again on port {run.redis.port} ({up_at - down_at:.1f} s down)")
    # Each process tries Redis again 5 s after it failed; the load's practice calls are
    # what make it try.
    time.sleep(7.0)
    shared_after = limited_burst(run, amount + 20)
    say(f"limit {LIMITED_RATE} after Redis is back: {dict(shared_after)}")
    time.sleep(1.0)
    load.stop()
    samples = of_phase(run, name)
    fivexx = [s for s in samples if s.status is not None and s.status >= 500]
    others = [s for s in samples if not s.ok and (s.status is None or s.status < 500)]
    unreachable = sum(node.log_count("shared_counters_unreachable") for node in run.nodes)
    backs = sum(node.log_count("shared_counters_back") for node in run.nodes) - backs_before
    admitted_local = local.get(200, 0)
    bursts = shared_before + local + shared_after
    bursts_5xx = sum(count for answer, count in bursts.items() if answer not in {200, 429})
    return [
        Row(
            name,
            "no 5xx from any dialect while Redis is away or back",
            f"{len(samples)} answers of the mixed load: 5xx {len(fivexx)}, other non-2xx "
            f"{len(others)} {statuses(others)}; limit bursts: other than 200/429 {bursts_5xx}",
            f"Redis down {up_at - down_at:.1f} s",
            not fivexx and not others and bursts_5xx == 0,
        ),
        Row(
            name,
            f"rate limit still answers while away (local: {LIMITED_RATE} per process)",
            f"{2 * amount + 50} requests over both nodes: {admitted_local} × 200, "
            f"{local.get(429, 0)} × 429",
            f"allowed {amount}–{2 * amount} (2 processes); before the outage "
            f"{shared_before.get(200, 0)} of {amount + 20}",
            amount <= admitted_local <= 2 * amount and shared_before.get(200, 0) == amount,
        ),
        Row(
            name,
            f"shared limit holds again after recovery ({LIMITED_RATE} for the pair)",
            f"{amount + 20} requests over both nodes: {shared_after.get(200, 0)} × 200, "
            f"{shared_after.get(429, 0)} × 429",
            f"logs: shared_counters_unreachable {unreachable}, shared_counters_back {backs}",
            shared_after.get(200, 0) == amount and backs >= 2,
        ),
    ]


def fault_receiver(run: Run) -> list[Row]:
    name = "4 webhook receiver down"
    phase(run, name)
    down_for = 10.0 if run.short else 180.0
    started = now()
    run.receiver.down()
    say(f"receiver down for {down_for:.0f} s, under write load")
    load = Load(run, run.workload.writes(), threads=2, rate=4.0 if run.short else 2.0).start()
    time.sleep(down_for)
    load.stop()
    ended = now()
    run.receiver.up()
    say("receiver up again; waiting for the retries (the worker's own backoff)")
    # The first retry comes 15–30 s after a failure, then 30–60 s, 60–120 s, ... (jitter).
    settled, waited = wait_outbox(run, 120 if run.short else 600)
    audit = audit_webhooks(run, started, ended)
    for detail in audit.details[:10]:
        say(f"  {detail}")
    with run.db.reading() as conn:
        attempts = conn.execute(
            text(
                "SELECT max(attempt_count), sum(attempt_count) FROM webhook_deliveries d "
                "JOIN events e ON e.id = d.event_id WHERE e.created_at >= :s AND e.created_at < :e"
            ),
            {"s": datetime.fromtimestamp(started, UTC), "e": datetime.fromtimestamp(ended, UTC)},
        ).one()
    return [
        Row(
            name,
            "every event arrives once per subscription (against the outbox)",
            audit.counts(),
            f"down {down_for:.0f} s; all delivered {waited:.0f} s after it came back; "
            f"attempts per delivery up to {attempts[0] or 0} ({attempts[1] or 0} in all)",
            audit.ok and settled and audit.expected > 0,
        ),
        Row(
            name,
            "order of arrival per subscription (no order is promised)",
            f"{audit.out_of_order} of {audit.expected} arrived after a later event's",
            "docs/webhooks.md promises no order: reported, not judged",
            None,
        ),
    ]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def fault_soak(run: Run) -> list[Row]:
    name = "5 soak"
    phase(run, f"{name}: capacity")
    calls = run.workload.writes() + run.workload.reads()
    measure = 5.0 if run.short else 20.0
    load = Load(run, calls, threads=8).start()
    time.sleep(measure)
    load.stop()
    capacity_samples = of_phase(run, f"{name}: capacity")
    capacity = len(capacity_samples) / measure
    rate = max(2.0, capacity / 2)
    say(f"capacity (8 threads, closed loop): {capacity:.0f} req/s; soaking at {rate:.0f} req/s")
    phase(run, name)
    seconds = 20.0 if run.short else run.args.minutes * 60.0
    window = min(60.0, seconds / 4)
    warmup = min(60.0, seconds / 4)
    started = now()
    load = Load(run, calls, threads=8, rate=rate).start()
    time.sleep(warmup)
    rss_start = {node.name: node.rss_kib() for node in run.nodes}
    time.sleep(seconds - warmup)
    rss_end = {node.name: node.rss_kib() for node in run.nodes}
    load.stop()
    samples = of_phase(run, name)
    fivexx = [s for s in samples if s.status is not None and s.status >= 500]
    failed = [s for s in samples if not s.ok]
    first = [s.seconds for s in samples if s.started < started + window]
    last = [s.seconds for s in samples if s.started >= started + seconds - window]
    p99_first, p99_last = percentile(first, 0.99), percentile(last, 0.99)
    ratio = p99_last / p99_first if p99_first else 0.0
    growth = {
        n: (rss_end[n] - rss_start[n]) / rss_start[n] * 100 if rss_start[n] else 0.0
        for n in rss_start
    }
    judged = not run.short
    what = f"{seconds / 60:.0f} min" if not run.short else f"{seconds:.0f} s (--short)"
    note = "" if judged else "; too short to mean anything: reported, not judged"
    return [
        Row(
            name,
            f"zero 5xx over {what} of reads and writes, every dialect, both nodes",
            f"{len(samples)} requests ({len(samples) / seconds:.1f} req/s): 5xx {len(fivexx)}, "
            f"other failures {len(failed) - len(fivexx)} {statuses(failed)}",
            f"rate {rate:.0f} req/s = half of {capacity:.0f} req/s measured ({measure:.0f} s, "
            "8 threads, Python client on the same cores)",
            not failed,
        ),
        Row(
            name,
            f"p99 of the last {window:.0f} s ≤ 1.5 × the first {window:.0f} s",
            f"{len(first)} and {len(last)} requests",
            f"p99 {p99_first * 1000:.0f} ms → {p99_last * 1000:.0f} ms (× {ratio:.2f}){note}",
            (ratio <= 1.5) if judged else None,
        ),
        Row(
            name,
            f"RSS grown < 10 % after a {warmup:.0f} s warm-up",
            ", ".join(
                f"{n}: {rss_start[n] / 1024:.0f} → {rss_end[n] / 1024:.0f} MiB" for n in rss_start
            ),
            ", ".join(f"{n}: {g:+.1f} %" for n, g in growth.items()) + note,
            all(g < 10 for g in growth.values()) if judged else None,
        ),
    ]


# --- set-up ----------------------------------------------------------------------------------


def mint(db: Database, env: dict[str, str], client_id: str, practice_id: int, scope: str) -> str:
    """A token for ``client_id`` and the practice (as bench/dialects.py ``mint_tokens``)."""
    settings = Settings.from_env(env)
    key = InstanceKey.from_settings(settings)
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
    issued = tokens.issue_access_token(
        client_id=client_id, subject=client_id, scope=scope, practice_ids=[practice_id]
    )
    return str(issued.token)


def set_up(run: Run, stack: ExitStack, workdir: Path) -> None:
    pg_url = stack.enter_context(postgres_cluster())
    redis_url = stack.enter_context(redis_server())
    if pg_url is None or redis_url is None:
        raise SystemExit(
            "PostgreSQL and Redis are both needed (packages postgresql and redis-server)"
        )
    ports = [free_port(), free_port()]
    env = dict(
        os.environ,
        OPTIHUB_DATABASE_URL=pg_url,
        OPTIHUB_REDIS_URL=redis_url,
        OPTIHUB_SECRET_KEY=SECRET,
        OPTIHUB_DATA_DIR=str(workdir / "prepare"),
        OPTIHUB_WEBHOOK_ALLOWED_HOSTS="127.0.0.1",
        OPTIHUB_WEBHOOK_LEASE_SECONDS=str(run.lease),
        OPTIHUB_LOG_LEVEL="info",
        OPTIHUB_LOG_JSON="true",
        OPTIHUB_HOST="127.0.0.1",
        # One deployment: both nodes publish the same URL (tokens name it), as behind a
        # load balancer.
        OPTIHUB_PUBLIC_URL=f"http://127.0.0.1:{ports[0]}",
    )
    backend = Backend("postgresql", pg_url)
    prepare(backend, env)
    run.practice_id = backend.practice_id
    run.db = Database(pg_url)
    stack.callback(run.db.dispose)
    run.pg = Postgres(run.db)
    run.redis = Redis(redis_url, workdir)
    stack.callback(run.redis.close)
    with run.db.transaction() as session:
        # The demo data's own subscription names a host that does not resolve. It once
        # starved the receiver's deliveries (fixed: fair claims, a lookup deadline; see
        # docs/reliability.md and tests/integration/webhooks/test_fairness.py). Off, so
        # the checks and the soak's figures are the receiver's deliveries alone.
        session.execute(update(WebhookSubscription).values(enabled=False))
        limited = register_client(
            session,
            name="Rate-limited app",
            scope=LIMITED_SCOPE,
            redirect_uris=[],
            practice_ids=[run.practice_id],
        ).client.client_id
    # The documented way to give an app its own rate.
    subprocess.run(
        [str(BIN / "optihub"), "client", "rate-limit", limited, LIMITED_RATE],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    tokens = {
        dialect: mint(run.db, env, backend.client_id, run.practice_id, scope)
        for dialect, scope in SCOPES.items()
    }
    run.limited_token = mint(run.db, env, limited, run.practice_id, LIMITED_SCOPE)
    run.receiver = Receiver(hold=0.05)
    run.receiver.up()
    stack.callback(run.receiver.down)
    for name, port in zip("AB", ports, strict=True):
        node = Node(name, port, env, workdir)
        stack.callback(node.stop)
        node.launch()
        run.nodes.append(node)
    for node in run.nodes:
        took = node.ready()
        say(f"node {node.name} (pid {node.pid}) ready on {node.base} in {took:.1f} s")
    base = run.nodes[0].base
    labs_headers = {"Authorization": f"Bearer {tokens['labs']}", "User-Email": DEMO_EMAIL}
    with httpx.Client(base_url=base, trust_env=False, timeout=60) as client:
        lab = lab_setup(client, labs_headers)
        portal_setup(client, {"Authorization": f"Bearer {tokens['portal']}"})
        partner = {"Authorization": f"Bearer {tokens['partner']}"}
        made = client.post(
            "/api/v1/partner/webhooks",
            json={"url": run.receiver.url("/partner"), "events": ["*"], "enabled": True},
            headers=partner,
        )
        if made.status_code != 201:
            raise SystemExit(f"partner webhook: {made.status_code} {made.text}")
        run.subscriptions["/partner"] = str(made.json()["id"])
        made = client.post(
            "/fulfillment/v1/notifications",
            json={"url": run.receiver.url("/fulfillment"), "event_codes": "all"},
            headers={"Authorization": f"Bearer {tokens['fulfillment']}"},
        )
        if made.status_code != 201:
            raise SystemExit(f"fulfillment notifications: {made.status_code} {made.text}")
        run.subscriptions["/fulfillment"] = str(made.json()["id"])
        run.workload = Workload(run.practice_id, lab, tokens)
        # Each dialect's error envelope, from its refusal of a call without a token.
        for make in run.workload.writes()[:4] + run.workload.reads()[-1:]:
            call = make()
            assert call is not None
            refused = client.request(call.method, call.path, content=call.content or None)
            run.envelopes[call.dialect] = shape(refused.json())
        partner_refused = client.get("/api/v1/partner/orders")
        run.envelopes["partner"] = shape(partner_refused.json())
        # Every write once, so a refusal shows here and not as a failed check later.
        for make in run.workload.writes():
            call = make()
            assert call is not None
            sample = run.send(client, call, run.nodes[0])
            if not sample.ok:
                raise SystemExit(f"{call.op}: {sample.status} {sample.error}")
        say(f"every write answered 2xx once; receiver on port {run.receiver.port}")


# --- report ----------------------------------------------------------------------------------


def table(rows: list[Row]) -> list[str]:
    out = [
        "| fault | checked | counts | figures | result |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        cells = [row.fault, row.checked, row.counts, row.figures, row.result]
        out.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return out


def describe(args: argparse.Namespace, started: datetime, load: str) -> list[str]:
    def output(*command: str) -> str:
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
        return done.stdout.strip()

    commit = output("git", "rev-parse", "--short", "HEAD")
    dirty = " (uncommitted changes)" if output("git", "status", "--porcelain") else ""
    command = "--short" if args.short else f"--minutes {args.minutes:g}"
    if args.faults != {1, 2, 3, 4, 5}:
        command += " --faults " + ",".join(str(n) for n in sorted(args.faults))
    return [
        "# Reliability suite: last run",
        "",
        f"Command: `.venv/bin/python scripts/reliability.py {command}`",
        "",
        f"- run: {started:%Y-%m-%d %H:%M} UTC, commit {commit}{dirty}",
        f"- machine: {os.cpu_count()} cores, {platform.platform()}, Python "
        f"{platform.python_version()}; load average at start {load} (shared with other work)",
        "- two `optihub serve` nodes (one process each, built-in webhook worker), one "
        "throw-away PostgreSQL cluster, one Redis; load from Python threads (httpx) on the "
        "same cores",
        "",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="the test suite's short run")
    parser.add_argument("--minutes", type=float, default=10.0, help="soak length (long run)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "reliability-last-run.md")
    parser.add_argument(
        "--faults",
        type=lambda raw: {int(part) for part in raw.split(",") if part.strip()},
        default={1, 2, 3, 4, 5},
        help="only these faults, e.g. 2,3 (while working on one; the table says so)",
    )
    args = parser.parse_args()
    if not args.faults <= {1, 2, 3, 4, 5}:
        parser.error("--faults: numbers from 1 to 5")
    run = Run(args)
    began = time.monotonic()
    started = datetime.now(UTC)
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    report = describe(args, started, load)
    complete = False
    with tempfile.TemporaryDirectory(prefix="optihub-reliability-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        try:
            set_up(run, stack, workdir)
            run.rows += check_fresh(run)
            faults = (fault_kill, fault_postgres, fault_redis, fault_receiver, fault_soak)
            for number, fault in enumerate(faults, 1):
                if number in args.faults:
                    run.rows += fault(run)
            phase(run, "final")
            missing = missing_acks(run, run.acks)
            settled, _ = wait_outbox(run, 120)
            audit = audit_webhooks(run, 0, now() + 1)
            run.rows.append(
                Row(
                    "all",
                    "every acknowledged write of the run is in the database",
                    f"{len(run.acks)} acknowledged, missing {len(missing)}",
                    by_op(run.acks),
                    not missing,
                )
            )
            run.rows.append(
                Row(
                    "all",
                    "every event of the run once per subscription",
                    audit.counts(),
                    f"outbox {'drained' if settled else 'NOT drained'}",
                    audit.ok and settled,
                )
            )
            complete = True
        except KeyboardInterrupt:
            say("interrupted")
        finally:
            if not complete:
                run.rows.append(Row("run", "completed", "no: see the output above", "", False))
            lines = table(run.rows)
            minutes = (time.monotonic() - began) / 60
            lines.append("")
            lines.append(f"Whole run: {minutes:.1f} min.")
            print("\n" + "\n".join(lines), flush=True)
            if not args.short:
                args.out.write_text("\n".join(report + lines) + "\n")
                say(f"table written to {args.out}")
            failed = [row for row in run.rows if row.ok is False]
            if failed and run.nodes:
                kept = Path(tempfile.mkdtemp(prefix="optihub-reliability-logs-"))
                for node in run.nodes:
                    if node.log.exists():
                        shutil.copy(node.log, kept / node.log.name)
                    spy = BIN / "py-spy"  # a profiler some developers have installed
                    alive = node.process is not None and node.process.poll() is None
                    if spy.exists() and alive:
                        with (kept / f"py-spy-{node.name}.txt").open("w") as out:
                            subprocess.run(
                                [str(spy), "dump", "--pid", str(node.pid)],
                                stdout=out,
                                stderr=subprocess.STDOUT,
                                check=False,
                            )
                say(f"a check failed: the nodes' logs are kept in {kept}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
