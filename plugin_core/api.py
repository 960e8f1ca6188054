"""JSON API v1: reports of one store, its profiles, and event intake. API-key authenticated.

Every route resolves the store through the caller's grant (access.py): a key never sees, nor
learns the existence of, another account's store or a store out of its scope (404, as for a
store that does not exist). An analyst key changes nothing (403 on every route but GETs); only
an owner key uninstalls. Every change that succeeds is written to the audit log (audit.py), with
the key as its actor. Every request of an account draws on one token bucket (429 with
Retry-After past it). The OpenAPI document of
all routes is served, without a key, at /api/v1/openapi.json (openapi.py builds it from the
routes' declarations; docs/api.md is the guide).

Adding a route is a schema and a declaration. Write the answer schema (and the query or body
schema if any) in api_schemas.py, then:

    @route("GET", "/stores/<store>/things", "reports", query=ThingQuery, answer=ThingAnswer)
    def things(store: StoreRef, query: dict[str, Any]) -> Any:
        '''One line for the document's summary.

        More for its description: why a client would call it.'''
        with _db().read() as conn:
            return thing_report(conn, store, query["period"], page=query["page"])

`route` registers the rule on `api_v1`, resolves `<store>` to the caller's StoreRef (404
first), loads `query=` from the query string and `body=` from the JSON body (422 naming the
field), refuses a method other than GET to analysts (403) and audits it once it succeeds,
answers the view's dict as JSON with `status=`, and attaches the `Operation` that the
document renders. A period report needs one line, `report_route(name, function, Answer,
summary)`, where `function(conn, store, period[, segment=...])`; giving it a `segment` parameter
is what makes the report accept `?segment=`. A list answers `{"items", "next_cursor"}` through
`pagination.paginate` with `query=` a subclass of `PageQuery`. tests/test_openapi.py then needs
a request to the new route (in `_successes`), which it validates against the document.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, make_response, request
from flask.blueprints import BlueprintSetupState
from marshmallow import Schema
from marshmallow import ValidationError as SchemaError

from parcours import audit, openapi, reports
from parcours.access import authenticate, find_store
from parcours.accounts import get_store
from parcours.api_schemas import (
    EventBatch,
    EventsAccepted,
    FunnelReport,
    KpisReport,
    PrivacyExport,
    ProfileReport,
    RedactionSummary,
    ReportQuery,
    StagesReport,
    SubjectSchema,
    UninstallAnswer,
    UninstallBody,
    subject,
)
from parcours.db import Database
from parcours.errors import AuthError, ConfigError, RateLimited, ValidationError
from parcours.events import load_events
from parcours.inbox import receive
from parcours.privacy import data_request, get_export, redact_customer
from parcours.recorder import StoreRef
from parcours.uninstall import uninstall_store
from parcours.webhooks.collect import RateLimiter

__all__ = ["api_v1", "report_route", "route"]

api_v1 = Blueprint("api_v1", __name__, url_prefix="/api/v1")
# Requests per second per account, and the burst it may spend at once: an agency's sync of many
# stores fits in the burst; a loop gone wrong does not starve the database.
API_RATE, API_BURST = 10.0, 200.0
_LIMITER = "parcours.api_limiter"
_PUBLIC = "_parcours_public"
_READS = ("GET", "HEAD", "OPTIONS")


def _db() -> Database:
    return current_app.extensions["parcours.db"]  # type: ignore[no-any-return]


@api_v1.record_once
def _init_limiter(state: BlueprintSetupState) -> None:
    config = state.app.config
    try:
        rate = float(config.get("API_RATE_PER_ACCOUNT", API_RATE))
        burst = float(config.get("API_BURST_PER_ACCOUNT", API_BURST))
    except (TypeError, ValueError):
        raise ConfigError("API_RATE_PER_ACCOUNT and API_BURST_PER_ACCOUNT must be numbers"
                          ) from None
    if not (rate > 0 and burst >= 1):
        raise ConfigError("API_RATE_PER_ACCOUNT must be over 0, API_BURST_PER_ACCOUNT at least 1")
    state.app.extensions[_LIMITER] = RateLimiter(rate, burst)


@api_v1.errorhandler(RateLimited)
def _rate_limited(exc: RateLimited) -> Any:
    response = jsonify(error={"message": str(exc)})
    response.headers["Retry-After"] = str(math.ceil(exc.wait))
    return response, 429


@api_v1.before_request
def _authenticate() -> None:
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, _PUBLIC, False):
        return
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise AuthError("missing API key: send 'Authorization: Bearer <key>'")
    with _db().read() as conn:
        g.grant = authenticate(conn, token.strip())
    g.account_id = g.grant.account_id
    wait = current_app.extensions[_LIMITER].wait_for(str(g.account_id))
    if wait:
        raise RateLimited(f"too many requests: retry in {math.ceil(wait)} s", wait)
    if request.method not in _READS:
        g.grant.require_write()


def _store(key: str) -> StoreRef:
    """The store `key` if the key's grant reaches it (404 alike otherwise)."""
    with _db().read() as conn:
        find_store(conn, key, g.grant)
        return get_store(conn, key, account_id=g.account_id)


def _load(schema: type[Schema], data: Any, what: str) -> Any:
    try:
        return schema().load(data)
    except SchemaError as exc:
        raise ValidationError(f"invalid {what}", exc.normalized_messages()) from None


def _json_body(required: bool) -> Any:
    body = request.get_json(silent=True)
    if body is None and request.get_data(cache=True).strip():
        raise ValidationError("the body is not JSON", {"body": ["a JSON object"]})
    if body is None and required:
        raise ValidationError("the body is missing", {"body": ["a JSON object"]})
    return {} if body is None else body


def _audit(status: int, arguments: dict[str, Any]) -> None:
    """The audit entry of a change that succeeded: the path says what (ids are not personal
    data; bodies, which may hold a shopper's email, are left out)."""
    store = arguments.get("store")
    detail = {name: value for name, value in arguments.items()
              if name not in ("store", "query", "body")}
    path = request.path.removeprefix(api_v1.url_prefix or "")
    with _db().write() as conn:
        audit.record(conn, actor=g.grant.actor, interface="api",
                     action=f"{request.method} {path}", account_id=g.account_id,
                     store_id=store.id if store else None,
                     detail={"endpoint": request.endpoint, "status": status, **detail,
                             **g.get("audit_detail", {})})


def route(method: str, rule: str, tag: str, *, audited: bool = True, **described: Any
          ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare an API route: see the module docstring. `described` are Operation's fields;
    `audited=False` leaves a changing route out of the audit log (event intake: data, not a
    change of the store); a view may add to its entry's detail in `g.audit_detail`."""
    writes = method not in _READS
    if writes:
        described["errors"] = (*described.get("errors", ()), 403)
    operation = openapi.Operation(tag, **described)

    def declare(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def answer(**kwargs: Any) -> Any:
            if "store" in kwargs:
                kwargs["store"] = _store(kwargs["store"])
            if operation.query is not None:
                kwargs["query"] = _load(operation.query, request.args, "query")
            if operation.body is not None and operation.load_body:
                kwargs["body"] = _load(operation.body, _json_body(operation.body_required),
                                       "body")
            result = view(**kwargs)
            response = make_response(result if isinstance(result, Response)
                                     else (jsonify(result), operation.status))
            if writes and audited:
                _audit(response.status_code, kwargs)
            return response

        answer.operation = operation  # type: ignore[attr-defined]
        setattr(answer, _PUBLIC, operation.public)
        api_v1.add_url_rule(rule, view.__name__, answer, methods=[method])
        return answer

    return declare


Report = Callable[..., dict[str, Any]]


def report_route(name: str, report: Report, answer: type[Schema], summary: str) -> None:
    """GET /stores/<store>/<name>?from=&to=&segment=: `report(conn, store, period)` as JSON.

    `segment` reaches the report only when its function takes a `segment` parameter; until it
    does, a segmented request is refused (422 naming `segment`) rather than answered with
    numbers of the whole store."""
    segmented = "segment" in inspect.signature(report).parameters

    def view(store: StoreRef, query: dict[str, Any]) -> Any:
        extra = {"segment": query["segment"]} if segmented else {}
        if query["segment"] is not None and not segmented:
            raise ValidationError("invalid query", {
                "segment": [f"the {name} report cannot be filtered by segment yet"]})
        with _db().read() as conn:
            return report(conn, store, query["period"], **extra)

    view.__name__, view.__doc__ = name, summary
    notes = "" if segmented else "Not segmentable yet: `segment` is refused (422)."
    route("GET", f"/stores/<store>/{name}", "reports", query=ReportQuery, answer=answer,
          notes=notes)(view)


report_route("funnel", reports.funnel, FunnelReport,
             "Journeys that reached each stage, with conversion and drop-off per step.")
report_route("stages", reports.stages, StagesReport,
             "Profiles per stage now, events per stage per day, and stage-to-stage flows.")
report_route("kpis", reports.kpis, KpisReport,
             "The store's KPIs over the period (docs/kpis.md gives each formula).")


@route("GET", "/openapi.json", "meta", public=True,
       answer={"application/json": {"type": "object"}})
def openapi_document() -> Any:
    """This API's OpenAPI document.

    Public: it describes the routes and holds no secret."""
    return openapi.document(current_app)


@route("GET", "/stores/<store>/profiles/<int:profile_id>", "profiles", answer=ProfileReport)
def profile(store: StoreRef, profile_id: int) -> Any:
    """One profile: the kinds of identity known, its journeys and its latest events."""
    with _db().read() as conn:
        return reports.profile(conn, store, profile_id)


@route("POST", "/stores/<store>/events", "events", body=EventBatch, load_body=False,
       answer=EventsAccepted, status=202, audited=False)
def events(store: StoreRef) -> Any:
    """Accept a batch of events, all or nothing.

    Every record is validated before anything is stored; one bad record rejects the batch
    (422, naming each bad record and field). A valid batch is written to the inbox and
    acknowledged with 202; the worker records it. Posting the same body again is a no-op."""
    body = request.get_data(cache=False)
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise ValidationError("the body is not valid JSON", {"body": [str(exc)]}) from None
    records = payload.get("events") if isinstance(payload, dict) else None
    if not isinstance(records, list) or not records:
        raise ValidationError("invalid body", {"events": ["a non-empty list is required"]})
    unknown = sorted(set(payload) - {"events"})
    if unknown:  # as every schema of the API refuses them: a typo is seen, not ignored
        raise ValidationError("invalid body", {key: ["Unknown field."] for key in unknown})
    limit = int(current_app.config["MAX_EVENTS_PER_REQUEST"])
    if len(records) > limit:
        raise ValidationError("too many events",
                              {"events": [f"{len(records)} events, the limit is {limit}"]})
    load_events(store.key, records)
    digest = hashlib.sha256(body).hexdigest()
    with _db().write() as conn:
        new = receive(conn, store_id=store.id, source="custom", topic="events",
                      delivery_key=f"api:{store.key}:{digest}", body=body)
    if new:
        current_app.extensions["parcours.jobs"].wake()
    return {"accepted": len(records), "duplicate": not new}


# -- privacy and lifecycle (the operations Shopify's compliance webhooks trigger) ----------------

@route("POST", "/stores/<store>/privacy/exports", "privacy", body=SubjectSchema,
       answer=PrivacyExport, status=201)
def privacy_export(store: StoreRef, body: dict[str, Any]) -> Any:
    """Export everything held on one customer.

    The export is kept for later retrieval by its id, until the customer is redacted or the
    retention passes."""
    with _db().write() as conn:
        request_id = data_request(conn, store, subject(body), now=datetime.now(UTC))
        return {"id": request_id, "export": get_export(conn, store, request_id)}


@route("GET", "/stores/<store>/privacy/exports/<int:request_id>", "privacy",
       answer=PrivacyExport)
def privacy_export_get(store: StoreRef, request_id: int) -> Any:
    """A data request's export, as made."""
    with _db().read() as conn:
        return {"id": request_id, "export": get_export(conn, store, request_id)}


@route("POST", "/stores/<store>/privacy/redactions", "privacy", body=SubjectSchema,
       answer=RedactionSummary)
def privacy_redact(store: StoreRef, body: dict[str, Any]) -> Any:
    """Remove one customer's personal data everywhere (not undoable).

    Profiles, events and journeys stay, unlinked and scrubbed, so the reports do not change;
    the counts say what was deleted or scrubbed."""
    with _db().write() as conn:
        return redact_customer(conn, store, subject(body), now=datetime.now(UTC))


@route("POST", "/stores/<store>/uninstall", "stores", body=UninstallBody, body_required=False,
       answer=UninstallAnswer, status=202)
def uninstall(store: StoreRef, body: dict[str, Any]) -> Any:
    """Disconnect the store: credentials dropped now, data deleted after the retention.

    The platform is cleaned first where it can be (webhooks, changed settings); `notes` say
    what could not be. `delete_now` deletes the data at the next purge. An owner key only."""
    g.grant.require_owner("uninstall a store")
    g.audit_detail = {"delete_now": body["delete_now"]}
    days = 0 if body["delete_now"] else int(current_app.config["UNINSTALL_RETENTION_DAYS"])
    now = datetime.now(UTC)
    notes = uninstall_store(_db(), current_app.extensions["parcours.vault"], current_app.config,
                            store.key, after=timedelta(days=days), now=now)
    return {"store": store.key, "delete_after": (now + timedelta(days=days)).isoformat(),
            "notes": notes}


# The reviews' and the insights' routes live in their own modules, on this blueprint (same
# auth, same errors).
from parcours import api_access, api_insights, api_reviews  # noqa: E402, F401
