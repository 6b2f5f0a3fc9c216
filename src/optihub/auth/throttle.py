"""Throttles for failed authentication: repeated failures per identity (an account, a client
id) and per address are refused for a while, before anything is hashed.

* Sign-in (``LoginThrottle``: the staff sign-in page and the fulfillment API's sign-in).
* Client authentication at the token endpoints (``ClientAuthThrottle``: ``/oauth/token``,
  ``/oauth/revoke``, ``/oauth/introspect`` and the dialects' token calls).
* How those endpoints and the fulfillment sign-in run an attempt (``Attempts``): refused
  on the event loop when throttled, verified a few at a time otherwise.

Counters live in memory, or in Redis when ``OPTIHUB_REDIS_URL`` is set so every process
shares them.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread
from limits import RateLimitItem, parse
from limits.strategies import MovingWindowRateLimiter

from optihub.counters import SharedCounters
from optihub.errors import RateLimited
from optihub.security import HASHING_THREADS

PER_ACCOUNT = parse("5/15 minutes")
PER_ADDRESS = parse("30/15 minutes")
# Client secrets are long and random: nobody guesses one. What a flood of wrong ones costs
# is an argon2 verification each, so the windows are short (a client locked out by someone
# else's failures gets in again a minute after they stop) and the counts small.
PER_CLIENT_ID = parse("10/minute")
PER_CLIENT_ADDRESS = parse("30/minute")
# A throttled attempt is answered (429) after this pause, never sooner than Retry-After
# allows anyway: a caller that waits for its answers (every flood of retries does) then
# sends at most one attempt a second per connection, and the server stays free for others.
THROTTLED_PAUSE_SECONDS = 1.0

T = TypeVar("T")


class FailureThrottle:
    """Failures counted per identity and per address in moving windows."""

    def __init__(
        self,
        redis_url: str,
        namespace: str,
        per_identity: RateLimitItem,
        per_address: RateLimitItem,
    ) -> None:
        # Redis unreachable: counted in this process until it is back (``optihub.counters``).
        self._limiter = SharedCounters(MovingWindowRateLimiter, redis_url, namespace)
        self._namespace = namespace
        self._per_identity = per_identity
        self._per_address = per_address

    def retry_after(self, identity: str, address: str) -> int:
        """Seconds until another attempt is allowed; 0 when one is allowed now."""
        waits = []
        for limit, key in ((self._per_identity, identity), (self._per_address, address)):
            if not self._limiter.test(limit, self._namespace, key):
                reset, _remaining = self._limiter.get_window_stats(limit, self._namespace, key)
                waits.append(max(1, int(reset - time.time())))
        return max(waits, default=0)

    def failed(self, identity: str, address: str) -> None:
        self._limiter.hit(self._per_identity, self._namespace, identity)
        self._limiter.hit(self._per_address, self._namespace, address)

    def succeeded(self, identity: str) -> None:
        self._limiter.clear(self._per_identity, self._namespace, identity)


class LoginThrottle(FailureThrottle):
    """Sign-in failures per account (e-mail, case-insensitive) and per address."""

    def __init__(self, redis_url: str = "") -> None:
        super().__init__(redis_url, "login", PER_ACCOUNT, PER_ADDRESS)

    def retry_after(self, email: str, address: str) -> int:
        return super().retry_after(email.lower(), address)

    def failed(self, email: str, address: str) -> None:
        super().failed(email.lower(), address)

    def succeeded(self, email: str) -> None:
        super().succeeded(email.lower())


class ClientAuthThrottle(FailureThrottle):
    """Failed client authentications per client id (known or not) and per address."""

    def __init__(self, redis_url: str = "") -> None:
        super().__init__(redis_url, "client_auth", PER_CLIENT_ID, PER_CLIENT_ADDRESS)


class Attempts:
    """How the token endpoints and the fulfillment sign-in run an authentication attempt.

    * On the event loop, the throttle is checked first: a throttled attempt is refused
      (``RateLimited``, 429) after ``THROTTLED_PAUSE_SECONDS``, taking no worker thread.
    * The attempt itself (read the client or user, verify the secret with argon2, then the
      short write transaction) runs in a worker thread, at most ``concurrent`` at once in
      this process (as many as the hashing threads, ``security.HASHING_THREADS``). The
      others wait their turn on the event loop (a coroutine each, no thread) rather than in
      worker threads, and check the throttle again when it comes; a refusal then is paused
      too.
    """

    def __init__(self, concurrent: int = HASHING_THREADS) -> None:
        self.concurrent = concurrent
        # anyio's limiters belong to one event loop (tests run several over one app).
        self._limiters: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, anyio.CapacityLimiter
        ] = weakref.WeakKeyDictionary()

    async def run(self, refuse: Callable[[], None], attempt: Callable[[], T]) -> T:
        """``refuse()`` (a throttle check raising ``RateLimited``) on the loop, then
        ``attempt()`` in its turn in a worker thread."""
        try:
            refuse()
            return await anyio.to_thread.run_sync(attempt, limiter=self._limiter())
        except RateLimited as refused:
            await asyncio.sleep(min(THROTTLED_PAUSE_SECONDS, refused.retry_after_seconds))
            raise

    def _limiter(self) -> anyio.CapacityLimiter:
        loop = asyncio.get_running_loop()
        limiter = self._limiters.get(loop)
        if limiter is None:
            limiter = self._limiters[loop] = anyio.CapacityLimiter(self.concurrent)
        return limiter
