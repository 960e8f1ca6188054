"""Store settings the merchant chooses to let Parcours change, and their restoration.

Nothing changes without the merchant's explicit choice (the dashboard's action, or the CLI).
The value a setting had before Parcours first changed it is kept in the store fact
`changed_settings`, so uninstalling puts every setting back as the merchant had it, even after
several changes. WooCommerce accepts only "yes"/"no" for these checkboxes (anything else is a 400).

Express pay: where the Stripe gateway or WooPayments is enabled, its express buttons (Apple Pay,
Google Pay, Link...) can be turned on for product and cart pages; the previous switch and
locations are remembered the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete

from parcours import tables as t
from parcours.accounts import save_store_facts, store_facts
from parcours.adapters.base import StoreAccess
from parcours.adapters.woocommerce.client import WooClient
from parcours.adapters.woocommerce.install import (
    CHECKOUT_SETTINGS,
    EXPRESS_GATEWAYS,
    connected_store_id,
    read_facts,
)
from parcours.adapters.woocommerce.keys import client_for
from parcours.errors import ValidationError

__all__ = ["apply_fix", "apply_setting", "enable_express_pay", "restore_settings", "revert_fix"]

FACT = "changed_settings"
EXPRESS_LOCATIONS = ["product", "cart", "checkout"]


def _remember(store: StoreAccess, store_id: int, key: str, previous: Any) -> None:
    """Keep the first value Parcours replaced (never overwrite it with one Parcours set)."""
    with store.db.write() as conn:
        changed = dict(store_facts(conn, store_id, FACT).get(FACT) or {})
        if key not in changed:
            changed[key] = previous
            save_store_facts(conn, store_id, {FACT: changed}, datetime.now(UTC))


def apply_setting(store: StoreAccess, name: str, enabled: bool) -> tuple[Any, str]:
    """Set a checkout setting (CHECKOUT_SETTINGS) on the store; (previous value, new value)."""
    if name not in CHECKOUT_SETTINGS:
        raise ValidationError("unknown setting", {"setting": [
            f"one of: {', '.join(sorted(CHECKOUT_SETTINGS))}"]})
    store_id = connected_store_id(store)
    group, option = CHECKOUT_SETTINGS[name]
    client = client_for(store)
    previous = client.get(f"settings/{group}/{option}").get("value")
    value = "yes" if enabled else "no"
    if previous != value:
        _remember(store, store_id, f"settings/{group}/{option}", previous)
        client.put(f"settings/{group}/{option}", {"value": value})
    return previous, value


def _express_gateway(client: WooClient, gateway_id: str | None) -> dict[str, Any]:
    gateways = [g for g in client.get("payment_gateways")
                if g.get("id") in EXPRESS_GATEWAYS and g.get("enabled")
                and (gateway_id is None or g.get("id") == gateway_id)]
    if not gateways:
        raise ValidationError("no payment gateway of this store offers express buttons", {
            "gateway": ["enable Stripe (express checkout) or WooPayments (payment request "
                        "buttons) in WooCommerce > Settings > Payments first"]})
    gateway: dict[str, Any] = gateways[0]
    return gateway


def enable_express_pay(store: StoreAccess, gateway_id: str | None = None) -> str:
    """Turn on the gateway's express buttons on product, cart and checkout pages; its id."""
    store_id = connected_store_id(store)
    client = client_for(store)
    gateway = _express_gateway(client, gateway_id)
    switch, where = EXPRESS_GATEWAYS[gateway["id"]]
    settings = gateway.get("settings") or {}
    previous = {switch: (settings.get(switch) or {}).get("value"),
                where: (settings.get(where) or {}).get("value")}
    wanted = {switch: "yes", where: EXPRESS_LOCATIONS}
    if previous != wanted:
        _remember(store, store_id, f"payment_gateways/{gateway['id']}", previous)
        client.put(f"payment_gateways/{gateway['id']}", {"settings": wanted})
    return str(gateway["id"])


def apply_fix(store: StoreAccess, target: str) -> list[str]:
    """A friction fix's one-click action (`PlatformAdapter.apply_fix`), then the store's facts
    read again: the finding it answered goes silent at the next look."""
    if target == "guest_checkout":
        previous, value = apply_setting(store, "guest_checkout", True)
        done = [f"guest checkout: {previous} -> {value}"]
    elif target == "express_pay":
        done = [f"express buttons on for {enable_express_pay(store)}"]
    else:
        raise ValidationError("no such fix", {"fix": [
            "WooCommerce fixes: guest_checkout, express_pay"]})
    client = client_for(store)
    facts, _ = read_facts(client, client.url)
    with store.db.write() as conn:
        save_store_facts(conn, connected_store_id(store), facts, datetime.now(UTC))
    return done


def _fix_endpoints(target: str) -> tuple[str, ...]:
    """The remembered endpoints a fix writes (FACT's keys): the setting, or any gateway."""
    if target == "guest_checkout":
        group, option = CHECKOUT_SETTINGS["guest_checkout"]
        return (f"settings/{group}/{option}",)
    if target == "express_pay":
        return ("payment_gateways/",)
    raise ValidationError("no such fix", {"fix": [
        "WooCommerce fixes: guest_checkout, express_pay"]})


def revert_fix(store: StoreAccess, target: str) -> list[str]:
    """Put back the settings one fix changed (`PlatformAdapter.revert_fix`), then read the
    store's facts again; the endpoints restored."""
    restored = restore_settings(store, _fix_endpoints(target))
    if restored:
        client = client_for(store)
        facts, _ = read_facts(client, client.url)
        with store.db.write() as conn:
            save_store_facts(conn, connected_store_id(store), facts, datetime.now(UTC))
    return restored


def restore_settings(store: StoreAccess, prefixes: tuple[str, ...] = ("",)) -> list[str]:
    """Put back every setting Parcours changed whose endpoint starts with one of `prefixes`
    (every one by default); the endpoints restored. The memory is cleared only for what was
    restored, so a failure half-way can be retried."""
    store_id = connected_store_id(store)
    with store.db.read() as conn:
        changed = dict(store_facts(conn, store_id, FACT).get(FACT) or {})
    client = client_for(store)
    restored = []
    for endpoint, previous in sorted(changed.items()):
        if not endpoint.startswith(prefixes):
            continue
        if endpoint.startswith("payment_gateways/"):
            client.put(endpoint, {"settings": previous})
        else:
            client.put(endpoint, {"value": previous})
        restored.append(endpoint)
        del changed[endpoint]
        with store.db.write() as conn:
            if changed:
                save_store_facts(conn, store_id, {FACT: changed}, datetime.now(UTC))
            else:  # nothing left to put back: as if Parcours had never changed anything
                conn.execute(delete(t.store_facts).where(t.store_facts.c.store_id == store_id,
                                                         t.store_facts.c.name == FACT))
    return restored
