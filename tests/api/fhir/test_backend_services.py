"""SMART Backend Services end to end: an app registered with its public keys finds the
token endpoint at the FHIR base's ``.well-known/smart-configuration``, signs an assertion,
gets a token for ``system/`` scopes, and reads its practice's prescriptions — only its own
practice's, and only what its scopes grant."""

from __future__ import annotations

from tests.api.fhir.conftest import BASE, Clinic, FhirClient
from tests.api.oauth.keys import assertion, ec_key, public_jwks, rsa_key, token_form

from optihub.services import oauth_clients


def key_app(db, practice_id: int, scope: str) -> str:
    with db.transaction() as s:
        registered = oauth_clients.register_client(
            s,
            name="Clinic EHR backend",
            scope=scope,
            redirect_uris=[],
            practice_ids=[practice_id],
            jwks=public_jwks(rsa_key(), ec_key()),
        )
    return registered.client.client_id


def backend_token(https, client_id: str, scope: str, alg: str = "ES384") -> str:
    key = ec_key() if alg.startswith("ES") else rsa_key()
    answer = https.post("/oauth/token", data=token_form(assertion(client_id, key, alg), scope))
    assert answer.status_code == 200, answer.text
    assert answer.json()["scope"] == scope
    return str(answer.json()["access_token"])


def test_discovery_at_the_fhir_base_names_the_token_endpoint_and_key_auth(https):
    at_base = https.get(f"{BASE}/.well-known/smart-configuration")
    at_root = https.get("/.well-known/smart-configuration")
    assert at_base.status_code == at_root.status_code == 200
    assert at_base.json() == at_root.json()
    document = at_base.json()
    assert document["token_endpoint"] == document["issuer"] + "/oauth/token"
    assert "private_key_jwt" in document["token_endpoint_auth_methods_supported"]
    assert {"RS384", "ES384"} <= set(document["token_endpoint_auth_signing_alg_values_supported"])
    assert "system/VisionPrescription.rs" in document["scopes_supported"]


def test_a_key_app_reads_its_practices_prescriptions(https, db, clinic: Clinic):
    client_id = key_app(db, clinic.practice_id, "system/VisionPrescription.rs system/Patient.rs")
    for alg in ("ES384", "RS384"):
        token = backend_token(https, client_id, "system/VisionPrescription.rs", alg)
        fhir = FhirClient(https, token)
        bundle = fhir.get("/VisionPrescription", params={"_count": 100})
        assert bundle.status_code == 200, bundle.text
        found = bundle.json()
        expected = {str(i) for i in [*clinic.prescriptions, clinic.contact_lens_id] if i}
        assert found["type"] == "searchset" and found["total"] == len(expected)
        assert {e["resource"]["id"] for e in found["entry"]} == expected
        # Patient.rs was registered but not asked for: not in this token.
        assert fhir.get(f"/Patient/{clinic.patient_id}").status_code == 403


def test_a_key_app_of_another_practice_sees_none_of_these(https, db, clinic: Clinic):
    client_id = key_app(db, clinic.other_practice_id, "system/VisionPrescription.rs")
    fhir = FhirClient(https, backend_token(https, client_id, "system/VisionPrescription.rs"))
    found = fhir.get("/VisionPrescription").json()
    assert {e["resource"]["id"] for e in found.get("entry", [])} == {
        str(clinic.foreign_prescription_id)
    }
    assert fhir.get(f"/VisionPrescription/{clinic.prescriptions[0]}").status_code == 404
