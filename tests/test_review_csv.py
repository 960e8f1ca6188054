"""CSV import and CSV/JSON export of reviews, on SQLite and PostgreSQL: a bad row rejects the
whole file naming row and field, text stays text, exports never hold an email address."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from parcours import tables as t
from parcours.accounts import create_store
from parcours.db import Database
from parcours.errors import ValidationError
from parcours.review_csv import (
    EXPORT_COLUMNS,
    export_csv,
    export_json,
    export_rows,
    import_reviews,
    parse_csv,
)
from parcours.reviews import ReviewInput, add_review

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
HEADER = "product_id,rating,title,body,author,created_at,verified,order_id,reply,locale\n"
GOOD = (HEADER
        + '42,5,Super,"Très bien, <b>vraiment</b>",Ann,2025-03-01T12:00:00+01:00,true,1001,'
          'Merci !,fr\n'
        + '42,1,,"Broke after a day.\nSecond line.",,2025-03-02T08:00:00Z,false,,,en-GB\n'
        + "43,3,,=1+1,Bob,2025-03-03T08:00:00Z,,,,\n")


def _count(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(t.reviews)).scalar_one())


@pytest.fixture
def store_id(db: Database) -> int:
    with db.write() as conn:
        return create_store(conn, "shop", account="acme").id


def test_a_good_file_is_imported_published_and_queued(db: Database, store_id: int) -> None:
    reviews = parse_csv(GOOD.encode("utf-8-sig"), now=NOW)  # with a BOM, as Excel saves
    with db.write() as conn:
        result = import_reviews(conn, store_id, reviews)
    assert (result.imported, result.skipped) == (3, 0)
    with db.read() as conn:
        rows = conn.execute(select(t.reviews).order_by(t.reviews.c.created_at)).all()
    first, second, third = rows
    assert (first.product_id, first.rating, first.title, first.author, first.verified,
            first.order_id, first.reply, first.locale) == ("42", 5, "Super", "Ann", True,
                                                           "1001", "Merci !", "fr")
    assert first.body == "Très bien, <b>vraiment</b>"  # text, never converted
    assert first.created_at == datetime(2025, 3, 1, 11, 0, tzinfo=UTC)
    assert second.body == "Broke after a day.\nSecond line." and second.verified is False
    assert third.body == "=1+1" and third.locale is None
    assert {(row.status, row.source, row.sync_status) for row in rows} == {
        ("published", "import", "pending")}
    with db.write() as conn:  # the same file again: nothing new
        again = import_reviews(conn, store_id, parse_csv(GOOD, now=NOW))
    assert (again.imported, again.skipped) == (0, 3)
    assert _count(db) == 3


def test_semicolons_as_a_french_spreadsheet_saves() -> None:
    text = ("product_id;rating;body;created_at\n"
            '42;4;"Bien; vraiment";2025-03-01T12:00:00+01:00\n')
    [review] = parse_csv(text, now=NOW)
    assert (review.product_id, review.rating, review.body) == ("42", 4, "Bien; vraiment")


def test_a_bad_row_rejects_the_whole_file_naming_row_and_field(db: Database,
                                                               store_id: int) -> None:
    text = (HEADER
            + "42,5,,Fine,,2025-03-01T12:00:00Z,true,,,\n"  # row 2: good
            + "42,6,,Too many stars,,2025-03-01T12:00:00Z,yes,,,\n"  # row 3
            + "42,4,,No zone,,2025-03-01T12:00:00,false,,,\n"  # row 4
            + "42,4,,,,2025-03-01T12:00:00Z,false,,,\n"  # row 5: no body
            + "42,4,,Future,,2027-01-01T00:00:00Z,false,,,xx yy\n"  # row 6
            + "42,4\n")  # row 7
    with pytest.raises(ValidationError) as refused:
        parse_csv(text, name="reviews.csv", now=NOW)
    errors = refused.value.errors
    assert set(errors) == {"row 3", "row 4", "row 5", "row 6", "row 7"}
    assert set(errors["row 3"]) == {"rating", "verified"}
    assert "zone" in errors["row 4"]["created_at"][0]
    assert errors["row 5"] == {"body": ["required"]}
    assert set(errors["row 6"]) == {"created_at", "locale"}
    assert "columns" in errors["row 7"]
    message = str(refused.value)
    assert message.startswith("reviews.csv: 5 bad row(s), nothing imported")
    assert "row 3.rating" in message
    assert _count(db) == 0


def test_a_bad_header_is_refused() -> None:
    with pytest.raises(ValidationError) as unknown:
        parse_csv("product_id,rating,body,created_at,ratin\n", now=NOW)
    assert "'ratin'" in str(unknown.value)
    with pytest.raises(ValidationError) as missing:
        parse_csv("product_id,body\n42,x\n", now=NOW)
    assert "rating, created_at" in str(missing.value)
    with pytest.raises(ValidationError):
        parse_csv(b"", now=NOW)
    with pytest.raises(ValidationError) as latin:
        parse_csv("product_id,rating,body,created_at\n42,5,Tr\xe8s,2025-01-01Z\n".encode(
            "latin-1"), now=NOW)
    assert "UTF-8" in str(latin.value)


def test_exports_hold_every_column_and_never_an_email(db: Database, store_id: int) -> None:
    with db.write() as conn:
        request_id = int(conn.execute(t.review_requests.insert().values(
            store_id=store_id, order_id="1001", email="buyer@example.com", items=[],
            status="submitted", nonce="n" * 32, created_at=NOW, updated_at=NOW)
            .returning(t.review_requests.c.id)).scalar_one())
        add_review(conn, store_id, ReviewInput(
            product_id="42", rating=2, body="-5 stars, =HYPERLINK(\"x\")", title="@home",
            created_at=NOW, author="Ann", order_id="1001", request_id=request_id,
            source="request", verified=True, incentive="10% off"))
        add_review(conn, store_id, ReviewInput(
            product_id="43", rating=5, body="Spam", created_at=NOW, status="rejected"))
        rows = export_rows(conn, store_id)
    text = export_csv(rows)
    assert "buyer@example.com" not in text
    records = list(csv.DictReader(io.StringIO(text)))
    assert list(records[0]) == list(EXPORT_COLUMNS)
    first = records[0]
    assert (first["status"], first["source"], first["verified"], first["incentive"],
            first["order_id"]) == ("published", "request", "true", "10% off", "1001")
    # A spreadsheet would run these as formulas: the apostrophe keeps them text.
    assert (first["body"], first["title"]) == ("'-5 stars, =HYPERLINK(\"x\")", "'@home")
    assert records[1]["status"] == "rejected"
    data = json.loads(export_json(rows))
    assert "buyer@example.com" not in json.dumps(data)
    assert data["reviews"][0]["body"] == "-5 stars, =HYPERLINK(\"x\")"  # JSON is not escaped
    assert data["reviews"][0]["verified"] is True

    # An export imports back as it was (its extra columns are ignored, apostrophes removed).
    with db.write() as conn:
        other = create_store(conn, "other", account="acme").id
        result = import_reviews(conn, other, parse_csv(text, now=NOW))
        copied = export_rows(conn, other)
    assert result.imported == 2
    assert [(r["body"], r["title"], r["rating"], r["status"], r["sync_status"])
            for r in copied] == [("-5 stars, =HYPERLINK(\"x\")", "@home", 2, "published",
                                  "pending"), ("Spam", None, 5, "rejected", None)]
    assert {r["source"] for r in copied} == {"import"}
