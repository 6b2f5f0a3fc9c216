"""The ``optihub`` command as an operator or a script uses it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

OPTIHUB = [sys.executable, "-m", "optihub"]


@pytest.fixture
def env(tmp_path):
    return dict(os.environ, OPTIHUB_DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}")


def run(env, *args, ok=True):
    result = subprocess.run([*OPTIHUB, *args], env=env, capture_output=True, text=True, timeout=120)
    if ok:
        assert result.returncode == 0, result.stderr
    return result


def last_json(result):
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_practice_create_and_list_as_json(env):
    created = last_json(run(env, "practice", "create", "--name", "Lakeside Vision", "--json"))
    assert created == {"id": 1, "name": "Lakeside Vision"}
    run(env, "practice", "create", "--name", "Hilltop Optical")
    listed = last_json(run(env, "practice", "list", "--json"))
    assert [p["name"] for p in listed] == ["Lakeside Vision", "Hilltop Optical"]


def test_user_create_prints_json_and_refuses_duplicates(env):
    practice = last_json(run(env, "practice", "create", "--name", "Lakeside Vision", "--json"))
    user = last_json(
        run(
            env,
            "user",
            "create",
            "--email",
            "Front.Desk@Lakeside.test",
            "--password",
            "s3cret-pass",
            "--practice",
            str(practice["id"]),
            "--role",
            "staff",
            "--json",
        )
    )
    assert user["email"] == "front.desk@lakeside.test"
    assert user["role"] == "staff"
    again = run(
        env,
        "user",
        "create",
        "--email",
        "front.desk@lakeside.test",
        "--password",
        "s3cret-pass",
        "--practice",
        str(practice["id"]),
        ok=False,
    )
    assert again.returncode == 1
    assert "already exists" in again.stderr


def test_user_create_validates_role_and_practice(env):
    bad_role = run(
        env,
        "user",
        "create",
        "--email",
        "a@b.test",
        "--password",
        "long-enough",
        "--practice",
        "1",
        "--role",
        "admin",
        ok=False,
    )
    assert bad_role.returncode == 1 and "role" in bad_role.stderr
    no_practice = run(
        env,
        "user",
        "create",
        "--email",
        "a@b.test",
        "--password",
        "long-enough",
        "--practice",
        "99",
        "--role",
        "staff",
        ok=False,
    )
    assert no_practice.returncode == 1 and "Practice 99 not found" in no_practice.stderr


def test_openapi_writes_a_3_1_document(env, tmp_path):
    target = tmp_path / "openapi.json"
    run(env, "openapi", "--output", str(target))
    document = json.loads(target.read_text())
    assert document["openapi"].startswith("3.1")
    assert document["info"]["title"] == "OptiHub"


def test_seed_demo_runs_once(env):
    first = last_json(run(env, "seed-demo", "--json"))
    assert first["created"] is True
    second = last_json(run(env, "seed-demo", "--json"))
    assert second == {"practice_id": first["practice_id"], "created": False}
    listed = last_json(run(env, "practice", "list", "--json"))
    assert len(listed) == 1


def test_keys_rotate_keeps_the_old_key_published_until_it_is_retired(env):
    """The operator's rotation: a new key signs, the old one verifies until retired; the
    key signing new tokens cannot be retired, nor an unknown one."""
    run(env, "migrate")
    run(env, "practice", "create", "--name", "Lakeside Vision")  # any command makes the key
    first = last_json(run(env, "keys", "rotate", "--json"))
    assert first["state"] == "signing"
    second = last_json(run(env, "keys", "rotate", "--json"))
    assert second["previous"] == first["kid"]
    listed = {k["kid"]: k["state"] for k in last_json(run(env, "keys", "list", "--json"))}
    assert listed[second["kid"]] == "signing" and listed[first["kid"]] == "published"

    refused = run(env, "keys", "retire", second["kid"], ok=False)
    assert refused.returncode == 1 and "optihub keys rotate" in refused.stderr
    unknown = run(env, "keys", "retire", "k_nope", ok=False)
    assert unknown.returncode == 1 and "k_nope" in unknown.stderr

    retired = last_json(run(env, "keys", "retire", first["kid"], "--json"))
    assert retired["state"] == "retired" and retired["retired_at"]
    again = run(env, "keys", "retire", first["kid"], ok=False)
    assert again.returncode == 1 and "already retired" in again.stderr
    human = run(env, "keys", "list").stdout
    assert f"{second['kid']}\tsigning" in human and f"{first['kid']}\tretired" in human
