"""The revocation list read on the event loop (``RevocationList.refresh_async``) holds the
same token ids as the blocking reload: the revocations still in force, not expired ones."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from optihub.auth.tokens import RevocationList
from optihub.db.base import utcnow
from optihub.db.models.oauth import RevokedAccessToken


def test_the_loop_reload_reads_what_the_blocking_one_reads(db):
    now = utcnow()
    with db.sessions.begin() as session:
        session.add_all(
            [
                RevokedAccessToken(jti="live-1", expires_at=now + timedelta(minutes=10)),
                RevokedAccessToken(jti="live-2", expires_at=now + timedelta(seconds=30)),
                RevokedAccessToken(jti="expired", expires_at=now - timedelta(seconds=1)),
            ]
        )
    on_loop, blocking = RevocationList(db), RevocationList(db)

    async def reload() -> None:
        try:
            await on_loop.refresh_async()
        finally:
            await db.close_async_reads()

    assert on_loop.stale
    asyncio.run(reload())
    blocking.refresh()
    assert not on_loop.stale and not on_loop.due
    assert on_loop.is_revoked("live-1") and on_loop.is_revoked("live-2")
    assert not on_loop.is_revoked("expired") and not on_loop.is_revoked("other")
    assert on_loop._jtis == blocking._jtis == {"live-1", "live-2"}
