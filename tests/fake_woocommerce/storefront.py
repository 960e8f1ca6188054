"""A WooCommerce storefront for the widget tests in Chromium: a Storefront-like theme on the fake
WooCommerce (its REST API, and its Store API on cookie sessions), printing what the WordPress
plugin's own PHP prints.

- The pages: a product (`/product/<slug>/`: the classic `form.cart`, quantity inside it), the
  cart (`/cart/`: lines, totals, the proceed-to-checkout button) and the checkout
  (`/checkout/`), each with the plugin's mounts where Parcours_Mounts places them, its inline
  config (parcours_storefront_config, parcours_config_script) and the deferred loader tag
  marked by Parcours_Storefront::mark_loader, all run with php-cli from the plugin's files.
  The product's stars are the plugin's review-stars template.
- The classic add-to-cart form handler (WC_Form_Handler::add_to_cart_action, simple products)
  on the product and checkout pages: `add-to-cart=<id>&quantity=<n>` adds to the session's
  cart, then the redirect is `woocommerce_add_to_cart_redirect` as the real plugin filters it
  (parcours.php booted in tests/wordpress_standin.py's stand-in WordPress, with this request's
  $_GET and $_POST), else the cart where `woocommerce_cart_redirect_after_add` is "yes", else
  none. The pages share the Store API's session cookie (store_api.session_cart).
- A stand-in for the plugin's estimate route (`/wp-json/parcours/v1/shipping-estimate`,
  Parcours_Shipping_Estimate): WordPress' argument checks with the plugin's check functions,
  the fake's shipping rates for the product alone, formatted by parcours_format_rates.

`serving(site)` serves it on its own origin. Not copied: variable products, the mini-cart,
the checkout form itself, notices other than the add-to-cart one.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, abort, current_app, redirect, request

from tests.fake_woocommerce import create_fake_app
from tests.fake_woocommerce.auth import WpError
from tests.fake_woocommerce.state import Cart, FakeWooStore, php_json
from tests.fake_woocommerce.store_api import (
    new_cart,
    rates,
    session_cart,
    set_session_cookies,
)
from tests.storefront_support import served
from tests.wordpress_standin import run_php, run_plugin

__all__ = ["WooSite", "serving", "woo_pages"]

@dataclass
class WooSite:
    """The site: its fake WooCommerce store, php-cli, Parcours' origin and the store's key
    there; what the tests set (`redirect_after_add`) and see (`estimates`, the route's)."""

    store: FakeWooStore
    php: str
    parcours: str
    store_key: str
    loader_tags: str = ""  # WordPress' tags for the loader, marked by the plugin
    redirect_after_add: str = "no"  # woocommerce_cart_redirect_after_add
    estimates: list[dict[str, Any]] = field(default_factory=list)


woo_pages = Blueprint("woo_pages", __name__)
LOADER_TAGS = ('<script id="parcours-loader-js-before">\n@CONFIG@\n</script>\n'
               '<script src="@SRC@" id="parcours-loader-js" defer data-wp-strategy="defer">'
               '</script>\n')
PLUGIN_OUTPUT = r"""
$f = json_decode( $argv_json, true );
$config = parcours_storefront_config( $f['facts'] + array(
    'session' => $f['customer']
        ? parcours_session_identity( $f['customer'], $f['salt'] ) : null ) );
$out = array( 'script' => parcours_config_script( $config ), 'mounts' => array(),
              'stars' => null );
foreach ( parcours_widget_mounts( $f['facts']['page'], (int) ( $f['facts']['product_id'] ?? 0 ) )
          as $name => $mount ) {
    $out['mounts'][ $name ] = parcours_widget_mount_html( parcours_widget_mount( $name, $mount ) );
}
if ( $f['rating'] ) {
    $stars = parcours_review_stars( (int) $f['facts']['product_id'], $f['rating'][0],
                                    $f['rating'][1], true );
    $out['stars'] = $stars ? parcours_render_template( 'review-stars', $stars ) : null;
}
echo json_encode( $out );
"""
ESTIMATE = r"""
$q = json_decode( $argv_json, true );
$errors = array();
foreach ( array(
    'country'    => parcours_check_country( $q['country'], $q['countries'] ),
    'postcode'   => parcours_check_postcode( $q['postcode'] ) ?? ( $q['postcode_ok'] ? null :
                    'postcode is not a valid postcode for this country.' ),
    'product_id' => parcours_check_product_id( $q['product_id'] ) ?? ( $q['product_ok'] ? null :
                    'product_id is not a product of this store.' ),
    'quantity'   => parcours_check_quantity( $q['quantity'] ),
) as $name => $error ) {
    if ( null !== $error ) {
        $errors[ $name ] = $error;
    }
}
class Rate {
    public function __construct( private array $r ) {}
    public function get_id() { return $this->r['id']; }
    public function get_method_id() { return $this->r['method_id']; }
    public function get_label() { return $this->r['label']; }
    public function get_cost() { return $this->r['cost']; }
    public function get_shipping_tax() { return 0; }
}
$rates = array_map( function ( $r ) { return new Rate( $r ); }, $q['rates'] );
echo json_encode( array( 'errors' => $errors,
                         'rates' => parcours_format_rates( $rates, false, 2, $q['currency'] ) ) );
"""
# WC_Form_Handler::add_to_cart_action() once the product is in the cart: WooCommerce's own call.
ADD_TO_CART_REDIRECT = r"""
$r = json_decode( $argv_json, true );
$_GET = $r['get'];
$_POST = $r['post'];
$_REQUEST = array_merge( $_GET, $_POST );
echo json_encode( apply_filters( 'woocommerce_add_to_cart_redirect', false,
                                 wc_get_product( $r['product_id'] ) ) );
"""
STANDIN_HOME = "https://shop.example/"  # the stand-in WordPress' home (wc_get_checkout_url)
POSTCODES = {"FR": r"\d{5}", "DE": r"\d{5}", "US": r"\d{5}(-\d{4})?"}  # WC_Validation


def _site() -> WooSite:
    return current_app.config["SITE"]  # type: ignore[no-any-return]


def _plugin(code: str, data: Any, run: Any = run_php) -> Any:
    """`code` run by `run` (the plugin's pure functions, or the booted plugin: run_plugin) with
    `data` in $argv_json; its JSON output."""
    return run(_site().php, f"$argv_json = <<<'JSON'\n{json.dumps(data)}\nJSON;\n{code}")


def _woo_cart() -> Cart:
    store = _site().store
    cart = session_cart(store)
    if cart is None:
        cart = new_cart(store, "t_" + secrets.token_hex(15))
        with store.lock:
            store.carts[cart.customer_id] = cart
    return cart


def _add_to_cart_action(cart: Cart) -> Response | None:
    """WC_Form_Handler::add_to_cart_action() (simple products), on every page: the redirect
    after an add, with the session's cookies, if there is one."""
    site, wanted = _site(), request.values.get("add-to-cart", "")
    if not wanted.isdigit() or int(wanted) not in site.store.products:
        return None
    quantity = int(request.values.get("quantity") or 1)
    with site.store.lock:
        cart.items[int(wanted)] = cart.items.get(int(wanted), 0) + max(quantity, 1)
    asked = {"get": request.args.to_dict(), "post": request.form.to_dict(),
             "product_id": int(wanted)}
    target = _plugin(ADD_TO_CART_REDIRECT, asked, run_plugin)
    if not target and site.redirect_after_add == "yes":
        target = f"{site.store.base_url}/cart/"
    if not target:
        return None
    if target.startswith(STANDIN_HOME):  # the stand-in WordPress' site is this one
        target = f"{site.store.base_url}/{target.removeprefix(STANDIN_HOME)}"
    response = redirect(target, 302)
    set_session_cookies(site.store, response, cart)
    return response


def _woo_page(page: str, cart: Cart, main: str, product: dict[str, Any] | None = None) -> Any:
    """A Storefront page with what the plugin prints: the mounts (placed by the caller, from
    `mounts`), the inline config and the deferred loader in the footer."""
    site = _site()
    base = site.store.base_url
    facts: dict[str, Any] = {
        "origin": site.parcours, "store": site.store_key, "page": page, "locale": "en_US",
        "currency": site.store.currency, "customer_id": 0, "country": "FR",
        "shipping_estimate": f"{base}/wp-json/parcours/v1/shipping-estimate",
        "store_api": f"{base}/wp-json/wc/store/v1/", "checkout_url": f"{base}/checkout/"}
    rating = None
    if product is not None:
        facts.update(product_id=product["id"], product_price=product["price"])
        if int(product.get("rating_count") or 0):
            rating = [product["average_rating"], product["rating_count"]]
    has_session = session_cart(site.store) is not None or bool(cart.items)
    out = _plugin(PLUGIN_OUTPUT, {"facts": facts, "rating": rating, "salt": site.store.salt,
                                  "customer": cart.customer_id if has_session else None})
    body = main.format_map({**out["mounts"], "stars": out["stars"] or ""})
    footer = site.loader_tags.replace("@CONFIG@", out["script"])
    html = (f'<!doctype html><html lang="en-US"><head><meta charset="UTF-8">'
            f'<link rel="icon" href="data:,"><title>Acme Woo</title></head>'
            f'<body class="woocommerce-page storefront {page}"><div id="page">'
            f'<header id="masthead" class="site-header"><a class="cart-contents" '
            f'href="{base}/cart/">Cart</a></header><div id="content" class="site-content">'
            f'<div class="col-full"><main id="main" class="site-main">{body}</main></div></div>'
            f'</div>{footer}</body></html>')
    response = Response(html, content_type="text/html; charset=UTF-8")
    set_session_cookies(site.store, response, cart)
    return response


def _money(amount: Decimal) -> str:
    return f"€{amount:.2f}"


@woo_pages.route("/product/<slug>/", methods=["GET", "POST"])
def woo_product(slug: str) -> Any:
    store = _site().store
    product = next((p for p in store.products.values() if p["slug"] == slug), None)
    if product is None:
        abort(404)
    cart = _woo_cart()
    redirected = _add_to_cart_action(cart)
    if redirected is not None:
        return redirected
    notice = (f'<div class="woocommerce-message" role="alert">“{product["name"]}” has been '
              f'added to your cart.</div>' if request.method == "POST" else "")
    main = (f'<div class="woocommerce-notices-wrapper">{notice}</div>'
            f'<div id="product-{product["id"]}" class="product type-product">'
            f'<div class="woocommerce-product-gallery"></div><div class="summary entry-summary">'
            f'<h1 class="product_title entry-title">{product["name"]}</h1>{{stars}}'
            f'<p class="price"><span class="woocommerce-Price-amount amount"><bdi>'
            f'{_money(Decimal(product["price"]))}</bdi></span></p>'
            f'<div class="woocommerce-product-details__short-description"><p>A mug.</p></div>'
            f'{{shipping_estimate}}<form class="cart" action="{product["permalink"]}" '
            f'method="post" enctype="multipart/form-data"><div class="quantity">'
            f'<label class="screen-reader-text" for="quantity_1">{product["name"]} quantity'
            f'</label><input type="number" id="quantity_1" class="input-text qty text" '
            f'name="quantity" value="1" aria-label="Product quantity" min="1" step="1"></div>'
            f'<button type="submit" name="add-to-cart" value="{product["id"]}" '
            f'class="single_add_to_cart_button button alt">Add to cart</button></form>'
            f'{{express_pay}}<div class="product_meta">SKU: {product["sku"]}</div></div></div>')
    return _woo_page("product", cart, main, product)


def _lines(cart: Cart) -> tuple[str, Decimal]:
    store = _site().store
    rows, total = [], Decimal(0)
    for product_id, quantity in cart.items.items():
        product = store.products[product_id]
        line = Decimal(product["price"]) * quantity
        total += line
        rows.append(f'<tr class="cart_item"><td class="product-name">{product["name"]} '
                    f'&times; {quantity}</td><td class="product-subtotal">{_money(line)}</td>'
                    f'</tr>')
    return "".join(rows), total


@woo_pages.get("/cart/")
def woo_cart() -> Any:
    cart = _woo_cart()
    rows, total = _lines(cart)
    checkout = f"{_site().store.base_url}/checkout/"
    main = (f'<div class="woocommerce"><form class="woocommerce-cart-form" method="post">'
            f'<table class="shop_table cart"><tbody>{rows}</tbody></table></form>'
            f'<div class="cart-collaterals"><div class="cart_totals">{{shipping_estimate}}'
            f'<h2>Cart totals</h2><table class="shop_table"><tr class="cart-subtotal">'
            f'<th>Subtotal</th><td>{_money(total)}</td></tr></table>'
            f'<div class="wc-proceed-to-checkout">{{express_pay}}<a href="{checkout}" '
            f'class="checkout-button button alt wc-forward">Proceed to checkout</a>'
            f'{{guest_checkout}}</div></div></div></div>')
    return _woo_page("cart", cart, main)


@woo_pages.get("/checkout/")
def woo_checkout() -> Any:
    cart = _woo_cart()
    redirected = _add_to_cart_action(cart)
    if redirected is not None:
        return redirected
    rows, total = _lines(cart)
    main = (f'<div class="woocommerce">{{guest_checkout}}<form name="checkout" method="post" '
            f'class="checkout woocommerce-checkout"><h3 id="order_review_heading">Your order'
            f'</h3><table class="shop_table woocommerce-checkout-review-order-table"><tbody>'
            f'{rows}</tbody><tfoot><tr class="order-total"><th>Total</th>'
            f'<td>{_money(total)}</td></tr></tfoot></table></form></div>')
    return _woo_page("checkout", cart, main)


@woo_pages.get("/wp-json/parcours/v1/shipping-estimate")
def woo_estimate() -> Any:
    """A stand-in for the plugin's route (Parcours_Shipping_Estimate): WordPress' argument
    checks with the plugin's own check functions, the rates by the fake WooCommerce's shipping
    for the product alone, formatted by the plugin's parcours_format_rates."""
    site = _site()
    store = site.store
    args = request.args
    missing = [name for name in ("country", "product_id") if name not in args]
    if missing:
        error = WpError("rest_missing_callback_param",
                        f"Missing parameter(s): {', '.join(missing)}", 400, {"params": missing})
        return Response(php_json(error.body()), 400, content_type="application/json")
    country = args["country"].strip().upper()
    postcode = args.get("postcode", "").strip().upper()
    product = store.products.get(int(args["product_id"])) if args["product_id"].isdigit() \
        else None
    quantity = args.get("quantity", "1")
    found: list[dict[str, Any]] = []
    if product is not None and quantity.isdigit() and int(quantity) > 0:
        package = new_cart(store, "estimate")
        package.shipping.update(country=country, state="", postcode=postcode)
        line = {"name": product["name"], "quantity": int(quantity)}
        found = [{"id": r["rate_id"], "method_id": r["method_id"], "label": r["name"],
                  "cost": str(Decimal(r["price"]) / 100)}
                 for r in rates(store, package, [line], Decimal(product["price"]) * int(quantity))]
    answer = _plugin(ESTIMATE, {
        "country": args["country"], "countries": {c: c for c in ("FR", "DE", "BE", "US")},
        "postcode": args.get("postcode", ""), "product_id": args["product_id"],
        "quantity": quantity, "currency": store.currency, "rates": found,
        "postcode_ok": not postcode or country not in POSTCODES
        or bool(re.fullmatch(POSTCODES[country], postcode)), "product_ok": product is not None})
    site.estimates.append({"query": dict(args), "errors": answer["errors"]})
    if answer["errors"]:
        errors = answer["errors"]
        error = WpError("rest_invalid_param", f"Invalid parameter(s): {', '.join(errors)}", 400,
                        {"params": errors, "details": {name: {
                            "code": "rest_invalid_param", "message": message,
                            "data": {"status": 400}} for name, message in errors.items()}})
        return Response(php_json(error.body()), 400, content_type="application/json")
    body = {"country": country, "state": "", "province": "", "postcode": postcode,
            "currency": store.currency, "needs_shipping": True, "rates": answer["rates"]}
    return Response(php_json(body), 200, content_type="application/json; charset=UTF-8",
                    headers={"Cache-Control": "private, max-age=60"})


@contextmanager
def serving(site: WooSite, host: str = "127.0.0.3") -> Iterator[WooSite]:
    """Serve the site (the fake WooCommerce of `site.store` and these pages) on a free port of
    `host`, its own origin; sets `site.store.base_url` and the loader's tags."""
    app = create_fake_app(site.store)
    app.config["SITE"] = site
    app.register_blueprint(woo_pages)
    site.loader_tags = run_plugin(site.php, "echo json_encode( Parcours_Storefront::mark_loader( "
                                  f"{json.dumps(LOADER_TAGS)}, 'parcours-loader' ) );").replace(
        "@SRC@", f"{site.parcours}/widgets/loader.js")
    with served(app, host) as origin:
        site.store.base_url = origin
        yield site
