"""The post-install job: everything a shop needs after OAuth, idempotent and resumable.

Each step reads what Shopify already holds and changes only what differs, so the job can run
again at any time (after a crash half-way, after PUBLIC_URL moved, to refresh facts) and a
second run changes nothing. The steps:

1. webhooks: a shop-scoped subscription per topic the normalizer follows (the compliance topics
   cannot be subscribed through the API: they live in the app's TOML), at PUBLIC_URL;
2. web pixel: created, or updated when its settings (endpoint, store key) differ;
3. shop facts: currency, primary domain, time zone, locale, customer accounts (the same value
   as the customer_account_settings/update webhook's fact) and accelerated checkout wallets;
4. widget config: the app-data metafield `parcours.config` on the app installation, which the
   theme app embed reads in Liquid as `app.metafields.parcours.config` (no extra request);
5. shipping zones of the default delivery profile, for product-page estimates;
6. app embed: the theme-editor deep link that activates it, and whether the main theme's
   `config/settings_data.json` has it enabled.

The store key (stores.key) is the public identifier given to the storefront (pixel, config).
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from parcours import tables as t
from parcours.accounts import save_store_facts, store_facts
from parcours.adapters.shopify.client import ShopifyClient
from parcours.adapters.shopify.errors import (
    ShopifyAuthError,
    ShopifyGraphQLError,
    ShopifyUserErrors,
    ShopUnavailable,
)
from parcours.adapters.shopify.normalize import ACTION_TOPICS, COMPLIANCE_TOPICS, EVENT_TOPICS
from parcours.adapters.shopify.storefront import STOREFRONT
from parcours.adapters.shopify.tokens import access_token
from parcours.credentials import Vault
from parcours.db import Database
from parcours.errors import ConfigError, NotFoundError
from parcours.widgets.config import CONFIG_FACTS, widget_config

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["InstallReport", "app_embed_active", "app_embed_link", "embed_enabled", "init_jobs",
           "read_shipping_zones", "read_shop_facts", "rewrite_config", "run_post_install",
           "shop_client", "sync_web_pixel", "sync_webhooks", "webhook_topics",
           "write_config"]

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/shopify"
CONFIG_NAMESPACE, CONFIG_KEY = "parcours", "config"
SETTINGS_DATA = "config/settings_data.json"
DEFAULT_EMBED_HANDLE = "app-embed"  # extensions/theme/blocks/app-embed.liquid
Token = str | Callable[[], str]

# -- GraphQL operations (Admin API, the version pinned in client.py) ---------------------------
LIST_WEBHOOKS = """query ParcoursWebhooks($after: String) {
  webhookSubscriptions(first: 100, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { id topic uri }
  }
}"""
CREATE_WEBHOOK = """mutation ParcoursWebhookCreate($topic: WebhookSubscriptionTopic!,
    $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}"""
UPDATE_WEBHOOK = """mutation ParcoursWebhookUpdate($id: ID!,
    $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionUpdate(id: $id, webhookSubscription: $webhookSubscription) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}"""
GET_PIXEL = "query ParcoursPixel { webPixel { id settings } }"
CREATE_PIXEL = """mutation ParcoursPixelCreate($webPixel: WebPixelInput!) {
  webPixelCreate(webPixel: $webPixel) { webPixel { id settings } userErrors { field message code } }
}"""
UPDATE_PIXEL = """mutation ParcoursPixelUpdate($id: ID!, $webPixel: WebPixelInput!) {
  webPixelUpdate(id: $id, webPixel: $webPixel) {
    webPixel { id settings } userErrors { field message code }
  }
}"""
GET_SHOP = """query ParcoursShop {
  shop {
    currencyCode ianaTimezone
    primaryDomain { url host }
    customerAccountsV2 {
      customerAccountsVersion loginRequiredAtCheckout loginLinksVisibleOnStorefrontAndCheckout url
    }
    paymentSettings { supportedDigitalWallets }
  }
}"""
GET_LOCALES = "query ParcoursLocales { shopLocales(published: true) { locale primary } }"
GET_INSTALLATION = """query ParcoursInstallation {
  currentAppInstallation { id metafield(namespace: "parcours", key: "config") { value } }
}"""
SET_METAFIELDS = """mutation ParcoursMetafieldsSet($metafields: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $metafields) {
    metafields { id namespace key } userErrors { field message code }
  }
}"""
LIST_PROFILES = """query ParcoursProfiles($after: String) {
  deliveryProfiles(first: 25, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { id default profileLocationGroups { locationGroup { id } } }
  }
}"""
# One location group's zones, a few per page: each zone's rates multiply the query cost.
GET_ZONES = """query ParcoursZones($id: ID!, $group: ID!, $after: String) {
  deliveryProfile(id: $id) {
    profileLocationGroups(locationGroupId: $group) {
      locationGroupZones(first: 5, after: $after) {
        pageInfo { hasNextPage endCursor }
        nodes {
          zone { name countries { code { countryCode restOfWorld } provinces { code } } }
          methodDefinitions(first: 25) {
            nodes {
              name active
              rateProvider { ... on DeliveryRateDefinition { price { amount currencyCode } } }
              methodConditions {
                field operator
                conditionCriteria { __typename ... on MoneyV2 { amount currencyCode } }
              }
            }
          }
        }
      }
    }
  }
}"""
GET_THEME = """query ParcoursTheme {
  themes(roles: [MAIN], first: 1) {
    nodes {
      id
      files(filenames: ["config/settings_data.json"]) { nodes { filename body {
        ... on OnlineStoreThemeFileBodyText { content }
        ... on OnlineStoreThemeFileBodyBase64 { contentBase64 }
      } } }
    }
  }
}"""


@dataclass
class InstallReport:
    """What a run changed (`done`), found already right (`skipped`), and why it skipped."""

    store: str
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def record(self, step: str, changed: bool) -> None:
        (self.done if changed else self.skipped).append(step)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- 1. webhooks -------------------------------------------------------------------------------

def webhook_topics() -> list[str]:
    """The WebhookSubscriptionTopic enum names of the topics the normalizer follows."""
    topics = (set(EVENT_TOPICS) | set(ACTION_TOPICS)) - COMPLIANCE_TOPICS
    return sorted(topic.upper().replace("/", "_") for topic in topics)


def _pages(client: ShopifyClient, query: str, path: str,
           variables: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every node of a paginated connection at `path` of the answer ("a.0.b": 0 indexes a list;
    nothing there: no nodes)."""
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        data: Any = client.graphql(query, {**(variables or {}), "after": after})
        for part in path.split("."):
            if isinstance(data, list):
                data = data[int(part)] if len(data) > int(part) else None
            elif data is not None:
                data = data[part]
        if data is None:
            return nodes
        nodes += data["nodes"]
        if not data["pageInfo"]["hasNextPage"]:
            return nodes
        after = data["pageInfo"]["endCursor"]


def sync_webhooks(client: ShopifyClient, uri: str) -> int:
    """Subscribe every topic to `uri`; returns how many subscriptions were created or moved."""
    by_topic: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for sub in _pages(client, LIST_WEBHOOKS, "webhookSubscriptions"):
        by_topic[sub["topic"]].append(sub)
    changed = 0
    for topic in webhook_topics():
        subs = by_topic[topic]
        if any(sub.get("uri") == uri for sub in subs):
            continue
        given = {"webhookSubscription": {"uri": uri, "format": "JSON"}}
        try:
            if subs:  # ours at a former PUBLIC_URL (the list holds this app's only): move it
                client.mutate(UPDATE_WEBHOOK, {"id": subs[0]["id"], **given},
                              "webhookSubscriptionUpdate")
            else:
                client.mutate(CREATE_WEBHOOK, {"topic": topic, **given},
                              "webhookSubscriptionCreate")
        except ShopifyUserErrors as exc:
            if not any("taken" in str(error.get("message")) for error in exc.errors):
                raise
            continue  # a concurrent run subscribed it first
        changed += 1
    return changed


# -- 2. web pixel ------------------------------------------------------------------------------

def _current_pixel(client: ShopifyClient) -> dict[str, Any] | None:
    """The app's web pixel, or None. Without one, Shopify answers an error rather than null;
    errors that say something else (a scope, the query itself) are raised."""
    try:
        pixel = client.graphql(GET_PIXEL).get("webPixel")
    except ShopifyGraphQLError as exc:
        if (exc.data or {}).get("webPixel") is not None or exc.codes & {
                "ACCESS_DENIED", "undefinedField", "MAX_COST_EXCEEDED"}:
            raise
        return None
    return pixel if isinstance(pixel, dict) else None


def _settings(value: Any) -> Any:
    try:
        return json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return None


def sync_web_pixel(client: ShopifyClient, public_url: str, store_key: str) -> bool:
    """Create the web pixel, or update its settings when they differ; True when changed."""
    wanted = {"endpoint": public_url, "store_key": store_key}
    given = {"webPixel": {"settings": json.dumps(wanted)}}
    current = _current_pixel(client)
    if current is None:
        try:
            client.mutate(CREATE_PIXEL, given, "webPixelCreate")
            return True
        except ShopifyUserErrors as exc:
            if "TAKEN" not in exc.codes or (current := _current_pixel(client)) is None:
                raise
    if _settings(current.get("settings")) == wanted:
        return False
    client.mutate(UPDATE_PIXEL, {"id": current["id"], **given}, "webPixelUpdate")
    return True


# -- 3. shop facts -----------------------------------------------------------------------------

def _primary_locale(client: ShopifyClient, notes: list[str]) -> str | None:
    try:
        locales = client.graphql(GET_LOCALES).get("shopLocales") or []
    except ShopifyGraphQLError as exc:
        if "ACCESS_DENIED" not in exc.codes:
            raise
        notes.append("locale unknown: the read_locales scope is not granted")
        return None
    return next((item["locale"] for item in locales if item.get("primary")), None)


def read_shop_facts(client: ShopifyClient, notes: list[str] | None = None) -> dict[str, Any]:
    """The store facts `shop`, `customer_accounts` and `accelerated_checkout`."""
    shop = client.graphql(GET_SHOP)["shop"]
    accounts = shop.get("customerAccountsV2") or {}
    version = accounts.get("customerAccountsVersion")
    wallets = sorted(str(wallet).lower() for wallet in
                     (shop.get("paymentSettings") or {}).get("supportedDigitalWallets") or [])
    return {
        "shop": {"currency": shop["currencyCode"],
                 "primary_domain": (shop.get("primaryDomain") or {}).get("url"),
                 "timezone": shop["ianaTimezone"],
                 "locale": _primary_locale(client, notes if notes is not None else [])},
        # The keys and values of the customer_account_settings/update payload, which the
        # webhook normalizer stores under the same name: whichever is newer wins.
        "customer_accounts": {
            "customer_accounts_version": version.lower() if isinstance(version, str) else None,
            "login_required_at_checkout": bool(accounts.get("loginRequiredAtCheckout")),
            "login_links_visible_on_storefront_and_checkout":
                bool(accounts.get("loginLinksVisibleOnStorefrontAndCheckout")),
            "url": accounts.get("url")},
        # What the Admin API can tell: the wallets the shop's payment settings support (whether
        # the theme shows dynamic checkout buttons is a theme setting it does not expose).
        "accelerated_checkout": {"wallets": wallets, "shop_pay": "shopify_pay" in wallets},
    }


def _save_facts(db: Database, store_id: int, facts: Mapping[str, Any], now: datetime
                ) -> list[str]:
    """Write the facts that differ from the stored ones; their names."""
    with db.write() as conn:
        changed = save_store_facts(conn, store_id, facts, now)
        timezone = (facts.get("shop") or {}).get("timezone")
        if timezone:  # the store's local time (review quiet hours, daily reports) is the shop's
            conn.execute(update(t.stores).where(t.stores.c.id == store_id)
                         .values(timezone=str(timezone)[:64]))
    return changed


# -- 4. widget config --------------------------------------------------------------------------

def write_config(client: ShopifyClient, value: Mapping[str, Any]) -> bool:
    """Write the config metafield unless it already holds `value`; True when written."""
    installation = client.graphql(GET_INSTALLATION)["currentAppInstallation"]
    current = (installation.get("metafield") or {}).get("value")
    if current is not None and _settings(current) == value:
        return False
    client.mutate(SET_METAFIELDS, {"metafields": [{
        "ownerId": installation["id"], "namespace": CONFIG_NAMESPACE, "key": CONFIG_KEY,
        "type": "json", "value": json.dumps(value, separators=(",", ":"), sort_keys=True)}]},
        "metafieldsSet")
    return True


# -- 5. shipping zones -------------------------------------------------------------------------

def _amount(value: Any) -> str:
    return str(Decimal(str(value)).quantize(Decimal("0.01")))


def _rate(method: Mapping[str, Any]) -> dict[str, Any] | None:
    """A flat rate with its subtotal bounds; None for what a product page cannot price:
    inactive or carrier-calculated rates, and rates conditioned on the cart's weight."""
    price = (method.get("rateProvider") or {}).get("price")
    if not method.get("active") or not price:
        return None
    bounds: dict[str, str | None] = {"min_subtotal": None, "max_subtotal": None}
    for condition in method.get("methodConditions") or []:
        if condition.get("field") != "TOTAL_PRICE":
            return None
        side = ("min_subtotal" if condition.get("operator") == "GREATER_THAN_OR_EQUAL_TO"
                else "max_subtotal")
        bounds[side] = _amount(condition["conditionCriteria"]["amount"])
    return {"name": method["name"], "price": _amount(price["amount"]),
            "currency": price["currencyCode"], **bounds}


def _zone(node: Mapping[str, Any]) -> dict[str, Any]:
    zone = node["zone"]
    countries = [{"code": "*" if (country.get("code") or {}).get("restOfWorld")
                  else country["code"]["countryCode"],
                  "provinces": [province["code"] for province in country.get("provinces") or []]}
                 for country in zone.get("countries") or []]
    rates = [rate for method in (node.get("methodDefinitions") or {}).get("nodes") or []
             if (rate := _rate(method)) is not None]
    return {"name": zone["name"], "countries": countries, "rates": rates}


def read_shipping_zones(client: ShopifyClient) -> list[dict[str, Any]]:
    """The zones and flat rates of the default delivery profile (the one that applies to every
    product not given another profile); country code "*" is Shopify's rest of the world."""
    profiles = _pages(client, LIST_PROFILES, "deliveryProfiles")
    zones = []
    for profile in (profile for profile in profiles if profile.get("default")):
        for group in profile.get("profileLocationGroups") or []:
            variables = {"id": profile["id"], "group": group["locationGroup"]["id"]}
            zones += [_zone(node) for node in _pages(
                client, GET_ZONES, "deliveryProfile.profileLocationGroups.0.locationGroupZones",
                variables)]
    return zones


# -- 6. app embed ------------------------------------------------------------------------------

def app_embed_link(shop: str, api_key: str, handle: str = DEFAULT_EMBED_HANDLE) -> str:
    """The theme-editor deep link that opens App embeds with Parcours's embed switched on."""
    return (f"https://{shop}/admin/themes/current/editor?context=apps"
            f"&activateAppId={api_key}/{handle}")


def embed_enabled(settings_data: str | None, handle: str = DEFAULT_EMBED_HANDLE) -> bool:
    """Whether `config/settings_data.json` has the app embed block on.

    Shopify prefixes theme JSON files with a /* comment */; `current` is the settings object,
    or the name of a preset. App embed blocks are `current.blocks` entries whose type is
    "shopify://apps/<app>/blocks/<handle>/<uuid>", switched off by `"disabled": true`.
    """
    if not settings_data:
        return False
    try:
        data = json.loads(re.sub(r"^\s*/\*.*?\*/", "", settings_data, flags=re.DOTALL))
    except ValueError:
        return False
    current = data.get("current") if isinstance(data, dict) else None
    if isinstance(current, str):
        current = (data.get("presets") or {}).get(current)
    blocks = current.get("blocks") if isinstance(current, dict) else None
    marker = f"/blocks/{handle}/"
    return isinstance(blocks, dict) and any(
        isinstance(block, dict) and marker in str(block.get("type", ""))
        and not block.get("disabled", False) for block in blocks.values())


def app_embed_active(client: ShopifyClient, handle: str = DEFAULT_EMBED_HANDLE) -> bool:
    themes = client.graphql(GET_THEME)["themes"]["nodes"]
    files = ((themes[0].get("files") or {}).get("nodes") or []) if themes else []
    body = (files[0].get("body") or {}) if files else {}
    content = body.get("content")
    if content is None and body.get("contentBase64"):
        content = base64.b64decode(body["contentBase64"]).decode("utf-8", "replace")
    return embed_enabled(content, handle)


# -- the job -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Store:
    id: int
    key: str
    domain: str


def _store(db: Database, store_key: str) -> _Store:
    s = t.stores.c
    with db.read() as conn:
        row = conn.execute(select(s.id, s.platform, s.domain, s.uninstalled_at)
                           .where(s.key == store_key)).first()
    if row is None:
        raise NotFoundError(f"no store {store_key!r}")
    if row.platform != "shopify" or not row.domain:
        raise ConfigError(f"store {store_key!r} is not a Shopify store with a shop domain")
    if row.uninstalled_at is not None:
        raise ConfigError(f"store {store_key!r} uninstalled the app")
    return _Store(row.id, store_key, row.domain)


def _public_url(config: Mapping[str, Any]) -> str:
    url = str(config.get("PUBLIC_URL") or "").rstrip("/")
    if not url.startswith("https://"):
        raise ConfigError("PUBLIC_URL must be this server's https:// address: Shopify sends "
                          "webhooks and the storefront sends events there")
    return url


def _client(db: Database, vault: Vault, config: Mapping[str, Any], store: _Store,
            token: Token | None) -> ShopifyClient:
    if token is None:
        token = lambda: access_token(db, vault, config, store.id)  # noqa: E731
    origin = str(config.get("SHOPIFY_SHOP_ORIGIN") or "https://{shop}")
    return ShopifyClient(store.domain, token, origin_template=origin)


def shop_client(db: Database, vault: Vault, config: Mapping[str, Any], store_key: str, *,
                token: Token | None = None) -> ShopifyClient:
    """A client for a stored Shopify store, its tokens read (and refreshed) as needed."""
    return _client(db, vault, config, _store(db, store_key), token)


def _optional(report: InstallReport, step: str, run: Callable[[], bool]) -> None:
    """Run a step that needs an optional scope: a missing scope is a note, not a failure."""
    try:
        report.record(step, run())
    except ShopifyGraphQLError as exc:
        if "ACCESS_DENIED" not in exc.codes:
            raise
        report.skipped.append(step)
        report.notes.append(f"{step}: {exc}")


def run_post_install(db: Database, vault: Vault, config: Mapping[str, Any],
                     store_key: str, *, token: Token | None = None,
                     client: ShopifyClient | None = None, now: datetime | None = None
                     ) -> InstallReport:
    """Bring the shop to the state Parcours needs; safe to run any number of times."""
    store = _store(db, store_key)
    public_url = _public_url(config)
    api_key = str(config.get("SHOPIFY_API_KEY") or "")
    if not api_key:
        raise ConfigError("SHOPIFY_API_KEY is not set (the app's client id)")
    moment = now or datetime.now(UTC)
    report = InstallReport(store_key)
    shopify = client or _client(db, vault, config, store, token)
    try:
        report.record("webhooks", sync_webhooks(shopify, public_url + WEBHOOK_PATH) > 0)
        report.record("web_pixel", sync_web_pixel(shopify, public_url, store_key))
        facts = read_shop_facts(shopify, report.notes)
        report.record("shop_facts", bool(_save_facts(db, store.id, facts, moment)))
        _optional(report, "shipping_zones", lambda: bool(_save_facts(
            db, store.id, {"shipping_zones": read_shipping_zones(shopify)}, moment)))
        # After the facts and zones it summarises ("delivery from 4.90, free from 60").
        report.record("widget_config",
                      write_config(shopify, _config_value(db, store, public_url)))
        _optional(report, "app_embed", lambda: bool(_save_facts(db, store.id, {"app_embed": {
            "active": app_embed_active(shopify),
            "link": app_embed_link(store.domain, api_key)}}, moment)))
    finally:
        if client is None:
            shopify.close()
    log.info("Shopify post-install of %s: done %s, unchanged %s", store_key, report.done,
             report.skipped)
    return report


def _config_value(db: Database, store: _Store, public_url: str) -> dict[str, Any]:
    """The widget config from the store's facts (settings, language, customer accounts)."""
    with db.read() as conn:
        facts = store_facts(conn, store.id, *CONFIG_FACTS)
    return widget_config(public_url, store.key, facts, STOREFRONT)


def rewrite_config(db: Database, vault: Vault, config: Mapping[str, Any],
                   store_key: str, *, token: Token | None = None,
                   client: ShopifyClient | None = None) -> bool:
    """Rewrite the widget config metafield after the store's settings changed."""
    store = _store(db, store_key)
    value = _config_value(db, store, _public_url(config))
    shopify = client or _client(db, vault, config, store, token)
    try:
        return write_config(shopify, value)
    finally:
        if client is None:
            shopify.close()


def init_jobs(app: Flask) -> None:
    """Register the post-install task; `app.extensions["parcours.shopify.post_install"]`
    enqueues it (the OAuth callback calls it)."""
    jobs = app.extensions["parcours.jobs"]
    db: Database = app.extensions["parcours.db"]
    vault: Vault = app.extensions["parcours.vault"]
    config = app.config

    def post_install(store_key: str) -> dict[str, Any]:
        try:
            return run_post_install(db, vault, config, store_key).as_dict()
        except (ShopifyAuthError, ShopUnavailable, ConfigError, NotFoundError) as exc:
            # Retrying cannot help: the merchant or the operator must act first.
            log.error("Shopify post-install of %s stopped: %s", store_key, exc)
            return {"store": store_key, "error": str(exc)}

    task = jobs.huey.task(retries=5, retry_delay=60, name="shopify_post_install")(post_install)
    app.extensions["parcours.shopify.post_install"] = lambda store_key: task(store_key)
