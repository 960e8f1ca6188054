"""What storefronts fetch from Parcours: the scripts and a store's widget config.

Both are public (the store key is public, like the pixel's) and cacheable with an ETag, so a
returning shopper's browser revalidates in one small request. The config is served with CORS
open to any origin: it holds nothing private, and a custom shop may load it from anywhere.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from parcours.accounts import store_facts
from parcours.db import Database
from parcours.errors import NotFoundError
from parcours.widgets.assets import asset
from parcours.widgets.config import etag, widget_config

__all__ = ["widgets_blueprint"]

widgets_blueprint = Blueprint("widgets", __name__)
SCRIPT_MAX_AGE = 3600  # seconds; the loader's URL is stable, so revalidate hourly
CONFIG_MAX_AGE = 300  # a merchant's change reaches shoppers within five minutes


def _cached(response: Response, tag: str, max_age: int) -> Response:
    """With its ETag and cache lifetime; 304 (no body) when the browser's copy is current."""
    response.set_etag(tag.strip('"'))
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    response.make_conditional(request)  # updates the response in place
    return response


@widgets_blueprint.get("/widgets/<name>.js")
def script(name: str) -> Response:
    found = asset(name)
    response = Response(found.body, mimetype="text/javascript")
    return _cached(response, found.etag, SCRIPT_MAX_AGE)


@widgets_blueprint.get("/w/<store>/config.json")
def config(store: str) -> Any:
    directory = current_app.extensions["parcours.store_directory"]
    known = directory.any_by_key(store)
    if known is None:
        raise NotFoundError(f"no store {store!r}")
    db: Database = current_app.extensions["parcours.db"]
    with db.read() as conn:
        facts = store_facts(conn, known.id, "widgets", "shop", "site", "consent",
                            "customer_accounts")
    lang = (facts.get("shop") or {}).get("locale")
    public = str(current_app.config.get("PUBLIC_URL") or request.host_url).rstrip("/")
    body = widget_config(public, store, facts.get("widgets"), lang, facts)
    body["currency"] = ((facts.get("shop") or {}).get("currency")
                        or (facts.get("site") or {}).get("currency"))
    # A store that must ask for consent first (EU cookie rules as it reads them): the loader
    # then stores no id and sends nothing until the page grants it.
    body["consent_required"] = bool((facts.get("consent") or {}).get("required"))
    response = _cached(jsonify(body), etag(body), CONFIG_MAX_AGE)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
