"""The dashboard's insight pages: journeys (step funnel by segment, breakdowns, time per stage),
dropped shoppers and a shopper's timeline, friction findings with their one-click fixes, and
widget experiments. They read the same `parcours.insights` reports as the JSON API (with the
store's effective widget settings and facts, as api_insights.py passes them), so the page and
the API never disagree; this module only turns the reports into words and chart geometry.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import request
from sqlalchemy import Connection
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from parcours import insights, reports
from parcours.accounts import store_facts
from parcours.dashboard import View, store_page
from parcours.dashboard_apply import apply_store_setting, enable_review_requests, enable_widget
from parcours.dashboard_text import Formats
from parcours.errors import ValidationError
from parcours.friction_schema import STEPS
from parcours.pagination import PageRequest
from parcours.recorder import StoreRef
from parcours.widgets.routes import config_for

__all__ = ["experiment_view", "observation_text"]

DROPPED_PER_PAGE = 20
IDLE = timedelta(hours=24)  # as the API's default: a shopper inactive a day has left
DROPPED_STEPS = tuple(STEPS)[:-1]  # a step followed by another
DEFAULT_DROPPED_STEP = "cart"
PROFILE_EVENTS = 200
_MAX_ID = 2**63 - 1  # beyond a BIGINT: no such profile (and no database error)


def _widgets(conn: Connection, store: StoreRef) -> dict[str, Any]:
    """The store's effective widget settings (defaults included), as its storefront has them:
    what the friction rules and experiments read through the API too."""
    return config_for(conn, store.key, "")["widgets"]  # type: ignore[no-any-return]


def _value_label(t: Mapping[str, str], dimension: str, value: str) -> str:
    """A segment value in words; a country stays its ISO code (short, and the same in both
    languages)."""
    if dimension == "country" and value != insights.UNKNOWN:
        return value
    return t.get(f"segv_{value}", value)


# -- journeys --------------------------------------------------------------------------------

def _segment() -> tuple[insights.Segment | None, bool]:
    """The `?segment=` filter (empty or `all`: none), and whether it was refused."""
    text = request.args.get("segment", "").strip()
    if not text or text == "all":
        return None, False
    try:
        return insights.Segment.parse(text), False
    except ValidationError:
        return None, True


def _steps_chart(steps: list[dict[str, Any]], t: Mapping[str, str], f: Formats
                 ) -> list[dict[str, Any]]:
    """The bars of the step funnel: journeys, and beside them the share lost since the step
    before (for `repeat`: its share of paid journeys, which is not a loss)."""
    rows = []
    for step in steps:
        if step["step"] == "repeat":
            note = t["share_of_paid"].format(share=f.percent(step["conversion"]))
        else:
            note = f"\u2212{f.percent(step['drop_off'])}" if step["drop_off"] else ""
        rows.append({"label": t[f"step_{step['step']}"], "value": step["journeys"],
                     "text": f.number(step["journeys"]), "note": note,
                     "loss": step["step"] != "repeat"})
    return rows


def _breakdown(report: Mapping[str, Any], t: Mapping[str, str]) -> dict[str, Any]:
    dimension = report["dimension"]
    total = sum(value["journeys"] for value in report["values"])
    return {"dimension": dimension, "values": [{
        **value, "label": _value_label(t, dimension, value["value"]),
        "share": value["journeys"] / total if total else None,
        "segment": f"{dimension}:{value['value']}"} for value in report["values"]]}


def _segment_options(breakdowns: list[dict[str, Any]], chosen: insights.Segment | None,
                     t: Mapping[str, str]) -> list[dict[str, Any]]:
    """The filter's choices, one group per dimension, with the values the period has (and
    the chosen one, even when the period has none of it)."""
    groups = []
    for breakdown in breakdowns:
        dimension = breakdown["dimension"]
        options = [(v["segment"], v["label"]) for v in breakdown["values"]]
        if chosen is not None and chosen.dimension == dimension and all(
                value != f"{dimension}:{chosen.value}" for value, _ in options):
            options.append((f"{dimension}:{chosen.value}",
                            _value_label(t, dimension, chosen.value)))
        if options:
            groups.append({"label": t[f"dim_{dimension}"], "options": options})
    return groups


@store_page("/journeys", nav="journeys")
def journeys(view: View) -> Response:
    """The step funnel (all journeys or one segment's), each dimension's breakdown, and the
    median time in each stage."""
    segment, refused = _segment()
    t, f = view.t, Formats(view.language)
    with view.read() as conn:
        report = insights.step_funnel(conn, view.store, view.period, segment)
        breakdowns = [_breakdown(insights.segments(conn, view.store, view.period, dimension), t)
                      for dimension in insights.DIMENSIONS]
        times = insights.stage_times(conn, view.store, view.period)
    timed = [{"label": t[f"stage_{s['stage']}"], "value": s["median_seconds"],
              "text": f.duration(s["median_seconds"])}
             for s in times["stages"] if s["median_seconds"] is not None]
    chosen = None if segment is None else {
        "value": f"{segment.dimension}:{segment.value}",
        "text": t["segment_option"].format(dimension=t[f"dim_{segment.dimension}"],
                                           value=_value_label(t, segment.dimension,
                                                              segment.value))}
    return view.render(
        "journeys.html", status=400 if refused else 200, report=report,
        chart=_steps_chart(report["steps"], t, f), breakdowns=breakdowns, times=times,
        timed=timed, chosen=chosen, refused=refused,
        options=_segment_options(breakdowns, segment, t),
        keep={"segment": chosen["value"]} if chosen else {})


# -- dropped shoppers and a shopper's timeline -----------------------------------------------

def _moment(text: str | None) -> datetime | None:
    """A report's ISO time as a UTC datetime (the formats show UTC)."""
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@store_page("/dropped", nav="dropped")
def dropped(view: View) -> Response:
    """The shoppers who stopped after a step, to follow up: one page at a time (keyset), each
    linking to their timeline."""
    step = request.args.get("step", DEFAULT_DROPPED_STEP)
    error = None
    if step not in DROPPED_STEPS:
        step, error = DEFAULT_DROPPED_STEP, "step_invalid"
    cursor = request.args.get("cursor") or None
    now = datetime.now(UTC)
    with view.read() as conn:
        try:
            page = insights.dropped(conn, view.store, view.period, step, now=now, idle=IDLE,
                                    page=PageRequest(DROPPED_PER_PAGE, cursor))
        except ValidationError:  # a damaged or foreign cursor: the first page, said so
            cursor, error = None, error or "cursor_invalid"
            page = insights.dropped(conn, view.store, view.period, step, now=now, idle=IDLE,
                                    page=PageRequest(DROPPED_PER_PAGE))
    items = [{**item, "opened": _moment(item["opened_at"]),
              "last": _moment(item["last_event_at"])} for item in page["items"]]
    return view.render("dropped.html", status=400 if error else 200, step=step,
                       steps=DROPPED_STEPS, items=items, next_cursor=page["next_cursor"],
                       paged=cursor is not None, error=error, keep={"step": step})


# The event properties a timeline shows: what the shopper looked at and paid, never contact
# details (emails, phones, addresses stay in the data export).
_SHOWN_PROPERTIES = ("title", "query", "quantity", "rating", "reason",
                     "widget", "bucket", "shipping_method", "carrier", "country", "device",
                     "channel")


def _details(properties: Mapping[str, Any] | None) -> str:
    """A short line of what an event carried."""
    props = properties or {}
    parts = []
    if isinstance(props.get("url"), str):
        parts.append(urlsplit(props["url"]).path or "/")
    parts += [str(props[key]) for key in _SHOWN_PROPERTIES
              if isinstance(props.get(key), str | int | float) and props[key] != ""]
    for amount in ("total", "subtotal"):
        if isinstance(props.get(amount), str | int | float):
            parts.append(f"{props[amount]} {props.get('currency') or ''}".strip())
            break
    return " · ".join(parts)[:200]


@store_page("/profiles/<int:profile_id>")
def profile(view: View, profile_id: int) -> Response:
    """One shopper's journeys and events, newest first (another store's shopper: 404)."""
    if profile_id > _MAX_ID:
        raise NotFound()
    with view.read() as conn:
        data = reports.profile(conn, view.store, profile_id, limit=PROFILE_EVENTS)
    journeys_ = [{**j, "opened": _moment(j["opened_at"]), "last": _moment(j["last_event_at"])}
                 for j in data["journeys"]]
    events = [{**e, "at": _moment(e["occurred_at"]), "details": _details(e["properties"])}
              for e in data["events"]]
    step = request.args.get("step", "")
    return view.render("profile.html", profile=data, journeys=journeys_, events=events,
                       back_step=step if step in DROPPED_STEPS else None,
                       limit=PROFILE_EVENTS)


# -- friction --------------------------------------------------------------------------------

def _pct(f: Formats, value: Any) -> str:
    return f.percent(value, 0)


def _drop_text(o: Mapping[str, Any], t: Mapping[str, str], f: Formats) -> str:
    start, end = t[f"stepn_{o['from']}"], t[f"stepn_{o['to']}"]
    note = o.get("note")
    if note == "not_tracked":
        missing = o["from"] if o.get("reached") is None else o["to"]
        return t["obs_not_tracked"].format(step=t[f"stepn_{missing}"])
    if note == "inconsistent":
        return t["obs_inconsistent"].format(start=start, end=end)
    if note == "too_few":
        return t["obs_too_few_drop"].format(reached=f.number(o["reached"]), start=start,
                                            needed=f.number(o.get("min_sample") or 1))
    values = {"drop": _pct(f, o["drop"]), "reached": f.number(o["reached"]), "start": start,
              "end": end}
    text = (t["obs_drop_on"].format(device=t[f"segv_{o['device']}"].lower(), **values)
            if o.get("device") else t["obs_drop"].format(**values))
    if o.get("at_least") is not None:
        text += " " + t["obs_drop_least"].format(low=_pct(f, o["low"]),
                                                 threshold=_pct(f, o["at_least"]))
    elif o.get("at_most") is not None:
        text += " " + t["obs_drop_most"].format(high=_pct(f, o["high"]),
                                                threshold=_pct(f, o["at_most"]))
    return text


def _gap_text(o: Mapping[str, Any], t: Mapping[str, str], f: Formats) -> str:
    start, end = t[f"stepn_{o['from']}"], t[f"stepn_{o['to']}"]
    device, baseline = (t[f"segv_{o[key]}"].lower() for key in ("device", "baseline"))
    note = o.get("note")
    if note == "not_tracked":
        missing = o["from"] if None in (o.get("device_reached"), o.get("baseline_reached")) \
            else o["to"]
        return t["obs_not_tracked"].format(step=t[f"stepn_{missing}"])
    if note == "inconsistent":
        return t["obs_inconsistent"].format(start=start, end=end)
    counts = {"device_reached": f.number(o.get("device_reached")),
              "baseline_reached": f.number(o.get("baseline_reached"))}
    if note == "too_few":
        return t["obs_too_few_gap"].format(device=device, baseline=baseline, start=start,
                                           needed=f.number(o.get("min_sample") or 1), **counts)
    text = t["obs_gap"].format(device_drop=_pct(f, o.get("device_drop")), device=device,
                               baseline_drop=_pct(f, o.get("baseline_drop")),
                               baseline=baseline, start=start, end=end, **counts)
    if o.get("gap_low") is not None and o.get("min_gap") is not None:
        text += " " + t["obs_gap_bound"].format(gap_low=f.points(o["gap_low"], 0, False),
                                                min_gap=f.points(o["min_gap"], 0, False))
    return text


def _journeys_text(o: Mapping[str, Any], t: Mapping[str, str], f: Formats) -> str:
    step = t[f"stepn_{o['step']}"]
    if o.get("note") == "not_tracked":
        return t["obs_not_tracked"].format(step=step)
    if o.get("note") == "too_few":
        return t["obs_too_few_journeys"].format(journeys=f.number(o["journeys"]), step=step,
                                                needed=f.number(o["at_least"]))
    return t["obs_journeys"].format(journeys=f.number(o["journeys"]), step=step)


# Facts the default rules read, and the prefix of their words (obs_<prefix>_true/false/missing).
_FACT_WORDS = {"customer_accounts.login_required_at_checkout": "login",
               "accelerated_checkout.supported": "supported",
               "review_settings.enabled": "reviews",
               "platform_review_requests.enabled": "platform_reviews"}
_WALLETS = {"apple_pay": "Apple Pay", "google_pay": "Google Pay", "shop_pay": "Shop Pay",
            "paypal": "PayPal", "amazon_pay": "Amazon Pay", "link": "Link"}


def _setting_text(o: Mapping[str, Any], t: Mapping[str, str]) -> str:
    subject, value, missing = o["subject"], o.get("value"), o.get("note") == "missing"
    if o["kind"] == "widget" and subject.endswith(".enabled"):
        name = subject.rsplit(".", 1)[0]
        widget = t.get(f"widget_{name}", name)
        if missing:
            return t["obs_widget_missing"].format(widget=widget)
        return t["obs_widget_on" if value else "obs_widget_off"].format(widget=widget)
    if subject == "accelerated_checkout.wallets":
        if missing:
            return t["obs_wallets_missing"]
        names = [_WALLETS.get(str(w), str(w).replace("_", " ").title())
                 for w in (value if isinstance(value, list) else [value] if value else [])]
        return t["obs_wallets"].format(wallets=", ".join(names)) if names else \
            t["obs_wallets_none"]
    if subject in _FACT_WORDS and (missing or isinstance(value, bool)):
        state = "missing" if missing else "true" if value else "false"
        return t[f"obs_{_FACT_WORDS[subject]}_{state}"]
    if missing:
        return t["obs_fact_missing"].format(subject=subject)
    shown = (t["yes"] if value else t["no"]) if isinstance(value, bool) else str(value)
    return t["obs_fact"].format(subject=subject, value=shown)


def observation_text(o: Mapping[str, Any], t: Mapping[str, str], f: Formats) -> str:
    """One number or fact a rule read (friction.Observation.as_dict), as a sentence of the
    page's language: what the merchant reads instead of `cart>checkout held=None`."""
    kind = o["kind"]
    if kind == "drop":
        text = _drop_text(o, t, f)
    elif kind == "drop_gap":
        text = _gap_text(o, t, f)
    elif kind == "journeys":
        text = _journeys_text(o, t, f)
    else:
        text = _setting_text(o, t)
    return t["obs_context"].format(text=text) if o.get("note") == "context" else text


_LACKS = ("too_few", "not_tracked", "missing", "inconsistent")


def _finding(item: Mapping[str, Any], view: View, f: Formats) -> dict[str, Any]:
    t, fix = view.t, item["fix"]
    apply = None
    if fix["one_click"] and fix["kind"] == "widget":
        apply = t["fix_apply_widget"].format(widget=t.get(f"widget_{fix['target']}",
                                                          fix["target"]))
    elif fix["one_click"] and fix["kind"] == "review_setting" and fix["target"] == "enabled":
        apply = t["fix_apply_reviews"]
    elif fix["one_click"] and fix["kind"] == "store_setting":
        apply = t.get(f"fix_apply_{fix['target']}", t["fix_apply_setting"])
    where = fix.get("where")
    return {"rule": item["rule"], "severity": item["severity"],
            "friction": item["friction"].get(view.language) or item["friction"].get("en", ""),
            "fix_text": fix["text"].get(view.language) or fix["text"].get("en", ""),
            "kind": fix["kind"], "target": fix["target"], "apply": apply,
            "where": None if where is None else t.get(f"where_{where}", where),
            "evidence": [observation_text(o, t, f) for o in item["evidence"]],
            "sources": item["sources"]}


def _unknown(item: Mapping[str, Any], t: Mapping[str, str], f: Formats) -> dict[str, Any]:
    """A rule that could not judge, with what it lacks (every part it read, when none is
    flagged)."""
    lacks = [o for o in item["evidence"] if o.get("held") is None and o.get("note") in _LACKS]
    return {"rule": item["rule"], "name": t.get(f"rule_{item['rule']}", item["rule"]),
            "lacks": [observation_text(o, t, f) for o in lacks or item["evidence"]]}


@store_page("/friction", nav="friction")
def friction(view: View) -> Response:
    """Frictions found, most severe first, with their evidence, fix and sources; then the
    rules that cannot judge yet and what they lack (never a false all-clear)."""
    f = Formats(view.language)
    with view.read() as conn:
        report = insights.friction(conn, view.store, view.period,
                                   facts=store_facts(conn, view.store.id),
                                   widgets=_widgets(conn, view.store))
    return view.render("friction.html",
                       findings=[_finding(item, view, f) for item in report["findings"]],
                       unknown=[_unknown(item, view.t, f) for item in report["unknown"]],
                       notice=request.args.get("notice"))


@store_page("/friction/fix", methods=("POST",))
def friction_fix(view: View) -> Response:
    """A finding's one-click fix: a widget or review setting through the same validation and
    push as the settings page, a platform setting through the store's adapter; then the
    friction page again with what happened."""
    kind, target = request.form.get("kind", ""), request.form.get("target", "")
    if kind == "widget":
        notice = enable_widget(view, target)
    elif kind == "review_setting" and target == "enabled":
        notice = enable_review_requests(view)
    elif kind == "store_setting":
        notice = apply_store_setting(view, target)
    else:
        notice = "fix_refused"
    return view.back("friction", notice, **view.period_query(), _anchor="findings")


# -- experiments -----------------------------------------------------------------------------

_HALF = 280  # the interval chart: 0 at x = 320, the widest bound at 320 ± 280


def _interval(uplift: Mapping[str, Any]) -> dict[str, Any] | None:
    """The geometry of the interval bar: where 0, the estimate and the bounds fall."""
    interval = uplift.get("interval")
    if interval is None or uplift.get("absolute") is None:
        return None
    low, high = float(interval["low"]), float(interval["high"])
    point = float(uplift["absolute"])
    scale = max(abs(low), abs(high), abs(point), 0.01) * 1.1

    def x(value: float) -> float:
        return round(320 + _HALF * value / scale, 1)

    return {"low": x(low), "high": x(high), "point": x(point), "zero": 320.0,
            "min": -scale, "max": scale}


def experiment_view(item: Mapping[str, Any], t: Mapping[str, str], f: Formats
                    ) -> dict[str, Any]:
    """One experiment (insights.experiments' item) with its state in words: no verdict
    before the planned sample (docs/experiments.md, "States")."""
    uplift, plan, state = item["uplift"], item.get("plan"), item["state"]
    interval = uplift.get("interval")
    p_value = item.get("p_value")
    words: dict[str, Any] = {"progress": None, "p_text": "—" if p_value is None else
                             f"< {f.number(0.001, 3)}" if p_value < 0.001
                             else f.number(p_value, 3)}
    if state == "planning":
        words["state_text"] = t["state_planning"].format(
            count=f.number(item.get("pilot_shoppers_needed") or 0))
    elif state == "collecting":
        words["state_text"] = t["state_collecting"]
    elif state == "significant":
        words["state_text"] = t["state_significant_up" if (uplift["absolute"] or 0) > 0
                           else "state_significant_down"]
    else:
        words["state_text"] = t["state_no_difference"].format(
            effect=f.points(plan["minimum_effect"] if plan else None, 1, False))
    if plan is not None:
        words["plan_text"] = t["plan_text"].format(baseline=f.percent(plan["baseline"]),
                                              effect=f.points(plan["minimum_effect"], 1, False))
        if state == "collecting":
            progress = min(max(float(plan["progress"] or 0), 0.0), 1.0)
            words["progress"] = progress
            words["progress_text"] = t["progress_text"].format(
                progress=f.percent(progress, 0), holdout=f.number(plan["required"]["holdout"]),
                exposed=f.number(plan["required"]["exposed"]))
            words["progress_title"] = t["progress_title"].format(
                progress=f.percent(progress, 0))
    if interval is not None and uplift.get("absolute") is not None:
        low, high = f.points(interval["low"]), f.points(interval["high"])
        words["range"] = t["range"].format(low=low, high=high)
        words["uplift_text"] = t["uplift_text"].format(
            absolute=f.points(uplift["absolute"]), relative=f.signed_percent(uplift["relative"]),
            low=low, high=high)
        words["interval_title"] = t["interval_title"].format(low=low, high=high)
    return {**item, **words, "chart": _interval(uplift)}


@store_page("/experiments", nav="experiments")
def experiments(view: View) -> Response:
    """Exposed against holdout for each widget experiment whose shoppers arrived in the
    period, with its fixed-horizon state."""
    f = Formats(view.language)
    with view.read() as conn:
        report = insights.experiments(conn, view.store, view.period,
                                      _widgets(conn, view.store))
    return view.render("experiments.html", experiments=[
        experiment_view(item, view.t, f) for item in report["experiments"]])
