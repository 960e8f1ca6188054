"""The REST API (wc/v3) the way WordPress serves it, and its webhooks, orders, customers,
products and system status routes.

WordPress' order of work is kept (WP_REST_Server): authentication errors first (auth.py),
then the API key's read/write permission, then the route (unknown route or method: 404
`rest_no_route`), then argument validation (400 `rest_invalid_param` / `rest_missing_callback_
param`, with `params` and `details` as WP 5.5+ gives them, before any permission check), then
the route's permission callback (401 for an unauthenticated request), then the callback.

Collections follow WC_REST_CRUD_Controller / the webhooks controller: `page` (>= 1, default 1),
`per_page` (1..100, default 10), `X-WP-Total`, `X-WP-TotalPages` (0 when empty) and a `Link`
header with `rel="prev"`/`rel="next"` built from the request's own query parameters. Bodies are
encoded by wp_json_encode (escaped slashes).

Webhooks (controllers Version1..3): create ignores any `status` in the body (WooCommerce sets
"active" from the post status "publish"), validates the topic (wc_is_webhook_valid_topic) and
the delivery URL (wc_is_valid_url), answers 201 with `Location`, never shows the secret, and
sends the ping before answering. GET/DELETE of an unknown id: 404
`woocommerce_rest_shop_webhook_invalid_id` "Invalid ID." (since WooCommerce 9.1, PR 48729);
PUT of an unknown id: 400 "ID is invalid."; DELETE without `force=true`: 501
`woocommerce_rest_trash_not_supported`, checked before the id.

Orders: `after`/`before` (date_created), `modified_after`/`modified_before` (date_modified),
both exclusive (WP_Date_Query), against the GMT columns when `dates_are_gmt=true`; the fake's
site timezone is UTC so both columns are equal. `orderby` date|id|include|title|slug|modified,
`order` asc|desc (default date desc), `status` (any, or a comma-separated list), `customer`.
"""

from __future__ import annotations

import copy
import functools
import math
import re
import secrets
import string
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, current_app, request

from tests.fake_woocommerce.auth import (
    Auth,
    WpError,
    authenticate,
    form_params,
    permission_error,
    query_params,
)
from tests.fake_woocommerce.resources import update_order
from tests.fake_woocommerce.state import (
    ALL_METHODS,
    FakeWooStore,
    WebhookMeta,
    links,
    php_json,
    wc_date,
)
from tests.fake_woocommerce.webhooks import hooks_of, ping, valid_topic

rest_blueprint = Blueprint("fake_woocommerce_rest", __name__)

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}(?::\d{2})?)?$")
PAGING: dict[str, dict[str, Any]] = {
    "context": {"type": "string", "enum": ["view", "edit"], "default": "view"},
    "page": {"type": "integer", "minimum": 1, "default": 1},
    "per_page": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
    "order": {"type": "string", "enum": ["asc", "desc"], "default": "desc"},
}
WEBHOOK_STATUSES = ["active", "paused", "disabled"]
ORDER_STATUSES = ["any", "trash", "pending", "processing", "on-hold", "completed",
                  "cancelled", "refunded", "failed", "checkout-draft"]


def store_of() -> FakeWooStore:
    return current_app.config["STORE"]  # type: ignore[no-any-return]


def rest_response(data: Any, status: int = 200, headers: dict[str, str] | None = None
                  ) -> Response:
    response = Response(php_json(data), status, content_type="application/json; charset=UTF-8")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Access-Control-Expose-Headers"] = "X-WP-Total, X-WP-TotalPages, Link"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


# -- arguments ---------------------------------------------------------------------------------

def sprintf_l(items: list[str]) -> str:
    """wp_sprintf_l('%l'): "a", "a and b", "a, b, and c"."""
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + ", and " + items[-1]


def _check(name: str, spec: dict[str, Any], value: Any) -> tuple[Any, tuple[str, str] | None]:
    """(sanitized value, (error code, message) or None) for one argument (rest_validate_...)."""
    kind = spec.get("type", "string")
    if kind == "integer":
        try:
            number = float(value)
        except (TypeError, ValueError):
            return value, ("rest_invalid_type", f"{name} is not of type integer.")
        if isinstance(value, bool) or number != int(number):
            return value, ("rest_invalid_type", f"{name} is not of type integer.")
        value = int(number)
        low, high = spec.get("minimum"), spec.get("maximum")
        if low is not None and high is not None and not low <= value <= high:
            return value, ("rest_out_of_bounds",
                           f"{name} must be between {low} (inclusive) and {high} (inclusive)")
        if low is not None and high is None and value < low:
            return value, ("rest_out_of_bounds", f"{name} must be greater than or equal to {low}")
        return value, None
    if kind == "boolean":
        if value in (True, False, 1, 0, "1", "0", "true", "false", ""):
            return value not in (False, 0, "0", "false", ""), None
        return value, ("rest_invalid_type", f"{name} is not of type boolean.")
    if not isinstance(value, str):
        return value, ("rest_invalid_type", f"{name} is not of type string.")
    if "enum" in spec and value not in spec["enum"]:
        return value, ("rest_not_in_enum", f"{name} is not one of {sprintf_l(spec['enum'])}.")
    if spec.get("format") == "date-time" and not DATE.match(value):
        return value, ("rest_invalid_date", "Invalid date.")
    return value, None


def validate(specs: dict[str, dict[str, Any]], params: dict[str, Any],
             required: tuple[str, ...] = ()) -> dict[str, Any]:
    """WP_REST_Request::has_valid_params() then sanitize_params(); defaults filled in."""
    missing = [name for name in required if params.get(name) is None]
    if missing:
        raise WpError("rest_missing_callback_param",
                      f"Missing parameter(s): {', '.join(missing)}", 400, {"params": missing})
    out = dict(params)
    invalid: dict[str, str] = {}
    details: dict[str, Any] = {}
    for name, spec in specs.items():
        if name not in params:
            if "default" in spec:
                out[name] = copy.deepcopy(spec["default"])
            continue
        value, error = _check(name, spec, params[name])
        if error is None:
            out[name] = value
        else:
            invalid[name] = error[1]
            details[name] = {"code": error[0], "message": error[1], "data": None}
    if invalid:
        raise WpError("rest_invalid_param", f"Invalid parameter(s): {', '.join(invalid)}", 400,
                      {"params": invalid, "details": details})
    return out


def request_params() -> dict[str, Any]:
    """WP_REST_Request::get_params(): query < form body < JSON body (URL params added later)."""
    params = {**query_params(request), **form_params(request)}
    if request.mimetype == "application/json" and request.get_data():
        body = request.get_json(silent=True)
        if body is None:
            raise WpError("rest_invalid_json", "Invalid JSON body passed.", 400,
                          {"json_error_code": 4, "json_error_message": "Syntax error"})
        if isinstance(body, dict):
            params.update(body)
    return params


View = Callable[..., Response]


def api(kind: str, specs: dict[str, dict[str, Any]] | None = None,
        required: tuple[str, ...] = ()) -> Callable[[View], View]:
    """A wc/v3 route: `kind` names its permission check (list, view, create, edit, delete)."""
    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapper(**url_params: Any) -> Response:
            store = store_of()
            auth = authenticate(store, request)
            if auth.error is not None:
                return auth.error.response()
            try:
                params = validate(specs or {}, {**request_params(), **url_params}, required)
                if auth.key is None:
                    raise permission_error(kind)
                return view(store, params, auth, **url_params)
            except WpError as error:
                return error.response()
        return wrapper
    return decorate


def no_route() -> Response:
    """WP_REST_Server::dispatch() for a path or method no route takes (after authentication)."""
    auth = authenticate(store_of(), request)
    if auth.error is not None:
        return auth.error.response()
    return WpError("rest_no_route", "No route was found matching the URL and request method.",
                   404).response()


def paginate(store: FakeWooStore, route: str, items: list[Any], params: dict[str, Any]
             ) -> tuple[list[Any], dict[str, str]]:
    """One page of `items` and the pagination headers."""
    page, per_page = params["page"], params["per_page"]
    total = len(items)
    max_pages = math.ceil(total / per_page)
    headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(max_pages)}
    query = {k: v for k, v in query_params(request).items() if isinstance(v, str)}
    links_out = []
    if page > 1:
        links_out.append((min(page - 1, max_pages), "prev"))
    if max_pages > page:
        links_out.append((page + 1, "next"))
    if links_out:
        base = store.rest_url(f"wc/v3/{route}")
        headers["Link"] = ", ".join(f'<{base}?{urlencode({**query, "page": str(n)})}>; '
                                    f'rel="{rel}"' for n, rel in links_out)
    return items[(page - 1) * per_page:page * per_page], headers


def parse_date(value: str) -> datetime:
    """A validated date-time argument as a naive datetime in the site timezone (UTC)."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00")
                                    .replace(" ", "T").replace("t", "T"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def stored_date(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


# -- webhooks ----------------------------------------------------------------------------------

def valid_url(url: Any) -> bool:
    """wc_is_valid_url(): http:// or https://, and FILTER_VALIDATE_URL."""
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return False
    parts = urlsplit(url)
    return bool(parts.netloc) and not re.search(r"\s", url)


def webhook_links(store: FakeWooStore, webhook_id: int) -> dict[str, Any]:
    return links(store, "webhooks", webhook_id, ALL_METHODS)


def generate_password(length: int = 50) -> str:
    """wp_generate_password( 50, true, true )."""
    alphabet = string.ascii_letters + string.digits + "!@#$%^&*()" + "-_ []{}<>~`+=,.;:/?|"
    return "".join(secrets.choice(alphabet) for _ in range(length))


WEBHOOK_ITEM: dict[str, dict[str, Any]] = {"name": {"type": "string"}, "status": {"type": "string",
                                                       "enum": WEBHOOK_STATUSES},
                "topic": {"type": "string"}, "secret": {"type": "string"},
                "delivery_url": {"type": "string"}}


@rest_blueprint.get("/webhooks")
@api("list", {**PAGING, "orderby": {"type": "string", "enum": ["date", "id", "title"],
                                    "default": "date"},
              "status": {"type": "string", "enum": ["all", *WEBHOOK_STATUSES],
                         "default": "all"}})
def list_webhooks(store: FakeWooStore, params: dict[str, Any], auth: Auth) -> Response:
    with store.lock:
        items = [copy.deepcopy(w) for w in store.webhooks.values()
                 if params["status"] in ("all", w["status"])]
    sort = {"date": lambda w: (w["date_created_gmt"], w["id"]), "id": lambda w: w["id"],
            "title": lambda w: (w["name"], w["id"])}[params["orderby"]]
    items.sort(key=sort, reverse=params["order"] == "desc")
    page, headers = paginate(store, "webhooks", items, params)
    return rest_response(page, headers=headers)


@rest_blueprint.post("/webhooks")
@api("create", WEBHOOK_ITEM, required=("topic", "delivery_url"))
def create_webhook(store: FakeWooStore, params: dict[str, Any], auth: Auth) -> Response:
    if params.get("id"):
        raise WpError("woocommerce_rest_shop_webhook_exists",
                      "Cannot create existing shop_webhook.", 400)
    topic = params.get("topic")
    if not topic or not valid_topic(str(topic).lower()):
        raise WpError("woocommerce_rest_shop_webhook_invalid_topic",
                      "Webhook topic is required and must be valid.", 400)
    if not valid_url(params.get("delivery_url")):
        raise WpError("woocommerce_rest_shop_webhook_invalid_delivery_url",
                      "Webhook delivery URL must be a valid URL starting with http:// or "
                      "https://.", 400)
    now = store.now()
    name = params.get("name") or ("Webhook created on "
                                  + datetime.fromtimestamp(now, UTC).strftime(
                                      "%b %d, %Y @ %I:%M %p"))
    resource, _, event = str(topic).partition(".")
    with store.lock:
        webhook_id = store.next_id("webhook")
        store.webhooks[webhook_id] = {
            "id": webhook_id, "name": name, "status": "active", "topic": topic,
            "resource": resource, "event": event, "hooks": hooks_of(topic),
            "delivery_url": params["delivery_url"], "date_created": wc_date(now),
            "date_created_gmt": wc_date(now), "date_modified": wc_date(now),
            "date_modified_gmt": wc_date(now), "_links": webhook_links(store, webhook_id)}
        store.webhook_meta[webhook_id] = WebhookMeta(
            secret=params.get("secret") or generate_password(), user_id=auth.key.user_id
            if auth.key else 1)
        body = copy.deepcopy(store.webhooks[webhook_id])
    response = rest_response(body, 201, {"Location": store.rest_url(f"wc/v3/webhooks/"
                                                                    f"{webhook_id}")})
    ping(store, webhook_id)  # sent before WooCommerce answers the create call
    return response


def _webhook(store: FakeWooStore, webhook_id: int, message: str, status: int) -> dict[str, Any]:
    webhook = store.webhooks.get(webhook_id)
    if webhook is None:
        raise WpError("woocommerce_rest_shop_webhook_invalid_id", message, status)
    return webhook


@rest_blueprint.get("/webhooks/<int:webhook_id>")
@api("view", {"context": PAGING["context"]})
def get_webhook(store: FakeWooStore, params: dict[str, Any], auth: Auth, webhook_id: int
                ) -> Response:
    with store.lock:
        return rest_response(copy.deepcopy(_webhook(store, webhook_id, "Invalid ID.", 404)))


@rest_blueprint.route("/webhooks/<int:webhook_id>", methods=["POST", "PUT", "PATCH"])
@api("edit", WEBHOOK_ITEM)
def update_webhook(store: FakeWooStore, params: dict[str, Any], auth: Auth, webhook_id: int
                   ) -> Response:
    with store.lock:
        webhook = _webhook(store, webhook_id, "ID is invalid.", 400)
        topic = params.get("topic")
        if topic and not valid_topic(str(topic).lower()):
            raise WpError("woocommerce_rest_shop_webhook_invalid_topic",
                          "Webhook topic must be valid.", 400)
        url = params.get("delivery_url")
        if url and not valid_url(url):
            raise WpError("woocommerce_rest_shop_webhook_invalid_delivery_url",
                          "Webhook delivery URL must be a valid URL starting with http:// or "
                          "https://.", 400)
        if topic:
            resource, _, event = str(topic).partition(".")
            webhook.update({"topic": topic, "resource": resource, "event": event,
                            "hooks": hooks_of(topic)})
        if url:
            webhook["delivery_url"] = url
        if params.get("secret"):
            store.webhook_meta[webhook_id].secret = params["secret"]
        if params.get("status"):
            webhook["status"] = params["status"]  # the failure count is left as it is
        if params.get("name"):
            webhook["name"] = params["name"]
        webhook["date_modified"] = webhook["date_modified_gmt"] = wc_date(store.now())
        return rest_response(copy.deepcopy(webhook))


@rest_blueprint.delete("/webhooks/<int:webhook_id>")
@api("delete", {"force": {"type": "boolean", "default": False}})
def delete_webhook(store: FakeWooStore, params: dict[str, Any], auth: Auth, webhook_id: int
                   ) -> Response:
    if not params["force"]:
        raise WpError("woocommerce_rest_trash_not_supported",
                      "Webhooks do not support trashing.", 501)
    with store.lock:
        webhook = copy.deepcopy(_webhook(store, webhook_id, "Invalid ID.", 404))
        del store.webhooks[webhook_id]
        store.webhook_meta.pop(webhook_id, None)
    return rest_response(webhook)


# -- orders, customers, products ---------------------------------------------------------------

ORDER_LIST: dict[str, dict[str, Any]] = {**PAGING,
              "orderby": {"type": "string", "default": "date",
                          "enum": ["date", "id", "include", "title", "slug", "modified"]},
              "after": {"type": "string", "format": "date-time"},
              "before": {"type": "string", "format": "date-time"},
              "modified_after": {"type": "string", "format": "date-time"},
              "modified_before": {"type": "string", "format": "date-time"},
              "dates_are_gmt": {"type": "boolean", "default": False},
              "status": {"type": "string", "default": "any"},
              "customer": {"type": "integer"}}


def _in_window(value: str | None, params: dict[str, Any], after: str, before: str) -> bool:
    moment = stored_date(value)
    if moment is None:
        return False
    if after in params and not moment > parse_date(params[after]):
        return False
    return not (before in params and not moment < parse_date(params[before]))


@rest_blueprint.get("/orders")
@api("list", ORDER_LIST)
def list_orders(store: FakeWooStore, params: dict[str, Any], auth: Auth) -> Response:
    statuses = [s.strip() for s in str(params["status"]).split(",") if s.strip()]
    for status in statuses:
        if status not in ORDER_STATUSES:
            raise WpError("rest_invalid_param", "Invalid parameter(s): status", 400,
                          {"params": {"status": f"status[0] is not one of "
                                      f"{sprintf_l(ORDER_STATUSES)}."}})
    gmt = "_gmt" if params["dates_are_gmt"] else ""
    with store.lock:
        orders = [copy.deepcopy(o) for o in store.orders.values()]
    picked = []
    for order in orders:
        if "any" in statuses and order["status"] in ("trash", "checkout-draft"):
            continue
        if "any" not in statuses and order["status"] not in statuses:
            continue
        if "customer" in params and order["customer_id"] != params["customer"]:
            continue
        if ("after" in params or "before" in params) and not _in_window(
                order[f"date_created{gmt}"], params, "after", "before"):
            continue
        if ("modified_after" in params or "modified_before" in params) and not _in_window(
                order[f"date_modified{gmt}"], params, "modified_after", "modified_before"):
            continue
        picked.append(order)
    column = {"modified": "date_modified_gmt", "date": "date_created_gmt"}.get(params["orderby"])
    picked.sort(key=lambda o: (o[column], o["id"]) if column else (o["id"],),
                reverse=params["order"] == "desc")
    page, headers = paginate(store, "orders", picked, params)
    return rest_response(page, headers=headers)


@rest_blueprint.get("/orders/<int:order_id>")
@api("view", {"context": PAGING["context"]})
def get_order(store: FakeWooStore, params: dict[str, Any], auth: Auth, order_id: int
              ) -> Response:
    with store.lock:
        order = store.orders.get(order_id)
        if order is None:
            raise WpError("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 404)
        return rest_response(copy.deepcopy(order))


@rest_blueprint.route("/orders/<int:order_id>", methods=["POST", "PUT", "PATCH"])
@api("edit", {"status": {"type": "string", "enum": ORDER_STATUSES[2:]}})
def edit_order(store: FakeWooStore, params: dict[str, Any], auth: Auth, order_id: int
               ) -> Response:
    if order_id not in store.orders:
        raise WpError("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 400)
    changes = {k: params[k] for k in ("status", "customer_note", "billing", "shipping")
               if k in params}
    return rest_response(copy.deepcopy(update_order(store, order_id, **changes)))


@rest_blueprint.get("/customers")
@api("list", {**PAGING, "order": {"type": "string", "enum": ["asc", "desc"], "default": "asc"},
              "email": {"type": "string"}})
def list_customers(store: FakeWooStore, params: dict[str, Any], auth: Auth) -> Response:
    with store.lock:
        items = [copy.deepcopy(c) for c in store.customers.values()
                 if "email" not in params or c["email"] == params["email"]]
    items.sort(key=lambda c: (c["username"], c["id"]), reverse=params["order"] == "desc")
    page, headers = paginate(store, "customers", items, params)
    return rest_response(page, headers=headers)


@rest_blueprint.get("/customers/<int:customer_id>")
@api("view", {"context": PAGING["context"]})
def get_customer(store: FakeWooStore, params: dict[str, Any], auth: Auth, customer_id: int
                 ) -> Response:
    with store.lock:
        customer = store.customers.get(customer_id)
        if customer is None:
            raise WpError("woocommerce_rest_invalid_id", "Invalid resource ID.", 404)
        return rest_response(copy.deepcopy(customer))


@rest_blueprint.get("/products")
@api("list", PAGING)
def list_products(store: FakeWooStore, params: dict[str, Any], auth: Auth) -> Response:
    with store.lock:
        items = [copy.deepcopy(p) for p in store.products.values()]
    items.sort(key=lambda p: (p["date_created_gmt"], p["id"]), reverse=params["order"] == "desc")
    page, headers = paginate(store, "products", items, params)
    return rest_response(page, headers=headers)


@rest_blueprint.get("/products/<int:product_id>")
@api("view", {"context": PAGING["context"]})
def get_product(store: FakeWooStore, params: dict[str, Any], auth: Auth, product_id: int
                ) -> Response:
    with store.lock:
        product = store.products.get(product_id)
        if product is None:
            raise WpError("woocommerce_rest_product_invalid_id", "Invalid ID.", 404)
        return rest_response(copy.deepcopy(product))


@rest_blueprint.get("/system_status")
@api("list")
def system_status(store: FakeWooStore, params: dict[str, Any], auth: Auth) -> Response:
    """A subset of GET /system_status (WC_REST_System_Status_V2_Controller): the sections'
    names and the fields Parcours may read; the other sections are left out."""
    return rest_response({
        "environment": {"home_url": store.base_url, "site_url": store.base_url,
                        "store_id": "", "version": store.version,
                        "wp_version": store.wp_version, "wp_multisite": False,
                        "wp_debug_mode": False, "wp_cron": True, "language": "en_US",
                        "external_object_cache": None, "php_version": "8.2",
                        "default_timezone": "UTC", "secure_connection":
                        store.base_url.startswith("https://"), "hide_errors": True},
        "active_plugins": [{"plugin": "woocommerce/woocommerce.php", "name": "WooCommerce",
                            "version": store.version, "version_latest": store.version,
                            "url": "https://woocommerce.com/", "author_name": "Automattic",
                            "author_url": "https://woocommerce.com", "network_activated":
                            False}],
        "settings": {"api_enabled": True, "force_ssl": False, "currency": store.currency,
                     "currency_symbol": store.currency_symbol, "currency_position": "left",
                     "thousand_separator": ",", "decimal_separator": ".",
                     "number_of_decimals": 2},
    })
