"""Checks on uploaded evidence: size, and type by content, not by name."""

import hashlib
from typing import IO

import filetype
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

ALLOWED_TYPES = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "application/pdf": "pdf",
}


def evidence_check(upload: UploadedFile) -> tuple[str, str]:
    """Return (content type, sha256) of an acceptable file or raise ValidationError."""
    limit = settings.EVIDENCE_MAX_BYTES
    name = upload.name or "file"
    if upload.size is None or upload.size > limit:
        raise ValidationError(
            _("“%(name)s” is %(size)s; files can be at most %(limit)s."),
            params={"name": name, "size": filesizeformat(upload.size or 0), "limit": filesizeformat(limit)},
            code="too_large",
        )
    upload.seek(0)
    head = upload.read(8192)
    kind = filetype.guess(head)
    content_type = kind.mime if kind else ""
    if content_type not in ALLOWED_TYPES:
        raise ValidationError(
            _("“%(name)s” is not an image (PNG, JPEG, GIF, WebP) or a PDF. Its content was checked, not its name."),
            params={"name": name},
            code="bad_type",
        )
    upload.seek(0)
    if content_type.startswith("image/"):
        _verify_image(upload, name)
    upload.seek(0)
    digest = _sha256(upload)
    upload.seek(0)
    return content_type, digest


def _verify_image(stream: IO[bytes], name: str) -> None:
    try:
        with Image.open(stream) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ValidationError(
            _("“%(name)s” could not be read as an image."), params={"name": name}, code="bad_image"
        ) from exc


def _sha256(stream: IO[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: stream.read(65536), b""):
        digest.update(chunk)
    return digest.hexdigest()
