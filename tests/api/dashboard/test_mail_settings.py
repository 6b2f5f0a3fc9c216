"""Settings, "Patient e-mail": the practice's SMTP server for the eyewear-ready e-mails.
The owner saves and removes it; the password is stored encrypted with the instance key and
never shown; others see it read-only and a change they post anyway is refused."""

from __future__ import annotations

from sqlalchemy import select

from optihub.db.models import AuditEntry, PracticeMailServer
from tests.api.dashboard.conftest import MANAGER, OWNER, Agent, text_of

GOOD = {
    "host": "smtp.harbor.example",
    "port": "587",
    "security": "starttls",
    "username": "frontdesk",
    "password": "app-password-123",
    "from_address": "frontdesk@harbor.example",
}


def _stored(db) -> PracticeMailServer | None:
    with db.transaction() as s:
        found = s.scalars(select(PracticeMailServer)).one_or_none()
        if found is not None:
            s.expunge(found)
        return found


def test_the_owner_saves_the_server_with_the_password_encrypted(client, world, db):
    owner = Agent(client).sign_in(OWNER)
    page = text_of(owner.get("/dashboard/settings").text)
    assert "Patient e-mail" in page
    response = owner.post("/dashboard/settings/mail", GOOD)
    assert response.status_code == 303
    stored = _stored(db)
    assert stored is not None
    assert (stored.host, stored.port, stored.security) == ("smtp.harbor.example", 587, "starttls")
    assert stored.password_ciphertext and "app-password-123" not in stored.password_ciphertext
    assert client.app.state.instance_key.decrypt(stored.password_ciphertext) == "app-password-123"
    shown = owner.get("/dashboard/settings").text
    assert "app-password-123" not in shown
    assert 'value="smtp.harbor.example"' in shown and 'value="frontdesk"' in shown
    assert "password stored, encrypted" in text_of(shown)

    # An empty password box keeps the stored password.
    kept = owner.post("/dashboard/settings/mail", {**GOOD, "password": "", "port": "2525"})
    assert kept.status_code == 303
    again = _stored(db)
    assert again is not None and again.port == 2525
    assert again.password_ciphertext == stored.password_ciphertext
    with db.transaction() as s:
        details = [a.details for a in s.scalars(select(AuditEntry))]
    assert "app-password-123" not in repr(details)


def test_bad_values_are_refused_each_named_and_nothing_saved(client, world, db):
    owner = Agent(client).sign_in(OWNER)
    response = owner.post(
        "/dashboard/settings/mail",
        {**GOOD, "host": "", "port": "70000", "security": "ssl3", "from_address": "front desk"},
    )
    assert response.status_code == 400
    text = text_of(response.text)
    assert "Nothing was saved." in text
    for words in (
        "Give the mail server's host name",
        "from 1 to 65535",
        "Choose STARTTLS, TLS or no encryption.",
        "Give the address e-mails come from",
    ):
        assert words in text
    assert 'value="70000"' in response.text  # what was typed comes back
    assert _stored(db) is None


def test_removing_the_server(client, world, db):
    owner = Agent(client).sign_in(OWNER)
    owner.post("/dashboard/settings/mail", GOOD)
    assert owner.post("/dashboard/settings/mail/remove").status_code == 303
    assert _stored(db) is None


def test_a_manager_sees_it_read_only_and_cannot_change_it(client, world, db):
    Agent(client).sign_in(OWNER).post("/dashboard/settings/mail", GOOD)
    manager = Agent(client).sign_in(MANAGER)
    page = manager.get("/dashboard/settings").text
    assert "smtp.harbor.example:587" in page
    assert 'action="/dashboard/settings/mail"' not in page
    refused = manager.post("/dashboard/settings/mail", {**GOOD, "host": "evil.example"})
    assert refused.status_code == 403
    stored = _stored(db)
    assert stored is not None and stored.host == "smtp.harbor.example"
