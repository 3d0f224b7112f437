"""Evidence files: checked by size and by content, stored privately, served
only to moderators."""

import hashlib
import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from incidents.evidence import evidence_check
from incidents.services import report_submit

# The first bytes of a Windows executable.
EXE_BYTES = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 2048


def png_bytes(size: tuple[int, int] = (4, 4)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def pdf_bytes() -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
        b"trailer<</Root 1 0 R>>\n%%EOF\n"
    )


def test_it_accepts_a_png_and_names_its_type_by_content():
    upload = SimpleUploadedFile("screenshot.png", png_bytes(), content_type="application/octet-stream")

    content_type, digest = evidence_check(upload)

    assert content_type == "image/png"
    assert len(digest) == 64


def test_it_accepts_a_pdf():
    content_type, _digest = evidence_check(SimpleUploadedFile("letter.pdf", pdf_bytes()))

    assert content_type == "application/pdf"


def test_it_rejects_an_executable_renamed_png():
    upload = SimpleUploadedFile("evil.png", EXE_BYTES, content_type="image/png")

    with pytest.raises(ValidationError) as exc:
        evidence_check(upload)

    assert "Its content was checked, not its name." in exc.value.messages[0]


def test_it_rejects_a_file_that_starts_like_a_png_but_is_not_one():
    upload = SimpleUploadedFile("broken.png", png_bytes()[:16] + b"\x00" * 512)

    with pytest.raises(ValidationError) as exc:
        evidence_check(upload)

    assert "could not be read as an image" in exc.value.messages[0]


def test_it_rejects_oversized_upload(settings):
    settings.EVIDENCE_MAX_BYTES = 1024
    upload = SimpleUploadedFile("big.png", png_bytes((200, 200)) + b"\x00" * 2048)

    with pytest.raises(ValidationError) as exc:
        evidence_check(upload)

    assert "files can be at most 1.0\xa0KB" in exc.value.messages[0]


@pytest.fixture
def evidence(db):
    report = report_submit(
        title="A face-matching app named the wrong man",
        text="Screenshot attached.",
        evidence_files=[SimpleUploadedFile("screenshot.png", png_bytes())],
    )
    return report.evidence.get()


def test_submitted_evidence_is_stored_under_a_random_name_with_its_checksum(evidence):
    assert evidence.content_type == "image/png"
    assert evidence.original_name == "screenshot.png"
    assert evidence.file.name.endswith(".png")
    assert "screenshot" not in evidence.file.name
    assert evidence.sha256 == hashlib.sha256(png_bytes()).hexdigest()
    assert evidence.size == len(png_bytes())
    with evidence.file.open("rb") as stored:
        assert stored.read() == png_bytes()


def test_moderator_downloads_evidence_as_a_sandboxed_attachment(client, moderator, evidence):
    client.force_login(moderator)

    response = client.get(f"/moderation/evidence/{evidence.pk}/")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == png_bytes()
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in response["Content-Security-Policy"]


def test_anonymous_cannot_download_evidence(client, evidence):
    response = client.get(f"/moderation/evidence/{evidence.pk}/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("role", ["public_user", "auditor", "regulator", "staff"])
def test_only_moderators_download_evidence(client, request, role, evidence):
    client.force_login(request.getfixturevalue(role))

    response = client.get(f"/moderation/evidence/{evidence.pk}/")

    assert response.status_code == 403


def test_evidence_has_no_public_address(client, evidence):
    # Nothing serves MEDIA_ROOT: the file is reachable only through the checked view.
    response = client.get("/media/" + evidence.file.name)

    assert response.status_code == 404
