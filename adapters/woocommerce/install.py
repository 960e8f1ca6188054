"""Setting a WooCommerce store up after it connects, and keeping its webhooks alive.

`run_setup` is idempotent: it reads what the store holds and changes only what differs.

- Webhooks: one per topic Parcours follows, each signed with the store's secret. WooCommerce
  never returns a secret, so Parcours keeps it (encrypted) and writes it into every webhook.
  WooCommerce ignores `status` on create, so a created webhook is then PUT active. A second
  webhook for the same topic at Parcours' URL would deliver twice: extras are deleted
  (`force=true`: webhooks cannot be trashed).
- Facts: the WooCommerce version, the checkout settings the friction findings read (guest
  checkout, login reminder, shipping calculator, cost requires address), express-pay gateways,
  the shipping zones for product-page estimates, and whether WooCommerce 10.8+'s own review
  request email is on (then Parcours never asks a second time for the same order).

`heal` is the periodic health check. WooCommerce never retries a failed delivery and disables a
webhook after more than 5 consecutive failures, so a store whose Parcours was unreachable for a
while silently stops sending. The check re-activates disabled or paused webhooks, recreates
missing ones, and tells the caller to reconcile the gap.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from parcours import tables as t
from parcours.accounts import save_store_facts
from parcours.adapters.base import StoreAccess
from parcours.adapters.woocommerce.client import WooClient
from parcours.adapters.woocommerce.errors import WooCommerceError
from parcours.adapters.woocommerce.keys import client_for
from parcours.adapters.woocommerce.shipping import read_zones
from parcours.adapters.woocommerce.site import allow_local
from parcours.credentials import read_secrets, set_secret
from parcours.errors import ConfigError, NotFoundError

__all__ = ["CHECKOUT_SETTINGS", "EXPRESS_GATEWAYS", "TOPICS", "SetupReport", "connected_store_id",
           "delivery_url", "heal", "read_facts",
           "remove_webhooks", "run_setup", "sync_webhooks"]

log = logging.getLogger(__name__)

# The topics the normalizer reads (adapters/woocommerce/normalize.py).
TOPICS = ("order.created", "order.updated", "order.deleted", "customer.created",
          "customer.updated", "product.created", "product.updated")
CHECKOUT_SETTINGS = {  # Parcours' name -> (settings group, WooCommerce option)
    "guest_checkout": ("account", "woocommerce_enable_guest_checkout"),
    "checkout_login_reminder": ("account", "woocommerce_enable_checkout_login_reminder"),
    "shipping_calc": ("shipping", "woocommerce_enable_shipping_calc"),
    "shipping_cost_requires_address": ("shipping", "woocommerce_shipping_cost_requires_address"),
}
# Express-pay switches per gateway: (the setting that turns buttons on, where they show).
EXPRESS_GATEWAYS = {"stripe": ("express_checkout", "express_checkout_button_locations"),
                    "woocommerce_payments": ("payment_request",
                                             "payment_request_button_locations")}


@dataclass
class SetupReport:
    store: str
    done: list[str] = field(default_factory=list)  # steps that changed something
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def delivery_url(config: Mapping[str, Any], store_key: str) -> str:
    url = str(config.get("PUBLIC_URL") or "").rstrip("/")
    if not url.startswith("https://") and not (allow_local(config) and url.startswith("http")):
        raise ConfigError("PUBLIC_URL must be the https address WooCommerce delivers webhooks to")
    return f"{url}/webhooks/woocommerce/{store_key}"


def connected_store_id(store: StoreAccess) -> int:
    with store.db.read() as conn:
        found = conn.execute(select(t.stores.c.id).where(
            t.stores.c.key == store.key, t.stores.c.platform == "woocommerce",
            t.stores.c.uninstalled_at.is_(None))).scalar()
    if found is None:
        raise NotFoundError(f"no connected WooCommerce store {store.key!r}")
    return int(found)


def _secret(store: StoreAccess, store_id: int, adapter_secret: str) -> tuple[str, bool]:
    """The store's webhook secret, made now if it has none (then True: webhooks need it)."""
    with store.db.write() as conn:
        found = read_secrets(conn, store.vault, store_id)
        if found:
            return found[0], False
        set_secret(conn, store.vault, store_id, adapter_secret)
        return adapter_secret, True


# -- webhooks ------------------------------------------------------------------------------------

def sync_webhooks(client: WooClient, url: str, secret: str, *, rewrite_secret: bool = False
                  ) -> list[str]:
    """Make the store hold exactly one active webhook per topic at `url`; what was changed.

    Two runs at once (the setup job and the health check) may both find a topic missing and
    both create it. Without a lock across HTTP calls, each run settles after creating: it lists
    again and keeps the oldest webhook per topic. Every run keeps the same one, and the run
    that lists last sees every creation, so the store ends with one webhook per topic."""
    kept, changes = _settle(client, url)
    created = False
    for topic in TOPICS:
        current = kept.get(topic)
        if current is None:
            current = client.post("webhooks", {"name": f"Parcours {topic}", "topic": topic,
                                               "delivery_url": url, "secret": secret})
            changes.append(f"created {topic}")
            created = True
        elif rewrite_secret:
            client.put(f"webhooks/{current['id']}", {"secret": secret})
            changes.append(f"new secret for {topic}")
        assert current is not None
        if current.get("status") != "active":  # ignored on create; disabled after failures
            client.put(f"webhooks/{current['id']}", {"status": "active"})
            changes.append(f"activated {topic} (was {current.get('status')})")
    if created:
        changes += _settle(client, url)[1]
    return changes


def _settle(client: WooClient, url: str) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The oldest webhook per followed topic at `url`; every other one there is deleted (a
    duplicate, or a topic Parcours no longer follows)."""
    ours = sorted((hook for hook in client.pages("webhooks") if hook.get("delivery_url") == url),
                  key=lambda hook: hook["id"])
    kept: dict[str, dict[str, Any]] = {}
    deleted: list[str] = []
    for hook in ours:
        if hook.get("topic") in TOPICS and hook["topic"] not in kept:
            kept[hook["topic"]] = hook
            continue
        try:
            client.delete(f"webhooks/{hook['id']}", force="true")
        except WooCommerceError as exc:
            if exc.status != 404:  # 404: a concurrent run deleted it first
                raise
        deleted.append(f"deleted {hook.get('topic')} #{hook['id']}")
    return kept, deleted


def remove_webhooks(client: WooClient, url: str) -> int:
    """Delete every webhook that delivers to Parcours for this store (uninstall)."""
    hooks = [hook for hook in client.pages("webhooks") if hook.get("delivery_url") == url]
    for hook in hooks:
        client.delete(f"webhooks/{hook['id']}", force="true")
    return len(hooks)


# -- facts ---------------------------------------------------------------------------------------

def _value(client: WooClient, group: str, option: str) -> Any:
    return client.get(f"settings/{group}/{option}").get("value")


def _review_requests(client: WooClient) -> dict[str, Any]:
    """WooCommerce 10.8+ sends its own review request (email customer_review_request)."""
    try:
        settings = {item["id"]: item.get("value")
                    for item in client.get("settings/email_customer_review_request")}
    except WooCommerceError as exc:
        if exc.status == 404:  # before 10.8: no such email
            return {"available": False, "enabled": False}
        raise
    delay = str(settings.get("delay") or "")
    return {"available": True, "enabled": settings.get("enabled") == "yes",
            "delay_days": int(delay) if delay.isdigit() else None}


def _express(client: WooClient) -> dict[str, Any]:
    gateways = []
    for gateway in client.get("payment_gateways"):
        switches = EXPRESS_GATEWAYS.get(str(gateway.get("id")))
        if switches is None:
            continue
        settings = gateway.get("settings") or {}
        locations = (settings.get(switches[1]) or {}).get("value") or []
        gateways.append({"id": gateway["id"], "title": gateway.get("title"),
                         "enabled": bool(gateway.get("enabled")),
                         "express": (settings.get(switches[0]) or {}).get("value") == "yes",
                         "locations": sorted(locations) if isinstance(locations, list) else []})
    express = any(g["enabled"] and g["express"] for g in gateways)
    # Both gateways' express buttons offer Apple Pay and Google Pay (the browser decides which
    # shows); `wallets` has the same meaning as Shopify's fact, for the express widget.
    return {"gateways": gateways, "supported": any(g["enabled"] for g in gateways),
            "wallets": ["apple_pay", "google_pay"] if express else [],
            "on_product_and_cart": any(g["enabled"] and g["express"]
                                       and {"product", "cart"} <= set(g["locations"])
                                       for g in gateways)}


def read_facts(client: WooClient, url: str) -> tuple[dict[str, Any], list[str]]:
    """The store facts (see the module docstring) and notes on what could not be read."""
    status = client.get("system_status")
    version = str(((status or {}).get("environment") or {}).get("version") or "")
    currency = str(_value(client, "general", "woocommerce_currency") or "")
    settings = {name: _value(client, group, option)
                for name, (group, option) in CHECKOUT_SETTINGS.items()}
    zones, notes = read_zones(client, currency)
    facts = {
        "site": {"url": url, "version": version, "currency": currency},
        "checkout_settings": settings,
        # The same fact name and meaning as Shopify's, so friction findings read one fact.
        "customer_accounts": {"login_required_at_checkout": settings["guest_checkout"] == "no"},
        "accelerated_checkout": _express(client),
        "shipping_zones": zones,
        "platform_review_requests": _review_requests(client),
    }
    return facts, notes


# -- the jobs ------------------------------------------------------------------------------------

def run_setup(store: StoreAccess, new_secret: str, *, now: datetime | None = None
              ) -> SetupReport:
    """Webhooks and facts for a connected store; safe to run any number of times."""
    store_id = connected_store_id(store)
    report = SetupReport(store.key)
    secret, fresh = _secret(store, store_id, new_secret)
    client = client_for(store)
    changes = sync_webhooks(client, delivery_url(store.config, store.key), secret,
                            rewrite_secret=fresh)
    if changes:
        report.done.append("webhooks")
        report.notes += changes
    facts, notes = read_facts(client, client.url)
    report.notes += notes
    with store.db.write() as conn:
        if save_store_facts(conn, store_id, facts, now or datetime.now(UTC)):
            report.done.append("facts")
    log.info("WooCommerce setup of %s: %s", store.key, report.done or "nothing to change")
    return report


def heal(store: StoreAccess) -> list[str]:
    """Re-activate or recreate the store's webhooks; what was repaired (empty: all healthy)."""
    store_id = connected_store_id(store)
    with store.db.read() as conn:
        secrets = read_secrets(conn, store.vault, store_id)
    if not secrets:
        raise ConfigError(f"store {store.key} has no webhook secret: run its setup first")
    repaired = sync_webhooks(client_for(store), delivery_url(store.config, store.key),
                             secrets[0])
    if repaired:  # the dashboard shows the last repair
        with store.db.write() as conn:
            save_store_facts(conn, store_id, {"webhooks_repaired": repaired},
                             datetime.now(UTC))
    return repaired
