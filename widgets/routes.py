"""What storefronts fetch from Parcours: the scripts, a store's widget config, shipping
estimates and product reviews.

All public (the store key is public, like the pixel's), read-only and cacheable, so a returning
shopper's browser revalidates in one small request. They are served with CORS open to any
origin: they hold nothing private, and a custom shop may load them from anywhere.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import select
from sqlalchemy.engine import Connection

from parcours import tables as t
from parcours.accounts import store_facts
from parcours.adapters.base import adapter_for
from parcours.db import Database
from parcours.errors import NotFoundError, ValidationError
from parcours.review_storefront import write_path
from parcours.review_submission import storefront_product
from parcours.reviews import MAX_PER_PAGE, product_reviews
from parcours.shipping import estimate_answer, parse_estimate_query
from parcours.widgets.assets import asset
from parcours.widgets.config import CONFIG_FACTS, etag, widget_config

__all__ = ["config_for", "widgets_blueprint"]

widgets_blueprint = Blueprint("widgets", __name__)
SCRIPT_MAX_AGE = 3600  # seconds; the loader's URL is stable, so revalidate hourly
CONFIG_MAX_AGE = 300  # a merchant's change reaches shoppers within five minutes
ANSWER_MAX_AGE = 60  # estimates and reviews: fresh enough, and a shopper's repeat is free
PRODUCT_ID_MAX = 64


def _db() -> Database:
    return current_app.extensions["parcours.db"]  # type: ignore[no-any-return]


def _public(response: Response, max_age: int) -> Response:
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _cached(response: Response, tag: str, max_age: int) -> Response:
    """With its ETag and cache lifetime; 304 (no body) when the browser's copy is current."""
    response.set_etag(tag.strip('"'))
    _public(response, max_age)
    response.make_conditional(request)  # updates the response in place
    return response


def _installed(conn: Connection, key: str) -> Any:
    """The installed store `key` (id, platform), else NotFoundError."""
    s = t.stores.c
    row = conn.execute(select(s.id, s.platform).where(
        s.key == key, s.uninstalled_at.is_(None))).first()
    if row is None:
        raise NotFoundError(f"no store {key!r}")
    return row


def _store(key: str) -> Any:
    with _db().read() as conn:
        return _installed(conn, key)


def config_for(conn: Connection, key: str, public_url: str) -> dict[str, Any]:
    """The widget config of the store `key`, from its facts and its platform's storefront."""
    row = _installed(conn, key)
    facts = store_facts(conn, row.id, *CONFIG_FACTS)
    return widget_config(public_url, key, facts, adapter_for(row.platform).storefront)


def _refused(exc: ValidationError) -> Response:
    """400 naming the bad parameters, readable by the storefront's script (CORS)."""
    response = jsonify(error={"message": exc.args[0], "fields": exc.errors})
    response.status_code = 400
    return _public(response, 0)


@widgets_blueprint.get("/widgets/<name>.js")
def script(name: str) -> Response:
    """Gzipped when the browser accepts it (what the budgets count), without relying on a
    proxy or CDN to do it."""
    found = asset(name)
    if request.accept_encodings["gzip"]:
        response = Response(found.gzipped, mimetype="text/javascript")
        response.headers["Content-Encoding"] = "gzip"
        tag = found.etag.strip('"') + "-gz"  # another representation, another validator
    else:
        response, tag = Response(found.body, mimetype="text/javascript"), found.etag
    response.vary.add("Accept-Encoding")
    return _cached(response, tag, SCRIPT_MAX_AGE)


@widgets_blueprint.get("/w/<store>/config.json")
def config(store: str) -> Response:
    public = str(current_app.config.get("PUBLIC_URL") or request.host_url)
    with _db().read() as conn:
        body = config_for(conn, store, public)
    return _cached(jsonify(body), etag(body), CONFIG_MAX_AGE)


@widgets_blueprint.get("/w/<store>/shipping-estimate")
def shipping_estimate(store: str) -> Response:
    """Rates from the store's shipping zones (custom shops; Shopify asks through its app
    proxy, WooCommerce its own plugin route, with the same answer)."""
    row = _store(store)
    try:
        query = parse_estimate_query(request.args)
    except ValidationError as exc:
        return _refused(exc)
    with _db().read() as conn:
        zones = store_facts(conn, row.id, "shipping_zones").get("shipping_zones")
    return _public(jsonify(estimate_answer(query, zones)), ANSWER_MAX_AGE)


def _whole(name: str, default: int, high: int) -> int:
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= high:
        raise ValidationError("invalid reviews request",
                              {name: [f"a whole number from 1 to {high}"]})
    return int(raw)


@widgets_blueprint.get("/w/<store>/reviews/<product>.json")
def reviews(store: str, product: str) -> Response:
    """A page of the product's published reviews with its rating (`?page=&per_page=`), and
    `write`: the path of the page where anyone may review it, or null (the store's
    `storefront_reviews` setting)."""
    row = _store(store)
    try:
        if len(product) > PRODUCT_ID_MAX:
            raise ValidationError("invalid reviews request",
                                  {"product": [f"at most {PRODUCT_ID_MAX} characters"]})
        page = _whole("page", 1, 10_000)
        per_page = _whole("per_page", 5, MAX_PER_PAGE)
    except ValidationError as exc:
        return _refused(exc)
    with _db().read() as conn:
        body = product_reviews(conn, row.id, product, page=page, per_page=per_page)
        takes = storefront_product(conn, store, product) is not None
    # Where a visitor may write one (review_storefront.py), when the store takes them.
    body["write"] = write_path(store, product) if takes else None
    return _public(jsonify(body), ANSWER_MAX_AGE)
