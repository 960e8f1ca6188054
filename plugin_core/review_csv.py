"""Reviews in and out as files: CSV import (a merchant's reviews from another app or a
spreadsheet), CSV and JSON export.

Import columns (header row required, any order; docs/reviews.md "Import and export"):
    product_id  required, the platform's product id (at most 64 characters)
    rating      required, a whole number from 1 to 5
    title       optional (200)
    body        required (5000)
    author      optional, the name shown (100)
    created_at  required, ISO 8601 with its zone (2025-03-01T12:00:00+01:00 or ...Z), not in
                the future
    verified    true or false (empty: false): the author bought the product
    order_id    optional (64)
    reply       optional, the merchant's public reply (5000)
    locale      optional, e.g. fr or en-GB
    status      optional: published (empty), pending (awaits moderation) or rejected

Every row is checked before anything is written: one bad row rejects the whole file, naming
each bad row (row 1 is the header, as a spreadsheet shows it) and field; nothing is imported
from a rejected file. Imported reviews are published ("import" source, sync_status "pending":
the publication job carries them to the platform), whatever their rating. A row identical to a
review the store already has (product, time, rating and text) is skipped, so importing a file
twice imports it once. UTF-8 (with or without a BOM); comma or semicolon separated (a French
spreadsheet saves with semicolons).

Exports hold every column above plus id, status, source, incentive, sync_status and
external_id; never an email address (reviews hold none; a request's address stays with the
request). An export imports back: its `status` is kept (a review rejected as spam stays
rejected, one awaiting moderation keeps waiting; empty means published), its other extra
columns are ignored. In CSV, a text cell starting
with = + - @ or a tab gets a leading apostrophe so that a spreadsheet shows it as text instead
of running it as a formula (CSV injection); import removes that apostrophe again.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from parcours import tables as t
from parcours.db import chunks
from parcours.errors import ValidationError
from parcours.reviews import LIMITS, STATUSES, ReviewInput

__all__ = [
    "EXPORT_COLUMNS",
    "IMPORT_COLUMNS",
    "ImportResult",
    "export_csv",
    "export_json",
    "export_rows",
    "import_reviews",
    "parse_csv",
]

IMPORT_COLUMNS = ("product_id", "rating", "title", "body", "author", "created_at", "verified",
                  "order_id", "reply", "locale")
EXPORT_COLUMNS = ("id", *IMPORT_COLUMNS, "status", "source", "incentive", "sync_status",
                  "external_id")
REQUIRED = ("product_id", "rating", "body", "created_at")
TEXTS = ("title", "body", "author", "reply")
MAX_ROWS = 50_000
MAX_REPORTED = 100  # rows named in a rejection; the message gives the total
CLOCK_SKEW = timedelta(minutes=5)
_LOCALE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ImportResult:
    imported: int
    skipped: int  # already in the store (or repeated in the file)


def _reader(text: str) -> Any:
    header = text.split("\n", 1)[0]
    delimiter = ";" if header.count(";") > header.count(",") else ","
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)


def _text(value: str) -> str:
    """A cell as written, without the apostrophe an export put before a formula character."""
    return value[1:] if value[:1] == "'" and value[1:2] and value[1:2] in _FORMULA else value


def _row(cells: dict[str, str], now: datetime) -> tuple[ReviewInput | None, dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}
    for name in REQUIRED:
        if not cells.get(name, "").strip():
            errors[name] = ["required"]
    rating = cells.get("rating", "").strip()
    if rating and not (rating.isdigit() and 1 <= int(rating) <= 5):
        errors["rating"] = ["a whole number of stars from 1 to 5"]
    created_at = None
    if cells.get("created_at", "").strip():
        try:
            created_at = datetime.fromisoformat(cells["created_at"].strip())
        except ValueError:
            errors["created_at"] = ["an ISO 8601 time, e.g. 2025-03-01T12:00:00+01:00"]
        else:
            if created_at.tzinfo is None:
                errors["created_at"] = ["a time with its zone, e.g. 2025-03-01T12:00:00Z"]
            elif created_at > now + CLOCK_SKEW:
                errors["created_at"] = ["in the future"]
    verified = cells.get("verified", "").strip().lower()
    if verified not in ("", "true", "false"):
        errors["verified"] = ["true or false"]
    status = cells.get("status", "").strip() or "published"
    if status not in STATUSES:
        errors["status"] = [f"one of {', '.join(STATUSES)}, or empty (published)"]
    locale = cells.get("locale", "").strip()
    if locale and (len(locale) > LIMITS["locale"] or not _LOCALE.match(locale)):
        errors["locale"] = ["a language tag such as fr or en-GB"]
    for name in ("product_id", "order_id", *TEXTS):
        value = cells.get(name, "")
        if len(value.strip()) > LIMITS[name]:
            errors[name] = [f"at most {LIMITS[name]} characters"]
    if errors or created_at is None:
        return None, errors

    def optional(name: str) -> str | None:
        value = cells.get(name, "")
        return (_text(value) if name in TEXTS else value).strip() or None

    review = ReviewInput(
        product_id=cells["product_id"].strip(), rating=int(rating),
        body=_text(cells["body"]).strip(), created_at=created_at.astimezone(UTC),
        title=optional("title"), author=optional("author"), locale=locale or None,
        order_id=optional("order_id"), verified=verified == "true", status=status,
        reply=optional("reply"), source="import")
    try:
        review.check()
    except ValidationError as exc:
        return None, {key: list(value) for key, value in exc.errors.items()}
    return review, {}


def parse_csv(data: bytes | str, *, name: str = "file", now: datetime | None = None
              ) -> list[ReviewInput]:
    """Every review of a CSV file, all checked; ValidationError naming each bad row and field
    (and nothing parsed is usable) when any row is bad."""
    moment = now or datetime.now(UTC)
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValidationError(f"{name} is not UTF-8 text", {"file": [str(exc)]}) from None
    data = data.removeprefix("\ufeff")
    try:
        records = list(_reader(data))
    except csv.Error as exc:
        raise ValidationError(f"{name} is not valid CSV", {"file": [str(exc)]}) from None
    if not records or not any(cell.strip() for cell in records[0]):
        raise ValidationError(f"{name} has no header row",
                              {"header": [f"the columns: {', '.join(IMPORT_COLUMNS)}"]})
    header = [cell.strip().lower() for cell in records[0]]
    unknown = [c for c in header if c not in EXPORT_COLUMNS]
    problems: dict[str, list[str]] = {}
    if unknown:
        problems["unknown"] = [f"unknown column(s) {', '.join(map(repr, unknown))}; the "
                               f"columns are {', '.join(IMPORT_COLUMNS)}"]
    if len(set(header)) != len(header):
        problems["duplicate"] = ["a column is named twice"]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        problems["missing"] = [f"required column(s) {', '.join(missing)}"]
    if problems:
        raise ValidationError(f"{name}: bad header row, nothing imported", {"header": problems})
    body = [(number, cells) for number, cells in enumerate(records[1:], start=2)
            if any(cell.strip() for cell in cells)]
    if len(body) > MAX_ROWS:
        raise ValidationError(f"{name}: too many rows", {
            "file": [f"{len(body)} reviews, at most {MAX_ROWS} per file"]})
    reviews: list[ReviewInput] = []
    errors: dict[str, Any] = {}
    bad = 0
    for number, cells in body:
        if len(cells) != len(header):
            found: tuple[ReviewInput | None, dict[str, list[str]]] = (None, {"columns": [
                f"{len(cells)} cells where the header has {len(header)}"]})
        else:
            found = _row(dict(zip(header, cells, strict=True)), moment)
        review, row_errors = found
        if row_errors:
            bad += 1
            if len(errors) < MAX_REPORTED:
                errors[f"row {number}"] = row_errors
        elif review is not None:
            reviews.append(review)
    if bad:
        more = f" (the first {MAX_REPORTED} are named)" if bad > MAX_REPORTED else ""
        raise ValidationError(f"{name}: {bad} bad row(s){more}, nothing imported", errors)
    return reviews


def _key(product_id: str, created_at: datetime, rating: int, body: str) -> tuple[Any, ...]:
    return product_id, created_at.astimezone(UTC), rating, body


def import_reviews(conn: Connection, store_id: int, reviews: Sequence[ReviewInput]
                   ) -> ImportResult:
    """Write checked reviews (`parse_csv`) in the caller's transaction, skipping those the
    store already has; all published and queued for publication to the platform."""
    r = t.reviews.c
    seen: set[tuple[Any, ...]] = set()
    for part in chunks(sorted({review.product_id for review in reviews})):
        seen.update(_key(*row) for row in conn.execute(select(
            r.product_id, r.created_at, r.rating, r.body).where(
            r.store_id == store_id, r.product_id.in_(part))))
    rows = []
    for review in reviews:
        key = _key(review.product_id, review.created_at, review.rating, review.body)
        if key in seen:
            continue
        seen.add(key)
        rows.append({**{name: getattr(review, name)
                        for name in ReviewInput.__dataclass_fields__},
                     "store_id": store_id, "sync_attempts": 0,
                     "sync_status": "pending" if review.status == "published" else None})
    for part in chunks(rows, 500):
        conn.execute(t.reviews.insert(), list(part))
    return ImportResult(imported=len(rows), skipped=len(reviews) - len(rows))


def export_rows(conn: Connection, store_id: int) -> list[dict[str, Any]]:
    """Every review of the store, oldest first, with the export columns (JSON types)."""
    r = t.reviews.c
    rows = conn.execute(select(*(r[name] for name in EXPORT_COLUMNS)).where(
        r.store_id == store_id).order_by(r.created_at, r.id))
    out = []
    for row in rows:
        item = dict(row._mapping)
        item["created_at"] = row.created_at.isoformat()
        out.append(item)
    return out


def _cell(name: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if name in TEXTS and text[:1] in _FORMULA:
        return "'" + text
    return text


def export_csv(rows: Iterable[dict[str, Any]]) -> str:
    """The rows as CSV (comma separated, quoted where needed, CRLF line ends as RFC 4180)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for row in rows:
        writer.writerow([_cell(name, row.get(name)) for name in EXPORT_COLUMNS])
    return out.getvalue()


def export_json(rows: Iterable[dict[str, Any]]) -> str:
    return json.dumps({"reviews": list(rows)}, ensure_ascii=False, indent=2)
