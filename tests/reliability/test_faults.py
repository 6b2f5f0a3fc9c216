"""The reliability suite's short run (scripts/reliability.py --short) inside `make test`.

It starts its own PostgreSQL cluster and Redis (never the suite's shared ones: other tests
run beside it and one fault stops PostgreSQL, another Redis), two `optihub serve` nodes
and a webhook receiver, runs the five faults briefly and prints its table. Skipped only
when PostgreSQL or Redis cannot be installed here; CI installs both (scripts/run_tests.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from scripts.run_tests import apt_install, pg_bindir

ROOT = Path(__file__).resolve().parents[2]
# The short run takes about two minutes on a quiet machine; far more means a hang.
LIMIT_SECONDS = 900


def _servers_available() -> str | None:
    """Why the suite cannot run here, or None (installs what is missing when it can)."""
    if pg_bindir() is None:
        apt_install("postgresql")
    if shutil.which("redis-server") is None:
        apt_install("redis-server")
    missing = [
        name
        for name, found in (
            ("PostgreSQL (package postgresql)", pg_bindir() is not None),
            ("Redis (package redis-server)", shutil.which("redis-server") is not None),
        )
        if not found
    ]
    return f"{' and '.join(missing)} cannot be installed here" if missing else None


# Its own servers, whatever backend the rest of the suite runs on: once, not per backend.
@pytest.mark.storage_independent
def test_the_short_reliability_run_passes_every_check():
    reason = _servers_available()
    if reason is not None:
        pytest.skip(reason)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPTIHUB_")}
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "reliability.py"), "--short"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=LIMIT_SECONDS,
        check=False,
    )
    output = done.stdout + done.stderr
    table = output[output.rfind("| fault |") :] if "| fault |" in output else output[-6000:]
    print(table)
    assert done.returncode == 0, f"scripts/reliability.py --short failed:\n{output[-12000:]}"
