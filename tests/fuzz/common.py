"""What every schema-fuzzing test shares: the checks, a bounded and reproducible run."""

from __future__ import annotations

import os
import sys
import traceback
import zlib
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

# Generated cases per operation; raise it for a deeper local run (OPTIHUB_FUZZ_EXAMPLES=500).
MAX_EXAMPLES = int(os.environ.get("OPTIHUB_FUZZ_EXAMPLES", "25"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    negative_data_rejection,
]

# Generation never learns from responses (ids, error messages): they differ from run to run
# (random UUIDs, timestamps), and learning from them would make the cases differ too.
REPRODUCIBLE = schemathesis.Config.from_dict(
    {
        "phases": {
            "coverage": {"extra-data-sources": {"responses": False}},
            "fuzzing": {
                "extra-data-sources": {"responses": False},
                "error-feedback": {"enabled": False},
            },
        }
    }
)

# Bounded and derandomized; no shrinking: a failure is reported as found (still a complete
# curl reproduction); shrinking a server error re-runs it dozens of times and costs minutes.
BOUNDED = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)

# Seconds one generated request may take. A shared CI machine can stall for seconds; a
# request that truly hangs still fails, and ``call_and_validate`` then prints what every
# thread was doing and which database sessions were waiting, so the cause is in the log.
REQUEST_TIMEOUT = 60


def spoil_text(case: Any) -> None:
    """One JSON body in eight (picked by its content, so a run repeats) gets half of a
    UTF-16 surrogate pair in its first string. No generator writes one (it is not text),
    yet JSON can carry it (``\\ud800``): it must be refused, never a 5xx."""
    if case.media_type != "application/json" or not isinstance(case.body, dict | list):
        return
    if zlib.crc32(repr(case.body).encode("utf-8", "backslashreplace")) % 8:
        return
    spoiled, done = _with_surrogate(case.body)
    if done:
        # Past the case's change tracking: schemathesis would re-validate the body with a
        # validator that cannot take the surrogate; the case keeps its generation's mode.
        object.__setattr__(case, "body", spoiled)


def _with_surrogate(value: Any) -> tuple[Any, bool]:
    """A copy of ``value`` with ``\\ud800`` added to its first string (depth first)."""
    if isinstance(value, str):
        return value + "\ud800", True
    if not isinstance(value, dict | list):
        return value, False
    items = list(value.items()) if isinstance(value, dict) else list(enumerate(value))
    for key, item in items:
        spoiled, done = _with_surrogate(item)
        if done:
            copy = dict(value) if isinstance(value, dict) else list(value)
            copy[key] = spoiled
            return copy, True
    return value, False


def call_and_validate(case: Any, app: Any, **kwargs: Any) -> Any:
    """``case.call_and_validate`` with the timeout above and a diagnosis on a timeout."""
    try:
        return case.call_and_validate(app=app, timeout=REQUEST_TIMEOUT, **kwargs)
    except requests.exceptions.Timeout:
        _diagnose(app)
        raise


def _diagnose(app: Any) -> None:
    print("\n--- a request timed out: every thread's stack ---", file=sys.stderr)
    for thread_id, frame in sys._current_frames().items():
        print(f"\nthread {thread_id}:", file=sys.stderr)
        traceback.print_stack(frame, file=sys.stderr)
    db = getattr(getattr(app, "state", None), "db", None)
    if db is None or db.dialect != "postgresql":
        return
    print("\n--- PostgreSQL sessions (not idle) ---", file=sys.stderr)
    try:
        with db.engine.connect() as connection:
            rows = connection.exec_driver_sql(
                "SELECT pid, state, wait_event_type, wait_event, "
                "pg_blocking_pids(pid), left(query, 200) FROM pg_stat_activity "
                "WHERE datname = current_database() AND state <> 'idle'"
            ).all()
        for row in rows:
            print(tuple(row), file=sys.stderr)
    except Exception as exc:  # the diagnosis must not hide the timeout
        print(f"(could not read pg_stat_activity: {exc})", file=sys.stderr)
