"""The fake GraphQL Admin API: `POST /shops/<shop>/admin/api/<version>/graphql.json`.

Faithful to shopify.dev where Parcours depends on it: the `X-Shopify-Access-Token` header (401
with Shopify's text when unknown or expired), API versions (an unsupported but well-formed one
is served as the oldest supported version, named in `X-Shopify-API-Version`; a malformed one is
404), `extensions.cost` on every answer with a leaky bucket per shop (THROTTLED errors with the
cost data when it runs dry), top-level errors for invalid variables and missing access scopes
(ACCESS_DENIED, checked only when `FakeShop.scopes` is set), and `userErrors` for input the
mutations refuse. It parses queries minimally: the root fields, and each field's arguments
(`name: $variable` or literals); it answers whole objects, which a client reading only the
fields it asked for cannot tell apart.

Fault injection: `FakeShop.fail_next` (statuses for the next calls) and `FakeShop.fail_on`
(root field -> statuses for its next calls); a 0 lets that call through. `FakeShop.delay_next`
(seconds) answers the next calls late, after carrying them out (a read timeout: the mutation
made, its answer lost); see `create_fake_app`. Stored shapes:
`orders` holds GraphQL order nodes (`order_node`), `delivery_profiles` holds
`delivery_profile(...)` values.
"""

from __future__ import annotations

import base64
import json
import re
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Blueprint, Response, current_app, request

from tests.fake_shopify import FakeShop, FakeShopify

admin_blueprint = Blueprint("fake_shopify_admin", __name__)

SUPPORTED_VERSIONS = ("2026-07",)  # the oldest first
VERSION = re.compile(r"^(\d{4}-(01|04|07|10)|unstable)$")
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
MAX_QUERY_COST = 1000
MAX_PAGE = 250
PIXEL_SETTINGS = ("endpoint", "store_key")  # the web pixel extension's settings definition
# Topics of WebhookSubscriptionTopic that Parcours may use (the compliance topics are not in
# the enum: they are configured in the app's TOML only).
WEBHOOK_TOPICS = frozenset({
    "APP_UNINSTALLED", "APP_SCOPES_UPDATE", "CARTS_CREATE", "CARTS_UPDATE", "CHECKOUTS_CREATE",
    "CHECKOUTS_UPDATE", "CHECKOUTS_DELETE", "CUSTOMERS_CREATE", "CUSTOMERS_UPDATE",
    "CUSTOMER_ACCOUNT_SETTINGS_UPDATE", "FULFILLMENTS_CREATE", "FULFILLMENTS_UPDATE",
    "ORDERS_CANCELLED", "ORDERS_CREATE", "ORDERS_FULFILLED", "ORDERS_PAID",
    "ORDERS_PARTIALLY_FULFILLED", "ORDERS_UPDATED", "PRODUCTS_UPDATE", "REFUNDS_CREATE",
    "SHOP_UPDATE",
})
SCOPES = {  # root field -> the access scope it needs (a write scope implies its read scope)
    "shopLocales": "read_locales", "deliveryProfiles": "read_shipping",
    "deliveryProfile": "read_shipping", "themes": "read_themes", "orders": "read_orders",
    "webPixel": "read_pixels", "webPixelCreate": "write_pixels", "webPixelUpdate": "write_pixels",
}
MUTATION_COST = 10
QUERY_COSTS = {"shop": 3, "shopLocales": 2, "currentAppInstallation": 2, "webPixel": 1,
               "deliveryProfile": 60, "themes": 4}
PER_NODE = {"webhookSubscriptions": 1, "deliveryProfiles": 2, "orders": 12}
ERROR_TEXTS = {402: "Unavailable Shop", 403: "Forbidden", 404: "Not Found", 423: "Locked",
               429: "Exceeded 2 calls per second for api client. Reduce request rates to "
                    "resume uninterrupted service."}


class Refused(Exception):
    """Top-level GraphQL errors; the field's value is null."""

    def __init__(self, *errors: dict[str, Any]) -> None:
        super().__init__(errors[0].get("message"))
        self.errors = list(errors)


@dataclass
class Call:
    shop: FakeShop
    query: str
    variables: dict[str, Any]

    def args(self, field: str) -> dict[str, Any]:
        return field_args(self.query, field, self.variables)


# -- builders for tests ------------------------------------------------------------------------

def money(amount: str, currency: str = "EUR") -> dict[str, Any]:
    return {"shopMoney": {"amount": amount, "currencyCode": currency}}


def order_node(order_id: int, *, updated_at: str, created_at: str | None = None,
               email: str | None = "shopper@example.com", financial: str | None = "PAID",
               fulfillment: str = "UNFULFILLED", total: str = "42.50", currency: str = "EUR",
               customer_id: int | None = None, product_ids: Iterable[int] = (),
               cancelled_at: str | None = None, fulfillments: Iterable[dict[str, Any]] = (),
               refunds: Iterable[dict[str, Any]] = ()) -> dict[str, Any]:
    """An `Order` as the GraphQL Admin API answers it (the fields Parcours reads)."""
    created = created_at or updated_at
    customer = None if customer_id is None else {
        "id": f"gid://shopify/Customer/{customer_id}", "legacyResourceId": str(customer_id),
        "defaultEmailAddress": {"emailAddress": email} if email else None}
    return {
        "id": f"gid://shopify/Order/{order_id}", "legacyResourceId": str(order_id),
        "name": f"#{order_id}", "email": email, "createdAt": created, "updatedAt": updated_at,
        "processedAt": created, "cancelledAt": cancelled_at,
        "cancelReason": "CUSTOMER" if cancelled_at else None,
        "displayFinancialStatus": financial, "displayFulfillmentStatus": fulfillment,
        "currencyCode": currency, "totalPriceSet": money(total, currency),
        "paymentGatewayNames": ["shopify_payments"], "customer": customer,
        "lineItems": {"nodes": [{"product": {"id": f"gid://shopify/Product/{product_id}",
                                             "legacyResourceId": str(product_id)}}
                                for product_id in product_ids]},
        "fulfillments": list(fulfillments), "refunds": list(refunds),
    }


def delivery_method(name: str, price: str | None, currency: str = "EUR", *,
                    conditions: Iterable[tuple[str, str, dict[str, Any]]] = (),
                    active: bool = True) -> dict[str, Any]:
    """A `DeliveryMethodDefinition`: `price` None is a carrier-calculated rate (a participant);
    conditions are (field, operator, criteria) such as ("TOTAL_PRICE",
    "GREATER_THAN_OR_EQUAL_TO", {"amount": "50.0", "currencyCode": "EUR"})."""
    provider: dict[str, Any] = (
        {"__typename": "DeliveryParticipant", "id": "gid://shopify/DeliveryParticipant/1"}
        if price is None else
        {"__typename": "DeliveryRateDefinition", "id": "gid://shopify/DeliveryRateDefinition/1",
         "price": {"amount": price, "currencyCode": currency}})
    return {"name": name, "active": active, "rateProvider": provider, "methodConditions": [
        {"field": field, "operator": operator,
         "conditionCriteria": {"__typename": "MoneyV2" if "amount" in criteria else "Weight",
                               **criteria}}
        for field, operator, criteria in conditions]}


def delivery_zone(name: str, countries: dict[str, list[str]],
                  methods: list[dict[str, Any]]) -> dict[str, Any]:
    """A `DeliveryLocationGroupZone`; countries: code -> province codes ("*": rest of world)."""
    return {"zone": {"id": f"gid://shopify/DeliveryZone/{zlib.crc32(name.encode())}", "name": name,
                     "countries": [{"code": {"countryCode": None if code == "*" else code,
                                             "restOfWorld": code == "*"},
                                    "provinces": [{"code": p, "name": p} for p in provinces]}
                                   for code, provinces in countries.items()]},
            "methodDefinitions": methods}


def delivery_profile(profile_id: int, groups: dict[int, list[dict[str, Any]]], *,
                     default: bool = True, name: str = "General profile") -> dict[str, Any]:
    """A `DeliveryProfile`: location group id -> its zones (`delivery_zone`)."""
    return {"id": f"gid://shopify/DeliveryProfile/{profile_id}", "name": name,
            "default": default, "profileLocationGroups": [
                {"locationGroup": {"id": f"gid://shopify/DeliveryLocationGroup/{group}"},
                 "locationGroupZones": zones} for group, zones in groups.items()]}


# -- parsing -----------------------------------------------------------------------------------

def _blank_strings(query: str) -> str:
    without_comments = re.sub(r"#[^\n]*", "", query)
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', without_comments)


def root_fields(query: str) -> tuple[str, list[str]]:
    """The operation type and the root fields (aliases resolved) of a query document."""
    text = _blank_strings(query)
    operation = "mutation" if text.lstrip().startswith("mutation") else "query"
    start = text.find("{")
    tokens = re.findall(r"\.\.\.|[{}():]|[A-Za-z_]\w*", text[start:] if start >= 0 else "")
    depth = paren = 0
    fields: list[str] = []
    for index, token in enumerate(tokens):
        if token == "(":
            paren += 1
        elif token == ")":
            paren -= 1
        elif paren:
            continue
        elif token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
        elif depth == 1 and token not in (":", "..."):
            following = tokens[index + 1] if index + 1 < len(tokens) else ""
            if following != ":":  # else an alias: the field comes next
                fields.append(token)
    return operation, fields


def _literal(text: str) -> Any:
    text = text.strip()
    if text.startswith('"'):
        return json.loads(text)
    if text.startswith("["):
        return [_literal(item) for item in re.findall(r'"(?:\\.|[^"\\])*"|[^,\s\]\[]+', text)]
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return text  # an enum value


def field_args(query: str, field: str, variables: dict[str, Any]) -> dict[str, Any]:
    """The arguments of the first `field(...)` in the query, variables resolved."""
    match = re.search(rf"\b{field}\s*\(", query)
    if match is None:
        return {}
    depth, end = 1, match.end()
    while depth and end < len(query):
        depth += {"(": 1, ")": -1}.get(query[end], 0)
        end += 1
    inner = query[match.end():end - 1]
    found: dict[str, Any] = {}
    pattern = r'(\w+)\s*:\s*(\$\w+|"(?:\\.|[^"\\])*"|\[[^\]]*\]|[-\w.]+)'
    for name, value in re.findall(pattern, inner):
        found[name] = variables.get(value[1:]) if value.startswith("$") else _literal(value)
    return found


def _cursor(index: int) -> str:
    return base64.b64encode(f"fake:{index}".encode()).decode()


def _after(cursor: Any) -> int:
    if cursor is None:
        return 0
    try:
        return int(base64.b64decode(str(cursor)).decode().split(":")[1]) + 1
    except (ValueError, IndexError):
        raise Refused({"message": f"Invalid cursor for current pagination sort: {cursor}",
                       "extensions": {"code": "BAD_REQUEST"}}) from None


def connection(items: list[Any], args: dict[str, Any]) -> dict[str, Any]:
    first = args.get("first")
    if not isinstance(first, int) or not 0 <= first <= MAX_PAGE:
        raise Refused({"message": "you must provide one of first or last, at most 250",
                       "extensions": {"code": "BAD_REQUEST"}})
    start = _after(args.get("after"))
    page = items[start:start + first]
    edges = [{"cursor": _cursor(start + i), "node": node} for i, node in enumerate(page)]
    return {"nodes": page, "edges": edges, "pageInfo": {
        "hasNextPage": start + first < len(items), "hasPreviousPage": start > 0,
        "startCursor": edges[0]["cursor"] if edges else None,
        "endCursor": edges[-1]["cursor"] if edges else None}}


# -- the endpoint ------------------------------------------------------------------------------

def _reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    response.headers["X-Shopify-API-Version"] = SUPPORTED_VERSIONS[0]
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _failure(status: int) -> Response:
    text = ERROR_TEXTS.get(status, "Internal Server Error" if status >= 500 else "Error")
    return _reply({"errors": text}, status, {"Retry-After": "1.0"} if status == 429 else None)


def _take_points(shop: FakeShop, cost: int) -> tuple[bool, dict[str, Any]]:
    """The leaky bucket: refill since the last call, then take `cost` if it is there."""
    now = shop.clock()
    available = shop.bucket_max if shop.bucket_available is None else min(
        shop.bucket_max, shop.bucket_available + (now - shop.bucket_at) * shop.restore_rate)
    allowed = cost <= available
    shop.bucket_available, shop.bucket_at = available - cost if allowed else available, now
    return allowed, {"requestedQueryCost": cost, "actualQueryCost": cost if allowed else None,
                     "throttleStatus": {"maximumAvailable": shop.bucket_max,
                                        "currentlyAvailable": int(shop.bucket_available),
                                        "restoreRate": shop.restore_rate}}


def _cost(call: Call, field: str, operation: str) -> int:
    if operation == "mutation":
        return MUTATION_COST
    if field in PER_NODE:
        first = call.args(field).get("first")
        return 2 + (first if isinstance(first, int) else 1) * PER_NODE[field]
    return QUERY_COSTS.get(field, 1)


@admin_blueprint.post("/admin/api/<version>/graphql.json")
def graphql(shop: str, version: str) -> Response:
    state: FakeShopify = current_app.config["STATE"]
    with state.lock:
        fake = state.shops.get(shop)
        if fake is None or not VERSION.match(version):
            return _failure(404)
        token = request.headers.get("X-Shopify-Access-Token", "")
        expiry = fake.access_tokens.get(token)
        if expiry is None or expiry <= time.time():
            fake.calls.append({"version": version, "status": 401})
            return _reply({"errors": INVALID_TOKEN}, 401)
        if not request.is_json:
            return _reply({"errors": "Content-Type must be application/json"}, 400)
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return _reply({"errors": {"query": "Required parameter missing or invalid"}}, 400)
        variables = body.get("variables") or {}
        operation, fields = root_fields(body["query"])
        record = {"version": version, "operation": operation, "fields": fields,
                  "query": body["query"], "variables": variables}
        fake.calls.append(record)
        injected = fake.fail_next.pop(0) if fake.fail_next else 0
        for field in fields:
            if not injected and fake.fail_on.get(field):
                injected = fake.fail_on[field].pop(0)
        if injected:  # 0 in a list lets that call through
            record["status"] = injected
            return _failure(injected)
        record["status"] = 200
        return _reply(_execute(Call(fake, body["query"], variables), operation, fields))


def _execute(call: Call, operation: str, fields: list[str]) -> dict[str, Any]:
    cost = sum(_cost(call, field, operation) for field in fields)
    if cost > MAX_QUERY_COST:
        return {"errors": [{"message": f"Query cost is {cost}, which exceeds the single query "
                                       f"max cost limit ({MAX_QUERY_COST}).",
                            "extensions": {"code": "MAX_COST_EXCEEDED", "cost": cost,
                                           "maxCost": MAX_QUERY_COST}}]}
    allowed, cost_data = _take_points(call.shop, cost)
    extensions = {"cost": cost_data}
    if not allowed:
        return {"errors": [{"message": "Throttled", "extensions": {
            "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
            "extensions": extensions}
    handlers = MUTATIONS if operation == "mutation" else QUERIES
    data: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    for field in fields:
        handler = handlers.get(field)
        try:
            if handler is None:
                root = "Mutation" if operation == "mutation" else "QueryRoot"
                raise Refused({"message": f"Field '{field}' doesn't exist on type '{root}'",
                               "extensions": {"code": "undefinedField", "typeName": root,
                                              "fieldName": field}})
            _check_scope(call.shop, field)
            data[field] = handler(call)
        except Refused as refused:
            data[field] = None
            errors += [{**error, "path": [field]} for error in refused.errors]
    answer: dict[str, Any] = {"data": data, "extensions": extensions}
    if errors:
        answer["errors"] = errors
    return answer


def _check_scope(shop: FakeShop, field: str, needed: str | None = None) -> None:
    """ACCESS_DENIED unless the granted scopes (when the shop has any) include `needed`."""
    needed = needed or SCOPES.get(field)
    if not needed or not shop.scopes:
        return
    granted = {scope.strip() for scope in shop.scopes.split(",")}
    if needed in granted or needed.replace("read_", "write_") in granted:
        return
    raise Refused({"message": f"Access denied for {field} field. Required access: "
                              f"`{needed}` access scope.",
                   "extensions": {"code": "ACCESS_DENIED",
                                  "documentation": "https://shopify.dev/api/usage/access-scopes",
                                  "requiredAccess": f"`{needed}` access scope."}})


def invalid_variable(name: str, type_name: str, value: Any, explanation: str) -> Refused:
    return Refused({"message": f"Variable ${name} of type {type_name} was provided invalid value",
                    "extensions": {"value": value, "problems": [
                        {"path": [], "explanation": explanation}]}})


# -- queries -----------------------------------------------------------------------------------

APP_ID = "1234567"  # the app's id in reserved namespaces ("$app" -> "app--1234567")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _namespace(namespace: Any) -> str:
    text = "$app" if namespace is None else str(namespace)
    if text == "$app" or text.startswith("$app:"):
        return f"app--{APP_ID}" + (f"--{text[5:]}" if text.startswith("$app:") else "")
    return text


def _shop(call: Call) -> dict[str, Any]:
    shop = call.shop
    url = shop.primary_domain or f"https://{shop.domain}"
    new = shop.customer_accounts_version == "NEW_CUSTOMER_ACCOUNTS"
    return {"id": "gid://shopify/Shop/1", "name": shop.domain.split(".")[0],
            "myshopifyDomain": shop.domain, "currencyCode": shop.currency,
            "ianaTimezone": shop.timezone,
            "primaryDomain": {"url": url, "host": url.split("://", 1)[-1].split("/")[0]},
            "customerAccountsV2": {"customerAccountsVersion": shop.customer_accounts_version,
                                   "loginRequiredAtCheckout": shop.login_required_at_checkout,
                                   "loginLinksVisibleOnStorefrontAndCheckout": True,
                                   "url": "https://shopify.com/1/account" if new else None},
            "paymentSettings": {"supportedDigitalWallets": list(shop.digital_wallets)}}


def _installation(call: Call) -> dict[str, Any]:
    args = call.args("metafield")
    key = (call.shop.app_installation_id, _namespace(args.get("namespace")), str(args.get("key")))
    return {"id": call.shop.app_installation_id, "metafield": call.shop.metafields.get(key)}


def _web_pixel(call: Call) -> dict[str, Any]:
    pixel = next(iter(call.shop.web_pixels.values()), None)
    if pixel is None:
        raise Refused({"message": "No web pixel was found for this app.",
                       "extensions": {"code": "NOT_FOUND"}})
    return pixel


def _profile_view(profile: dict[str, Any], call: Call) -> dict[str, Any]:
    """A stored profile with its zones and rates as the connections the query asks for."""
    if "locationGroupZones" not in call.query:
        groups = profile["profileLocationGroups"]
        return {**profile, "profileLocationGroups": [{"locationGroup": group["locationGroup"]}
                                                      for group in groups]}
    wanted = call.args("profileLocationGroups").get("locationGroupId")
    methods = call.args("methodDefinitions")
    groups = [{"locationGroup": group["locationGroup"], "locationGroupZones": connection(
        [{**zone, "methodDefinitions": connection(zone["methodDefinitions"], methods)}
         for zone in group["locationGroupZones"]], call.args("locationGroupZones"))}
        for group in profile["profileLocationGroups"]
        if wanted in (None, group["locationGroup"]["id"])]
    return {**profile, "profileLocationGroups": groups}


def _delivery_profile(call: Call) -> dict[str, Any] | None:
    wanted = call.args("deliveryProfile").get("id")
    return next((_profile_view(profile, call) for profile in call.shop.delivery_profiles
                 if profile["id"] == wanted), None)


def _themes(call: Call) -> dict[str, Any]:
    args = call.args("themes")
    if "MAIN" not in (args.get("roles") or ["MAIN"]):
        return connection([], args)
    files = call.shop.theme_files
    names = call.args("files").get("filenames") or sorted(files)
    found = [{"filename": name, "size": len(files[name]), "body": {
        "__typename": "OnlineStoreThemeFileBodyText", "content": files[name]}}
        for name in names if name in files]
    theme = {"id": "gid://shopify/OnlineStoreTheme/1", "name": "Dawn", "role": "MAIN",
             "files": {**connection(found, {"first": 50}), "userErrors": [
                 {"filename": name, "code": "NOT_FOUND"} for name in names if name not in files]}}
    return connection([theme], args)


def _time(value: str) -> float:
    from datetime import datetime
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _orders(call: Call) -> dict[str, Any]:
    args = call.args("orders")
    orders = list(call.shop.orders)
    match = re.search(r"updated_at:(>=|>|<=|<)'?([^'\s]+)'?", str(args.get("query") or ""))
    if match:
        compare: dict[str, Callable[[float, float], bool]] = {
            ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
            "<": lambda a, b: a < b, "<=": lambda a, b: a <= b}
        bound, test = _time(match.group(2)), compare[match.group(1)]
        orders = [order for order in orders if test(_time(order["updatedAt"]), bound)]
    if args.get("sortKey") == "UPDATED_AT":
        orders.sort(key=lambda order: _time(order["updatedAt"]))
    else:
        orders.sort(key=lambda order: int(order["legacyResourceId"]))
    if args.get("reverse"):
        orders.reverse()
    return connection(orders, args)


QUERIES: dict[str, Callable[[Call], Any]] = {
    "shop": _shop,
    "shopLocales": lambda call: [{"locale": call.shop.locale, "name": call.shop.locale,
                                  "primary": True, "published": True}],
    "currentAppInstallation": _installation,
    "webhookSubscriptions": lambda call: connection(
        sorted(call.shop.webhook_subscriptions.values(), key=lambda sub: _number(sub["id"])),
        call.args("webhookSubscriptions")),
    "webPixel": _web_pixel,
    "deliveryProfiles": lambda call: connection(
        [_profile_view(profile, call) for profile in call.shop.delivery_profiles],
        call.args("deliveryProfiles")),
    "deliveryProfile": _delivery_profile,
    "themes": _themes,
    "orders": _orders,
}


# -- mutations ---------------------------------------------------------------------------------

SUBSCRIPTION_INPUT = {"uri", "callbackUrl", "format", "includeFields", "filter",
                      "metafieldNamespaces", "metafields"}


def _number(gid: str) -> int:
    return int(gid.rsplit("/", 1)[1])


def _subscription_input(value: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The validated input (invalid variables raise), and its userErrors."""
    kind = "WebhookSubscriptionInput!"
    if not isinstance(value, dict):
        raise invalid_variable("webhookSubscription", kind, value, "Expected value to not be null")
    for name in set(value) - SUBSCRIPTION_INPUT:
        raise invalid_variable("webhookSubscription", kind, value,
                               f"Field is not defined on WebhookSubscriptionInput: {name}")
    if value.get("format", "JSON") not in ("JSON", "XML"):
        raise invalid_variable("webhookSubscription", kind, value,
                               "Expected format to be one of: JSON, XML")
    field = ["webhookSubscription", "callbackUrl" if "callbackUrl" in value else "uri"]
    uri = value.get("uri") or value.get("callbackUrl")
    if not uri:
        return value, [{"field": field, "message": "Address can't be blank"}]
    if not str(uri).startswith("https://"):
        scheme = str(uri).split("://", 1)[0] if "://" in str(uri) else str(uri)
        return value, [{"field": field, "message": f"Address protocol {scheme}:// is not "
                                                   "supported"}]
    return value, []


def _webhook_create(call: Call) -> dict[str, Any]:
    args = call.args("webhookSubscriptionCreate")
    topic, subs = args.get("topic"), call.shop.webhook_subscriptions
    if topic not in WEBHOOK_TOPICS:
        raise invalid_variable("topic", "WebhookSubscriptionTopic!", topic,
                               f'Expected "{topic}" to be one of: '
                               + ", ".join(sorted(WEBHOOK_TOPICS)))
    given, errors = _subscription_input(args.get("webhookSubscription"))
    uri = given.get("uri") or given.get("callbackUrl")
    if not errors and any(sub["topic"] == topic and sub["uri"] == uri for sub in subs.values()):
        errors = [{"field": ["webhookSubscription", "uri"],
                   "message": "Address for this topic has already been taken"}]
    if errors:
        return {"webhookSubscription": None, "userErrors": errors}
    gid = f"gid://shopify/WebhookSubscription/{max(map(_number, subs), default=0) + 1}"
    subs[gid] = {"id": gid, "topic": topic, "uri": uri, "format": given.get("format", "JSON"),
                 "includeFields": given.get("includeFields") or [], "filter": given.get("filter"),
                 "createdAt": _now(), "updatedAt": _now()}
    return {"webhookSubscription": subs[gid], "userErrors": []}


def _webhook_update(call: Call) -> dict[str, Any]:
    args = call.args("webhookSubscriptionUpdate")
    sub = call.shop.webhook_subscriptions.get(str(args.get("id")))
    given, errors = _subscription_input(args.get("webhookSubscription"))
    if sub is None:
        errors = [{"field": ["id"], "message": "Webhook subscription does not exist"}]
    if errors or sub is None:
        return {"webhookSubscription": None, "userErrors": errors}
    sub.update(uri=given.get("uri") or given.get("callbackUrl"),
               format=given.get("format", sub["format"]), updatedAt=_now())
    return {"webhookSubscription": sub, "userErrors": []}


def _pixel_settings(value: Any) -> tuple[str | None, list[dict[str, Any]]]:
    """Settings checked against the extension's definition: (JSON text, userErrors)."""
    field = ["webPixel", "settings"]
    if not isinstance(value, dict) or "settings" not in value:
        raise invalid_variable("webPixel", "WebPixelInput!", value, "settings is required")
    settings = value["settings"]
    if isinstance(settings, str):
        try:
            settings = json.loads(settings)
        except ValueError:
            return None, [{"field": field, "code": "INVALID_CONFIGURATION_JSON",
                           "message": "The provided settings is not a valid JSON."}]
    if not isinstance(settings, dict) or set(settings) != set(PIXEL_SETTINGS) or not all(
            isinstance(item, str) for item in settings.values()):
        return None, [{"field": field, "code": "INVALID_SETTINGS", "message": "The provided "
                       "settings does not match the expected settings definition on the app."}]
    return json.dumps(settings), []


def _pixel_create(call: Call) -> dict[str, Any]:
    settings, errors = _pixel_settings(call.args("webPixelCreate").get("webPixel"))
    if not errors and call.shop.web_pixels:
        errors = [{"field": ["webPixel"], "code": "TAKEN", "message": "Web pixel is taken."}]
    if errors:
        return {"webPixel": None, "userErrors": errors}
    pixel = {"id": "gid://shopify/WebPixel/1", "settings": settings}
    call.shop.web_pixels["gid://shopify/WebPixel/1"] = pixel
    return {"webPixel": pixel, "userErrors": []}


def _pixel_update(call: Call) -> dict[str, Any]:
    args = call.args("webPixelUpdate")
    settings, errors = _pixel_settings(args.get("webPixel"))
    pixel = call.shop.web_pixels.get(str(args.get("id")))
    if pixel is None:
        errors = [{"field": ["id"], "code": "NOT_FOUND", "message": "The record with the ID "
                   "used as the input value couldn't be found."}]
    if errors or pixel is None:
        return {"webPixel": None, "userErrors": errors}
    pixel["settings"] = settings
    return {"webPixel": pixel, "userErrors": []}


def _rating_error(value: str) -> str | None:
    rating = json.loads(value)
    if not isinstance(rating, dict) or set(rating) != {"value", "scale_min", "scale_max"}:
        return "Value must be an object with value, scale_min and scale_max"
    try:
        low, mid, high = (Decimal(str(rating[key])) for key in ("scale_min", "value",
                                                                "scale_max"))
    except InvalidOperation:
        return "Value must hold decimal numbers"
    return None if low <= mid <= high and low < high else "Value must be within the scale"


def _value_error(kind: str, value: str) -> tuple[str, str] | None:
    """(code, message) when `value` is not a valid `kind`; None when it is."""
    checks: dict[str, Callable[[str], str | None]] = {
        "json": lambda text: (json.loads(text), None)[1],
        "rating": _rating_error,
        "number_integer": lambda text: None if re.fullmatch(r"-?\d+", text) else
        "Value must be an integer",
        "boolean": lambda text: None if text in ("true", "false") else "Value must be a boolean",
        "single_line_text_field": lambda text: "Value must be a single line" if "\n" in text
        else None,
    }
    if kind not in checks:
        return "INVALID_TYPE", f"Type '{kind}' is not a valid type"
    try:
        problem = checks[kind](value)
    except ValueError:
        problem = "Value is invalid JSON"
    return None if problem is None else ("INVALID_VALUE", problem)


def _metafield_errors(call: Call, index: int, item: dict[str, Any]) -> list[dict[str, Any]]:
    def error(name: str, code: str, message: str) -> dict[str, Any]:
        return {"field": ["metafields", str(index), name], "code": code, "message": message,
                "elementIndex": index}

    owner = str(item.get("ownerId"))
    kind = re.fullmatch(r"gid://shopify/(\w+)/\d+", owner)
    if kind is None:
        return [error("ownerId", "INVALID", "Owner does not exist")]
    if kind.group(1) == "AppInstallation" and owner != call.shop.app_installation_id:
        return [error("ownerId", "APP_NOT_AUTHORIZED", "Access to this app installation's "
                                                       "metafields is not authorized")]
    if kind.group(1) == "Product":
        _check_scope(call.shop, "metafieldsSet", "write_products")
    namespace, key = _namespace(item.get("namespace")), str(item.get("key"))
    errors = []
    if not re.fullmatch(r"[A-Za-z0-9_-]{3,255}", namespace):
        errors.append(error("namespace", "INVALID", "Namespace must be 3-255 characters: "
                                                   "letters, digits, '-' and '_'"))
    if not re.fullmatch(r"[A-Za-z0-9_-]{2,64}", key):
        errors.append(error("key", "INVALID", "Key must be 2-64 characters: letters, digits, "
                                              "'-' and '_'"))
    existing = call.shop.metafields.get((owner, namespace, key))
    kind_name = item.get("type") or (existing or {}).get("type")
    if not kind_name:
        return [*errors, error("type", "BLANK", "Type can't be blank")]
    if existing and existing["type"] != kind_name:
        errors.append(error("type", "INVALID_TYPE", "Type must be the same as the existing "
                                                    "metafield's"))
    problem = _value_error(str(kind_name), str(item.get("value")))
    if problem:
        errors.append(error("type" if problem[0] == "INVALID_TYPE" else "value", *problem))
    return errors


def _metafields_set(call: Call) -> dict[str, Any]:
    items = call.args("metafieldsSet").get("metafields")
    kind = "[MetafieldsSetInput!]!"
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise invalid_variable("metafields", kind, items, "Expected a list of objects")
    if len(items) > 25:
        raise Refused({"message": f"The input array size of {len(items)} is greater than the "
                                  "maximum allowed of 25.",
                       "extensions": {"code": "MAX_INPUT_SIZE_EXCEEDED"}})
    for item in items:
        for name in ("ownerId", "key", "value"):
            if item.get(name) is None:
                raise invalid_variable("metafields", kind, items, f"{name} is required")
    errors = [error for index, item in enumerate(items)
              for error in _metafield_errors(call, index, item)]
    if errors:  # atomic: nothing is written
        return {"metafields": None, "userErrors": errors}
    written = []
    for item in items:
        owner, namespace = item["ownerId"], _namespace(item.get("namespace"))
        existing = call.shop.metafields.get((owner, namespace, item["key"])) or {}
        metafield = {"id": existing.get("id") or f"gid://shopify/Metafield/"
                     f"{len(call.shop.metafields) + 1}",
                     "ownerId": owner, "namespace": namespace, "key": item["key"],
                     "type": item.get("type") or existing["type"], "value": item["value"],
                     "createdAt": existing.get("createdAt") or _now(), "updatedAt": _now()}
        call.shop.metafields[(owner, namespace, item["key"])] = metafield
        written.append(metafield)
    return {"metafields": written, "userErrors": []}


def _metafields_delete(call: Call) -> dict[str, Any]:
    items = call.args("metafieldsDelete").get("metafields")
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise invalid_variable("metafields", "[MetafieldIdentifierInput!]!", items,
                               "Expected a list of objects")
    deleted: list[dict[str, Any] | None] = []
    for item in items:
        key = (str(item.get("ownerId")), _namespace(item.get("namespace")), str(item.get("key")))
        found = call.shop.metafields.pop(key, None)
        deleted.append(None if found is None else
                       {"ownerId": key[0], "namespace": key[1], "key": key[2]})
    return {"deletedMetafields": deleted, "userErrors": []}


MUTATIONS: dict[str, Callable[[Call], Any]] = {
    "webhookSubscriptionCreate": _webhook_create,
    "webhookSubscriptionUpdate": _webhook_update,
    "webPixelCreate": _pixel_create,
    "webPixelUpdate": _pixel_update,
    "metafieldsSet": _metafields_set,
    "metafieldsDelete": _metafields_delete,
}
