"""Secrets are hashed at production cost outside the test suite.

The suite hashes at argon2's cheapest parameters (tests/conftest.py); these checks make sure
that is the suite's doing only: a process that did not run the suite's set-up hashes with
RFC 9106's parameters, and every hash, whatever its cost, verifies.
"""

from __future__ import annotations

import subprocess
import sys

from argon2.profiles import CHEAPEST

from optihub import security


def test_production_parameters_are_rfc_9106_low_memory():
    parameters = security.PRODUCTION_PARAMETERS
    assert (parameters.time_cost, parameters.memory_cost, parameters.parallelism) == (3, 65536, 4)
    assert parameters.type.name == "ID"  # argon2id


def test_a_process_outside_the_suite_hashes_at_production_cost():
    made = subprocess.run(
        [sys.executable, "-c", "from optihub import security; print(security.hash_secret('s'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert made.startswith("$argon2id$v=19$m=65536,t=3,p=4$"), made
    # a production hash verifies in the suite (a hash carries its own parameters)
    assert security.verify_secret(made, "s")
    assert not security.verify_secret(made, "t")


def test_the_suite_hashes_at_the_cheapest_parameters():
    assert security.hash_parameters() == CHEAPEST
    made = security.hash_secret("s")
    assert made.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert security.verify_secret(made, "s")
    assert not security.verify_secret(None, "s")
    assert not security.verify_secret("not a hash", "s")
