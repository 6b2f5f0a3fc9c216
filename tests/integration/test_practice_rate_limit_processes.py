"""Two OptiHub server processes (``optihub serve``) over one database and one Redis share
the practice surface's budget: 100 requests a minute per module and OAuth client, spread
over both, and the 101st is refused by whichever process gets it.

Runs against the throw-away Redis `make test` starts (OPTIHUB_TEST_REDIS_URL); skipped
without it (CI requires it).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from optihub.db.migrate import upgrade
from optihub.db.session import Database
from optihub.services.oauth_clients import register_client
from tests import factories

REDIS_URL = os.environ.get("OPTIHUB_TEST_REDIS_URL", "")
pytestmark = pytest.mark.skipif(
    not REDIS_URL, reason="no Redis (make test starts one when redis-server is installed)"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"optihub serve exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"optihub serve did not answer within 60 s: {log.read_text()[-2000:]}")


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[tuple[list[str], int, str, str]]:
    """Two servers, their practice, and an app connected to it (id, secret)."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    upgrade(url)
    db = Database(url)
    try:
        with db.transaction() as s:
            practice = factories.practice(s, "Harbor Optical")
            factories.location(s, practice.id, "Main Street")
            registered = register_client(
                s,
                name="Practice link",
                scope="read:stores read:patients",
                redirect_uris=["https://link.example/cb"],
                practice_ids=[practice.id],
            )
            practice_id, client_id = practice.id, registered.client.client_id
            secret = registered.client_secret
    finally:
        db.dispose()
    processes, bases = [], []
    ports = [_free_port(), _free_port()]
    # One deployment: both processes publish the same URL (tokens name it as issuer and
    # audience), as they would behind one load balancer.
    public_url = f"http://127.0.0.1:{ports[0]}"
    try:
        for n, port in enumerate(ports):
            base = f"http://127.0.0.1:{port}"
            env = dict(
                os.environ,
                OPTIHUB_DATABASE_URL=url,
                OPTIHUB_DATA_DIR=str(tmp_path / "data"),
                OPTIHUB_SECRET_KEY="two-processes-test-key",
                OPTIHUB_REDIS_URL=REDIS_URL,
                OPTIHUB_RUN_WORKER="false",
                OPTIHUB_HOST="127.0.0.1",
                OPTIHUB_PORT=str(port),
                OPTIHUB_PUBLIC_URL=public_url,
            )
            log = tmp_path / f"server-{n}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [sys.executable, "-m", "optihub", "serve"],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            processes.append(process)
            _wait_ready(base, process, log)
            bases.append(base)
        assert secret is not None
        yield bases, practice_id, client_id, secret
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def test_two_server_processes_share_one_budget_per_module(hub):
    bases, practice_id, client_id, secret = hub
    issued = httpx.post(
        f"{bases[0]}/oauth/token",
        data={"grant_type": "client_credentials", "scope": "read:stores read:patients"},
        auth=(client_id, secret),
    )
    assert issued.status_code == 200, issued.text
    auth = {"Authorization": f"Bearer {issued.json()['access_token']}"}
    stores = f"/v2/{practice_id}/stores"
    with httpx.Client(headers=auth, timeout=10) as http:
        for n in range(100):
            answered = http.get(bases[n % 2] + stores)
            assert answered.status_code == 200, (n, answered.text)
        for base in bases:  # either process refuses the 101st
            refused = http.get(base + stores)
            assert refused.status_code == 429
            assert 0 < int(refused.headers["Retry-After"]) <= 60
            body = refused.json()
            assert body["status"] == "ERROR"
            assert body["error"] == {"statusCode": 429, "isOperational": True}
        # Another module has its own budget, on both processes.
        for base in bases:
            assert http.get(f"{base}/v2/{practice_id}/patients").status_code == 200
