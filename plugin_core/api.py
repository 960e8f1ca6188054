"""JSON API v1: reports of one store, its profiles, and event intake. API-key authenticated.

Every route resolves the store through the caller's account: a key never sees, nor learns the
existence of, another account's store (404, as for a store that does not exist).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from marshmallow import Schema, fields, validate, validates_schema
from marshmallow import ValidationError as SchemaError
from sqlalchemy import Connection

from parcours import reports
from parcours.accounts import authenticate, get_store
from parcours.db import Database
from parcours.errors import AuthError, ValidationError
from parcours.events import load_events
from parcours.inbox import receive
from parcours.privacy import (
    Subject,
    data_request,
    get_export,
    redact_customer,
)
from parcours.recorder import StoreRef
from parcours.uninstall import uninstall_store

api_v1 = Blueprint("api_v1", __name__, url_prefix="/api/v1")
MAX_PERIOD_DAYS = 731


def _db() -> Database:
    return current_app.extensions["parcours.db"]  # type: ignore[no-any-return]


@api_v1.before_request
def _authenticate() -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise AuthError("missing API key: send 'Authorization: Bearer <key>'")
    with _db().read() as conn:
        g.account_id = authenticate(conn, token.strip())


def _store(key: str) -> StoreRef:
    with _db().read() as conn:
        return get_store(conn, key, account_id=g.account_id)


class PeriodSchema(Schema):
    start = fields.Date(data_key="from", load_default=None)
    end = fields.Date(data_key="to", load_default=None)

    @validates_schema
    def _order(self, data: dict[str, Any], **_: Any) -> None:
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            raise SchemaError("must not be after 'to'", "from")
        if start and end and (end - start).days > MAX_PERIOD_DAYS:
            raise SchemaError(f"the period is limited to {MAX_PERIOD_DAYS} days", "from")


def _period() -> reports.Period:
    """?from=&to= as inclusive ISO dates; default: the 30 days up to today (UTC)."""
    try:
        data = PeriodSchema().load(request.args)
    except SchemaError as exc:
        raise ValidationError("invalid period", exc.normalized_messages()) from None
    end: date = data["end"] or (data["start"] + timedelta(days=29) if data["start"]
                                else datetime.now(UTC).date())
    start: date = data["start"] or end - timedelta(days=29)
    return reports.Period(start, end)


def _period_report(report: Callable[[Connection, StoreRef, reports.Period], dict[str, Any]]
                   ) -> Callable[[str], Any]:
    """A GET route answering `report` for the store and the ?from=&to= period."""

    def route(store: str) -> Any:
        ref, period = _store(store), _period()
        with _db().read() as conn:
            return jsonify(report(conn, ref, period))

    return route


for _name in ("funnel", "stages", "kpis"):
    api_v1.add_url_rule(f"/stores/<store>/{_name}", _name,
                        _period_report(getattr(reports, _name)), methods=["GET"])


@api_v1.get("/stores/<store>/profiles/<int:profile_id>")
def profile(store: str, profile_id: int) -> Any:
    ref = _store(store)
    with _db().read() as conn:
        return jsonify(reports.profile(conn, ref, profile_id))


@api_v1.post("/stores/<store>/events")
def events(store: str) -> Any:
    """Accept a batch `{"events": [...]}`, all or nothing.

    Every record is validated before anything is stored; one bad record rejects the batch
    (422, naming each bad record and field). A valid batch is written to the inbox and
    acknowledged with 202; the worker records it. Posting the same body again is a no-op.
    """
    ref = _store(store)
    body = request.get_data(cache=False)
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise ValidationError("the body is not valid JSON", {"body": [str(exc)]}) from None
    records = payload.get("events") if isinstance(payload, dict) else None
    if not isinstance(records, list) or not records:
        raise ValidationError("invalid body", {"events": ["a non-empty list is required"]})
    limit = int(current_app.config["MAX_EVENTS_PER_REQUEST"])
    if len(records) > limit:
        raise ValidationError("too many events",
                              {"events": [f"{len(records)} events, the limit is {limit}"]})
    load_events(ref.key, records)
    digest = hashlib.sha256(body).hexdigest()
    with _db().write() as conn:
        new = receive(conn, store_id=ref.id, source="custom", topic="events",
                      delivery_key=f"api:{ref.key}:{digest}", body=body)
    if new:
        current_app.extensions["parcours.jobs"].wake()
    return jsonify(accepted=len(records), duplicate=not new), 202


# -- privacy and lifecycle (the operations Shopify's compliance webhooks trigger) ----------------
class SubjectSchema(Schema):
    email = fields.Email(load_default=None)
    customer_id = fields.Str(load_default=None, validate=validate.Length(min=1, max=255))
    phone = fields.Str(load_default=None, validate=validate.Length(min=1, max=64))
    order_ids = fields.List(fields.Str(validate=validate.Length(min=1, max=255)),
                            load_default=list, validate=validate.Length(max=1000))

    @validates_schema
    def _someone(self, data: dict[str, Any], **_: Any) -> None:
        if not (data.get("email") or data.get("customer_id") or data.get("order_ids")):
            raise SchemaError("name the customer: email, customer_id or order_ids", "_schema")


def _subject() -> Subject:
    try:
        data = SubjectSchema().load(request.get_json(silent=True) or {})
    except SchemaError as exc:
        raise ValidationError("invalid privacy request", exc.normalized_messages()) from None
    return Subject(customer_id=data["customer_id"], email=data["email"], phone=data["phone"],
                   order_ids=tuple(data["order_ids"]))


@api_v1.post("/stores/<store>/privacy/exports")
def privacy_export(store: str) -> Any:
    """Everything held on one customer, as JSON; kept for later retrieval by its id."""
    ref, subject = _store(store), _subject()
    with _db().write() as conn:
        request_id = data_request(conn, ref, subject, now=datetime.now(UTC))
        export = get_export(conn, ref, request_id)
    return jsonify(id=request_id, export=export), 201


@api_v1.get("/stores/<store>/privacy/exports/<int:request_id>")
def privacy_export_get(store: str, request_id: int) -> Any:
    ref = _store(store)
    with _db().read() as conn:
        return jsonify(id=request_id, export=get_export(conn, ref, request_id))


@api_v1.post("/stores/<store>/privacy/redactions")
def privacy_redact(store: str) -> Any:
    """Remove one customer's personal data everywhere (not undoable)."""
    ref, subject = _store(store), _subject()
    with _db().write() as conn:
        return jsonify(redact_customer(conn, ref, subject, now=datetime.now(UTC)))


@api_v1.post("/stores/<store>/uninstall")
def uninstall(store: str) -> Any:
    """Drop the store's credentials now; delete its data after the retention (or `now`)."""
    _store(store)  # the key must own it
    at_once = bool((request.get_json(silent=True) or {}).get("delete_now"))
    days = 0 if at_once else int(current_app.config["UNINSTALL_RETENTION_DAYS"])
    now = datetime.now(UTC)
    notes = uninstall_store(_db(), current_app.extensions["parcours.vault"], current_app.config,
                            store, after=timedelta(days=days), now=now)
    return jsonify(store=store, delete_after=(now + timedelta(days=days)).isoformat(),
                   notes=notes), 202


# The reviews' routes live in their own module, on this blueprint (same auth, same errors).
from parcours import api_reviews  # noqa: E402, F401
