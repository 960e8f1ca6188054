"""Saving a store's settings from the dashboard: the settings form (dashboard_manage.py) and the
friction page's one-click fixes (dashboard_insights.py) go through these functions, so that a
fix applied in one click is validated, stored and pushed to the platform exactly as the same
change made in the form would be; a fix of the platform's own settings goes through its adapter
(`PlatformAdapter.apply_fix`), like the CLI's. No page here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flask import current_app

from parcours.accounts import save_store_facts, store_facts
from parcours.adapters.base import StoreAccess, adapter_for
from parcours.dashboard import View
from parcours.errors import ParcoursError, ValidationError
from parcours.review_admin import save_settings
from parcours.review_requests import SETTINGS_FACT
from parcours.widgets.config import DEFAULT_WIDGETS
from parcours.widgets.settings import check_settings, settings_facts

__all__ = ["apply_store_setting", "enable_review_requests", "enable_widget", "push_widgets"]


def _now() -> datetime:
    return datetime.now(UTC)


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def push_widgets(view: View, changed: bool, notice: str) -> str:
    """After saving widget facts: hand them to the platform's copy (Shopify's metafield, the
    WordPress option) when they changed. The notice to show: `notice`, or `saved_not_pushed`
    when the platform could not be reached (saved all the same; it follows at the next change).
    """
    if not changed:
        return notice
    try:
        adapter_for(view.platform).widgets_changed(_access(view))
    except ParcoursError:
        return "saved_not_pushed"
    return notice


def _access(view: View) -> StoreAccess:
    return StoreAccess(view.store.key, current_app.extensions["parcours.db"],
                       current_app.extensions["parcours.vault"], current_app.config)


def enable_widget(view: View, name: str) -> str:
    """Switch one widget on, keeping its other settings (holdout share, salt); the notice
    (`fix_refused` for a widget Parcours does not have)."""
    if name not in DEFAULT_WIDGETS:
        return "fix_refused"
    with view.read() as conn:
        stored = _mapping(store_facts(conn, view.store.id, "widgets").get("widgets"))
    widgets = {key: _mapping(value) for key, value in stored.items()}
    widgets[name] = {**widgets.get(name, {}), "enabled": True}
    facts = settings_facts(check_settings({"widgets": widgets}), view.platform)
    with view.write() as conn:
        changed = save_store_facts(conn, view.store.id, facts, _now())
    return push_widgets(view, bool(changed), "widget_enabled")


def enable_review_requests(view: View) -> str:
    """Switch Parcours' review requests on, keeping their delay; the notice."""
    with view.read() as conn:
        review = _mapping(store_facts(conn, view.store.id, SETTINGS_FACT).get(SETTINGS_FACT))
    review["enabled"] = True
    with view.write() as conn:
        save_settings(conn, view.store.id, review, _now())
    return "reviews_enabled"


def apply_store_setting(view: View, target: str) -> str:
    """Change a setting of the store on its platform (guest checkout, express buttons) through
    its adapter, which remembers it for the uninstall and reads the store's facts again; the
    notice. A platform where Parcours may not change it refuses (`fix_refused`); one that
    cannot be reached changes nothing (`fix_failed`)."""
    try:
        adapter_for(view.platform).apply_fix(_access(view), target)
    except ValidationError:
        return "fix_refused"
    except ParcoursError:
        return "fix_failed"
    return "setting_changed"
