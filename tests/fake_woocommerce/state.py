"""The fake store's state, in WooCommerce's REST v3 shapes, and what builds it.

Every seeded object starts from a body recorded from a real WooCommerce 11.0.1 store
(`tests/fixtures/woocommerce/*_rest__local-wc11.0.1.json`); the recorded store's origin
(`http://127.0.0.1:8088`) is swapped for the fake's own. Objects are kept as the REST API shows
them (`_links` included, built when the object is made), so a test can compare them with a
fixture key for key.

`php_json` encodes as PHP's `json_encode` with WordPress' default flags does (`wp_json_encode`):
compact, `\\/` for slashes, `\\uXXXX` for non-ASCII. Every recorded body round-trips through it
byte for byte (tests/test_fake_woocommerce.py checks it), so signatures over bodies the fake
builds behave as over WooCommerce's.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "woocommerce"
RECORDED_ORIGIN = "http://127.0.0.1:8088"  # the origin of the store the fixtures come from
WP_VERSION = "7.1"
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
EDIT_METHODS = ["GET", "POST", "PUT", "PATCH"]


def fixture(name: str) -> Any:
    """A fixture, parsed (`name` without the directory)."""
    return json.loads((FIXTURES / name).read_text())


def local_fixture(stem: str) -> Any:
    """A body recorded from the local WooCommerce 11.0.1 store."""
    return fixture(f"{stem}__local-wc11.0.1.json")


def php_json(value: Any) -> bytes:
    """`value` as `wp_json_encode` writes it (no JSON_UNESCAPED_SLASHES, no pretty print)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/").encode()


def wc_date(moment: float) -> str:
    """`wc_rest_prepare_date_response`: ISO 8601 without offset (the fake's site is on UTC)."""
    return datetime.fromtimestamp(int(moment), UTC).strftime("%Y-%m-%dT%H:%M:%S")


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def rebase(value: Any, origin: str) -> Any:
    """`value` with the recorded store's origin replaced by `origin` in every string."""
    if isinstance(value, str):
        return value.replace(RECORDED_ORIGIN, origin)
    if isinstance(value, list):
        return [rebase(item, origin) for item in value]
    if isinstance(value, dict):
        return {key: rebase(item, origin) for key, item in value.items()}
    return value


@dataclass
class ApiKey:
    """A row of `wp_woocommerce_api_keys` (WooCommerce stores a hash of the key; we keep it)."""

    key_id: int
    user_id: int
    description: str
    permissions: str  # "read", "write" or "read_write"
    consumer_key: str  # "ck_" + 40 hex (wc_rand_hash)
    consumer_secret: str  # "cs_" + 40 hex


@dataclass
class WebhookMeta:
    """What WC_Webhook keeps and the REST API never shows."""

    secret: str
    failure_count: int = 0
    user_id: int = 1
    api_version: str = "wp_api_v3"
    pending_delivery: bool = True


@dataclass
class Cart:
    """A Store API cart (a WooCommerce session): product id -> quantity, and the customer."""

    customer_id: str  # the session's customer id ("t_" + hex for guests)
    items: dict[int, int] = field(default_factory=dict)
    billing: dict[str, str] = field(default_factory=dict)
    shipping: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeWooStore:
    """One WooCommerce store: its REST objects, API keys, webhooks and Store API sessions."""

    base_url: str = RECORDED_ORIGIN  # the home URL; `running()` sets the served origin
    version: str = "11.0.1"
    wp_version: str = WP_VERSION
    keys: dict[str, ApiKey] = field(default_factory=dict)  # consumer_key -> key
    webhooks: dict[int, dict[str, Any]] = field(default_factory=dict)  # as GET webhooks/<id>
    webhook_meta: dict[int, WebhookMeta] = field(default_factory=dict)  # secret, failures
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    customers: dict[int, dict[str, Any]] = field(default_factory=dict)
    products: dict[int, dict[str, Any]] = field(default_factory=dict)
    reviews: dict[int, dict[str, Any]] = field(default_factory=dict)
    settings: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    payment_gateways: dict[str, dict[str, Any]] = field(default_factory=dict)
    shipping_zones: list[dict[str, Any]] = field(default_factory=list)  # see shipping_zone()
    deliveries: list[dict[str, Any]] = field(default_factory=list)  # every delivery attempt
    pings: list[dict[str, Any]] = field(default_factory=list)  # the pings sent on creation
    auth_callbacks: list[dict[str, Any]] = field(default_factory=list)  # wc-auth key posts
    drop_next: int = 0  # the next N deliveries fail as if the network dropped them
    fail_next: list[int] = field(default_factory=list)  # statuses of the next REST calls
    # "METHOD endpoint" (e.g. "PUT payment_gateways/stripe") -> WP_Errors its next calls
    # answer, as a plugin hooked on rest_pre_dispatch refuses a change before WooCommerce acts
    fail_on: dict[str, list[Any]] = field(default_factory=dict)
    # seconds the next REST calls' answers wait, after WordPress did the work (a slow host, or
    # an answer lost to the client's read timeout while the change was made)
    delay_next: list[float] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)  # "METHOD endpoint" of every REST call
    app_network: dict[str, str] = field(default_factory=dict)  # public origin -> local origin
    auto_approve: bool = True  # wc-auth: the merchant approves unless `approve=0`
    admin_user_id: int = 1  # the merchant's WordPress user, owner of approved keys
    currency: str = "USD"
    currency_symbol: str = "$"
    base_country: str = "US"  # woocommerce_default_country "US:CA", the customers' default
    base_state: str = "CA"
    carts: dict[str, Cart] = field(default_factory=dict)  # session customer id -> cart
    oauth_nonces: dict[int, dict[int, str]] = field(default_factory=dict)  # key id -> used
    salt: str = field(default_factory=lambda: secrets.token_hex(32))  # wp_salt()
    clock: Callable[[], float] = time.time  # dates the store's objects (not OAuth, not tokens)
    lock: threading.RLock = field(default_factory=threading.RLock)
    counters: dict[str, Iterator[int]] = field(default_factory=dict)

    @property
    def home(self) -> str:
        """home_url('/')."""
        return self.base_url.rstrip("/") + "/"

    def rest_url(self, route: str) -> str:
        return f"{self.base_url.rstrip('/')}/wp-json/{route.lstrip('/')}"

    def next_id(self, kind: str) -> int:
        """The next id of a table: "post" (orders, products), "user", "comment", "webhook"..."""
        with self.lock:
            if kind not in self.counters:
                start = {"post": 100, "user": 10, "comment": 8, "zone": 2,
                         "instance": 2}.get(kind, 1)
                self.counters[kind] = itertools.count(start)
            return next(self.counters[kind])

    def now(self) -> float:
        return self.clock()

    def has_review_request_email(self) -> bool:
        """The review-request email (its settings group) exists from WooCommerce 10.8 on."""
        return version_tuple(self.version) >= (10, 8)


def links(store: FakeWooStore, route: str, item_id: Any, allow: list[str],
          **extra: list[dict[str, Any]]) -> dict[str, Any]:
    """`_links` as WordPress 6.7+ renders them for an authenticated request (targetHints)."""
    collection = store.rest_url(f"wc/v3/{route}")
    out: dict[str, Any] = {"self": [{"href": f"{collection}/{item_id}",
                                     "targetHints": {"allow": allow}}],
                           "collection": [{"href": collection}]}
    out.update(extra)
    return out


# -- seeding -----------------------------------------------------------------------------------

def checkbox(setting_id: str, label: str, description: str, default: str, value: str,
             group: str, tip: str | None = None) -> dict[str, Any]:
    """A checkbox setting as GET settings/<group>/<id> answers it (without `_links`)."""
    data: dict[str, Any] = {"id": setting_id, "label": label, "description": description,
                            "type": "checkbox", "default": default}
    if tip is not None:
        data["tip"] = tip
    data["value"] = value
    data["group_id"] = group
    return data


def seed_settings(store: FakeWooStore) -> None:
    guest = local_fixture("setting_option_guest_checkout_rest")
    guest.pop("_links")
    requires_address = local_fixture("setting_option_shipping_cost_requires_address_rest")
    requires_address.pop("_links")
    requires_address["value"] = "no"  # the default; the recorded store had switched it on
    store.settings["account"] = {
        guest["id"]: guest,
        # Wording not recorded from 11.0.1 (the recorded store's fixtures do not include it).
        "woocommerce_enable_checkout_login_reminder": checkbox(
            "woocommerce_enable_checkout_login_reminder", "",
            "Allow customers to log into an existing account during checkout", "no", "no",
            "account"),
    }
    store.settings["shipping"] = {
        "woocommerce_enable_shipping_calc": checkbox(
            "woocommerce_enable_shipping_calc", "Calculations",
            "Enable the shipping calculator on the cart page", "yes", "yes", "shipping"),
        requires_address["id"]: requires_address,
    }
    # WooCommerce > Settings > General: the store currency (a select; wording from the REST
    # docs' settings example, options reduced to what tests use).
    store.settings["general"] = {
        "woocommerce_currency": {
            "id": "woocommerce_currency", "label": "Currency",
            "description": "This controls what currency prices are listed at in the catalog "
                           "and which currency gateways will take payments in.",
            "type": "select", "default": "USD", "tip": "", "placeholder": "",
            "options": {"USD": "United States (US) dollar ($)", "EUR": "Euro (&euro;)"},
            "value": store.currency, "group_id": "general"},
    }
    if store.has_review_request_email():
        # The email's form fields (WC_Email settings); shapes as other email groups, wording
        # not recorded.
        group = "email_customer_review_request"
        store.settings[group] = {
            "enabled": checkbox("enabled", "Enable/Disable", "Enable this email notification",
                                "no", "no", group),
            "delay": {"id": "delay", "label": "Send after", "description":
                      "Days after the order is completed before the email is sent.",
                      "type": "number", "default": "7", "tip": "", "placeholder": "",
                      "value": "7", "group_id": group},
        }


def gateway_links(store: FakeWooStore, gateway_id: str) -> dict[str, Any]:
    return links(store, "payment_gateways", gateway_id, EDIT_METHODS)


def seed(store: FakeWooStore) -> None:
    """The recorded store's objects: settings, the BACS gateway, product 11, customer 2."""
    with store.lock:
        seed_settings(store)
        bacs = rebase(local_fixture("payment_gateway_bacs_rest"), store.base_url)
        store.payment_gateways["bacs"] = bacs
        product = rebase(local_fixture("product_rest"), store.base_url)
        store.products[product["id"]] = product
        customer = rebase(local_fixture("customer_rest"), store.base_url)
        store.customers[customer["id"]] = customer


def setting_object(setting_id: str, label: str, setting_type: str, value: Any, default: Any,
                   description: str = "", options: dict[str, str] | None = None
                   ) -> dict[str, Any]:
    """A payment gateway setting (WC_REST_Payment_Gateways_Controller::get_settings)."""
    data: dict[str, Any] = {"id": setting_id, "label": label, "description": description,
                            "type": setting_type, "value": value, "default": default,
                            "tip": description, "placeholder": ""}
    if options:
        data["options"] = options
    return data


LOCATIONS = {"product": "Product", "cart": "Cart", "checkout": "Checkout"}


def _gateway(store: FakeWooStore | None, gateway_id: str, title: str, method_title: str,
             description: str, settings: dict[str, dict[str, Any]], enabled: bool
             ) -> dict[str, Any]:
    """A gateway in the shape of payment_gateway_bacs_rest (its links and settings_url on
    `store`'s origin, or on the recorded one, which the REST answers rebase)."""
    store = store or FakeWooStore()
    data: dict[str, Any] = rebase(local_fixture("payment_gateway_bacs_rest"), store.base_url)
    data.update({"id": gateway_id, "title": title, "description": description,
                 "enabled": enabled, "method_title": method_title,
                 "method_description": description,
                 "method_supports": ["products", "refunds"], "settings": settings,
                 "settings_url": f"{store.base_url}/wp-admin/admin.php?page=wc-settings"
                                 f"&tab=checkout&section={gateway_id}"})
    data["_links"] = gateway_links(store, gateway_id)
    return data


def stripe_gateway(store: FakeWooStore | None = None, *, express_checkout: str = "no",
                   locations: list[str] | None = None, enabled: bool = True) -> dict[str, Any]:
    """The Stripe extension's gateway (`stripe`), with its express checkout settings
    (WooCommerce Stripe Gateway 8+: `express_checkout`, `express_checkout_button_locations`).
    Register it with `store.payment_gateways["stripe"] = stripe_gateway(store)` (`store` may
    be left out)."""
    settings = {
        "title": setting_object("title", "Title", "text", "Credit / Debit Card",
                                "Credit / Debit Card"),
        "express_checkout": setting_object(
            "express_checkout", "Express checkout", "checkbox", express_checkout, "yes",
            "If enabled, users will be able to pay using Apple Pay, Google Pay or Link."),
        "express_checkout_button_locations": setting_object(
            "express_checkout_button_locations", "Express checkout locations", "multiselect",
            ["checkout"] if locations is None else locations, ["product", "cart"],
            "Select where you would like express checkout buttons to be displayed.",
            LOCATIONS),
    }
    return _gateway(store, "stripe", "Credit / Debit Card", "Stripe",
                    "Pay with your credit card via Stripe.", settings, enabled)


def woopayments_gateway(store: FakeWooStore | None = None, *, payment_request: str = "no",
                        locations: list[str] | None = None, enabled: bool = True
                        ) -> dict[str, Any]:
    """WooPayments' gateway (`woocommerce_payments`): `payment_request` and
    `payment_request_button_locations`."""
    settings = {
        "payment_request": setting_object(
            "payment_request", "Express checkouts", "checkbox", payment_request, "yes",
            "Apple Pay and Google Pay"),
        "payment_request_button_locations": setting_object(
            "payment_request_button_locations", "Button locations", "multiselect",
            ["checkout"] if locations is None else locations, ["product", "cart", "checkout"],
            "Select where you would like to display the button.", LOCATIONS),
    }
    return _gateway(store, "woocommerce_payments", "Popular payment methods", "WooPayments",
                    "Payments made simple.", settings, enabled)


# -- shipping zones ----------------------------------------------------------------------------

def _method_settings(method_id: str, title: str, cost: str, min_amount: str
                     ) -> dict[str, dict[str, Any]]:
    recorded = local_fixture("shipping_zone_method_rest")["settings"]
    settings: dict[str, dict[str, Any]] = copy.deepcopy(recorded)
    settings["title"]["value"] = title
    settings["title"]["default"] = title
    if method_id == "flat_rate":
        settings["cost"]["value"] = cost
    elif method_id == "local_pickup":
        settings["cost"]["value"] = cost
        settings["cost"]["description"] = settings["cost"]["tip"] = "Optional cost for pickup."
    else:  # free_shipping: not recorded; the fields WC_Shipping_Free_Shipping declares
        del settings["tax_status"], settings["cost"]
        settings["requires"] = {
            "id": "requires", "label": "Free shipping requires", "description": "",
            "type": "select", "value": "min_amount" if min_amount else "", "default": "",
            "tip": "", "placeholder": "",
            "options": {"": "N/A", "coupon": "A valid free shipping coupon",
                        "min_amount": "A minimum order amount",
                        "either": "A minimum order amount OR a coupon",
                        "both": "A minimum order amount AND a coupon"}}
        settings["min_amount"] = {
            "id": "min_amount", "label": "Minimum order amount", "description": "",
            "type": "price", "value": min_amount, "default": "0", "tip": "",
            "placeholder": "0"}
    return settings


METHOD_TITLES = {"flat_rate": ("Flat rate", "<p>Lets you charge a fixed rate for shipping.</p>\n"),
                 "free_shipping": ("Free shipping", "<p>Free shipping is a special method which"
                                   " can be triggered with coupons and minimum spends.</p>\n"),
                 "local_pickup": ("Local pickup", "<p>Allow customers to pick up orders "
                                  "themselves. By default, when using local pickup store base "
                                  "taxes will apply regardless of customer address.</p>\n")}


def shipping_method(method_id: str = "flat_rate", *, title: str = "", cost: str = "4.90",
                    min_amount: str = "", enabled: bool = True, order: int = 1
                    ) -> dict[str, Any]:
    """A zone's shipping method (flat_rate, free_shipping, local_pickup), in the shape of
    shipping_zone_method_rest; ids and links are set by `shipping_zone`."""
    default_title, description = METHOD_TITLES[method_id]
    title = title or default_title
    return {"id": 0, "instance_id": 0, "title": title, "order": order, "enabled": enabled,
            "method_id": method_id, "method_title": default_title,
            "method_description": description,
            "settings": _method_settings(method_id, title, cost, min_amount)}


def shipping_zone(store: FakeWooStore, name: str, locations: list[tuple[str, str]],
                  methods: list[dict[str, Any]], *, order: int = 0,
                  zone_id: int | None = None) -> dict[str, Any]:
    """Add a zone: `locations` are (code, type) pairs as WooCommerce stores them ("DE",
    "country"), ("US:CA", "state"), ("101*", "postcode"), ("EU", "continent"); zone 0 is the
    "Rest of the World" zone (no locations). Returns the stored zone:
    {"id", "name", "order", "locations": [{"code", "type"}], "methods": [...]}."""
    with store.lock:
        zid = store.next_id("zone") if zone_id is None else zone_id
        placed = []
        for method in methods:
            method = copy.deepcopy(method)
            instance = store.next_id("instance")
            method["id"] = method["instance_id"] = instance
            zone_route = f"wc/v3/shipping/zones/{zid}"
            method["_links"] = {
                "self": [{"href": store.rest_url(f"{zone_route}/methods/{instance}"),
                          "targetHints": {"allow": ALL_METHODS}}],
                "collection": [{"href": store.rest_url(f"{zone_route}/methods")}],
                "describes": [{"href": store.rest_url(zone_route)}]}
            placed.append(method)
        zone = {"id": zid, "name": name, "order": order,
                "locations": [{"code": code, "type": kind} for code, kind in locations],
                "methods": placed}
        store.shipping_zones = [z for z in store.shipping_zones if z["id"] != zid] + [zone]
        return zone


def germany_zone(store: FakeWooStore) -> dict[str, Any]:
    """The recorded store's zone: "Germany" (DE), one flat rate of 4.90."""
    return shipping_zone(store, "Germany", [("DE", "country")],
                         [shipping_method("flat_rate", cost="4.90")])


def gravatar(email: str) -> dict[str, str]:
    """rest_get_avatar_urls(): Gravatar URLs with the SHA-256 of the address (WordPress 6.8+)."""
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    return {str(size): f"https://secure.gravatar.com/avatar/{digest}?s={size}&d=mm&r=g"
            for size in (24, 48, 96)}
