"""`optihub serve` as an operator starts it: migrates, seeds once, listens where told."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "optihub", "serve", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_ready(port: int, process: subprocess.Popen[str], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited early:\n{process.stdout.read() if process.stdout else ''}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    pytest.fail("server did not become ready")


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)
    try:
        output, _ = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output


@pytest.fixture
def env(tmp_path):
    port = free_port()
    return dict(
        os.environ,
        OPTIHUB_DATA_DIR=str(tmp_path / "var"),
        OPTIHUB_DATABASE_URL=f"sqlite:///{tmp_path / 'var' / 'optihub.db'}",
        OPTIHUB_PORT=str(port),
        OPTIHUB_RUN_WORKER="false",
    )


def test_serve_with_demo_on_a_chosen_port_then_again_without_duplicates(env):
    port = int(env["OPTIHUB_PORT"])
    process = start(env, "--demo")
    try:
        wait_ready(port, process)
        assert httpx.get(f"http://127.0.0.1:{port}/readyz").json()["database"] == "sqlite"
        document = httpx.get(f"http://127.0.0.1:{port}/openapi.json").json()
        assert document["openapi"].startswith("3.1")
    finally:
        output = stop(process)
    assert f"http://localhost:{port}/" in output
    assert "owner@demo.optihub.test" in output and "optihub-demo" in output

    again = start(env, "--demo")
    try:
        wait_ready(port, again)
    finally:
        stop(again)
    listed = subprocess.run(
        [sys.executable, "-m", "optihub", "practice", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert listed.stdout.strip().splitlines()[-1].count('"id"') == 1


def test_serve_sends_no_banner_and_hardened_headers(env):
    """Behind a proxy it trusts (uvicorn's ``FORWARDED_ALLOW_IPS``, loopback by default) the
    scheme it names decides HSTS; /metrics answers only the operator's token."""
    token = "operator-metrics-token-0123456789abcdef"
    port = int(env["OPTIHUB_PORT"])
    process = start({**env, "OPTIHUB_METRICS_TOKEN": token, "FORWARDED_ALLOW_IPS": "127.0.0.1"})
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(port, process)
        for path in ("/healthz", "/login", "/docs", "/api/v1/partner/orders", "/nowhere"):
            plain = httpx.get(base + path)
            assert "server" not in plain.headers, path
            assert plain.headers["x-content-type-options"] == "nosniff", path
            assert "frame-ancestors 'none'" in plain.headers["content-security-policy"], path
            assert "strict-transport-security" not in plain.headers, path
            proxied = httpx.get(base + path, headers={"X-Forwarded-Proto": "https"})
            assert proxied.headers["strict-transport-security"].startswith("max-age="), path
        assert httpx.get(f"{base}/metrics").status_code == 401
        wrong = httpx.get(f"{base}/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        metrics = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {token}"})
        assert metrics.status_code == 200
        assert "optihub_http_requests_total" in metrics.text
    finally:
        stop(process)
