"""The demo storefront (`/demo/shop/...`): the demo store's catalogue in two theme looks, with
the widgets installed exactly as a store would have them.

- `dawn`: markup modelled on Shopify's Dawn theme, the widgets as a Shopify store has them: the
  app embed's inlined config (`#parcours-config`, the store config with the page's facts as data
  attributes) and its boot script, and app blocks (mounts) in the product and cart sections.
- `storefront`: markup modelled on WooCommerce's Storefront theme, the widgets as the WordPress
  plugin puts them: the page's part of the config inline (`window.ParcoursConfig`), the deferred
  loader (which fetches the store's part), and mounts at the WooCommerce hooks' places.

The store behind both is a custom shop (platform `custom`): its `storefront` fact points the
widgets at this shop's cart and checkout (`{shop}` is the theme's base path), estimates and
reviews come from Parcours. `?parcours=off` serves a page without Parcours (the benchmark's
baseline); `?lang=fr` a French page. Registered only when `DEMO_SHOP` is set (`parcours demo`,
tests): never in production.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib import resources
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, redirect, render_template, request
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from parcours import tables as t
from parcours.accounts import save_store_facts
from parcours.db import Database
from parcours.demo import CATALOG, COLLECTIONS, CURRENCY, FREE_SHIPPING_FROM, SHIPPING, Product
from parcours.reviews import ReviewInput, add_review
from parcours.widgets.routes import config_for

__all__ = ["DEMO_FACTS", "THEMES", "init_app", "seed_demo_shop"]

THEMES = ("dawn", "storefront")
CART_COOKIE = "demo_cart"
MAX_QUANTITY = 99

# The demo store's facts: what a platform would have told Parcours.
DEMO_FACTS: dict[str, Any] = {
    "shop": {"currency": CURRENCY, "locale": "en"},
    "customer_accounts": {"login_required_at_checkout": False},
    "accelerated_checkout": {"wallets": ["apple_pay", "google_pay", "shopify_pay"]},
    "shipping_zones": [
        {"name": "France", "countries": [{"code": "FR", "provinces": []},
                                         {"code": "MC", "provinces": []}],
         "rates": [{"name": "Colissimo", "price": str(SHIPPING), "currency": CURRENCY},
                   {"name": "Colissimo", "price": "0.00", "currency": CURRENCY,
                    "min_subtotal": str(FREE_SHIPPING_FROM)},
                   {"name": "Express", "price": "12.00", "currency": CURRENCY}]},
        {"name": "Europe", "countries": [{"code": code, "provinces": []} for code in (
            "BE", "CH", "DE", "ES", "IT", "LU", "NL", "PT")],
         "rates": [{"name": "Standard", "price": "9.90", "currency": CURRENCY},
                   {"name": "Standard", "price": "0.00", "currency": CURRENCY,
                    "min_subtotal": "100.00"}]},
        {"name": "World", "countries": [{"code": "*", "provinces": []}],
         "rates": [{"name": "International", "price": "19.90", "currency": CURRENCY}]},
    ],
    "storefront": {
        "checkout": "{shop}/checkout",
        "buy_now": "{shop}/checkout?variant={variant}&quantity={quantity}",
        "cart": {"url": "{shop}/cart.json", "subtotal": "subtotal", "minor": 0},
    },
}

# (product, rating, author, locale, title, text, days ago, verified, reply): every rating shows.
REVIEWS = (
    ("p-101", 5, "Camille R.", "fr", "Parfait le matin", "Grande, solide, le café reste chaud.",
     4, True, None),
    ("p-101", 4, "James P.", "en", "Lovely glaze", "Slightly smaller than I expected, but lovely.",
     11, True, None),
    ("p-101", 2, "Inès B.", "fr", "Arrivé ébréché", "La poignée était ébréchée à l'arrivée.",
     20, True, "Nous sommes désolés : un remplacement est parti hier."),
    ("p-101", 5, "Sam K.", "en", None, "Bought two more as gifts.", 32, False, None),
    ("p-101", 4, "Léa M.", "fr", "Très jolie", "Couleur fidèle aux photos.", 45, True, None),
    ("p-101", 1, "Tom H.", "en", "Cracked in the dishwasher",
     "It says dishwasher safe; mine cracked after a month.", 60, True, None),
    ("p-202", 5, "Nora D.", "en", "Warm light", "Beautiful warm light in the evening.", 6, True,
     None),
    ("p-202", 3, "Hugo V.", "fr", "Correct", "Belle lampe mais le câble est court.", 15, True,
     None),
)


def seed_demo_shop(conn: Connection, store_id: int, now: datetime | None = None) -> None:
    """Give the demo store its facts and reviews (again: changes nothing)."""
    moment = now or datetime.now(UTC)
    save_store_facts(conn, store_id, DEMO_FACTS, moment)
    if conn.execute(select(func.count()).select_from(t.reviews)
                    .where(t.reviews.c.store_id == store_id)).scalar():
        return
    for product, rating, author, locale, title, body, days, verified, reply in REVIEWS:
        add_review(conn, store_id, ReviewInput(
            product_id=product, rating=rating, body=body, title=title, author=author,
            locale=locale, verified=verified, reply=reply,
            created_at=moment - timedelta(days=days)))


LABELS = {
    "en": {"tagline": "Free delivery in France from €60", "skip": "Skip to content",
           "announcement": "Announcement", "cart": "Cart", "your_cart": "Your cart",
           "powered": "a Parcours demo", "menu": "Menu", "quantity": "Quantity",
           "add": "Add to cart", "description_title": "Description",
           "description": "Made by a small workshop, built to last, shipped in recycled cardboard.",
           "related": "You may also like", "product": "Product", "total": "Total",
           "subtotal": "Subtotal", "empty": "Your cart is empty.", "empty_cart": "Empty cart",
           "taxes": "Taxes included. Shipping calculated at checkout.",
           "checkout": "Check out", "proceed": "Proceed to checkout",
           "cart_totals": "Cart totals", "email": "Email", "pay": "Pay now",
           "billing": "Billing details", "your_order": "Your order",
           "returning": "Returning customer?", "login": "Click here to login",
           "demo_checkout": "Demo checkout: nothing is charged.",
           "kitchen": "Kitchen", "living": "Living", "outdoor": "Outdoor", "bath": "Bath"},
    "fr": {"tagline": "Livraison offerte en France dès 60 €", "skip": "Aller au contenu",
           "announcement": "Annonce", "cart": "Panier", "your_cart": "Votre panier",
           "powered": "une démo Parcours", "menu": "Menu", "quantity": "Quantité",
           "add": "Ajouter au panier", "description_title": "Description",
           "description": "Fabriqué par un petit atelier, fait pour durer, expédié dans du "
                          "carton recyclé.",
           "related": "Vous aimerez aussi", "product": "Produit", "total": "Total",
           "subtotal": "Sous-total", "empty": "Votre panier est vide.",
           "empty_cart": "Vider le panier",
           "taxes": "Taxes incluses. Frais de port calculés à la caisse.",
           "checkout": "Paiement", "proceed": "Valider la commande",
           "cart_totals": "Total panier", "email": "E-mail", "pay": "Payer",
           "billing": "Détails de facturation", "your_order": "Votre commande",
           "returning": "Déjà client ?", "login": "Cliquez ici pour vous connecter",
           "demo_checkout": "Caisse de démonstration : rien n'est débité.",
           "kitchen": "Cuisine", "living": "Salon", "outdoor": "Extérieur", "bath": "Bain"},
}


def _money(lang: str) -> Any:
    def money(amount: Decimal) -> str:
        text = f"{amount:.2f}"
        return f"{text.replace('.', ',')}\u00a0€" if lang == "fr" else f"€{text}"
    return money


demo_shop = Blueprint("demo_shop", __name__, url_prefix="/demo/shop",
                      template_folder="templates")


def _catalog() -> dict[str, Product]:
    return {product.id: product for product in CATALOG}


def _cart() -> dict[str, int]:
    """The shopper's cart from its cookie; anything malformed is dropped, never trusted."""
    try:
        raw = json.loads(request.cookies.get(CART_COOKIE, "{}"))
    except ValueError:
        return {}
    catalog = _catalog()
    return {pid: qty for pid, qty in raw.items() if pid in catalog
            and isinstance(qty, int) and 0 < qty <= MAX_QUANTITY} if isinstance(raw, dict) else {}


def _lines(cart: dict[str, int]) -> tuple[list[dict[str, Any]], Decimal]:
    catalog = _catalog()
    lines: list[dict[str, Any]] = [
        {"product": catalog[pid], "quantity": qty, "total": catalog[pid].price * qty}
        for pid, qty in cart.items()]
    return lines, sum((catalog[pid].price * qty for pid, qty in cart.items()), Decimal(0))


def _page(theme: str, template: str, page: str, **context: Any) -> str:
    """A theme's page with Parcours installed as that platform does (or not: ?parcours=off)."""
    if theme not in THEMES:
        abort(404)
    lang = "fr" if request.args.get("lang") == "fr" else "en"
    base = f"{demo_shop.url_prefix}/{theme}"
    parcours: dict[str, Any] | None = None
    if request.args.get("parcours") != "off":
        store = current_app.config["DEMO_STORE"]
        public = str(current_app.config.get("PUBLIC_URL") or request.host_url).rstrip("/")
        product = context.get("product")
        facts = {"page": page, "lang": lang, "currency": CURRENCY, "country": "FR",
                 "product": {"id": product.id, "price": str(product.price)} if product else None,
                 "endpoints": {"shop": base}}
        if theme == "dawn":  # the app embed: the whole config, the page's facts beside it
            db: Database = current_app.extensions["parcours.db"]
            with db.read() as conn:
                config = config_for(conn, store, public)
            config["endpoints"] = facts["endpoints"]
            parcours = {"config": config, "facts": facts, "origin": public}
        else:  # the WordPress plugin: the page's part; the loader fetches the store's
            inline = {"origin": public, "store": store, **facts,
                      "shopper": {"customer_id": None, "wc_session": None}}
            parcours = {"inline": inline, "origin": public}
    return render_template(f"demo_shop/{theme}/{template}", theme=theme, base=base, lang=lang,
                           parcours=parcours, collections=COLLECTIONS, currency=CURRENCY,
                           t=LABELS[lang], money=_money(lang), page_kind=page,
                           suffix="?lang=fr" if lang == "fr" else "", **context)


@demo_shop.get("/")
def index() -> Any:
    return render_template("demo_shop/index.html", themes=THEMES, catalog=CATALOG)


@demo_shop.get("/<theme>/products/<product_id>")
def product_page(theme: str, product_id: str) -> Any:
    product = _catalog().get(product_id) or abort(404)
    related = [p for p in CATALOG if p.collection == product.collection and p != product]
    return _page(theme, "product.html", "product", product=product, related=related)


@demo_shop.get("/<theme>/collections/<name>")
def collection_page(theme: str, name: str) -> Any:
    products = [p for p in CATALOG if p.collection == name] or abort(404)
    return _page(theme, "collection.html", "collection", name=name, products=products)


@demo_shop.get("/<theme>/cart")
def cart_page(theme: str) -> Any:
    lines, subtotal = _lines(_cart())
    return _page(theme, "cart.html", "cart", lines=lines, subtotal=subtotal)


@demo_shop.get("/<theme>/cart.json")
def cart_json(theme: str) -> Any:
    """The shop's cart API (what storefront.cart points at): the subtotal as a decimal."""
    lines, subtotal = _lines(_cart())
    return {"items": [{"id": line["product"].id, "quantity": line["quantity"]} for line in lines],
            "subtotal": str(subtotal), "currency": CURRENCY}


def _with_cart(target: str, cart: dict[str, int]) -> Any:
    response = redirect(target, code=303)
    response.set_cookie(CART_COOKIE, json.dumps(cart), samesite="Lax", httponly=True,
                        path=demo_shop.url_prefix)
    return response


def _quantity(raw: str | None) -> int:
    return max(1, min(MAX_QUANTITY, int(raw))) if raw and raw.isdigit() else 1


@demo_shop.post("/<theme>/cart/add")
def cart_add(theme: str) -> Any:
    product_id = request.form.get("id") or request.form.get("add-to-cart", "")
    if theme not in THEMES or product_id not in _catalog():
        abort(400, "unknown product")
    cart = _cart()
    cart[product_id] = min(MAX_QUANTITY, cart.get(product_id, 0) +
                           _quantity(request.form.get("quantity")))
    return _with_cart(f"{demo_shop.url_prefix}/{theme}/cart", cart)


@demo_shop.post("/<theme>/cart/clear")
def cart_clear(theme: str) -> Any:
    return _with_cart(f"{demo_shop.url_prefix}/{theme}/cart", {})


@demo_shop.get("/<theme>/checkout")
def checkout_page(theme: str) -> Any:
    """Checkout entry. A "buy now" link (`?variant=&quantity=`) checks out that product alone,
    as Shopify's cart permalinks do."""
    variant = request.args.get("variant")
    if variant is not None:
        if variant not in _catalog():
            abort(400, "unknown product")
        lines, total = _lines({variant: _quantity(request.args.get("quantity"))})
    else:
        lines, total = _lines(_cart())
    return _page(theme, "checkout.html", "checkout", lines=lines, subtotal=total)


@demo_shop.get("/assets/products/<product_id>.svg")
def product_image(product_id: str) -> Response:
    """A product's picture: an image file, as on a real shop, so that it is the page's largest
    element for Lighthouse (an inline SVG is not an LCP candidate)."""
    product = _catalog().get(product_id) or abort(404)
    seed = int(product.id[2:])
    hue = seed * 47 % 360
    # A photo's detail, roughly: Chrome does not count flat placeholder images (too few bytes
    # per pixel) as the largest contentful paint, and a real product photo always counts.
    shapes = "".join(
        f'<circle cx="{(seed * 37 + i * 71) % 800}" cy="{(seed * 53 + i * 97) % 600}" '
        f'r="{12 + (seed + i * 13) % 60}" fill="hsl({(hue + i * 9) % 360},{30 + i % 40}%,'
        f'{45 + (i * 7) % 40}%)" opacity="0.{3 + i % 6}"/>' for i in range(60))
    body = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 800 600" width="800" '
            f'height="600"><rect width="800" height="600" fill="hsl({hue},30%,90%)"/>'
            f'{shapes}<circle cx="400" cy="300" r="150" fill="hsl({hue},35%,60%)"/></svg>')
    return Response(body, mimetype="image/svg+xml",
                    headers={"Cache-Control": "public, max-age=86400"})


@demo_shop.get("/assets/parcours-boot.js")
def boot_script() -> Response:
    """The Shopify app embed's boot script, as the theme app extension ships it."""
    body = (resources.files("parcours.adapters.shopify") / "extensions" / "theme" / "assets"
            / "parcours-boot.js").read_bytes()
    return Response(body, mimetype="text/javascript",
                    headers={"Cache-Control": "public, max-age=3600"})


def init_app(app: Flask, store: str) -> None:
    """Serve the demo storefront for `store` (seeded by `seed_demo_shop`)."""
    app.config["DEMO_STORE"] = store
    app.register_blueprint(demo_shop)
