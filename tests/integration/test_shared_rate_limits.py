"""Rate-limit windows in Redis are shared by every OptiHub process that points at it.

Runs against the throw-away Redis `make test` starts (OPTIHUB_TEST_REDIS_URL); CI requires
it (the runner fails without Redis), so the skip below only happens on a laptop without it.
"""

from __future__ import annotations

import os
import uuid

import pytest

from optihub.errors import RateLimited
from optihub.surfaces.kit.limits import RateLimiter

REDIS_URL = os.environ.get("OPTIHUB_TEST_REDIS_URL", "")
pytestmark = pytest.mark.skipif(
    not REDIS_URL, reason="no Redis (make test starts one when redis-server is installed)"
)


def test_two_processes_share_one_window():
    client = f"client:{uuid.uuid4()}"
    first, second = RateLimiter(REDIS_URL), RateLimiter(REDIS_URL)
    first.hit("3/minute", "practice", "patients", client)
    second.hit("3/minute", "practice", "patients", client)
    first.hit("3/minute", "practice", "patients", client)
    with pytest.raises(RateLimited) as refused:
        second.hit("3/minute", "practice", "patients", client)
    assert 1 <= refused.value.retry_after_seconds <= 61
    # another module and another client have budgets of their own
    second.hit("3/minute", "practice", "orders", client)
    second.hit("3/minute", "practice", "patients", f"client:{uuid.uuid4()}")


def test_the_app_uses_redis_when_configured(tmp_path, db):
    from optihub.app import create_app
    from optihub.settings import Settings

    settings = Settings.from_env(
        {
            "OPTIHUB_DATABASE_URL": db.url,
            "OPTIHUB_DATA_DIR": str(tmp_path),
            "OPTIHUB_REDIS_URL": REDIS_URL,
            "OPTIHUB_RUN_WORKER": "false",
        }
    )
    app = create_app(settings, database=db)
    client = f"client:{uuid.uuid4()}"
    app.state.surfaces.limiter.hit("1/minute", "partner", "orders", client)
    with pytest.raises(RateLimited):
        RateLimiter(REDIS_URL).hit("1/minute", "partner", "orders", client)
