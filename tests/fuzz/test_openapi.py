"""Schema fuzzing: every operation of the OpenAPI document, against the real app.

Schemathesis reads the app's OpenAPI document and, for each operation, sends requests
generated from it (valid ones, deliberately invalid ones, and the boundary cases it derives
from the document) with a bearer token holding every scope, on a practice seeded with the
demo data (lists are not empty), one order placed through each dialect's own path (so every
read meets what every channel writes) and a webhook subscription with deliveries. Every
answer must be:

* no server error (5xx);
* a status code the operation documents (``status_code_conformance``);
* a body matching the documented JSON schema, when one is documented;
* a rejection (4xx) of input that breaks the document (``negative_data_rejection``).

Generators never write text that is not Unicode, so one JSON body in eight gets half of a
surrogate pair in its first string (``common.spoil_text``): refused, never a 5xx.

Bounded and reproducible: at most ``MAX_EXAMPLES`` generated cases per operation plus the
deterministic boundary cases, derandomized, no deadline. One test per operation and
backend (``test_operation[GET /api/v1/partner/orders][sqlite]``); a failure prints the
failing request as a curl command. The seeded app is built once per backend for the module.

Nothing is excluded (``EXCLUDED`` is the one place to do it, with the reason). The
interactive pages (``/oauth/authorize``, ``/login``, consent, the dashboard, ``/docs``) are
not in the document (``include_in_schema=False``), so they are not fuzzed here;
tests/api/oauth and tests/browser cover them.
"""

from __future__ import annotations

import socket
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import schemathesis
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation import GenerationMode
from sqlalchemy import select

from tests.conftest import _empty_all_tables
from tests.fuzz.common import BOUNDED, CHECKS, REPRODUCIBLE, call_and_validate, spoil_text

# Operations left out, by label ("GET /path"), with the reason. Keep it the only place.
EXCLUDED: dict[str, str] = {}
PARTNER = "/api/v1/partner"
# Where every generated webhook host "resolves": a public address, so subscriptions can be
# created. Nothing is ever sent there (the delivery worker does not run in tests).
PUBLIC_ADDRESS = "93.184.215.14"


def app_settings(data_dir: str, database_url: str) -> Any:
    from optihub.settings import Settings

    return Settings.from_env(
        {
            "OPTIHUB_DATABASE_URL": database_url,
            "OPTIHUB_DATA_DIR": data_dir,
            "OPTIHUB_PUBLIC_URL": "http://testserver",
            "OPTIHUB_WEBHOOK_ALLOWED_HOSTS": "127.0.0.0/8,localhost",
            "OPTIHUB_RUN_WORKER": "false",
        }
    )


def openapi_document() -> dict[str, Any]:
    """The app's OpenAPI document; building it needs no database."""
    from optihub.app import create_app

    with tempfile.TemporaryDirectory() as data_dir:
        return create_app(app_settings(data_dir, "sqlite://")).openapi()


@dataclass(frozen=True)
class Fuzzed:
    """The app under test, a token with every scope, and real ids to aim at."""

    app: Any
    token: str
    # A generated UUID path parameter of one of these names is sometimes swapped for a real id.
    ids: dict[str, list[str]]
    practice_id: int

    def aim_at_real_rows(self, case: schemathesis.Case) -> None:
        """Half of the generated UUIDs become real ids, so reads and writes reach real rows;
        a valid practice id in the path (the practice API's ``client_id``) becomes the token's
        practice (a schema-violating one stays, for the 400)."""
        meta = getattr(case, "meta", None)
        path = meta.components.get(ParameterLocation.PATH) if meta is not None else None
        valid_path = path is None or path.mode == GenerationMode.POSITIVE
        for name, value in list((case.path_parameters or {}).items()):
            if name == "client_id" and valid_path:
                case.path_parameters[name] = str(self.practice_id)
                continue
            real = self.ids.get(name)
            try:
                generated = uuid.UUID(str(value))
            except ValueError:
                continue
            if real and generated.int % 2 == 0:
                case.path_parameters[name] = real[generated.int % len(real)]


def fake_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
    """Generated webhook URLs name arbitrary hosts: resolve them here, asking no DNS."""
    return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC_ADDRESS, port or 443))]


@pytest.fixture(scope="module")
def fuzzed(_session_db, tmp_path_factory) -> Iterator[Fuzzed]:
    """The demo practice, a token with every scope for it, a subscription with deliveries."""
    from fastapi.testclient import TestClient

    from optihub.app import create_app
    from optihub.db.models import User
    from optihub.demo import DEMO_EMAIL, seed_demo
    from optihub.events.relay import relay_events

    db = _session_db
    app = create_app(app_settings(str(tmp_path_factory.mktemp("fuzz")), db.url), database=db)
    # Over https: the dialects' token calls (``place_through_every_dialect``) answer no other.
    with (
        pytest.MonkeyPatch.context() as patch,
        TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as client,
    ):
        patch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
        with db.transaction() as session:
            practice_id = seed_demo(session).practice_id
            user_id = session.scalar(select(User.id).where(User.email == DEMO_EMAIL))
        placed = place_through_every_dialect(app, db, client, practice_id)
        metadata = client.get("/.well-known/oauth-authorization-server").json()
        token = app.state.tokens.issue_access_token(
            client_id="fuzz-app",
            subject=str(user_id),
            scope=" ".join(metadata["scopes_supported"]),
            practice_ids=[practice_id],
        ).token
        auth = {"Authorization": f"Bearer {token}"}
        created = client.post(
            f"{PARTNER}/webhooks",
            json={"url": "https://hooks.example.com/optihub", "events": ["*"]},
            headers=auth,
        )
        assert created.status_code == 201, created.text
        webhook_id = created.json()["id"]
        with db.transaction() as session:
            relay_events(session, datetime.now(UTC))
        deliveries = client.get(f"{PARTNER}/webhooks/{webhook_id}/deliveries", headers=auth)
        orders = client.get(f"{PARTNER}/orders", params={"limit": 100}, headers=auth)
        assert deliveries.json()["data"], "the seed should leave deliveries to redeliver"
        assert orders.json()["data"], "the seed should leave orders to read"
        listed = [order["id"] for order in orders.json()["data"]]
        assert set(placed) <= set(listed), "every dialect's order should be a partner's to read"
        yield Fuzzed(
            app,
            token,
            {
                "order_id": placed + [each for each in listed if each not in placed][:10],
                "webhook_id": [webhook_id],
                "delivery_id": [delivery["id"] for delivery in deliveries.json()["data"][:5]],
                # The practice API names every record's id `id`: some of each kind.
                "id": practice_record_ids(db, practice_id),
            },
            practice_id,
        )
    _empty_all_tables(db)


def place_through_every_dialect(app: Any, db: Any, client: Any, practice_id: int) -> list[str]:
    """One order placed through each dialect's own path, as tests/api/dashboard/
    test_every_channel.py places them (its functions); their ids.

    The demo's orders all come from one service call with an Rx; these come the way each
    dialect writes them (a lab frame job, a portal sync, a practice-API and a fulfillment
    order: none with an Rx), so every read of every dialect is checked against the orders
    of all of them (a partner prescriptions list that listed them as ``null`` fails the
    response-schema check). They are the newest orders, first in lists without a filter.
    """
    from optihub.services import users
    from tests.api.dashboard.conftest import PASSWORD, STAFF, World
    from tests.api.dashboard.test_every_channel import CHANNELS, Context

    with db.transaction() as session:
        # The member of staff the lab-order API's ``User-Email`` names.
        users.create_user(
            session, email=STAFF, password=PASSWORD, practice_id=practice_id, role="staff"
        )

    def mint(practice_id: int, scope: str, client_id: str) -> str:
        return str(
            app.state.tokens.issue_access_token(
                client_id=client_id, subject="fuzz-user", scope=scope, practice_ids=[practice_id]
            ).token
        )

    ctx = Context(client, db, World(practice_id, practice_id), mint)
    return [str(channel.place(ctx).order_id) for channel in CHANNELS]


def practice_record_ids(db: Any, practice_id: int) -> list[str]:
    from optihub.db.models import Employee, Frame, Invoice, Location, Patient, PriceTier

    ids: list[str] = []
    with db.reading() as reader:
        for model in (Patient, Location, Employee, Invoice, PriceTier, Frame):
            found = reader.scalars(
                select(model.id).where(model.practice_id == practice_id).limit(3)
            ).all()
            ids += [str(each) for each in found]
    return ids


schema = schemathesis.openapi.from_dict(openapi_document(), config=REPRODUCIBLE)
if EXCLUDED:
    schema = schema.exclude(name=list(EXCLUDED))


@schema.parametrize()
@BOUNDED
def test_operation(case, fuzzed):
    fuzzed.aim_at_real_rows(case)
    spoil_text(case)
    # The document was read once at import; each backend's app answers (in-process, ASGI),
    # over https as deployments must (Authlib refuses OAuth over plain http).
    call_and_validate(
        case,
        fuzzed.app,
        base_url="https://testserver",
        headers={"Authorization": f"Bearer {fuzzed.token}"},
        checks=CHECKS,
    )
