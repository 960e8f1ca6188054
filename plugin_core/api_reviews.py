"""JSON API v1, reviews: a store's reviews, moderation, replies, KPIs, review settings,
postponed requests and exports. Routes on `api_v1` declared with `api.route`, so the same
API-key authentication, tenant rule and OpenAPI description apply: another account's store is
a 404, like one that does not exist.

Every input is loaded by its schema in api_review_schemas.py (unknown keys refused); a bad one is
answered 422 with `error.fields` naming each bad field, as the rest of the API does, and changes
nothing. No answer holds a shopper's email address.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Response, current_app

from parcours.api import _db, _json_body, route
from parcours.api_review_schemas import (
    ModerationBody,
    PostponeBody,
    Postponed,
    ReplyBody,
    ReviewAnswer,
    ReviewExportFile,
    ReviewExportQuery,
    ReviewKpisQuery,
    ReviewKpisReport,
    ReviewListQuery,
    ReviewPage,
    ReviewSettingsBody,
    ReviewSettingsSaved,
    ReviewSettingsWrapped,
)
from parcours.errors import ValidationError
from parcours.recorder import StoreRef
from parcours.review_admin import save_settings
from parcours.review_csv import export_csv, export_json, export_rows
from parcours.review_reports import ReviewPeriod, review_report
from parcours.review_requests import postpone, review_settings
from parcours.reviews import moderate, reply, review_page


def _wake_publication() -> None:
    wake = current_app.extensions.get("parcours.reviews.publish")
    if wake is not None:
        wake()


@route("GET", "/stores/<store>/reviews", "reviews", query=ReviewListQuery, answer=ReviewPage)
def reviews_list(store: StoreRef, query: dict[str, Any]) -> Any:
    """The store's reviews, every status, newest first.

    Filter by product, status or rating; walk the pages with `next_cursor`."""
    with _db().read() as conn:
        return review_page(conn, store.id, query["page"], product_id=query["product"],
                           status=query["status"], rating=query["rating"])


@route("POST", "/stores/<store>/reviews/<int:review_id>/moderation", "reviews",
       body=ModerationBody, answer=ReviewAnswer)
def reviews_moderate(store: StoreRef, review_id: int, body: dict[str, Any]) -> Any:
    """Publish a review, or reject it for spam or abuse (never for its rating).

    The platform's copy follows: published again, or withdrawn."""
    with _db().write() as conn:
        review = moderate(conn, store.id, review_id, body["status"], body["reason"])
    _wake_publication()
    return review


@route("POST", "/stores/<store>/reviews/<int:review_id>/reply", "reviews", body=ReplyBody,
       answer=ReviewAnswer)
def reviews_reply(store: StoreRef, review_id: int, body: dict[str, Any]) -> Any:
    """Set the store's public reply to a review (`{"text": null}` removes it)."""
    with _db().write() as conn:
        review = reply(conn, store.id, review_id, body["text"])
    _wake_publication()
    return review


@route("GET", "/stores/<store>/reviews/kpis", "reviews", query=ReviewKpisQuery,
       answer=ReviewKpisReport)
def reviews_kpis(store: StoreRef, query: dict[str, Any]) -> Any:
    """Review KPIs: totals, per month and per product (docs/reviews.md, "KPIs")."""
    period = ReviewPeriod.of(query["period"].start, query["period"].end)
    with _db().read() as conn:
        return {"store": store.key, **review_report(conn, store.id, period, query["product"])}


@route("GET", "/stores/<store>/reviews/settings", "reviews", answer=ReviewSettingsWrapped)
def reviews_settings_get(store: StoreRef) -> Any:
    """The store's review settings, defaults filled in."""
    with _db().read() as conn:
        return {"settings": review_settings(conn, store.id).to_dict()}


@route("PUT", "/stores/<store>/reviews/settings", "reviews", body=ReviewSettingsBody,
       load_body=False, answer=ReviewSettingsSaved)
def reviews_settings_put(store: StoreRef) -> Any:
    """Replace the store's review settings.

    Keys left out follow the defaults. The settings are validated whole (nothing is saved from
    a refused body), and the store's open requests are retimed."""
    body = _json_body(required=True)
    if not isinstance(body, dict):
        raise ValidationError("invalid review settings", {"_schema": ["a JSON object"]})
    with _db().write() as conn:
        changed, retimed = save_settings(conn, store.id, body, datetime.now(UTC))
        settings = review_settings(conn, store.id).to_dict()
    return {"settings": settings, "changed": changed, "retimed": retimed}


@route("POST", "/stores/<store>/review-requests/<order_id>/postpone", "reviews",
       body=PostponeBody, answer=Postponed)
def review_request_postpone(store: StoreRef, order_id: str, body: dict[str, Any]) -> Any:
    """Delay an order's review request by some days, or until a time."""
    now = datetime.now(UTC)
    until = body["until"] or now + timedelta(days=body["days"])
    with _db().write() as conn:
        due = postpone(conn, store.id, order_id, until, now)
    return {"order_id": order_id, "due_at": due.isoformat()}


@route("GET", "/stores/<store>/reviews/export", "reviews", query=ReviewExportQuery,
       answer={"text/csv": {"type": "string"}, "application/json": ReviewExportFile})
def reviews_export(store: StoreRef, query: dict[str, Any]) -> Any:
    """Every review of the store as a CSV or JSON file, oldest first (no email address).

    The CSV imports back (`parcours reviews import`); text cells that a spreadsheet would run
    as formulas start with an apostrophe."""
    fmt = query["format"]
    with _db().read() as conn:
        rows = export_rows(conn, store.id)
    if fmt == "json":
        body, mimetype = export_json(rows), "application/json"
    else:
        body, mimetype = export_csv(rows), "text/csv"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{store.key}-reviews.{fmt}"')
    return response
