"""A subscription whose URL was stored before URLs were checked (a line break in it) can
no longer break the test delivery: ``POST /notifications/sample`` naming it is a 400
naming ``webhook_url``, not a 500."""

from __future__ import annotations

import uuid

from optihub.db.models import WebhookSubscription
from tests.api.fulfillment.conftest import table_counts


def test_sample_to_a_url_stored_with_a_line_break_is_400_not_500(api, db):
    created = api.post(
        "/notifications", json={"url": "http://127.0.0.1:9/hook", "event_codes": "all"}
    )
    assert created.status_code == 201, created.text
    poisoned = "http://127.0.0.1:9/x\r\nX-Injected: 1"
    with db.transaction() as s:
        s.get(WebhookSubscription, uuid.UUID(created.json()["id"])).url = poisoned
    before = table_counts(db)

    response = api.post(
        "/notifications/sample", json={"event_code": "order.created", "webhook_url": poisoned}
    )

    assert response.status_code == 400, response.text
    assert response.json()["error"]["field"] == "webhook_url"
    assert table_counts(db) == before
