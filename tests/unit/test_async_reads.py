"""Shared executions of a small statement on the event loop (``AsyncReads.fetch_shared``):
callers that ask while it is in flight share the next execution, never the one already
sent, so none of them can miss what was committed before it asked."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from optihub.db.async_reads import AsyncReads


class Recorded(AsyncReads):
    """``fetch_small`` answers with the number of the execution, after the test lets it."""

    def __init__(self, parallel: int = 1) -> None:
        super().__init__({}, parallel=parallel)
        self.sent = 0
        self.release: list[asyncio.Event] = []

    async def fetch_small(self, sql: str, parameters: Any) -> list[Any]:
        self.sent += 1
        number = self.sent
        gate = asyncio.Event()
        self.release.append(gate)
        await gate.wait()
        if sql == "fail":
            raise RuntimeError("connection lost")
        return [(number,)]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_callers_in_flight_share_the_next_execution_not_the_current_one():
    async def scenario() -> list[Any]:
        reads = Recorded()
        first = asyncio.create_task(reads.fetch_shared("SELECT version", [1]))
        await settle()
        assert reads.sent == 1  # the first caller waits for nobody
        later = [asyncio.create_task(reads.fetch_shared("SELECT version", [1])) for _ in range(3)]
        other = asyncio.create_task(reads.fetch_shared("SELECT version", [2]))
        await settle()
        assert reads.sent == 2  # practice 2 is its own statement; the three wait
        reads.release[0].set()
        await settle()
        assert reads.sent == 3  # one more execution, for the three that asked meanwhile
        for gate in reads.release[1:]:
            gate.set()
        return [await first, *[await each for each in later], await other]

    first, *later, other = asyncio.run(scenario())
    assert first == [(1,)]
    assert later == [[(3,)]] * 3
    assert other == [(2,)]


def test_a_failed_execution_fails_its_callers_and_the_next_one_runs():
    async def scenario() -> None:
        reads = Recorded()
        alone = asyncio.create_task(reads.fetch_shared("fail", [1]))
        await settle()
        meanwhile = [asyncio.create_task(reads.fetch_shared("fail", [1])) for _ in range(2)]
        await settle()
        assert reads.sent == 1
        reads.release[0].set()
        with pytest.raises(RuntimeError):
            await alone
        await settle()
        assert reads.sent == 2  # the two that asked meanwhile get their own execution
        reads.release[1].set()
        for each in meanwhile:
            with pytest.raises(RuntimeError):
                await each
        again = asyncio.create_task(reads.fetch_shared("SELECT version", [1]))
        await settle()
        reads.release[2].set()
        assert await again == [(3,)]
        assert not reads._rounds  # nothing left behind

    asyncio.run(scenario())


def test_up_to_parallel_executions_run_at_once_then_callers_share_the_next():
    async def scenario() -> list[Any]:
        reads = Recorded(parallel=2)
        first = asyncio.create_task(reads.fetch_shared("SELECT version", [1]))
        second = asyncio.create_task(reads.fetch_shared("SELECT version", [1]))
        await settle()
        assert reads.sent == 2  # two run at once, each for its own caller
        later = [asyncio.create_task(reads.fetch_shared("SELECT version", [1])) for _ in range(3)]
        await settle()
        assert reads.sent == 2  # the third and later callers wait for the next execution
        reads.release[1].set()
        await settle()
        assert reads.sent == 3  # sent when one of the two returned, after they asked
        for gate in (reads.release[0], reads.release[2]):
            gate.set()
        results = [await first, await second, *[await each for each in later]]
        await settle()
        assert not reads._rounds  # nothing left in flight
        return results

    first, second, *later = asyncio.run(scenario())
    assert (first, second) == ([(1,)], [(2,)])
    assert later == [[(3,)]] * 3
