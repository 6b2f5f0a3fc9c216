"""The revocation list (on the event loop) and key ring (in a worker thread) are reloaded once
at a time: half-way to their refresh interval a request starts the reload and goes on; only
a request that finds them past the interval (after a quiet spell) waits for it."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from optihub.auth import resource


class Cache:
    """A cache loaded ``age`` seconds ago, with ``refresh_seconds`` between reloads."""

    def __init__(self, age: float, refresh_seconds: float = 2.0) -> None:
        self.loaded_at = time.monotonic() - age
        self.refresh_seconds = refresh_seconds
        self.reloads = 0
        self.gate = threading.Event()  # set: reloads may finish

    @property
    def due(self) -> bool:
        return time.monotonic() - self.loaded_at > self.refresh_seconds / 2

    @property
    def stale(self) -> bool:
        return time.monotonic() - self.loaded_at > self.refresh_seconds

    def load(self) -> None:  # the key ring's, in a worker thread
        self.gate.wait(5)
        self._loaded()

    async def refresh_async(self) -> None:  # the revocation list's, on the loop
        for _ in range(500):
            if self.gate.is_set():
                break
            await asyncio.sleep(0.01)
        self._loaded()

    def _loaded(self) -> None:
        self.reloads += 1
        self.loaded_at = time.monotonic()


class Tokens:
    def __init__(self, revocations_age: float, keyring_age: float = 0.0) -> None:
        self.revocations = Cache(revocations_age)
        self.keyring = Cache(keyring_age, refresh_seconds=300)


async def settle(until: Any) -> None:
    for _ in range(500):
        if until():
            return
        await asyncio.sleep(0.01)


def test_fresh_caches_are_not_reloaded():
    tokens = Tokens(revocations_age=0.5)

    async def scenario() -> None:
        await resource._fresh_caches(tokens)  # type: ignore[arg-type]
        await asyncio.sleep(0.05)

    asyncio.run(scenario())
    assert tokens.revocations.reloads == 0 and tokens.keyring.reloads == 0


def test_half_way_one_reload_starts_and_requests_do_not_wait_for_it():
    tokens = Tokens(revocations_age=1.5)

    async def scenario() -> list[bool]:
        requests = [asyncio.create_task(resource._fresh_caches(tokens)) for _ in range(16)]  # type: ignore[arg-type]
        await settle(lambda: all(r.done() for r in requests))
        finished_before_reload = [r.done() for r in requests]
        assert tokens.revocations.reloads == 0  # still held in the worker thread
        tokens.revocations.gate.set()
        await settle(lambda: tokens.revocations.reloads)
        await asyncio.sleep(0.05)
        return finished_before_reload

    assert all(asyncio.run(scenario()))
    assert tokens.revocations.reloads == 1  # one reload for the sixteen
    assert tokens.keyring.reloads == 0  # not due: left alone
    assert not tokens.revocations.due


def test_past_the_interval_requests_wait_for_the_one_reload():
    tokens = Tokens(revocations_age=2.5)

    async def scenario() -> tuple[list[bool], list[bool]]:
        requests = [asyncio.create_task(resource._fresh_caches(tokens)) for _ in range(8)]  # type: ignore[arg-type]
        await asyncio.sleep(0.1)
        waiting = [not r.done() for r in requests]
        tokens.revocations.gate.set()
        await asyncio.gather(*requests)
        return waiting, [r.done() for r in requests]

    waiting, done = asyncio.run(scenario())
    assert all(waiting) and all(done)
    assert tokens.revocations.reloads == 1
    assert not tokens.revocations.stale


def test_a_failed_reload_fails_the_waiting_requests_and_the_next_one_tries_again():
    tokens = Tokens(revocations_age=2.5)
    tokens.revocations.gate.set()
    failures = iter([RuntimeError("database unavailable")])

    async def flaky() -> None:
        error = next(failures, None)
        if error is not None:
            raise error
        await Cache.refresh_async(tokens.revocations)

    tokens.revocations.refresh_async = flaky  # type: ignore[method-assign]

    async def scenario() -> str:
        try:
            await resource._fresh_caches(tokens)  # type: ignore[arg-type]
        except RuntimeError as exc:
            error = str(exc)
        else:
            error = ""
        await resource._fresh_caches(tokens)  # type: ignore[arg-type]
        return error

    assert asyncio.run(scenario()) == "database unavailable"
    assert tokens.revocations.reloads == 1 and not tokens.revocations.stale


def test_a_due_key_ring_is_reloaded_in_a_worker_thread_with_the_revocations():
    tokens = Tokens(revocations_age=1.5, keyring_age=200)
    tokens.revocations.gate.set()
    tokens.keyring.gate.set()
    threads: list[str] = []
    load = tokens.keyring.load

    def recording() -> None:
        threads.append(threading.current_thread().name)
        load()

    tokens.keyring.load = recording  # type: ignore[method-assign]

    async def scenario() -> None:
        await resource._fresh_caches(tokens)  # type: ignore[arg-type]
        await settle(lambda: tokens.keyring.reloads)

    asyncio.run(scenario())
    assert tokens.revocations.reloads == 1 and tokens.keyring.reloads == 1
    assert threads and threads[0] != threading.main_thread().name
