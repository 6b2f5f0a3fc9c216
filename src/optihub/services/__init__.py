"""Use cases. Each public function runs inside the caller's transaction, flushes but never
commits, scopes every lookup by practice, and writes its outbox events in that same
transaction (so a failure anywhere leaves no partial rows and no event)."""

from optihub.reads.documents import install_session_hooks

install_session_hooks()
