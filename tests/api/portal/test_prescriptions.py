"""Prescriptions sent here are core prescriptions: free text kept as sent and parsed into
the eyes where it reads as an Rx; the PDF stored and served back byte for byte."""

from __future__ import annotations

import base64
from decimal import Decimal

import pytest
from sqlalchemy import select

from optihub.db.models import Prescription, PrescriptionEye, PrescriptionFile
from optihub.surfaces.kit.responses import parse_xml
from tests.api.portal._support import PDF, PDF_B64, invalid
from tests.api.portal.conftest import table_counts


def glasses(**members) -> dict:
    return {
        "externalId": "G1",
        "patientExternalId": "P1",
        "rightEyePrescriptionDetails": "-2.00 -0.50 x 180 add +2.00",
        "prescribedDate": "2026-01-05T00:00:00+00:00",
        **members,
    }


def eyes(db, external_id: str = "G1") -> tuple[Prescription, dict[str, PrescriptionEye]]:
    with db.read_sessions() as reader:
        from optihub.db.models import PortalRecord

        record_id = reader.scalar(
            select(PortalRecord.record_id).where(PortalRecord.external_id == external_id)
        )
        prescription = reader.get(Prescription, record_id)
        found = reader.scalars(
            select(PrescriptionEye).where(PrescriptionEye.prescription_id == record_id)
        ).all()
        return prescription, {eye.side: eye for eye in found}


def test_text_is_parsed_into_the_eyes_and_kept_as_sent(basics, post, get, db) -> None:
    sent = glasses(leftEyePrescriptionDetails="+1.25 DS", rightEyeComments="Anti-glare")
    response = post("GlassesPrescriptions", sent)
    assert response.status_code == 200, response.text
    assert "X-Rx-Text-Not-Read" not in response.headers
    prescription, found = eyes(db)
    assert prescription.kind == "spectacle"
    assert prescription.issued_on.isoformat() == "2026-01-05"
    right, left = found["right"], found["left"]
    assert (right.sphere, right.cylinder, right.axis, right.add) == (
        Decimal("-2.00"),
        Decimal("-0.50"),
        180,
        Decimal("2.00"),
    )
    assert (left.sphere, left.cylinder, left.axis) == (Decimal("1.25"), None, None)
    assert prescription.notes == "Right eye: Anti-glare"
    shown = get("GlassesPrescriptions", "G1").json()
    assert shown["rightEyePrescriptionDetails"] == "-2.00 -0.50 x 180 add +2.00"
    assert shown["leftEyePrescriptionDetails"] == "+1.25 DS"
    assert shown["fileContent"] is None


@pytest.mark.parametrize(
    ("text", "problem"), [("see attached", None), ("-45.00 DS", None), ("-2.00 -0.50", None)]
)
def test_unreadable_text_is_kept_and_said(text, problem, basics, post, get, db) -> None:
    response = post("GlassesPrescriptions", glasses(leftEyePrescriptionDetails=text))
    assert response.status_code == 200, response.text
    assert response.headers["X-Rx-Text-Not-Read"] == "left"
    prescription, found = eyes(db)
    assert set(found) == {"right"}
    assert prescription.notes is not None
    assert "Left eye not read as an Rx" in prescription.notes
    assert text in prescription.notes
    assert get("GlassesPrescriptions", "G1").json()["leftEyePrescriptionDetails"] == text


def test_both_eyes_unreadable(basics, post, db) -> None:
    response = post(
        "GlassesPrescriptions",
        glasses(rightEyePrescriptionDetails="balance", leftEyePrescriptionDetails="see attached"),
    )
    assert response.status_code == 200
    assert response.headers["X-Rx-Text-Not-Read"] == "right, left"
    assert eyes(db)[1] == {}


def test_comments_alone_are_an_eye_s_data(basics, post) -> None:
    response = post(
        "GlassesPrescriptions",
        {"externalId": "G2", "patientExternalId": "P1", "leftEyeComments": "Refer out"},
    )
    assert response.status_code == 200, response.text


def test_an_expiration_before_the_prescribed_date(basics, post, db) -> None:
    counts = table_counts(db)
    response = post(
        "GlassesPrescriptions", glasses(rightEyeExpirationDate="2025-01-01T00:00:00+00:00")
    )
    invalid(response, "model.RightEyeExpirationDate")
    assert table_counts(db) == counts


def test_the_pdf_is_stored_and_served_back_byte_for_byte(basics, post, get, db) -> None:
    response = post("GlassesPrescriptions", glasses(fileName="rx.pdf", fileContent=PDF_B64))
    assert response.status_code == 200, response.text
    identifier = response.json()["id"]
    with db.read_sessions() as reader:
        stored = reader.scalar(select(PrescriptionFile))
    assert str(stored.prescription_id) == identifier
    assert stored.file_name == "rx.pdf"
    assert stored.content == PDF
    assert stored.size == len(PDF)
    shown = get("GlassesPrescriptions", "G1").json()
    assert shown["fileName"] == "rx.pdf"
    assert base64.b64decode(shown["fileContent"]) == PDF
    xml = get("GlassesPrescriptions", "G1", headers={"Accept": "application/xml"})
    assert xml.status_code == 200
    root = parse_xml(xml.content)
    content = [el for el in root if el.tag.endswith("}FileContent")]
    assert base64.b64decode(content[0].text) == PDF

    # Sent again leaving FileContent out: the stored PDF stays.
    counts = table_counts(db)
    again = post("GlassesPrescriptions", glasses(fileName="rx.pdf", fileContent=PDF_B64))
    assert again.headers["X-Portal-Change"] == "unchanged"
    assert table_counts(db) == counts
    kept = post("GlassesPrescriptions", glasses(fileName="rx.pdf"))
    assert kept.status_code == 200, kept.text
    assert base64.b64decode(kept.json()["fileContent"]) == PDF
    # An explicit null removes it.
    removed = post("GlassesPrescriptions", glasses(fileContent=None))
    assert removed.headers["X-Portal-Change"] == "updated"
    with db.read_sessions() as reader:
        assert reader.scalar(select(PrescriptionFile)) is None
    assert removed.json()["fileContent"] is None
    assert get("GlassesPrescriptions", "G1").json()["fileContent"] is None


@pytest.mark.parametrize(
    "content", [b"GIF89a not a pdf", b"", b" %PDF-1.4 leading space", b"<html>%PDF-</html>"]
)
def test_a_file_that_is_not_a_pdf(content, basics, post, db) -> None:
    counts = table_counts(db)
    response = post(
        "GlassesPrescriptions",
        glasses(fileName="rx.pdf", fileContent=base64.b64encode(content).decode()),
    )
    invalid(response, "model.FileContent")
    assert table_counts(db) == counts


def test_a_file_needs_its_name(basics, post, db) -> None:
    counts = table_counts(db)
    response = post("GlassesPrescriptions", glasses(fileContent=PDF_B64))
    invalid(response, "model.FileName")
    assert table_counts(db) == counts


def test_content_that_is_not_base64(basics, post, db) -> None:
    counts = table_counts(db)
    response = post("GlassesPrescriptions", glasses(fileName="rx.pdf", fileContent="%%%not b64"))
    invalid(response, "model.FileContent")
    assert table_counts(db) == counts


def test_contact_lens_text_and_brand(basics, post, get, db) -> None:
    sent = {
        "externalId": "C1",
        "patientExternalId": "P1",
        "lensNameRightEye": "Acuvue Oasys",
        "prescriptionRightEye": "-2.00 BC 8.6 DIA 14.2",
        "lensNameLeftEye": "Biofinity",
        "prescriptionLeftEye": "see chart",
        "fileName": "cl.pdf",
        "fileContent": PDF_B64,
    }
    response = post("ContactLensPrescriptions", sent)
    assert response.status_code == 200, response.text
    assert response.headers["X-Rx-Text-Not-Read"] == "left"
    prescription, found = eyes(db, "C1")
    assert prescription.kind == "contact_lens"
    right, left = found["right"], found["left"]
    assert (right.sphere, right.base_curve, right.diameter, right.brand) == (
        Decimal("-2.00"),
        Decimal("8.60"),
        Decimal("14.20"),
        "Acuvue Oasys",
    )
    assert (left.sphere, left.brand) == (None, "Biofinity")
    assert "Left eye not read as an Rx" in prescription.notes
    shown = get("ContactLensPrescriptions", "C1").json()
    assert shown["prescriptionRightEye"] == "-2.00 BC 8.6 DIA 14.2"
    assert base64.b64decode(shown["fileContent"]) == PDF


def test_contact_lens_non_pdf_file(basics, post, db) -> None:
    counts = table_counts(db)
    response = post(
        "ContactLensPrescriptions",
        {
            "externalId": "C1",
            "patientExternalId": "P1",
            "fileName": "x.png",
            "fileContent": base64.b64encode(b"\x89PNG\r\n").decode(),
        },
    )
    invalid(response, "model.FileContent")
    assert table_counts(db) == counts


def test_deleting_a_prescription_deletes_its_file(basics, post, client, sync, db) -> None:
    assert (
        post("GlassesPrescriptions", glasses(fileName="a.pdf", fileContent=PDF_B64)).status_code
        == 200
    )
    response = client.delete(
        "/api/GlassesPrescriptions", params={"externalId": "G1"}, headers=sync.headers
    )
    assert response.status_code == 200
    with db.read_sessions() as reader:
        assert reader.scalar(select(PrescriptionFile)) is None
        assert reader.scalar(select(Prescription)) is None
