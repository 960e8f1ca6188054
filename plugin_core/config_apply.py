"""Configuration as code across stores: plan (what would change, current -> new), apply (store
by store, all or nothing per store) and export (the stores' configuration as a file).

A store's current configuration is read from its facts, in the shape of the file's sections
(config_file.py), with the defaults filled in; its wanted one is the current one with the file's
levels merged over it. The plan is the leaves that differ. Applying the same file again finds
none: nothing is written and the platform is not called.

Applying one store: the platform's own settings first (the adapter contract's `apply_fix`), then
the facts and review settings in one transaction, then the widget config pushed to where the
storefront reads it inline (`widgets_changed`). When a platform call fails, what this run had
done to that store is undone (`revert_fix`, the facts written back) and the store is reported
failed, left as it was; the other stores go on. Every applied store gets an audit entry.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yaml
from sqlalchemy import Connection, delete

from parcours import audit
from parcours import tables as t
from parcours.access import known_tags, select_stores
from parcours.accounts import StoreInfo, save_store_facts, store_facts
from parcours.adapters.base import StoreAccess, adapter_for
from parcours.config_file import PLATFORM_FIXES, ConfigFile, Path_, merge, widget_settings
from parcours.db import Database
from parcours.errors import ParcoursError, ValidationError
from parcours.review_admin import save_settings
from parcours.review_requests import SETTINGS_FACT
from parcours.review_timing import ReviewSettings
from parcours.widgets.config import DEFAULT_WIDGETS
from parcours.widgets.settings import PLATFORM_KEYS, check_settings, settings_facts

__all__ = ["Change", "Outcome", "StorePlan", "apply_plans", "current_config", "export_config",
           "plan_config"]

_EXPERIMENT_KEYS = ("holdout", "salt")
# Every fact a configuration writes: what is put back when a store's apply is undone.
_FACTS = ("widgets", "widget_lang", "consent", "shop", "storefront", "shipping_zones",
          "customer_accounts", "accelerated_checkout", SETTINGS_FACT)


@dataclass(frozen=True)
class Change:
    key: str  # dotted, e.g. "widgets.shipping_estimate.enabled"
    old: Any
    new: Any
    origin: str  # the level of the file that asks for it: "defaults", "tag eu", "store a"


@dataclass
class StorePlan:
    store: StoreInfo
    changes: list[Change]
    wanted: dict[str, Any]  # the whole configuration the store will have


@dataclass
class Outcome:
    store: str
    status: str  # changed, unchanged, failed
    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the platform calls did, or the error


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def current_config(facts: Mapping[str, Any], platform: str) -> dict[str, Any]:
    """A store's configuration as its facts say, defaults filled in, in the file's shape."""
    stored = _mapping(facts.get("widgets"))
    widgets: dict[str, Any] = {}
    experiments: dict[str, Any] = {}
    for name, defaults in DEFAULT_WIDGETS.items():
        entry = {**defaults, **_mapping(stored.get(name))}
        widgets[name] = {k: v for k, v in entry.items() if k not in _EXPERIMENT_KEYS}
        experiment = {k: entry[k] for k in _EXPERIMENT_KEYS if k in entry}
        if experiment:
            experiments[name] = experiment
    config: dict[str, Any] = {
        "widgets": widgets,
        "experiments": experiments,
        "storefront": {"lang": facts.get("widget_lang"),
                       "consent_required": bool(_mapping(facts.get("consent")).get("required"))},
        "reviews": ReviewSettings.from_dict(_mapping(facts.get(SETTINGS_FACT))).to_dict(),
    }
    accounts = _mapping(facts.get("customer_accounts"))
    express = _mapping(facts.get("accelerated_checkout"))
    if platform == "woocommerce":
        config["platform"] = {
            "guest_checkout": not accounts.get("login_required_at_checkout", False),
            "express_pay": bool(express.get("on_product_and_cart"))}
    elif platform == "custom":
        custom = {"currency": _mapping(facts.get("shop")).get("currency"),
                  "storefront": facts.get("storefront"),
                  "shipping_zones": facts.get("shipping_zones"),
                  "guest_checkout": (None if "login_required_at_checkout" not in accounts
                                     else not accounts["login_required_at_checkout"]),
                  "wallets": express.get("wallets")}
        config["platform"] = {k: v for k, v in custom.items() if v is not None}
    return config


def _leaves(value: Any, at: Path_ = ()) -> Iterable[tuple[Path_, Any]]:
    """Every (path, value) under `value`; a mapping is a branch (an empty one asks nothing)."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _leaves(item, (*at, key))
    else:
        yield at, value


def _get(config: Mapping[str, Any], at: Path_) -> Any:
    value: Any = config
    for part in at:
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _platform_problems(platform: str, current: Mapping[str, Any], wanted: Mapping[str, Any]
                       ) -> dict[str, str]:
    """What the store's platform does not let the file set: key -> why."""
    asked = _mapping(wanted.get("platform"))
    if platform == "shopify":
        return {key: "Shopify stores change this in their Shopify admin" for key in asked}
    if platform == "woocommerce":
        problems = {key: "set by WooCommerce" for key in asked if key not in PLATFORM_FIXES}
        for key in PLATFORM_FIXES:
            if asked.get(key) is False and _get(current, ("platform", key)):
                problems[key] = ("Parcours only turns this on; turn it off in WooCommerce "
                                 "(uninstalling Parcours puts back what it changed)")
        return problems
    return {"express_pay": "a custom shop lists its `wallets` instead"} if "express_pay" in asked \
        else {}


def _plan_store(config: ConfigFile, store: StoreInfo, facts: Mapping[str, Any],
                problems: dict[Path_, list[str]]) -> StorePlan | None:
    levels = config.levels(store.key, store.tags)
    try:
        asked, origin = merge(levels)
    except ValidationError as exc:
        problems[("tags",)] = [f"{store.key}: {m}" for m in exc.errors["tags"]]
        return None

    def written(at: Path_) -> Path_:  # where in the file a merged key was set
        where = origin.get(at)
        return where.path + at if where else ("stores", store.key)

    current = current_config(facts, store.platform)
    for key, why in _platform_problems(store.platform, current, asked).items():
        problems[written(("platform", key))] = [f"{store.key}: {why}"]
    wanted = copy.deepcopy(current)
    for at, value in _leaves(asked):
        target = wanted
        for part in at[:-1]:
            target = target.setdefault(str(part), {})
        target[str(at[-1])] = value
    for at, message in _whole_problems(wanted, store.platform).items():
        problems[written(at)] = [f"{store.key}: {message}"]
    changes = [Change(".".join(map(str, at)), _get(current, at), value,
                      (origin[at].label if at in origin else "defaults"))
               for at, value in _leaves(asked) if _get(current, at) != value]
    return StorePlan(store, changes, wanted)


def _whole_problems(wanted: Mapping[str, Any], platform: str) -> dict[Path_, str]:
    """A store's merged configuration checked as a whole (rules across keys, e.g. a webhook
    channel needs its URL): path -> message."""
    out: dict[Path_, str] = {}
    try:
        ReviewSettings.from_dict(wanted["reviews"])
    except ValidationError as exc:
        out.update({("reviews", *key.split(".")): " ".join(map(str, messages))
                    for key, messages in exc.errors.items()})
    settings = widget_settings({**wanted, "platform": _custom_platform(wanted, platform)})
    try:
        check_settings(settings)
    except ValidationError as exc:
        out[("widgets",)] = str(exc)
    return out


def _custom_platform(config: Mapping[str, Any], platform: str) -> dict[str, Any]:
    """The platform keys that are facts Parcours keeps (a custom shop's), not platform fixes."""
    if platform != "custom":
        return {}
    return {k: v for k, v in _mapping(config.get("platform")).items() if k in PLATFORM_KEYS}


def plan_config(conn: Connection, config: ConfigFile, selector: str | None = None
                ) -> list[StorePlan]:
    """What applying `config` to the selected stores would change, store by store; nothing is
    written. ValidationError (file, line and key named) for unknown stores or tags and for
    settings a store's platform refuses, before any store is looked at twice."""
    problems: dict[Path_, list[str]] = {}
    known = {store.key for store in select_stores(conn, "all")}
    for key in config.stores:
        if key not in known:
            problems[("stores", key)] = [f"no store {key!r}"]
    tags = known_tags(conn)
    for tag in config.tags:
        if tag not in tags:
            problems[("tags", tag)] = [f"no store has the tag {tag!r}"]
    if problems:
        raise config.error(problems)
    plans = []
    for store in select_stores(conn, selector):
        plan = _plan_store(config, store, store_facts(conn, store.id, *_FACTS), problems)
        if plan is not None:
            plans.append(plan)
    if problems:
        raise config.error(problems)
    return plans


# -- applying ------------------------------------------------------------------------------------

def _changed(plan: StorePlan, section: str) -> bool:
    return any(change.key.split(".")[0] == section for change in plan.changes)


def _new_facts(plan: StorePlan, stored_widgets: Mapping[str, Any]) -> dict[str, Any]:
    """The facts the plan writes: the widgets it changes (their other keys kept as stored),
    the storefront and a custom shop's platform facts when they change."""
    widgets = {name: _mapping(value) for name, value in stored_widgets.items()}
    for change in plan.changes:
        section, *rest = change.key.split(".")
        if section in ("widgets", "experiments") and len(rest) == 2:
            widgets.setdefault(rest[0], {})[rest[1]] = change.new
    settings = widget_settings({
        **({"widgets": widgets} if _changed(plan, "widgets") or _changed(plan, "experiments")
           else {}),
        **({"storefront": plan.wanted["storefront"]} if _changed(plan, "storefront") else {}),
        "platform": {k: v for k, v in _custom_platform(plan.wanted, plan.store.platform).items()
                     if _changed(plan, "platform")}})
    return settings_facts(check_settings(settings), plan.store.platform)


def _fixes(plan: StorePlan) -> list[str]:
    if plan.store.platform != "woocommerce":
        return []
    return [change.key.split(".")[1] for change in plan.changes
            if change.key in {f"platform.{fix}" for fix in PLATFORM_FIXES} and change.new]


def _restore(db: Database, store_id: int, before: Mapping[str, Any]) -> None:
    """Put the facts a failed apply wrote back as they were (absent ones removed)."""
    with db.write() as conn:
        current = store_facts(conn, store_id, *_FACTS)
        gone = [name for name in current if name not in before]
        if gone:
            conn.execute(delete(t.store_facts).where(t.store_facts.c.store_id == store_id,
                                                     t.store_facts.c.name.in_(gone)))
        back = {name: value for name, value in before.items() if name != SETTINGS_FACT}
        save_store_facts(conn, store_id, back, datetime.now(UTC))
        if SETTINGS_FACT in before:
            save_settings(conn, store_id, dict(before[SETTINGS_FACT]), datetime.now(UTC))


def _apply_store(access: StoreAccess, plan: StorePlan, actor: str, source: str) -> list[str]:
    """Apply one store's plan, all or nothing; what the platform calls did."""
    store = plan.store
    adapter = adapter_for(store.platform)
    with access.db.read() as conn:
        before = store_facts(conn, store.id, *_FACTS)
    notes: list[str] = []
    tried: list[str] = []  # a fix that failed may have changed something before failing
    written = False
    try:
        for target in _fixes(plan):
            tried.append(target)
            notes += adapter.apply_fix(access, target)
        with access.db.write() as conn:
            facts = _new_facts(plan, _mapping(before.get("widgets")))
            changed = save_store_facts(conn, store.id, facts, datetime.now(UTC))
            written = True
            if _changed(plan, "reviews"):
                reviews = {**_mapping(before.get(SETTINGS_FACT)),
                           **{c.key.split(".", 1)[1]: c.new for c in plan.changes
                              if c.key.startswith("reviews.")}}
                save_settings(conn, store.id, reviews, datetime.now(UTC))
            audit.record(conn, actor=actor, interface="config", action="config apply",
                         store_id=store.id, detail={
                             "file": source, "changes": [
                                 {"key": c.key, "old": c.old, "new": c.new} for c in plan.changes]})
        if "widgets" in changed:
            notes += adapter.widgets_changed(access)
    except ParcoursError as exc:
        if written:
            _restore(access.db, store.id, before)
        missed = []
        for target in reversed(tried):
            try:
                adapter.revert_fix(access, target)
            except ParcoursError as failure:  # kept in the adapter's memory for uninstall
                missed.append(f"{target} ({failure})")
        with access.db.write() as conn:  # the history keeps the attempt, and its undoing
            audit.record(conn, actor=actor, interface="config", action="config apply failed",
                         store_id=store.id, detail={"file": source, "error": str(exc),
                                                    "not_put_back": missed})
        if missed:
            raise ParcoursError(f"{exc}; NOT put back: {', '.join(missed)}") from exc
        raise
    return notes


def apply_plans(db: Database, access: Callable[[str], StoreAccess], plans: list[StorePlan],
                *, actor: str, source: str,
                progress: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Apply each store's plan in turn; one store's failure is reported and the rest go on."""
    outcomes = []
    for plan in plans:
        if not plan.changes:
            outcome = Outcome(plan.store.key, "unchanged")
        else:
            try:
                notes = _apply_store(access(plan.store.key), plan, actor, source)
                outcome = Outcome(plan.store.key, "changed", plan.changes, notes)
            except ParcoursError as exc:
                outcome = Outcome(plan.store.key, "failed", plan.changes, [str(exc)])
        if progress is not None:
            progress(outcome)
        outcomes.append(outcome)
    return outcomes


# -- exporting -----------------------------------------------------------------------------------

def export_config(conn: Connection, selector: str | None = None) -> str:
    """The selected stores' current configuration as a file that `config plan` finds nothing
    to change in (each store written out whole, defaults filled in)."""
    stores = {store.key: current_config(store_facts(conn, store.id, *_FACTS), store.platform)
              for store in select_stores(conn, selector)}
    header = (f"# parcours config export, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: every selected "
              "store as it is now.\n# Move what stores share to `defaults:` or `tags:`; "
              "`parcours config plan` shows the effect.\n")
    return header + yaml.safe_dump({"version": 1, "stores": stores}, sort_keys=False,
                                   allow_unicode=True)
