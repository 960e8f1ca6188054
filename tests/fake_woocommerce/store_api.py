"""The Store API (wc/store/v1) cart routes Parcours uses: GET cart, POST cart/add-item, POST
cart/update-customer. Public: no API key.

Faithful to WooCommerce 11 (src/StoreApi/Routes/V1/AbstractCartRoute.php, CartUpdateCustomer,
Schemas/V1/AbstractAddressSchema.php, Utilities/ValidationUtils.php):

- Every cart answer carries `Nonce`, `Nonce-Timestamp`, `User-ID` and `Cart-Token` (a JWT,
  HS256, {"user_id": session customer id, "exp": now + 48 h, "iss": "store/v1"}). A request
  with a valid `Cart-Token` uses that session; else the session of a valid session cookie
  (`wp_woocommerce_session_<md5(site URL)>`, WC_Session_Handler: "customer||expiration||
  expiring||hmac-md5", HttpOnly, path /, 48 h); else a new guest session. Without a Cart-Token,
  an answer whose cart holds items sets the cookie (with `woocommerce_items_in_cart` and
  `woocommerce_cart_hash`, as WC_Cart_Session::maybe_set_cart_cookies does); an empty cart sets
  none, as in WooCommerce. `session_cart` and `set_session_cookies` let a stand-in storefront
  page (the classic add-to-cart form handler) share these sessions.
- POST routes without a valid `Cart-Token` need a `Nonce` header: missing, 401
  `woocommerce_rest_missing_nonce`; not the nonce of this session, 403
  `woocommerce_rest_invalid_nonce`. Like wp_create_nonce('wc_store_api') for a guest (WooCommerce
  filters `nonce_user_logged_out` to the session's customer id once the session has its
  cookie), a nonce is bound to the session: the one of a cookieless answer ("user" 0) is not
  valid once the session cookie exists, and one session's nonce is not another's.
- add-item: unknown product, 400 `woocommerce_rest_cart_invalid_product`; 201 with the cart.
- update-customer merges the posted address over the session's (a guest's defaults are the
  store's base location, US/CA), so omitting "state" keeps "CA": for a country with states
  (DE, US here) an unknown state is 400 `rest_invalid_param` "Invalid parameter(s):
  shipping_address" with `params` and `details` (code `invalid_state`, "The provided state
  (CA) is not valid. Must be one of: DE-BW, ..."). Sending "state": "" avoids it. Only the
  posted addresses are validated; state names are turned into codes (format_state).
- The answer has `shipping_rates` computed from the store's shipping zones (first zone, by
  order then id, whose country/state/continent and postcode locations match; else zone 0),
  flat_rate (cost, "[qty]", "[cost]"), free_shipping (requires "" or a minimum amount) and
  local_pickup, the first rate selected; only when shipping shows (cart_shows_shipping():
  items in the cart and, if woocommerce_shipping_cost_requires_address is "yes", a country,
  city and postcode).

Not copied: taxes, coupons, fees, stock, nonce ticks (a nonce never ages), country validation
beyond "two capital letters", state tables other than DE and US, postcode rules other than
DE/US/FR.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import hmac
import html
import operator
import re
import secrets
import time
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import jwt
from flask import Blueprint, Response, current_app, request

from tests.fake_woocommerce.auth import WpError
from tests.fake_woocommerce.rest_settings import zones
from tests.fake_woocommerce.state import Cart, FakeWooStore, local_fixture, php_json

store_api_blueprint = Blueprint("fake_woocommerce_store_api", __name__)

TOKEN_LIFETIME = 2 * 24 * 3600
ADDRESS = ("first_name", "last_name", "company", "address_1", "address_2", "city", "state",
           "postcode", "country", "phone")
BILLING = ("first_name", "last_name", "company", "address_1", "address_2", "city", "state",
           "postcode", "country", "email", "phone")
STATES: dict[str, dict[str, str]] = {
    "DE": {"DE-BW": "Baden-Württemberg", "DE-BY": "Bavaria", "DE-BE": "Berlin",
           "DE-BB": "Brandenburg", "DE-HB": "Bremen", "DE-HH": "Hamburg", "DE-HE": "Hesse",
           "DE-MV": "Mecklenburg-Vorpommern", "DE-NI": "Lower Saxony",
           "DE-NW": "North Rhine-Westphalia", "DE-RP": "Rhineland-Palatinate",
           "DE-SL": "Saarland", "DE-SN": "Saxony", "DE-ST": "Saxony-Anhalt",
           "DE-SH": "Schleswig-Holstein", "DE-TH": "Thuringia"},
    "US": {code: code for code in (
        "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN",
        "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH",
        "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT",
        "VT", "VA", "WA", "WV", "WI", "WY", "AA", "AE", "AP")},
}
CONTINENTS = {"EU": {
    "AD", "AL", "AT", "BA", "BE", "BG", "BY", "CH", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FO",
    "FR", "GB", "GG", "GI", "GR", "HR", "HU", "IE", "IM", "IS", "IT", "JE", "LI", "LT", "LU", "LV",
    "MC", "MD", "ME", "MK", "MT", "NL", "NO", "PL", "PT", "RO", "RS", "SE", "SI", "SK", "SM", "UA",
    "VA"},
    "NA": {"US", "CA", "MX"}}
POSTCODES = {"DE": r"^\d{5}$", "FR": r"^\d{5}$", "US": r"^\d{5}(-\d{4})?$"}


def store_of() -> FakeWooStore:
    return current_app.config["STORE"]  # type: ignore[no-any-return]


# -- sessions ----------------------------------------------------------------------------------

SESSION_LIFETIME = 2 * 24 * 3600  # wc_session_expiration
SESSION_EXPIRING = SESSION_LIFETIME - 3600  # wc_session_expiring


def cart_token(store: FakeWooStore, cart: Cart) -> str:
    return jwt.encode({"user_id": cart.customer_id, "exp": int(time.time()) + TOKEN_LIFETIME,
                       "iss": "store/v1"}, "@" + store.salt, algorithm="HS256")


def session_cookie_name(store: FakeWooStore) -> str:
    """`wp_woocommerce_session_` . COOKIEHASH (md5 of the site URL)."""
    return "wp_woocommerce_session_" + hashlib.md5(store.base_url.rstrip("/").encode()).hexdigest()


def _wp_hash(store: FakeWooStore, data: str) -> str:
    """wp_hash( $data ): HMAC-MD5 keyed with wp_salt( 'auth' )."""
    return hmac.new(store.salt.encode(), data.encode(), hashlib.md5).hexdigest()


def _cookie_hash(store: FakeWooStore, customer_id: str, expiration: int) -> str:
    to_hash = f"{customer_id}|{expiration}"
    return hmac.new(_wp_hash(store, to_hash).encode(), to_hash.encode(), hashlib.md5).hexdigest()


def session_cart(store: FakeWooStore) -> Cart | None:
    """The cart of the request's session cookie (WC_Session_Handler::get_session_cookie): None
    without one, or when it is malformed, forged or expired."""
    parts = request.cookies.get(session_cookie_name(store), "").split("||")
    if len(parts) != 4 or not parts[1].isdigit():
        return None
    customer_id, expiration, _, given = parts
    if int(expiration) < time.time() or not customer_id or not hmac.compare_digest(
            _cookie_hash(store, customer_id, int(expiration)), given):
        return None
    with store.lock:
        return store.carts.setdefault(customer_id, new_cart(store, customer_id))


def set_session_cookies(store: FakeWooStore, response: Response, cart: Cart) -> bool:
    """WC_Cart_Session::maybe_set_cart_cookies(): with items in the cart, the session cookie
    (HttpOnly) and the cart's two cookies, unless the request's cookie is this session's and
    not expiring yet; nothing for an empty cart. Whether the session has its cookie now."""
    if not cart.items:
        return False
    now = int(time.time())
    current = request.cookies.get(session_cookie_name(store), "").split("||")
    if (len(current) == 4 and current[0] == cart.customer_id and current[2].isdigit()
            and int(current[2]) > now and session_cart(store) is cart):
        return True
    expiration, expiring = now + SESSION_LIFETIME, now + SESSION_EXPIRING
    value = (f"{cart.customer_id}||{expiration}||{expiring}||"
             f"{_cookie_hash(store, cart.customer_id, expiration)}")
    secure = store.base_url.startswith("https://")
    response.set_cookie(session_cookie_name(store), value, expires=expiration, path="/",
                        secure=secure, httponly=True)
    contents = sorted(cart.items.items())
    response.set_cookie("woocommerce_items_in_cart", "1", path="/", secure=secure)
    response.set_cookie("woocommerce_cart_hash",
                        hashlib.md5(repr(contents).encode()).hexdigest(), path="/",
                        secure=secure)
    return True


def store_api_nonce(store: FakeWooStore, user: str) -> str:
    """wp_create_nonce( 'wc_store_api' ) for this "user" (a guest session's customer id, or 0
    before the session has its cookie): ten characters of a keyed hash."""
    return _wp_hash(store, f"wc_store_api|{user}")[-12:-2]


def session(store: FakeWooStore) -> tuple[Cart, str]:
    """The request's cart and how it was found: "token" (a valid Cart-Token), "cookie" (a valid
    session cookie) or "new" (a new guest session)."""
    token = request.headers.get("Cart-Token", "")
    if token:
        try:
            claims = jwt.decode(token, "@" + store.salt, algorithms=["HS256"],
                                options={"verify_exp": False})
        except jwt.PyJWTError:
            claims = None
        if claims and int(claims.get("exp", 0)) > time.time() and claims.get("user_id"):
            customer_id = str(claims["user_id"])
            with store.lock:
                cart = store.carts.setdefault(customer_id, new_cart(store, customer_id))
            return cart, "token"
    found = session_cart(store)
    if found is not None:
        return found, "cookie"
    cart = new_cart(store, "t_" + secrets.token_hex(15))
    with store.lock:
        store.carts[cart.customer_id] = cart
    return cart, "new"


def new_cart(store: FakeWooStore, customer_id: str) -> Cart:
    """A guest session: addresses default to the store's base location."""
    billing = dict.fromkeys(BILLING, "")
    billing.update(country=store.base_country, state=store.base_state)
    shipping = dict.fromkeys(ADDRESS, "")
    shipping.update(country=store.base_country, state=store.base_state)
    return Cart(customer_id=customer_id, billing=billing, shipping=shipping)


def respond(store: FakeWooStore, cart: Cart, body: Any, status: int = 200,
            found: str = "token") -> Response:
    response = Response(php_json(body), status, content_type="application/json; charset=UTF-8")
    has_cookie = found == "cookie"
    if found != "token":
        has_cookie = set_session_cookies(store, response, cart) or has_cookie
    user = cart.customer_id if found == "token" or has_cookie else "0"
    response.headers["Nonce"] = store_api_nonce(store, user)
    response.headers["Nonce-Timestamp"] = str(int(store.now()))
    response.headers["User-ID"] = "0"
    response.headers["Cart-Token"] = cart_token(store, cart)
    return response


def cart_route(view: Callable[[FakeWooStore, Cart], tuple[Any, int]]) -> Callable[[], Response]:
    """AbstractCartRoute::get_response(): session, nonce check for updates, headers."""
    def wrapper() -> Response:
        store = store_of()
        cart, found = session(store)
        try:
            if request.method != "GET" and found != "token":
                nonce = request.headers.get("Nonce")
                if nonce is None:
                    raise WpError("woocommerce_rest_missing_nonce", "Missing the Nonce header. "
                                  "This endpoint requires a valid nonce.", 401)
                user = cart.customer_id if found == "cookie" else "0"
                if not hmac.compare_digest(nonce, store_api_nonce(store, user)):
                    raise WpError("woocommerce_rest_invalid_nonce", "Nonce is invalid.", 403)
            body, status = view(store, cart)
        except WpError as error:
            body, status = error.body(), error.status
        return respond(store, cart, body, status, found)
    wrapper.__name__ = view.__name__
    return wrapper


# -- money and shipping ------------------------------------------------------------------------

def money(store: FakeWooStore) -> dict[str, Any]:
    return {"currency_code": store.currency, "currency_symbol": store.currency_symbol,
            "currency_minor_unit": 2, "currency_decimal_separator": ".",
            "currency_thousand_separator": ",", "currency_prefix": store.currency_symbol,
            "currency_suffix": ""}


def minor(amount: Decimal) -> str:
    return str(int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)))


def price(product: dict[str, Any]) -> Decimal:
    return Decimal(str(product.get("price") or "0"))


OPERATORS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv}


def evaluate(expression: str, qty: int, cost: Decimal) -> Decimal:
    """WC_Shipping_Flat_Rate::evaluate_cost(): [qty], [cost], arithmetic; fees count 0."""
    text = re.sub(r"\[fee[^\]]*\]", "0", expression)
    text = text.replace("[qty]", str(qty)).replace("[cost]", str(cost)).strip() or "0"

    def walk(node: ast.AST) -> Decimal:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return Decimal(str(node.value))
        if isinstance(node, ast.BinOp) and type(node.op) in OPERATORS:
            return Decimal(OPERATORS[type(node.op)](walk(node.left), walk(node.right)))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        raise ValueError(expression)

    try:
        return max(walk(ast.parse(text, mode="eval")), Decimal(0))
    except (SyntaxError, ValueError, ArithmeticError):
        return Decimal(0)


def _postcode_matches(pattern: str, postcode: str) -> bool:
    pattern, postcode = pattern.upper().replace(" ", ""), postcode.upper().replace(" ", "")
    if "..." in pattern:
        low, high = pattern.split("...", 1)
        return postcode.isdigit() and low.isdigit() and high.isdigit() \
            and int(low) <= int(postcode) <= int(high)
    if pattern.endswith("*"):
        return postcode.startswith(pattern[:-1])
    return postcode == pattern


def match_zone(store: FakeWooStore, country: str, state: str, postcode: str) -> dict[str, Any]:
    """WC_Shipping_Zone_Data_Store::get_zone_id_from_package()."""
    all_zones = zones(store)
    for zone in all_zones[1:]:
        regions = [loc for loc in zone["locations"] if loc["type"] != "postcode"]
        codes = [loc["code"] for loc in zone["locations"] if loc["type"] == "postcode"]
        region_ok = not regions or any(
            (loc["type"] == "country" and loc["code"] == country)
            or (loc["type"] == "state" and loc["code"] == f"{country}:{state}")
            or (loc["type"] == "continent" and country in CONTINENTS.get(loc["code"], ()))
            for loc in regions)
        if region_ok and (not codes or any(_postcode_matches(c, postcode) for c in codes)):
            return zone
    return all_zones[0]


def rates(store: FakeWooStore, cart: Cart, lines: list[dict[str, Any]], items_total: Decimal
          ) -> list[dict[str, Any]]:
    address = cart.shipping
    zone = match_zone(store, address["country"], address["state"], address["postcode"])
    qty = sum(line["quantity"] for line in lines)
    label = ", ".join(f"{line['name']} &times; {line['quantity']}" for line in lines)
    out: list[dict[str, Any]] = []
    for method in sorted(zone["methods"], key=lambda m: (m["order"], m["instance_id"])):
        if not method["enabled"]:
            continue
        settings = method["settings"]
        if method["method_id"] == "free_shipping":
            requires = settings.get("requires", {}).get("value", "")
            minimum = Decimal(str(settings.get("min_amount", {}).get("value") or "0"))
            if requires in ("coupon", "both") or (
                    requires in ("min_amount", "either") and items_total < minimum):
                continue
            cost = Decimal(0)
        else:
            cost = evaluate(str(settings.get("cost", {}).get("value", "")), qty, items_total)
        out.append({"rate_id": f"{method['method_id']}:{method['instance_id']}",
                    "name": method["title"], "description": "", "delivery_time": "",
                    "price": minor(cost), "taxes": "0", "instance_id": method["instance_id"],
                    "method_id": method["method_id"],
                    "meta_data": [{"key": "Items", "value": label}], "selected": not out,
                    **money(store)})
    return out


# -- the cart ----------------------------------------------------------------------------------

def shows_shipping(store: FakeWooStore, cart: Cart) -> bool:
    """WC_Cart::show_shipping()."""
    if not cart.items:
        return False
    requires = store.settings.get("shipping", {}).get(
        "woocommerce_shipping_cost_requires_address", {}).get("value", "no")
    if requires == "yes":
        address = cart.shipping
        return bool(address["country"] and address["city"] and address["postcode"])
    return True


def cart_body(store: FakeWooStore, cart: Cart) -> dict[str, Any]:
    """The cart in the shape of store_api_cart_after_update_customer__local-wc11.0.1.json."""
    template = local_fixture("store_api_cart_after_update_customer")
    item_template = template["items"][0]
    lines: list[dict[str, Any]] = []
    items_total = Decimal(0)
    needs_shipping = False
    for product_id, quantity in cart.items.items():
        product = store.products[product_id]
        unit = price(product)
        line_total = unit * quantity
        items_total += line_total
        needs_shipping = needs_shipping or bool(product.get("shipping_required", True))
        item = copy.deepcopy(item_template)
        item.update({"key": hashlib.md5(str(product_id).encode()).hexdigest(),
                     "id": product_id, "type": product["type"], "quantity": quantity,
                     "name": product["name"], "short_description": product["short_description"],
                     "description": product["description"], "sku": product["sku"],
                     "permalink": product["permalink"],
                     "catalog_visibility": product["catalog_visibility"]})
        item["prices"].update({"price": minor(unit), "regular_price": minor(unit),
                               "sale_price": minor(unit), **money(store)})
        raw = str(int(unit * 1_000_000))
        item["prices"]["raw_prices"] = {"precision": 6, "price": raw, "regular_price": raw,
                                        "sale_price": raw}
        item["totals"] = {"line_subtotal": minor(line_total), "line_subtotal_tax": "0",
                          "line_total": minor(line_total), "line_total_tax": "0",
                          **money(store)}
        lines.append(item)
    body: dict[str, Any] = copy.deepcopy(template)
    shown = shows_shipping(store, cart)
    packages = []
    shipping_total: Decimal | None = None
    if shown and needs_shipping:
        package_rates = rates(store, cart, lines, items_total)
        destination = {k: cart.shipping[k] for k in ("address_1", "address_2", "city", "state",
                                                     "postcode", "country")}
        packages = [{"package_id": 0, "name": "Shipment", "destination": destination,
                     "items": [{"key": line["key"], "name": line["name"],
                                "quantity": line["quantity"]} for line in lines],
                     "shipping_rates": package_rates}]
        chosen = next((r for r in package_rates if r["selected"]), None)
        shipping_total = Decimal(chosen["price"]) / 100 if chosen else Decimal(0)
    total = items_total + (shipping_total or 0)
    body.update({
        "items": lines, "coupons": [], "fees": [],
        "shipping_address": {k: cart.shipping.get(k, "") for k in ADDRESS},
        "billing_address": {k: cart.billing.get(k, "") for k in BILLING},
        "needs_payment": total > 0, "needs_shipping": needs_shipping,
        "has_calculated_shipping": shown, "shipping_rates": packages,
        "items_count": sum(cart.items.values()), "items_weight": 0, "cross_sells": [],
        "errors": [], "extensions": {},
        "payment_methods": [g["id"] for g in store.payment_gateways.values() if g["enabled"]]})
    body["totals"].update({
        "total_items": minor(items_total), "total_items_tax": "0", "total_fees": "0",
        "total_fees_tax": "0", "total_discount": "0", "total_discount_tax": "0",
        "total_shipping": None if shipping_total is None else minor(shipping_total),
        "total_shipping_tax": None if shipping_total is None else "0",
        "total_price": minor(total), "total_tax": "0", "tax_lines": [], **money(store)})
    return body


@store_api_blueprint.get("/cart")
@cart_route
def get_cart(store: FakeWooStore, cart: Cart) -> tuple[Any, int]:
    return cart_body(store, cart), 200


@store_api_blueprint.post("/cart/add-item")
@cart_route
def add_item(store: FakeWooStore, cart: Cart) -> tuple[Any, int]:
    data = request.get_json(silent=True) or {}
    data = {**request.args.to_dict(), **(data if isinstance(data, dict) else {})}
    try:
        product_id = int(data.get("id", 0))
        quantity = int(data.get("quantity", 1))
    except (TypeError, ValueError):
        product_id, quantity = 0, 0
    if product_id not in store.products or store.products[product_id]["status"] == "trash":
        raise WpError("woocommerce_rest_cart_invalid_product",
                      "This product cannot be added to the cart.", 400)
    with store.lock:
        cart.items[product_id] = cart.items.get(product_id, 0) + max(quantity, 1)
    return cart_body(store, cart), 201


# -- update-customer ---------------------------------------------------------------------------

def format_state(state: str, country: str) -> str:
    """ValidationUtils::format_state(): upper case; a state's name becomes its code."""
    states = STATES.get(country, {})
    if not states:
        return state
    upper = state.upper()
    by_name = {name.upper(): code for code, name in states.items()}
    return by_name.get(upper, upper)


def sanitize(address: dict[str, Any], keys: tuple[str, ...]) -> dict[str, str]:
    out = {k: "" if address.get(k) is None else str(address.get(k)).strip()
           for k in keys if k in address}
    if "country" in out:
        out["country"] = out["country"].upper()
    if "state" in out:
        out["state"] = format_state(out["state"], out.get("country", ""))
    if "postcode" in out:
        out["postcode"] = out["postcode"].upper()
    return out


def address_errors(address: dict[str, str]) -> list[dict[str, Any]]:
    """AbstractAddressSchema::validate_callback() (country, state and postcode checks)."""
    country = address.get("country", "")
    if country and not re.fullmatch(r"[A-Z]{2}", country):
        return [{"code": "invalid_country", "message": "Invalid country code provided. Must be "
                 "one of: (the store's countries)", "data": None}]
    errors = []
    state, states = address.get("state", ""), STATES.get(country, {})
    if state and states and state.upper() not in states:
        errors.append({"code": "invalid_state", "data": None, "message":
                       f"The provided state ({html.escape(state)}) is not valid. Must be one of: "
                       f"{', '.join(states)}"})
    postcode = address.get("postcode", "")
    if postcode and country in POSTCODES and not re.match(POSTCODES[country], postcode):
        errors.append({"code": "invalid_postcode", "data": None,
                       "message": "The provided postcode / ZIP is not valid"})
    return errors


@store_api_blueprint.post("/cart/update-customer")
@cart_route
def update_customer(store: FakeWooStore, cart: Cart) -> tuple[Any, int]:
    data = request.get_json(silent=True) or {}
    posted = {k: data[k] for k in ("billing_address", "shipping_address")
              if isinstance(data, dict) and isinstance(data.get(k), dict)}
    billing = sanitize({**cart.billing, **posted.get("billing_address", {})}, BILLING)
    shipping = sanitize({**cart.shipping, **posted.get("shipping_address", {})}, ADDRESS)
    needs_shipping = any(store.products[p].get("shipping_required", True) for p in cart.items)
    if not needs_shipping and "shipping_address" not in posted:
        shipping = {k: billing.get(k, "") for k in ADDRESS}
    params: dict[str, str] = {}
    details: dict[str, Any] = {}
    for name, address in (("billing_address", billing), ("shipping_address", shipping)):
        if name not in posted:
            continue
        errors = address_errors(address)
        if errors:
            params[name] = " ".join(e["message"] for e in errors)
            details[name] = {**errors[0], **({"additional_errors": errors[1:]}
                                             if len(errors) > 1 else {})}
    if params:
        raise WpError("rest_invalid_param", f"Invalid parameter(s): {', '.join(params)}", 400,
                      {"params": params, "details": details})
    with store.lock:
        cart.billing, cart.shipping = billing, shipping
    return cart_body(store, cart), 200
