"""Photos shoppers attach to their reviews: checked, cleaned, re-encoded, stored, served.

A photo from a phone carries where and when it was taken (EXIF GPS), the camera, sometimes the
owner's name: none of it may reach a public page. So nothing of the upload is kept: it is
decoded (only JPEG, PNG or WebP, recognised by its content, whatever its name or declared type
say), turned upright from its EXIF orientation, converted to sRGB, scaled to at most
LONGEST_SIDE pixels, and re-encoded as a fresh JPEG that has no metadata at all.

Uploads are bounded before they are decoded: MAX_BYTES of file, MAX_PIXELS of picture (a small
file can declare a huge picture, a "decompression bomb", to exhaust the server's memory).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from io import BytesIO
from typing import IO

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError
from sqlalchemy import Connection, select

from parcours import tables as t
from parcours.db import chunks
from parcours.errors import ValidationError

__all__ = ["FORMATS", "LONGEST_SIDE", "MAX_BYTES", "MAX_PIXELS", "Photo", "PhotoRefused",
           "photo_ids", "photo_path", "prepare_photo", "published_photo", "read_upload",
           "store_photo"]

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 50_000_000  # above the 48-50 MP of today's phone cameras
LONGEST_SIDE = 1600
QUALITY = 85
FORMATS = ("JPEG", "PNG", "WEBP")
CONTENT_TYPE = "image/jpeg"


@cache
def _srgb() -> ImageCms.ImageCmsProfile:
    """Built on the first photo with a colour profile, not when the app imports this."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


class PhotoRefused(ValidationError):
    """An upload that is not a photo we take; `reason` is one of too_big, not_image, pixels
    (the form words it in the shopper's language)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, {"photo": [message]})
        self.reason = reason


@dataclass(frozen=True)
class Photo:
    """A cleaned photo, ready to store: JPEG bytes without metadata."""

    data: bytes
    width: int
    height: int
    content_type: str = CONTENT_TYPE


def read_upload(stream: IO[bytes]) -> bytes:
    """The uploaded file's bytes; PhotoRefused past MAX_BYTES, found without reading more than
    one byte over it (the declared size of a multipart part cannot be trusted)."""
    data = stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise PhotoRefused("too_big", f"a photo may weigh at most {MAX_BYTES // 2**20} MB")
    return data


def prepare_photo(data: bytes) -> Photo:
    """The upload as a clean JPEG; PhotoRefused when it is too big, not a JPEG, PNG or WebP
    picture, has too many pixels, or cannot be decoded."""
    if len(data) > MAX_BYTES:
        raise PhotoRefused("too_big", f"a photo may weigh at most {MAX_BYTES // 2**20} MB")
    try:
        image = Image.open(BytesIO(data), formats=FORMATS)
    except Image.DecompressionBombError:
        raise PhotoRefused("pixels", "the picture has too many pixels") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise PhotoRefused("not_image", "the file is not a JPEG, PNG or WebP picture") from None
    with image:
        if image.width * image.height > MAX_PIXELS:  # before any pixel is decoded
            raise PhotoRefused("pixels", f"the picture has over {MAX_PIXELS} pixels")
        try:
            return _clean(image)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            # Truncated or corrupt data only shows once the pixels are decoded.
            raise PhotoRefused("not_image", "the picture cannot be decoded") from None


def _clean(image: Image.Image) -> Photo:
    if image.format in ("JPEG", "MPO"):  # MPO: a phone's JPEG with extra pictures
        # Decode a JPEG at the smallest scale that still covers LONGEST_SIDE both ways: a 48 MP
        # photo then needs a quarter of the memory and time.
        image.draft("RGB", (LONGEST_SIDE, LONGEST_SIDE))
    icc = image.info.get("icc_profile")
    upright = ImageOps.exif_transpose(image)
    if upright.mode in ("RGBA", "LA", "PA") or (
            upright.mode == "P" and "transparency" in upright.info):
        rgba = upright.convert("RGBA")  # transparent areas become white, not black
        upright = Image.new("RGB", rgba.size, "white")
        upright.paste(rgba, mask=rgba.getchannel("A"))
    if icc and upright.mode in ("RGB", "CMYK", "L"):
        try:
            source = ImageCms.ImageCmsProfile(BytesIO(icc))
            converted = ImageCms.profileToProfile(upright, source, _srgb(), outputMode="RGB")
            if converted is not None:
                upright = converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: the colours are taken as they are
    rgb = upright.convert("RGB")
    rgb.thumbnail((LONGEST_SIDE, LONGEST_SIDE), Image.Resampling.LANCZOS, reducing_gap=3.0)
    # A new image has an empty `info`: nothing of the upload (EXIF, XMP, ICC, comments) can be
    # written with it, whatever the encoder copies from `info`.
    fresh = Image.new("RGB", rgb.size)
    fresh.paste(rgb)
    out = BytesIO()
    fresh.save(out, "JPEG", quality=QUALITY, optimize=True, progressive=True)
    return Photo(out.getvalue(), fresh.width, fresh.height)


def store_photo(conn: Connection, store_id: int, review_id: int, photo: Photo,
                now: datetime) -> int:
    return int(conn.execute(t.review_photos.insert().values(
        review_id=review_id, store_id=store_id, content_type=photo.content_type,
        data=photo.data, width=photo.width, height=photo.height, created_at=now)
        .returning(t.review_photos.c.id)).scalar_one())


def published_photo(conn: Connection, photo_id: int) -> bytes | None:
    """A photo's JPEG when its review is published (a rejected or pending review's photo is
    not public); None otherwise."""
    p, r = t.review_photos.c, t.reviews.c
    return conn.execute(select(p.data).join_from(t.review_photos, t.reviews, r.id == p.review_id)
                        .where(p.id == photo_id, r.status == "published",
                               r.store_id == p.store_id)).scalar()


def photo_path(photo_id: int) -> str:
    """Where a published photo is served, on Parcours' origin (review_form.photo)."""
    return f"/r/photos/{photo_id}.jpg"


def photo_ids(conn: Connection, review_ids: Iterable[int]) -> dict[int, list[int]]:
    """The photos of each review (those with any), oldest first: what a storefront or a
    platform publisher links to as /r/photos/<id>.jpg."""
    found: dict[int, list[int]] = {}
    p = t.review_photos.c
    for part in chunks(list(review_ids)):
        for row in conn.execute(select(p.review_id, p.id).where(p.review_id.in_(part))
                                .order_by(p.id)):
            found.setdefault(row.review_id, []).append(row.id)
    return found
