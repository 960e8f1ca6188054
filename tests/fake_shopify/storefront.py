"""A fake Shopify online store: a Dawn-like theme with the Parcours app installed, the Ajax cart
API, cart permalinks, a checkout, and the app proxy. For the widget tests in Chromium.

One shop on its own origin (the storefront of `<shop>.myshopify.com`), what a shopper's browser
meets there, faithful to shopify.dev:

- The theme: product and cart pages modelled on Dawn (sections/main-product.liquid,
  main-cart-items, main-cart-footer): the product form `<form action="/cart/add">` with its
  hidden `id` input (disabled until Dawn's product-form.js enables it) and, as in Dawn, the
  quantity input *outside* the form, tied to it by `form="product-form-..."`; the price block's
  installment form (also `/cart/add`, the same `id`); Dawn's Product JSON-LD; on the cart, the
  checkout button `name="checkout" form="cart"`. Dynamic checkout buttons
  (`{{ form | payment_button }}`, `.shopify-payment-button`) on product pages and the
  additional checkout buttons on the cart only when the test switches them on.
- The Parcours theme app extension, rendered from its real files: the app embed
  (blocks/app-embed.liquid, before `</body>`) with the app's `parcours.config` metafield (the
  store's config from Parcours' `GET /w/<store>/config.json`, as the install job writes it),
  the boot script (assets/parcours-boot.js at /assets/), and the app blocks a merchant placed
  (blocks/*.liquid with their schema's default settings) wherever their `enabled_on` lets a
  merchant place them, each in Shopify's `shopify-app-block` wrapper. `render_liquid` knows
  just the Liquid those files use and raises on anything else, so a change to the files shows
  here.
- The Ajax API: `POST /cart/add` (form: redirect to /cart; `.js`: the line item JSON),
  `GET /cart.js` (amounts in cents), `GET /cart/shipping_rates.json` with
  `shipping_address[country|zip]` (rates from the shop's zones, decimal prices; 422
  `{"zip": ["is not valid for France"]}` or `{"country": ["is not supported"]}`), all on the
  cart of the `cart` cookie (set on the first add, 14 days, readable by scripts).
- Cart permalinks `/cart/<variant>:<qty>[,...]`: a new checkout with just those lines, apart
  from the shopper's cart; `/checkout` (and `POST /cart` with `checkout`) checks the cart out.
  Both redirect to `/checkouts/cn/<token>`, which shows the lines.
- The app proxy: `/apps/parcours/<rest>` is forwarded to Parcours' `/apps/parcours/<rest>`
  with Shopify's query parameters and signature added (tests/fake_shopify/oauth.py
  `proxy_query`, an implementation of shopify.dev's algorithm independent of Parcours'),
  cookies not forwarded, and Parcours' answer returned as it is. Each forward is recorded.

Not copied: variants with options, discounts, taxes, markets, the async shipping rates pair
(`prepare_shipping_rates`/`async_shipping_rates`), the checkout itself.
"""

from __future__ import annotations

import html
import json
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from typing import Any

import requests
from flask import (
    Flask,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template_string,
    request,
)

from tests.fake_shopify import API_SECRET, FakeShopify
from tests.fake_shopify.oauth import proxy_query
from tests.storefront_support import served

__all__ = ["PRODUCTS", "ZONES", "Product", "Storefront", "placeable", "render_liquid",
           "serving"]

THEME = resources.files("parcours.adapters.shopify") / "extensions" / "theme"
SECTION = "template--1__main"
PRODUCT_FORM = f"product-form-{SECTION}"
CART_COOKIE = "cart"
CART_LIFETIME = 14 * 24 * 3600


@dataclass(frozen=True)
class Product:
    id: int
    variant_id: int
    handle: str
    title: str
    price: int  # cents
    grams: int = 400


PRODUCTS = (Product(8000000001, 45000000001, "stoneware-mug", "Stoneware mug", 2900),
            Product(8000000002, 45000000002, "linen-apron", "Linen apron", 4500))

# The shop's delivery zones, in the shape Parcours' `shipping_zones` fact has (what the install
# job reads from the delivery profiles): the same zones answer /cart/shipping_rates.json here.
ZONES: list[dict[str, Any]] = [
    {"name": "France", "countries": [{"code": "FR", "provinces": []}], "rates": [
        {"name": "Colissimo", "price": "4.90", "currency": "EUR", "min_subtotal": None,
         "max_subtotal": "59.99"},
        {"name": "Colissimo", "price": "0.00", "currency": "EUR", "min_subtotal": "60.00",
         "max_subtotal": None},
        {"name": "Express", "price": "12.00", "currency": "EUR", "min_subtotal": None,
         "max_subtotal": None}]},
    {"name": "Europe", "countries": [{"code": c, "provinces": []} for c in ("BE", "DE", "IT")],
     "rates": [{"name": "Standard", "price": "9.90", "currency": "EUR", "min_subtotal": None,
                "max_subtotal": None}]},
]
COUNTRIES = {"FR": "France", "BE": "Belgium", "DE": "Germany", "IT": "Italy",
             "US": "United States", "GB": "United Kingdom"}
ZIPS = {"FR": r"\d{5}", "DE": r"\d{5}", "BE": r"\d{4}", "IT": r"\d{5}",
        "US": r"\d{5}(-\d{4})?"}


# -- Liquid, as much as the app extension's files use -----------------------------------------

TOKEN = re.compile(r"(\{%-?|\{\{-?)(.*?)(-?%\}|-?\}\})", re.S)
COMPARISON = re.compile(r"(.+?)\s*(==|!=|>=|<=|>|<)\s*(.+)")


class LiquidError(ValueError):
    """The extension uses Liquid the fake does not know: extend the fake."""


def _blank(value: Any) -> bool:
    return value is None or value is False or value in ("", [], {})


def _lookup(scope: dict[str, Any], text: str) -> Any:
    text = text.strip()
    if text[:1] in "'\"":
        return text[1:-1]
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return float(text) if "." in text else int(text)
    if text in ("true", "false"):
        return text == "true"
    value: Any = scope
    for part in text.split("."):
        if value is None:
            return None
        if not isinstance(value, dict) or part not in value:
            raise LiquidError(f"unknown Liquid variable {text!r}")
        value = value[part]
    return value


def _translate(scope: dict[str, Any], key: str, args: dict[str, Any]) -> str:
    text: Any = scope["__locale"]
    for part in key.split("."):
        text = text[part]
    if isinstance(text, dict):
        text = text["one" if args.get("count") == 1 else "other"]
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: str(args[m.group(1)]), str(text))


def _evaluate(scope: dict[str, Any], expression: str) -> Any:
    base, *filters = [part.strip() for part in expression.split("|")]
    value = _lookup(scope, base)
    for spec in filters:
        name, _, raw = spec.partition(":")
        args = [a.strip() for a in raw.split(",")] if raw.strip() else []
        named = {k.strip(): _lookup(scope, v) for k, _, v in (a.partition(":") for a in args)
                 if v}
        if name == "t":
            value = _translate(scope, str(value), named)
        elif name == "escape":
            value = html.escape(_text(value), quote=True)
        elif name == "json":
            value = json.dumps(value)
        elif name == "divided_by":
            value = value / _lookup(scope, args[0])
        elif name == "default":
            value = _lookup(scope, args[0]) if _blank(value) else value
        elif name == "asset_url":
            value = f"/assets/{value}"
        else:
            raise LiquidError(f"unknown Liquid filter {name!r}")
    return value


def _condition(scope: dict[str, Any], text: str) -> bool:
    if " or " in text:
        return any(_condition(scope, part) for part in text.split(" or "))
    if " and " in text:
        return all(_condition(scope, part) for part in text.split(" and "))
    match = COMPARISON.fullmatch(text.strip())
    if match is None:  # Liquid's truth: everything but nil and false
        value = _lookup(scope, text)
        return value is not None and value is not False
    left, operator, right = match.groups()
    a = _lookup(scope, left)
    if right.strip() == "blank":
        return _blank(a) == (operator == "==")
    b = _lookup(scope, right)
    return bool({"==": a == b, "!=": a != b, ">": a is not None and a > b,
                 "<": a is not None and a < b, ">=": a is not None and a >= b,
                 "<=": a is not None and a <= b}[operator])


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render_liquid(source: str, scope: dict[str, Any]) -> str:
    """`source` rendered with `scope` (plus `__locale`, the theme's strings): output, `if`,
    `assign`, `comment` and `schema` (left out), whitespace control."""
    out: list[str] = []
    branches: list[bool] = []
    skipping, trim, position = "", False, 0
    for match in TOKEN.finditer(source):
        text = source[position:match.start()]
        position = match.end()
        if trim:
            text = text.lstrip()
        if match.group(1).endswith("-"):
            text = text.rstrip()
        active = all(branches) and not skipping
        if active:
            out.append(text)
        trim = match.group(3).startswith("-")
        body = match.group(2).strip()
        if match.group(1).startswith("{{"):
            if active:
                out.append(_text(_evaluate(scope, body)))
            continue
        tag, _, args = body.partition(" ")
        if skipping:
            skipping = "" if tag == "end" + skipping else skipping
        elif tag in ("comment", "schema"):
            skipping = tag
        elif tag == "if":
            branches.append(active and _condition(scope, args))
        elif tag == "endif":
            branches.pop()
        elif tag == "assign":
            if active:
                name, _, expression = args.partition("=")
                scope[name.strip()] = _evaluate(scope, expression)
        else:
            raise LiquidError(f"unknown Liquid tag {tag!r}")
    tail = source[position:]
    out.append(tail.lstrip() if trim else tail)
    return "".join(out)


def _theme_file(path: str) -> str:
    return (THEME / path).read_text(encoding="utf-8")


def block_schema(name: str) -> dict[str, Any]:
    source = _theme_file(f"blocks/{name}.liquid")
    found = re.search(r"\{%\s*schema\s*%\}(.*?)\{%\s*endschema\s*%\}", source, re.S)
    assert found is not None, f"blocks/{name}.liquid has no schema"
    return json.loads(found.group(1))  # type: ignore[no-any-return]


def block_defaults(name: str) -> dict[str, Any]:
    """A block's settings as a merchant who placed it without changing them has them."""
    return {s["id"]: s.get("default") for s in block_schema(name).get("settings", [])
            if "id" in s}


def placeable(template: str) -> list[str]:
    """The app blocks a merchant can add to a template (their schema's `enabled_on`)."""
    names = sorted(path.name.removesuffix(".liquid") for path in (THEME / "blocks").iterdir()
                   if path.name.endswith(".liquid"))
    return [name for name in names if block_schema(name).get("target") == "section"
            and template in block_schema(name).get("enabled_on", {}).get("templates", [])]


# -- the shop ----------------------------------------------------------------------------------

@dataclass
class Storefront:
    """The shop's state. `parcours` is Parcours' URL, `store` the shop's store key there."""

    domain: str
    parcours: str
    store: str
    api_secret: str = API_SECRET
    products: tuple[Product, ...] = PRODUCTS
    zones: list[dict[str, Any]] = field(default_factory=lambda: ZONES)
    currency: str = "EUR"
    country: str = "FR"  # localization.country (the shopper's market)
    locale: str = "en"
    dynamic_checkout: bool = False  # Dawn's buy buttons "Show dynamic checkout buttons"
    additional_checkout_buttons: bool = False  # wallets on the cart page
    origin: str = ""
    carts: dict[str, dict[int, int]] = field(default_factory=dict)  # token -> variant -> qty
    checkouts: dict[str, dict[int, int]] = field(default_factory=dict)
    proxied: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def product(self, handle: str) -> Product:
        return next((p for p in self.products if p.handle == handle), None) or abort(404)

    def variant(self, variant_id: int) -> Product | None:
        return next((p for p in self.products if p.variant_id == variant_id), None)

    def config(self) -> Any:
        """The app's `parcours.config` metafield: what Parcours serves as the store's config."""
        answer = requests.get(f"{self.parcours}/w/{self.store}/config.json", timeout=10)
        answer.raise_for_status()
        return answer.json()


def _shop() -> Storefront:
    return current_app.config["STOREFRONT"]  # type: ignore[no-any-return]


def _money(cents: int) -> str:
    return f"€{Decimal(cents) / 100:.2f}".replace(".", ",") + " EUR"


def _cart_token() -> str | None:
    token = request.cookies.get(CART_COOKIE, "")
    return token if token in _shop().carts else None


def _lines(items: dict[int, int]) -> list[dict[str, Any]]:
    shop = _shop()
    found = [(shop.variant(v), q) for v, q in items.items()]
    return [{"product": p, "quantity": q, "total": p.price * q} for p, q in found if p]


def _theme_scope(page: str, product: Product | None) -> dict[str, Any]:
    """What the extension's Liquid sees on this page (the metafield read once a request)."""
    shop = _shop()
    if "parcours_config" not in g:
        g.parcours_config = shop.config()
    strings = json.loads(_theme_file(
        "locales/en.default.json" if shop.locale == "en" else f"locales/{shop.locale}.json"))
    variant = None if product is None else {"id": product.variant_id, "price": product.price}
    return {"__locale": strings,
            "app": {"metafields": {"parcours": {"config": {"value": g.parcours_config}}}},
            "request": {"locale": {"iso_code": shop.locale}, "page_type": page},
            "cart": {"currency": {"iso_code": shop.currency}},
            "localization": {"country": {"iso_code": shop.country}},
            "product": None if product is None else {
                "id": product.id, "selected_or_first_available_variant": variant,
                "metafields": {"reviews": {"rating": None, "rating_count": None}}}}


def app_block(name: str, page: str, product: Product | None) -> str:
    """An app block (blocks/<name>.liquid) as Shopify renders it in a section."""
    scope = {**_theme_scope(page, product), "block": {
        "settings": block_defaults(name), "shopify_attributes": ""}}
    inner = render_liquid(_theme_file(f"blocks/{name}.liquid"), scope)
    return f'<div id="shopify-block-{name}" class="shopify-app-block">{inner}</div>'


def app_embed(page: str, product: Product | None) -> str:
    return render_liquid(_theme_file("blocks/app-embed.liquid"), _theme_scope(page, product))


LAYOUT = """<!doctype html>
<html class="js" lang="{{ shop.locale }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><link rel="icon" href="data:,">
<title>{{ title }} &ndash; Acme Widgets</title>
<style>body{font:16px/1.5 sans-serif;margin:0}.page-width{max-width:1000px;margin:0 auto;
padding:0 1.5rem}.product{display:grid;grid-template-columns:1fr 1fr;gap:2rem}
.product__media{background:#eee;aspect-ratio:1}.button{padding:.8rem 1.5rem}</style>
{{ head|safe }}</head>
<body class="gradient"><a class="skip-to-content-link" href="#MainContent">Skip to content</a>
<header class="header page-width"><a href="/" class="header__heading-link">Acme Widgets</a>
<a href="/cart" id="cart-icon-bubble">Cart</a></header>
<main id="MainContent" class="content-for-layout" role="main">{{ main|safe }}</main>
{{ embed|safe }}</body></html>"""

PRODUCT = """<section id="shopify-section-{{ section }}" class="shopify-section section">
<section id="MainProduct-{{ section }}" class="page-width" data-section="{{ section }}">
<div class="product grid grid--1-col grid--2-col-tablet">
<div class="grid__item product__media-wrapper"><div class="product__media"></div></div>
<div class="product__info-wrapper grid__item">
<div id="ProductInfo-{{ section }}" class="product__info-container">
<div class="product__title"><h1>{{ p.title }}</h1></div>
{{ blocks.review_stars|safe }}
<div class="no-js-hidden" id="price-{{ section }}" role="status"><div class="price">
<span class="price-item price-item--regular">{{ money(p.price) }}</span></div></div>
<div><form method="post" action="/cart/add" id="product-form-installment-{{ section }}"
 accept-charset="UTF-8" class="installment caption-large" enctype="multipart/form-data">
<input type="hidden" name="form_type" value="product"><input type="hidden" name="utf8" value="✓">
<input type="hidden" name="id" value="{{ p.variant_id }}"></form></div>
<div class="product-form__input product-form__quantity">
<label class="form__label" for="Quantity-{{ section }}">Quantity</label>
<quantity-input class="quantity"><input class="quantity__input" type="number" name="quantity"
 id="Quantity-{{ section }}" min="1" value="1" form="{{ form_id }}"></quantity-input></div>
{{ blocks.shipping_estimate|safe }}
<div><product-form class="product-form">
<form method="post" action="/cart/add" id="{{ form_id }}" accept-charset="UTF-8" class="form"
 enctype="multipart/form-data" novalidate="novalidate" data-type="add-to-cart-form">
<input type="hidden" name="form_type" value="product"><input type="hidden" name="utf8" value="✓">
<input type="hidden" name="id" value="{{ p.variant_id }}" disabled>
<div class="product-form__buttons"><button type="submit" name="add"
 class="product-form__submit button button--full-width button--primary">
<span>Add to cart</span></button>
{% if shop.dynamic_checkout %}<div data-shopify="payment-button" class="shopify-payment-button">
<shopify-accelerated-checkout recommended="shop_pay" fallback="buy_it_now"
 buyer-country="{{ shop.country }}" buyer-currency="{{ shop.currency }}"
 variant-params="[{&quot;id&quot;:{{ p.variant_id }}}]"></shopify-accelerated-checkout>
</div>{% endif %}</div></form></product-form>
<script>/* Dawn's product-form.js */document.getElementById("{{ form_id }}")
.querySelector("[name=id]").disabled = false;</script></div>
{{ blocks.express_pay|safe }}
<div class="product__description rte">Thrown by hand, glazed twice.</div>
</div></div></div></section>
<div class="page-width">{{ blocks.review_list|safe }}</div></section>"""

CART = """<cart-items class="page-width"><div class="title-wrapper-with-link">
<h1 class="title title--primary">Your cart</h1><a href="/collections/all">Continue shopping</a>
</div><form action="/cart" class="cart__contents" method="post" id="cart">
<div class="cart__items" id="main-cart-items"><table class="cart-items"><tbody>
{% for line in lines %}<tr class="cart-item"><td>{{ line.product.title }}</td>
<td><input class="quantity__input" type="number" name="updates[]"
 value="{{ line.quantity }}" aria-label="Quantity"></td>
<td>{{ money(line.total) }}</td></tr>{% endfor %}</tbody></table></div></form></cart-items>
<div class="cart__footer-wrapper"><div class="page-width" id="main-cart-footer">
<div class="cart__footer"><div class="cart__blocks"><div class="js-contents">
<div class="totals"><h2 class="totals__total">Estimated total</h2>
<p class="totals__total-value">{{ money(subtotal) }}</p></div>
<small class="tax-note caption-large rte">Taxes included. Shipping calculated at checkout.
</small></div><div class="cart__ctas"><button type="submit" id="checkout"
 class="cart__checkout-button button" name="checkout" form="cart">Check out</button></div>
{% if shop.additional_checkout_buttons %}<div class="cart__dynamic-checkout-buttons
 additional-checkout-buttons"><div class="dynamic-checkout__content" id="dynamic-checkout-cart"
 data-shopify="dynamic-checkout-cart"><shopify-accelerated-checkout-cart wallet-configs="[]">
</shopify-accelerated-checkout-cart></div></div>{% endif %}
{{ blocks.shipping_estimate|safe }}{{ blocks.express_pay|safe }}{{ blocks.guest_checkout|safe }}
</div></div></div></div>"""

CHECKOUT = """<div class="page-width"><h1>Checkout</h1><ul class="checkout-lines">
{% for line in lines %}<li>{{ line.product.title }} &times; {{ line.quantity }}:
{{ money(line.total) }}</li>{% endfor %}</ul><p class="checkout-total">Subtotal:
{{ money(subtotal) }}</p><p>Express checkout: Shop Pay, Apple Pay, Google Pay</p></div>"""


def _page(title: str, page: str, main: str, product: Product | None = None,
          head: str = "") -> str:
    return render_template_string(LAYOUT, shop=_shop(), title=title, head=head, main=main,
                                  embed=app_embed(page, product))


def _product_json_ld(product: Product) -> str:
    """Dawn's `{{ product | structured_data }}` for a product without options."""
    shop = _shop()
    data = {"@context": "http://schema.org/", "@type": "Product", "name": product.title,
            "url": f"{shop.origin}/products/{product.handle}", "sku": str(product.variant_id),
            "offers": [{"@type": "Offer", "availability": "http://schema.org/InStock",
                        "price": f"{product.price / 100:.2f}", "priceCurrency": shop.currency,
                        "url": f"{shop.origin}/products/{product.handle}"
                               f"?variant={product.variant_id}"}]}
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def create_storefront_app(shop: Storefront) -> Flask:
    app = Flask("fake_shopify_storefront")
    app.config["STOREFRONT"] = shop

    @app.get("/products/<handle>")
    def product_page(handle: str) -> Any:
        product = shop.product(handle)
        blocks = {name.replace("-", "_"): app_block(name, "product", product)
                  for name in placeable("product")}
        main = render_template_string(PRODUCT, shop=shop, p=product, section=SECTION,
                                      form_id=PRODUCT_FORM, blocks=blocks, money=_money)
        return _page(product.title, "product", main, product, _product_json_ld(product))

    @app.get("/cart")
    def cart_page() -> Any:
        token = _cart_token()
        lines = _lines(shop.carts[token]) if token else []
        blocks = {name.replace("-", "_"): app_block(name, "cart", None)
                  for name in placeable("cart")}
        main = render_template_string(CART, shop=shop, lines=lines, blocks=blocks,
                                      subtotal=sum(line["total"] for line in lines),
                                      money=_money)
        return _page("Your cart", "cart", main)

    @app.post("/cart")
    def cart_update() -> Any:
        """The cart form: `checkout` (the checkout button) goes to checkout."""
        return redirect("/checkout" if "checkout" in request.form else "/cart", 302)

    def add(as_json: bool) -> Any:
        try:
            variant, quantity = int(request.values["id"]), int(request.values.get("quantity", 1))
        except (KeyError, ValueError):
            variant, quantity = 0, 0
        if shop.variant(variant) is None or quantity < 1:
            return jsonify(status=404, message="Cart Error",
                           description="Cannot find variant"), 404
        token = _cart_token() or "hWN" + secrets.token_hex(12)
        with shop.lock:
            items = shop.carts.setdefault(token, {})
            items[variant] = items.get(variant, 0) + quantity
        response = (jsonify(_item(variant, items[variant])) if as_json
                    else redirect("/cart", 302))
        response.set_cookie(CART_COOKIE, token, max_age=CART_LIFETIME, path="/",
                            samesite="Lax")
        return response

    app.add_url_rule("/cart/add", "add", lambda: add(False), methods=["POST"])
    app.add_url_rule("/cart/add.js", "add_js", lambda: add(True), methods=["POST"])

    @app.get("/cart.js")
    def cart_js() -> Any:
        token = _cart_token()
        items = shop.carts.get(token, {}) if token else {}
        lines = [_item(v, q) for v, q in items.items()]
        total = sum(line["line_price"] for line in lines)
        return jsonify(token=token or "hWN" + secrets.token_hex(12), note=None, attributes={},
                       original_total_price=total, total_price=total, total_discount=0,
                       total_weight=float(sum(line["grams"] * line["quantity"]
                                              for line in lines)),
                       item_count=sum(items.values()), items=lines,
                       requires_shipping=bool(lines), currency=shop.currency,
                       items_subtotal_price=total, cart_level_discount_applications=[])

    @app.get("/cart/shipping_rates.json")
    def shipping_rates() -> Any:
        token = _cart_token()
        items = shop.carts.get(token, {}) if token else {}
        given = request.args.get("shipping_address[country]", "").strip()
        country = next((code for code, name in COUNTRIES.items()
                        if given.upper() == code or given.lower() == name.lower()), None)
        zone = next((z for z in shop.zones if country in
                     [c["code"] for c in z["countries"]]), None)
        if country is None or zone is None:
            return jsonify(country=["is not supported"]), 422
        zip_code = request.args.get("shipping_address[zip]", "").strip()
        if country in ZIPS and not re.fullmatch(ZIPS[country], zip_code):
            return jsonify(zip=[f"is not valid for {COUNTRIES[country]}"]), 422
        subtotal = Decimal(sum(line["total"] for line in _lines(items))) / 100
        rates = [rate for rate in zone["rates"] if items and _applies(rate, subtotal)]
        rates.sort(key=lambda rate: Decimal(rate["price"]))
        return jsonify(shipping_rates=[_shipping_rate(rate, shop.currency) for rate in rates])

    @app.get("/cart/<path:permalink>")
    def cart_permalink(permalink: str) -> Any:
        if not re.fullmatch(r"\d+:\d+(,\d+:\d+)*", permalink):
            abort(404)
        items: dict[int, int] = {}
        for pair in permalink.split(","):
            variant, quantity = (int(x) for x in pair.split(":"))
            if shop.variant(variant) is None:
                abort(404)
            items[variant] = items.get(variant, 0) + quantity
        return _checkout(items)

    @app.get("/checkout")
    def checkout() -> Any:
        token = _cart_token()
        items = dict(shop.carts.get(token, {})) if token else {}
        return _checkout(items) if items else redirect("/cart", 302)

    def _checkout(items: dict[int, int]) -> Any:
        token = secrets.token_hex(16)
        with shop.lock:
            shop.checkouts[token] = items
        return redirect(f"/checkouts/cn/{token}", 302)

    @app.get("/checkouts/cn/<token>")
    def checkout_page(token: str) -> Any:
        lines = _lines(shop.checkouts.get(token) or abort(404))
        body = render_template_string(CHECKOUT, lines=lines, money=_money,
                                      subtotal=sum(line["total"] for line in lines))
        return render_template_string(LAYOUT, shop=shop, title="Checkout", head="",
                                      main=body, embed="")

    @app.get("/assets/parcours-boot.js")
    def boot_script() -> Response:
        return Response((THEME / "assets" / "parcours-boot.js").read_bytes(),
                        mimetype="text/javascript")

    @app.route("/apps/parcours/<path:rest>", methods=["GET", "POST"])
    def app_proxy(rest: str) -> Response:
        query = proxy_query(FakeShopify(api_secret=shop.api_secret), shop.domain,
                            list(request.args.items(multi=True)))
        answer = requests.request(request.method, f"{shop.parcours}/apps/parcours/{rest}",
                                  params=query, data=request.get_data(), timeout=10,
                                  headers={"Accept": request.headers.get("Accept", "*/*")})
        with shop.lock:
            shop.proxied.append({"path": f"/apps/parcours/{rest}", "query": query,
                                 "status": answer.status_code})
        kept = {k: v for k, v in answer.headers.items()
                if k.lower() in ("content-type", "cache-control")}
        return Response(answer.content, answer.status_code, headers=kept)

    return app


def _applies(rate: dict[str, Any], subtotal: Decimal) -> bool:
    """A price-based rate's conditions (inclusive), on the cart's subtotal."""
    low, high = rate.get("min_subtotal"), rate.get("max_subtotal")
    return (low is None or subtotal >= Decimal(low)) and (high is None
                                                           or subtotal <= Decimal(high))


def _shipping_rate(rate: dict[str, Any], currency: str) -> dict[str, Any]:
    """One entry of /cart/shipping_rates.json (shopify.dev, Ajax API: cart)."""
    return {"name": rate["name"], "presentment_name": rate["name"], "code": rate["name"],
            "price": f"{Decimal(rate['price']):.2f}", "markup": None, "source": "shopify",
            "delivery_date": None, "delivery_range": None, "delivery_days": [],
            "compare_price": None, "phone_required": False, "currency": currency,
            "carrier_identifier": None, "delivery_category": None,
            "using_merchant_geocoding": False, "carrier_service_id": None, "description": None,
            "api_client_id": None, "requested_fulfillment_service_id": None,
            "shipment_options": None, "charge_items": None, "has_restrictions": None,
            "rating_classification": None, "accepts_instructions": False}


def _item(variant_id: int, quantity: int) -> dict[str, Any]:
    """A line item as /cart.js and /cart/add.js show it (amounts in cents)."""
    shop = _shop()
    p = shop.variant(variant_id)
    assert p is not None
    line = p.price * quantity
    return {"id": p.variant_id, "properties": {}, "quantity": quantity,
            "variant_id": p.variant_id, "key": f"{p.variant_id}:{secrets.token_hex(16)}",
            "title": p.title, "price": p.price, "original_price": p.price,
            "presentment_price": p.price / 100, "discounted_price": p.price,
            "line_price": line, "original_line_price": line, "total_discount": 0,
            "discounts": [], "sku": f"SKU-{p.variant_id}", "grams": p.grams,
            "vendor": "Acme Widgets", "taxable": True, "product_id": p.id,
            "product_has_only_default_variant": True, "gift_card": False,
            "final_price": p.price, "final_line_price": line,
            "url": f"/products/{p.handle}?variant={p.variant_id}", "featured_image": None,
            "image": None, "handle": p.handle, "requires_shipping": True, "product_type": "",
            "product_title": p.title, "product_description": "", "variant_title": None,
            "variant_options": ["Default Title"],
            "options_with_values": [{"name": "Title", "value": "Default Title"}],
            "line_level_discount_allocations": [], "line_level_total_discount": 0,
            "quantity_rule": {"min": 1, "max": None, "increment": 1}, "has_components": False}


@contextmanager
def serving(shop: Storefront, host: str = "127.0.0.2") -> Iterator[Storefront]:
    """Serve the shop on a free port of `host` (its own origin); sets `shop.origin`."""
    with served(create_storefront_app(shop), host) as origin:
        shop.origin = origin
        yield shop
