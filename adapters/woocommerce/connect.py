"""Connecting a WooCommerce store: WooCommerce's own key-approval flow (/wc-auth/v1/authorize).

1. `GET /woocommerce/connect?store_url=…` (the plugin's Connect button, or a link): the URL is
   checked (site.py: https and public, unless local stores are allowed), then the merchant is
   sent to `{store}/wc-auth/v1/authorize` with `app_name`, `scope=read_write`, `user_id`,
   `return_url` and `callback_url`. `user_id` is our reference to the pending connection: the
   store URL and a nonce, signed (itsdangerous, salt "parcours.woocommerce.connect"), valid 15
   minutes. WooCommerce requires an https `callback_url`, so PUBLIC_URL must be https.
2. The merchant approves; WooCommerce POSTs `{key_id, user_id, consumer_key, consumer_secret,
   key_permissions}` as JSON to the callback and deletes the key again unless the answer is
   exactly 200. The callback checks the signed `user_id` (forged, expired or already used:
   refused, nothing stored), stores the keys encrypted, answers 200 at once, and queues the setup
   job: calling the store back from inside its own callback could deadlock a small PHP server.
3. WooCommerce sends the merchant to `return_url` (`success=1|0`, `user_id`); Parcours sends
   them on to the plugin's settings page (the `return_url` the plugin gave, which must be on the
   store's own site) with `parcours_connected`, the store key (public) and the plugin's `state`,
   which the plugin checks against the Connect click it made.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Flask, current_app, jsonify, redirect, request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import Connection, select, update

from parcours import tables as t
from parcours.accounts import create_store, free_store_key, save_store_facts, store_facts
from parcours.adapters.base import StoreAccess
from parcours.adapters.woocommerce.client import WooClient
from parcours.adapters.woocommerce.install import run_setup
from parcours.adapters.woocommerce.keys import StoreKeys, save_keys
from parcours.adapters.woocommerce.site import allow_local, normalise_store_url
from parcours.credentials import Vault
from parcours.db import Database, advisory_lock
from parcours.errors import AuthError, ConfigError, ValidationError

__all__ = ["connect_store", "connect_with_keys", "register_routes"]

log = logging.getLogger(__name__)
routes = Blueprint("woocommerce", __name__)
SALT = "parcours.woocommerce.connect"
MAX_AGE = 15 * 60  # seconds for the merchant to approve
KEY = re.compile(r"ck_[0-9a-f]{40}")
SECRET = re.compile(r"cs_[0-9a-f]{40}")
STATE = re.compile(r"[A-Za-z0-9_-]{0,128}")


def register_routes(app: Flask) -> None:
    if routes.name not in app.blueprints:
        app.register_blueprint(routes)


def _config() -> Mapping[str, Any]:
    return current_app.config


def _public_url() -> str:
    url = str(_config().get("PUBLIC_URL") or "").rstrip("/")
    if not url.startswith("https://"):
        raise ConfigError("PUBLIC_URL must be https: WooCommerce sends the keys only to an "
                          "https callback")
    return url


def _serializer() -> URLSafeTimedSerializer:
    vault: Vault = current_app.extensions["parcours.vault"]
    return URLSafeTimedSerializer(vault.signing_keys(SALT), salt=SALT)


def _pending(token: str) -> dict[str, str]:
    try:
        data = _serializer().loads(token, max_age=MAX_AGE)
    except SignatureExpired:
        raise AuthError("the connection request has expired: click Connect again") from None
    except BadSignature:
        raise AuthError("user_id is not a connection request signed by Parcours") from None
    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
        raise AuthError("user_id is not a connection request signed by Parcours")
    return cast(dict[str, str], data)


def _find(conn: Connection, url: str) -> Any:
    """The store connected at `url` (host plus path: several stores may share a host)."""
    host = urlsplit(url).hostname or ""
    s = t.stores.c
    for row in conn.execute(select(s.id, s.key, s.uninstalled_at).where(
            s.platform == "woocommerce", s.domain == host).order_by(s.id)):
        if (store_facts(conn, row.id, "site").get("site") or {}).get("url") == url:
            return row
    return None


def connect_store(conn: Connection, vault: Vault, keys: StoreKeys, *, nonce: str = "",
                  account: str | None = None, store_key: str | None = None) -> str:
    """Create the store for `keys.url` (or reactivate it), save its keys; its store key.
    `store_key` names a new store (else one is made from the host)."""
    host = urlsplit(keys.url).hostname or ""
    advisory_lock(conn, f"parcours.woocommerce.connect:{keys.url}")
    row = _find(conn, keys.url)
    if row is not None and nonce and (store_facts(conn, row.id, "connection").get(
            "connection") or {}).get("nonce") == nonce:
        raise AuthError("this connection request was already used: click Connect again")
    if row is not None and store_key and row.key != store_key:
        raise ValidationError("this store is already connected", {
            "url": [f"{keys.url} is store {row.key!r}"]})
    if row is None:
        key = store_key or free_store_key(conn, host.removeprefix("www."))
        store_id = create_store(conn, key, account=account or host, platform="woocommerce",
                                name=host, domain=host).id
    else:
        key, store_id = row.key, row.id
        conn.execute(update(t.stores).where(t.stores.c.id == store_id)
                     .values(uninstalled_at=None, delete_after=None))
    save_keys(conn, vault, store_id, keys)
    save_store_facts(conn, store_id, {"site": {"url": keys.url},
                                      "connection": {"nonce": nonce, "key_id": keys.key_id}},
                     datetime.now(UTC))
    return str(key)


def _start_setup(store_key: str) -> None:
    start = current_app.extensions.get("parcours.woocommerce.setup")
    if start is None:
        return
    try:
        start(store_key)
    except Exception:  # the periodic health job sets it up later
        log.exception("could not queue the WooCommerce setup of %s", store_key)


def _plugin_page(url: str) -> tuple[str, str]:
    """Where to send the merchant back (the plugin's settings page, on the store's own site:
    never an open redirect) and the plugin's `state`, echoed so it knows the answer is for the
    Connect click it made."""
    back = request.args.get("return_url") or f"{url}/wp-admin/admin.php?page=parcours"
    site, target = urlsplit(url), urlsplit(back)
    # A user part or a backslash is where parsers disagree: "https://evil.example\\@shop/" is
    # the shop to urlsplit and evil.example to a browser, which reads "\\" as "/".
    if (target.scheme, target.hostname, target.port) != (site.scheme, site.hostname, site.port) \
            or target.username is not None or "\\" in back \
            or any(ord(c) < 33 for c in back):
        raise ValidationError("invalid connection request", {
            "return_url": ["must be on the store's own site"]})
    state = request.args.get("state", "")
    if not STATE.fullmatch(state):
        raise ValidationError("invalid connection request", {
            "state": ["up to 128 letters, digits, '-' or '_'"]})
    return back, state


@routes.get("/woocommerce/connect")
def connect() -> Any:
    url = normalise_store_url(request.args.get("store_url"), local=allow_local(_config()))
    back, state = _plugin_page(url)
    public = _public_url()
    token = _serializer().dumps({"url": url, "nonce": secrets.token_urlsafe(16),
                                 "back": back, "state": state})
    query = urlencode({"app_name": "Parcours", "scope": "read_write", "user_id": token,
                       "return_url": f"{public}/woocommerce/return",
                       "callback_url": f"{public}/woocommerce/callback"})
    response = redirect(f"{url}/wc-auth/v1/authorize?{query}", 302)
    response.headers["Cache-Control"] = "no-store"
    return response


@routes.post("/woocommerce/callback")
def callback() -> Any:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError("the key callback must be a JSON object", {"body": ["JSON"]})
    pending = _pending(str(body.get("user_id") or ""))
    errors: dict[str, list[str]] = {}
    if not KEY.fullmatch(str(body.get("consumer_key") or "")):
        errors["consumer_key"] = ["a WooCommerce consumer key (ck_...)"]
    if not SECRET.fullmatch(str(body.get("consumer_secret") or "")):
        errors["consumer_secret"] = ["a WooCommerce consumer secret (cs_...)"]
    if body.get("key_permissions") != "read_write":
        errors["key_permissions"] = ["Parcours needs read_write keys"]
    key_id = body.get("key_id")
    if key_id is not None and (isinstance(key_id, bool) or not isinstance(key_id, int)):
        errors["key_id"] = ["an integer"]
    if errors:
        raise ValidationError("invalid key callback", errors)
    keys = StoreKeys(pending["url"], str(body["consumer_key"]), str(body["consumer_secret"]),
                     key_id)
    db: Database = current_app.extensions["parcours.db"]
    with db.write() as conn:
        store_key = connect_store(conn, current_app.extensions["parcours.vault"], keys,
                                  nonce=pending.get("nonce", ""))
    log.info("WooCommerce store %s connected as %s", keys.url, store_key)
    _start_setup(store_key)
    return jsonify(ok=True, store=store_key), 200


@routes.get("/woocommerce/return")
def back_to_store() -> Any:
    pending = _pending(str(request.args.get("user_id") or ""))
    url = pending["url"]
    db: Database = current_app.extensions["parcours.db"]
    with db.read() as conn:
        row = _find(conn, url)
    if request.args.get("success") == "1" and row is not None:
        params = {"parcours_connected": "1", "store_key": str(row.key)}
    else:
        params = {"parcours_connected": "0"}
    back = pending.get("back") or f"{url}/wp-admin/admin.php?page=parcours"
    params["state"] = pending.get("state", "")
    separator = "&" if "?" in back else "?"
    response = redirect(f"{back}{separator}{urlencode(params)}", 302)
    response.headers["Cache-Control"] = "no-store"
    return response


def connect_with_keys(store: StoreAccess, *, account: str, url: str, consumer_key: str,
                      consumer_secret: str, new_secret: str) -> list[str]:
    """An agency's existing keys: checked against the store first (wrong keys: the store's 401,
    nothing stored), then stored, then the store set up at once; what was done."""
    base = normalise_store_url(url, local=allow_local(store.config))
    errors: dict[str, list[str]] = {}
    if not KEY.fullmatch(consumer_key):
        errors["key"] = ["a WooCommerce consumer key (ck_ and 40 hex digits)"]
    if not SECRET.fullmatch(consumer_secret):
        errors["secret"] = ["a WooCommerce consumer secret (cs_ and 40 hex digits)"]
    if errors:
        raise ValidationError("invalid WooCommerce keys", errors)
    WooClient(base, consumer_key, consumer_secret).get("system_status")  # 401: wrong keys
    with store.db.write() as conn:
        connect_store(conn, store.vault, StoreKeys(base, consumer_key, consumer_secret),
                      account=account, store_key=store.key)
    report = run_setup(store, new_secret)
    return [f"connected {base}", *(f"setup: {step}" for step in report.done), *report.notes]
