"""What every schema-fuzzing test shares: the checks, a bounded and reproducible run."""

from __future__ import annotations

import os

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
