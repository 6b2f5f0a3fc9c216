"""``optihub backup`` / ``optihub restore``: the demo data (orders from every channel, a
connected app with its webhook log) backed up while an app serves it, restored into an
empty database of the same kind, reads back the same — every table row for row, and each
dialect's order list byte for byte through a new app on the restored database."""

from __future__ import annotations

import dataclasses
import json

from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from optihub.app import create_app
from optihub.auth.keys import InstanceKey
from optihub.cli import app as cli
from optihub.db.base import Base
from optihub.db.models import LabAccount
from optihub.db.session import Database
from optihub.demo import seed_demo
from optihub.surfaces.labs.ids import public_id
from optihub.surfaces.labs.mapping import LAB
from tests.conftest import PG_SERVER_URL, _create_pg_database

# One list per dialect (below its prefix), with the scopes it needs.
READS = [
    ("partner", "/api/v1/partner/orders?limit=50&status=pending", "orders:read"),
    ("practice", "/v2/{practice}/orders?page_size=50&sort=-create_date", "read:orders"),
    ("practice", "/v2/{practice}/patients?page_size=50", "read:patients"),
    ("fulfillment", "/fulfillment/v1/orders?per_page=50&status=received", "fulfillment:read"),
    ("labs", "/v1/orders?lab={lab}&account_number={account}&limit=50", "lab_orders:read"),
]


def empty_database_like(db, tmp_path) -> str:
    if db.dialect == "sqlite":
        return f"sqlite:///{tmp_path / 'restored' / 'optihub.db'}"
    return _create_pg_database(PG_SERVER_URL)


def every_row(database: Database) -> dict[str, list[tuple]]:
    with database.engine.connect() as connection:
        return {
            table.name: sorted(
                (tuple(str(v) for v in row) for row in connection.execute(select(table))),
            )
            for table in Base.metadata.sorted_tables
        }


def dialect_reads(app, practice_id: int, lab: tuple[str, str]) -> dict[str, bytes]:
    tokens = app.state.tokens
    answers = {}
    with TestClient(app) as client:
        for dialect, path, scope in READS:
            token = tokens.issue_access_token(
                client_id=f"{dialect}-app",
                subject="user-1",
                scope=scope,
                practice_ids=[practice_id],
            ).token
            headers = {"Authorization": f"Bearer {token}", "User-Email": "owner@demo.optihub.test"}
            url = path.format(practice=practice_id, lab=lab[0], account=lab[1])
            response = client.get(url, headers=headers)
            assert response.status_code == 200, (url, response.text)
            answers[url] = response.content
    return answers


def test_a_backup_restores_into_an_empty_database_and_reads_back_the_same(
    db, settings, tmp_path, monkeypatch
):
    with db.transaction() as session:
        practice_id = seed_demo(session, key=InstanceKey.from_settings(settings)).practice_id
    with db.reading() as reader:
        account = reader.execute(
            select(LabAccount.lab_id, LabAccount.account_number).where(
                LabAccount.practice_id == practice_id
            )
        ).first()
    assert account is not None
    lab = (public_id(LAB, account[0]), account[1])
    serving = create_app(settings, database=db)
    before = dialect_reads(serving, practice_id, lab)

    runner = CliRunner()
    backup_file = tmp_path / "backups" / "optihub.backup"
    monkeypatch.setenv("OPTIHUB_DATABASE_URL", db.url)
    monkeypatch.setenv("OPTIHUB_DATA_DIR", str(settings.data_dir))
    made = runner.invoke(cli, ["backup", str(backup_file), "--json"])
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout.splitlines()[-1])["bytes"] == backup_file.stat().st_size > 0
    again = runner.invoke(cli, ["backup", str(backup_file)])
    assert again.exit_code == 1 and "exists already" in again.output

    restored_url = empty_database_like(db, tmp_path)
    monkeypatch.setenv("OPTIHUB_DATABASE_URL", restored_url)
    done = runner.invoke(cli, ["restore", str(backup_file), "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout.splitlines()[-1])["restored"] is True
    # A second restore over the restored data is refused, and changes nothing.
    over = runner.invoke(cli, ["restore", str(backup_file)])
    assert over.exit_code == 1 and "already holds" in over.output

    restored = Database(restored_url)
    try:
        assert every_row(restored) == every_row(db)
        reopened = create_app(dataclasses.replace(settings, database_url=restored_url), restored)
        assert dialect_reads(reopened, practice_id, lab) == before
    finally:
        restored.dispose()


def test_a_restore_refuses_what_is_not_a_backup_of_its_kind(db, tmp_path, monkeypatch):
    monkeypatch.setenv("OPTIHUB_DATABASE_URL", empty_database_like(db, tmp_path))
    junk = tmp_path / "notes.txt"
    junk.write_text("not a backup")
    refused = CliRunner().invoke(cli, ["restore", str(junk)])
    assert refused.exit_code == 1 and "is not a backup" in refused.output
    missing = CliRunner().invoke(cli, ["restore", str(tmp_path / "nothing.backup")])
    assert missing.exit_code == 1 and "there is no backup" in missing.output
    other = tmp_path / "other-kind.backup"
    other.write_bytes(b"PGDMP" if db.dialect == "sqlite" else b"SQLite format 3\x00")
    wrong = CliRunner().invoke(cli, ["restore", str(other)])
    assert wrong.exit_code == 1 and "restore it into a" in wrong.output
