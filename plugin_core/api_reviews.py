"""JSON API v1, reviews: a store's reviews, moderation, replies, KPIs, review settings,
postponed requests and exports. Routes on `api_v1`, so the same API-key authentication and the
same tenant rule apply: another account's store is a 404, like one that does not exist.

Every input is loaded by a marshmallow schema (unknown keys refused); a bad one is answered
422 with `error.fields` naming each bad field, as the rest of the API does, and changes
nothing. No answer holds a shopper's email address.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Response, current_app, jsonify, request
from marshmallow import Schema, fields, validate, validates_schema
from marshmallow import ValidationError as SchemaError

from parcours.api import _db, _store, api_v1
from parcours.errors import ValidationError
from parcours.review_admin import save_settings
from parcours.review_csv import export_csv, export_json, export_rows
from parcours.review_reports import ReviewPeriod, review_report
from parcours.review_requests import postpone, review_settings
from parcours.reviews import (
    MAX_LIST_PAGE,
    REJECTION_REASONS,
    STATUSES,
    list_reviews,
    moderate,
    reply,
)

__all__ = ["ListSchema", "ModerationSchema", "PostponeSchema", "ReplySchema"]


def _load(schema: Schema, data: Any, what: str) -> dict[str, Any]:
    try:
        return dict(schema.load(data))
    except SchemaError as exc:
        raise ValidationError(f"invalid {what}", exc.normalized_messages()) from None


def _json_body() -> Any:
    body = request.get_json(silent=True)
    if body is None:
        raise ValidationError("the body is not a JSON object", {"body": ["a JSON object"]})
    return body


def _wake_publication() -> None:
    wake = current_app.extensions.get("parcours.reviews.publish")
    if wake is not None:
        wake()


class ListSchema(Schema):
    product = fields.Str(load_default=None, validate=validate.Length(1, 64))
    status = fields.Str(load_default=None, validate=validate.OneOf(STATUSES))
    rating = fields.Int(load_default=None, validate=validate.Range(1, 5))
    page = fields.Int(load_default=1, validate=validate.Range(1, 100_000))
    per_page = fields.Int(load_default=20, validate=validate.Range(1, MAX_LIST_PAGE))


@api_v1.get("/stores/<store>/reviews")
def reviews_list(store: str) -> Any:
    """A page of the store's reviews, every status, newest first (?product&status&rating)."""
    ref = _store(store)
    query = _load(ListSchema(), request.args, "query")
    with _db().read() as conn:
        return jsonify(list_reviews(conn, ref.id, product_id=query["product"],
                                    status=query["status"], rating=query["rating"],
                                    page=query["page"], per_page=query["per_page"]))


class ModerationSchema(Schema):
    status = fields.Str(required=True, validate=validate.OneOf(("published", "rejected")))
    reason = fields.Str(load_default=None, allow_none=True,
                        validate=validate.OneOf(REJECTION_REASONS))


@api_v1.post("/stores/<store>/reviews/<int:review_id>/moderation")
def reviews_moderate(store: str, review_id: int) -> Any:
    """Publish a review, or reject it for spam or abuse (never for its rating)."""
    ref = _store(store)
    body = _load(ModerationSchema(), _json_body(), "moderation")
    with _db().write() as conn:
        review = moderate(conn, ref.id, review_id, body["status"], body["reason"])
    _wake_publication()
    return jsonify(review)


class ReplySchema(Schema):
    text = fields.Str(required=True, allow_none=True, validate=validate.Length(1, 5000))


@api_v1.post("/stores/<store>/reviews/<int:review_id>/reply")
def reviews_reply(store: str, review_id: int) -> Any:
    """Set the store's public reply to a review (`{"text": null}` removes it)."""
    ref = _store(store)
    body = _load(ReplySchema(), _json_body(), "reply")
    with _db().write() as conn:
        review = reply(conn, ref.id, review_id, body["text"])
    _wake_publication()
    return jsonify(review)


class KpisSchema(Schema):
    since = fields.Date(load_default=None)
    until = fields.Date(load_default=None)
    product = fields.Str(load_default=None, validate=validate.Length(1, 64))


@api_v1.get("/stores/<store>/reviews/kpis")
def reviews_kpis(store: str) -> Any:
    """Review KPIs: totals, per month and per product (docs/reviews.md, "KPIs")."""
    ref = _store(store)
    query = _load(KpisSchema(), request.args, "query")
    period = ReviewPeriod.of(query["since"], query["until"])
    with _db().read() as conn:
        return jsonify({"store": store, **review_report(conn, ref.id, period,
                                                         query["product"])})


@api_v1.get("/stores/<store>/reviews/settings")
def reviews_settings_get(store: str) -> Any:
    """The store's review settings, defaults filled in."""
    ref = _store(store)
    with _db().read() as conn:
        return jsonify(settings=review_settings(conn, ref.id).to_dict())


@api_v1.put("/stores/<store>/reviews/settings")
def reviews_settings_put(store: str) -> Any:
    """Replace the store's review settings (keys left out follow the defaults), validated
    whole; the store's open requests are retimed."""
    ref = _store(store)
    body = _json_body()
    if not isinstance(body, dict):
        raise ValidationError("invalid review settings", {"_schema": ["a JSON object"]})
    with _db().write() as conn:
        changed, retimed = save_settings(conn, ref.id, body, datetime.now(UTC))
        settings = review_settings(conn, ref.id).to_dict()
    return jsonify(settings=settings, changed=changed, retimed=retimed)


class PostponeSchema(Schema):
    days = fields.Int(load_default=None, validate=validate.Range(1, 365))
    until = fields.AwareDateTime(load_default=None)

    @validates_schema
    def _one(self, data: dict[str, Any], **_: Any) -> None:
        if (data.get("days") is None) == (data.get("until") is None):
            raise SchemaError("give either days or until", "days")


@api_v1.post("/stores/<store>/review-requests/<order_id>/postpone")
def review_request_postpone(store: str, order_id: str) -> Any:
    """Delay an order's review request (`{"days": 7}` or `{"until": "<ISO time>"}`)."""
    ref = _store(store)
    body = _load(PostponeSchema(), _json_body(), "postponement")
    now = datetime.now(UTC)
    until = body["until"] or now + timedelta(days=body["days"])
    with _db().write() as conn:
        due = postpone(conn, ref.id, order_id, until, now)
    return jsonify(order_id=order_id, due_at=due.isoformat())


class ExportSchema(Schema):
    format = fields.Str(load_default="csv", validate=validate.OneOf(("csv", "json")))


@api_v1.get("/stores/<store>/reviews/export")
def reviews_export(store: str) -> Any:
    """Every review of the store as a CSV or JSON file (no email address)."""
    ref = _store(store)
    fmt = _load(ExportSchema(), request.args, "query")["format"]
    with _db().read() as conn:
        rows = export_rows(conn, ref.id)
    if fmt == "json":
        body, mimetype = export_json(rows), "application/json"
    else:
        body, mimetype = export_csv(rows), "text/csv"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{store}-reviews.{fmt}"')
    return response
