"""Several machines on one PostgreSQL must share OPTIHUB_SECRET_KEY: a node started without
it says so in its log (each would otherwise encrypt secrets with a key of its own)."""

from __future__ import annotations

import dataclasses

from structlog.testing import capture_logs

from optihub.app import create_app


def test_a_node_on_postgresql_without_a_shared_key_warns(settings, db):
    with capture_logs() as logs:
        create_app(settings, database=db)
    warned = [e for e in logs if e["event"] == "instance_key_not_shared"]
    assert len(warned) == (1 if db.dialect == "postgresql" else 0)

    with capture_logs() as logs:
        create_app(
            dataclasses.replace(settings, secret_key="shared-secret-of-the-group"), database=db
        )
    assert not [e for e in logs if e["event"] == "instance_key_not_shared"]
