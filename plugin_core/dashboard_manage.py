"""The dashboard's pages that change things: reviews (moderation, replies), widgets and
settings, data exports, privacy requests. Each goes through the same functions, and the same
validation, as the CLI and the JSON API: a form refused names its fields and writes nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import current_app, request
from marshmallow import ValidationError as SchemaError
from sqlalchemy import select
from werkzeug.wrappers import Response

from parcours import reports
from parcours import tables as t
from parcours.accounts import save_store_facts, store_facts
from parcours.api_schemas import SubjectSchema
from parcours.dashboard import View, csv_download, store_page
from parcours.dashboard_apply import push_widgets
from parcours.errors import ValidationError
from parcours.privacy import Subject, data_request, get_export, redact_customer
from parcours.review_admin import save_settings
from parcours.review_csv import export_csv, export_rows
from parcours.review_requests import SETTINGS_FACT
from parcours.review_timing import ReviewSettings
from parcours.reviews import STATUSES, list_reviews, moderate, reply
from parcours.widgets.config import DEFAULT_WIDGETS
from parcours.widgets.settings import check_settings, settings_facts

__all__ = ["MODERATION_REASONS"]

# Moderation is for spam and abuse only: no reason a rating could hide behind.
MODERATION_REASONS = ("spam", "abuse")
PER_PAGE = 20
_MONEY = re.compile(r"^\d{1,9}([.,]\d{1,2})?$")


def _now() -> datetime:
    return datetime.now(UTC)


def _wake_publisher() -> None:
    wake = current_app.extensions.get("parcours.reviews.publish")
    if wake is not None:
        wake()


# -- reviews ---------------------------------------------------------------------------------

@store_page("/reviews", nav="reviews")
def reviews(view: View) -> Response:
    """Every review, newest first, by status only (never by rating)."""
    status = request.args.get("status", "")
    page = request.args.get("page", "1")
    with view.read() as conn:
        listed = list_reviews(conn, view.store.id, status=status if status in STATUSES else None,
                              page=int(page) if page.isdigit() else 1, per_page=PER_PAGE)
    return view.render("reviews.html", listed=listed, shown=status if status in STATUSES
                       else "", statuses=STATUSES, reasons=MODERATION_REASONS,
                       notice=request.args.get("notice"))


def _review_back(view: View, notice: str) -> Response:
    values = {k: v for k, field in (("status", "shown"), ("page", "page"))
              if (v := request.form.get(field, ""))}
    return view.back("reviews", notice, **values, _anchor=f"review-{request.form.get('id')}")


@store_page("/reviews/<int:review_id>/moderate", methods=("POST",))
def moderate_review(view: View, review_id: int) -> Response:
    status = request.form.get("status", "")
    reason = request.form.get("reason") or None
    if status == "rejected" and reason not in MODERATION_REASONS:
        return view.back("reviews", "reason_required")
    with view.write() as conn:
        moderate(conn, view.store.id, review_id, status, reason if status == "rejected"
                 else None)
    _wake_publisher()
    return _review_back(view, "published" if status == "published" else "rejected")


@store_page("/reviews/<int:review_id>/reply", methods=("POST",))
def reply_review(view: View, review_id: int) -> Response:
    text = request.form.get("reply", "").strip()
    try:
        with view.write() as conn:
            reply(conn, view.store.id, review_id, text or None)
    except ValidationError:
        return _review_back(view, "reply_too_long")
    _wake_publisher()
    return _review_back(view, "replied" if text else "reply_removed")


# -- widgets and settings --------------------------------------------------------------------

def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _currency(facts: Mapping[str, Any]) -> str | None:
    shop = _mapping(facts.get("shop"))
    currency = shop.get("currency")
    return str(currency).upper() if currency else None


def _free_from(zone: Mapping[str, Any], currency: str | None) -> str:
    for rate in zone.get("rates") or []:
        if isinstance(rate, Mapping) and str(rate.get("price")) in ("0", "0.0", "0.00") and (
                currency is None or str(rate.get("currency", "")).upper() == currency):
            return str(rate.get("min_subtotal") or "0")
    return ""


def _form_state(facts: Mapping[str, Any]) -> dict[str, Any]:
    """What the settings form shows: every widget (defaults filled in), the zones' free
    delivery thresholds, the review requests' switch and delay."""
    stored = _mapping(facts.get("widgets"))
    widgets = {name: {**defaults, **_mapping(stored.get(name))}
               for name, defaults in DEFAULT_WIDGETS.items()}
    currency = _currency(facts)
    zones = [zone for zone in facts.get("shipping_zones") or [] if isinstance(zone, Mapping)]
    review = ReviewSettings.from_dict(_mapping(facts.get(SETTINGS_FACT)))
    return {"widgets": {name: {"enabled": bool(w.get("enabled", True)),
                               "holdout": _percent(w.get("holdout", 0))}
                        for name, w in widgets.items()},
            "zones": [{"name": zone.get("name", ""), "free_from": _free_from(zone, currency)}
                      for zone in zones],
            "currency": currency, "reviews_enabled": review.enabled,
            "delay_days": str(review.delay_days)}


def _percent(share: Any) -> str:
    value = Decimal(str(share or 0)) * 100
    return f"{value.normalize():f}"


def _read_form(view: View, facts: Mapping[str, Any]
               ) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """The widget settings and the review settings the form asks for, and the error codes by
    field (nothing is saved when there is one)."""
    form = request.form
    errors: dict[str, str] = {}
    stored = _mapping(facts.get("widgets"))
    widgets: dict[str, Any] = {}
    for name in DEFAULT_WIDGETS:
        entry = _mapping(stored.get(name))
        entry["enabled"] = form.get(f"enabled-{name}") == "on"
        text = form.get(f"holdout-{name}", "0").strip().replace(",", ".") or "0"
        try:
            share = Decimal(text)
        except InvalidOperation:
            share = Decimal(-1)
        if not Decimal(0) <= share <= Decimal(100) or not share.is_finite():
            errors[f"holdout-{name}"] = "holdout_invalid"
        elif share == 0:
            entry.pop("holdout", None)
        else:
            entry["holdout"] = float(share / 100)
        widgets[name] = entry
    settings: dict[str, Any] = {"widgets": widgets}
    if view.platform == "custom" and facts.get("shipping_zones"):
        zones = json.loads(json.dumps(facts["shipping_zones"]))  # a deep copy to change
        currency = _currency(facts)
        for index, zone in enumerate(zones):
            text = form.get(f"free_from-{index}", "").strip()
            if text and not _MONEY.match(text):
                errors[f"free_from-{index}"] = "threshold_invalid"
                continue
            _set_free_from(zone, text.replace(",", "."), currency, view.t["free_rate_name"])
        settings["shipping_zones"] = zones
    review = _mapping(facts.get(SETTINGS_FACT))
    review["enabled"] = form.get("reviews_enabled") == "on"
    delay = form.get("delay_days", "").strip()
    if not delay.isdigit() or not 0 <= int(delay) <= 60:
        errors["delay_days"] = "delay_invalid"
    else:
        review["delay_days"] = int(delay)
    return settings, review, errors


def _set_free_from(zone: dict[str, Any], amount: str, currency: str | None, name: str) -> None:
    """Make the zone's free rate start at `amount` (none when empty)."""
    rates = [rate for rate in zone.get("rates") or [] if isinstance(rate, dict)]
    free = [rate for rate in rates if str(rate.get("price")) in ("0", "0.0", "0.00")
            and (currency is None or str(rate.get("currency", "")).upper() == currency)]
    if not amount:
        zone["rates"] = [rate for rate in rates if rate not in free]
    elif free:
        free[0]["min_subtotal"] = f"{Decimal(amount):.2f}"
    elif currency:
        rates.append({"name": name, "price": "0.00", "currency": currency,
                      "min_subtotal": f"{Decimal(amount):.2f}"})
        zone["rates"] = rates


def _schema_errors(exc: ValidationError) -> dict[str, str]:
    """A refusal of the shared validation, by the form's field where one matches."""
    out: dict[str, str] = {}
    for key, value in exc.errors.items():
        if key == "widgets" and isinstance(value, Mapping):
            for name in value:
                out[f"holdout-{name}"] = "holdout_invalid"
        elif key == "shipping_zones":
            out["free_from-0"] = "threshold_invalid"
        elif key == "delay_days":
            out["delay_days"] = "delay_invalid"
        else:
            out[key] = "settings_invalid"
    return out


@store_page("/settings", nav="settings", methods=("GET", "POST"))
def settings(view: View) -> Response:
    """Widgets on and off, their holdout share, free delivery thresholds (custom shops; a
    platform's own come from its admin), and when review requests are sent."""
    with view.read() as conn:
        facts = store_facts(conn, view.store.id)
    if request.method == "GET":
        return view.render("settings.html", state=_form_state(facts), errors={},
                           notice=request.args.get("notice"))
    widget_settings, review, errors = _read_form(view, facts)
    if not errors:
        try:
            checked = check_settings(widget_settings)
            ReviewSettings.from_dict(review)
            new_facts = settings_facts(checked, view.platform)
        except ValidationError as exc:
            errors = _schema_errors(exc)
    if errors:
        state = _form_state(facts) | _echo(request.form, facts)
        return view.render("settings.html", status=422, state=state, errors=errors)
    with view.write() as conn:  # both or neither
        changed = save_store_facts(conn, view.store.id, new_facts, _now())
        save_settings(conn, view.store.id, review, _now())
    return view.back("settings", push_widgets(view, bool(changed), "saved"))


def _echo(form: Mapping[str, str], facts: Mapping[str, Any]) -> dict[str, Any]:
    """The values typed, shown again beside their errors."""
    state = _form_state(facts)
    widgets = {name: {"enabled": form.get(f"enabled-{name}") == "on",
                      "holdout": form.get(f"holdout-{name}", "")} for name in DEFAULT_WIDGETS}
    zones = [{"name": zone["name"], "free_from": form.get(f"free_from-{index}", "")}
             for index, zone in enumerate(state["zones"])]
    return {"widgets": widgets, "zones": zones,
            "reviews_enabled": form.get("reviews_enabled") == "on",
            "delay_days": form.get("delay_days", "")}


# -- data export -----------------------------------------------------------------------------

@store_page("/export", nav="export")
def export(view: View) -> Response:
    return view.render("export.html")


@store_page("/export/funnel.csv")
def export_funnel(view: View) -> Response:
    with view.read() as conn:
        report = reports.funnel(conn, view.store, view.period)
    rows: list[list[Any]] = [["stage", "journeys", "conversion", "drop_off"]]
    rows += [[s["stage"], s["journeys"], _cell(s["conversion"]), _cell(s["drop_off"])]
             for s in report["steps"]]
    return csv_download(rows, _filename(view, "funnel"))


@store_page("/export/kpis.csv")
def export_kpis(view: View) -> Response:
    """One KPI per line (`revenue.EUR`, `conversion.per_step.cart`: dotted paths), this
    period's value beside the previous period's."""
    with view.read() as conn:
        now = _flat(reports.kpis(conn, view.store, view.period))
        before = _flat(reports.kpis(conn, view.store, view.previous))
    rows: list[list[Any]] = [["kpi", "value", "previous_period_value"]]
    rows += [[name, _cell(now.get(name)), _cell(before.get(name))]
             for name in sorted(set(now) | set(before), key=list({**now, **before}).index)]
    return csv_download(rows, _filename(view, "kpis"))


def _flat(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if not prefix and key in ("store", "period"):
            continue
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _cell(value: Any) -> Any:
    return "" if value is None else value


def _filename(view: View, what: str) -> str:
    return f"{view.store.key}-{what}-{view.period.start}-{view.period.end}.csv"


@store_page("/export/reviews.csv")
def export_reviews(view: View) -> Response:
    """Every review with every column (the CLI's export; imports back)."""
    with view.read() as conn:
        text = export_csv(export_rows(conn, view.store.id))
    response = Response("\ufeff" + text, mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{view.store.key}-reviews.csv"')
    return response


# -- privacy requests ------------------------------------------------------------------------

def _requests(view: View) -> list[dict[str, Any]]:
    p = t.privacy_requests.c
    with view.read() as conn:
        rows = conn.execute(select(p.id, p.kind, p.reference, p.requested_at, p.completed_at,
                                   p.export.is_not(None).label("has_export"))
                            .where(p.store_id == view.store.id)
                            .order_by(p.id.desc()).limit(200)).all()
    return [dict(row._mapping) for row in rows]


@store_page("/privacy", nav="privacy", methods=("GET", "POST"))
def privacy(view: View) -> Response:
    """Data subjects' requests: export everything held on a customer, or redact them."""
    if request.method == "GET":
        return view.render("privacy.html", requests=_requests(view), errors={}, values={},
                           notice=request.args.get("notice"))
    form = request.form
    kind = form.get("kind", "")
    raw = {"email": form.get("email", "").strip() or None,
           "customer_id": form.get("customer_id", "").strip() or None,
           "phone": form.get("phone", "").strip() or None,
           "order_ids": [o for o in re.split(r"[\s,;]+", form.get("order_ids", "")) if o]}
    errors: dict[str, str] = {}
    try:
        data = SubjectSchema().load(raw)
    except SchemaError as exc:
        messages = exc.normalized_messages()
        errors = {("subject" if key == "_schema" else key): "subject_invalid"
                  for key in messages}
    if kind not in ("export", "redact"):
        errors["kind"] = "kind_invalid"
    elif kind == "redact" and form.get("confirm") != "on":
        errors["confirm"] = "confirm_required"
    if errors:
        return view.render("privacy.html", status=422, requests=_requests(view),
                           errors=errors, values=form)
    subject = Subject(customer_id=data["customer_id"], email=data["email"],
                      phone=data["phone"], order_ids=tuple(data["order_ids"]))
    reference = f"dashboard:{view.viewer.email or view.viewer.via}"[:255]
    with view.write() as conn:
        if kind == "export":
            data_request(conn, view.store, subject, reference=reference, now=_now())
        else:
            redact_customer(conn, view.store, subject, reference=reference, now=_now())
    return view.back("privacy", "exported" if kind == "export" else "redacted")


@store_page("/privacy/<int:request_id>.json")
def privacy_export(view: View, request_id: int) -> Response:
    with view.read() as conn:
        export = get_export(conn, view.store, request_id)
    response = Response(json.dumps(export, ensure_ascii=False, indent=2),
                        mimetype="application/json")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{view.store.key}-data-request-{request_id}.json"')
    return response
