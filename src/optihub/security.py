"""Password and secret hashing (argon2id), shared by sign-in and OAuth client secrets."""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import RFC_9106_LOW_MEMORY
from argon2.profiles import Parameters as HashParameters

# RFC 9106's second recommendation (argon2id, t=3, 64 MiB, p=4): argon2-cffi's defaults.
PRODUCTION_PARAMETERS = RFC_9106_LOW_MEMORY


class _Hashing:
    """The hasher in use and the dummy hash verified when there is nothing to verify.

    A wrong email costs as much as a wrong password, so response times don't reveal which
    accounts exist: the dummy hash is made with the same parameters as real ones.
    """

    def __init__(self, parameters: HashParameters) -> None:
        self.parameters = parameters
        self.hasher = PasswordHasher.from_parameters(parameters)
        self.dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))


_hashing = _Hashing(PRODUCTION_PARAMETERS)


def use_hash_parameters(parameters: HashParameters) -> None:
    """Hash with other parameters from now on. The test suite's set-up uses the cheapest
    ones (a production-cost hash takes ~250 ms and fixtures make thousands); nothing else
    calls this. A hash keeps its own parameters, so stored hashes still verify."""
    global _hashing
    _hashing = _Hashing(parameters)


def hash_parameters() -> HashParameters:
    return _hashing.parameters


def hash_secret(secret: str) -> str:
    return _hashing.hasher.hash(secret)


def verify_secret(secret_hash: str | None, secret: str) -> bool:
    """True when ``secret`` matches; never raises for a malformed or missing hash."""
    hashing = _hashing
    try:
        return hashing.hasher.verify(secret_hash or hashing.dummy_hash, secret) and (
            secret_hash is not None
        )
    except (VerificationError, InvalidHashError):
        return False


# Verifications at once on the hashing threads: argon2 runs four lanes (threads) each, so
# about one per four cores.
HASHING_THREADS = max(1, (os.cpu_count() or 1) // 4)
# The hashing threads' niceness; argon2's lane threads inherit it (Linux: per thread).
HASHING_NICENESS = 10


def _lower_priority() -> None:
    with contextlib.suppress(AttributeError, OSError):  # not Linux, or not allowed
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICENESS)


_hashing_threads = ThreadPoolExecutor(
    HASHING_THREADS, thread_name_prefix="argon2", initializer=_lower_priority
)


def verify_secret_aside(secret_hash: str | None, secret: str) -> bool:
    """``verify_secret`` on the process's hashing threads: at most ``HASHING_THREADS`` at
    once, at low CPU priority, so a burst of verifications never takes the cores from the
    requests being served (they wait instead). For callers that hold no transaction and
    no lock: the wait must not hold anything another request needs."""
    return _hashing_threads.submit(verify_secret, secret_hash, secret).result()


def sha256_hex(value: str) -> str:
    """For lookups of high-entropy tokens (codes, refresh tokens): fast and non-reversible."""
    return hashlib.sha256(value.encode()).hexdigest()
