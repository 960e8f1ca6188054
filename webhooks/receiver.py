"""`POST /webhooks/<platform>[/<store_key>]`: verify, store once, acknowledge.

The ack path is deliberately tiny: verify the signature on the raw bytes → one INSERT into the
inbox with the delivery's unique key → commit → wake a worker → 200. Nothing is parsed before
the signature verifies, and nothing else runs before the answer (Shopify retries after 5 s and
drops a subscription after repeated failures; WooCommerce never retries and disables a webhook
after 5 failures). Parsing and normalizing happen in the worker, so a valid delivery whose body is
not JSON is still stored, then marked failed with the reason: see docs/webhooks.md.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, request
from sqlalchemy.exc import DBAPIError

from parcours.adapters.base import PlatformAdapter, adapter_for, app_secrets, lower_headers
from parcours.db import Database
from parcours.errors import AuthError, ConfigError, NotFoundError
from parcours.inbox import receive
from parcours.webhooks.collect import collect
from parcours.webhooks.stores import StoreDirectory

log = logging.getLogger(__name__)
webhooks = Blueprint("webhooks", __name__, url_prefix="/webhooks")
# The two answers of the ack path, serialised once.
_STORED = (b'{"duplicate":false,"ok":true}\n', 200, {"Content-Type": "application/json"})
_DUPLICATE = (b'{"duplicate":true,"ok":true}\n', 200, {"Content-Type": "application/json"})


def init_app(app: Flask) -> None:
    app.extensions["parcours.store_directory"] = StoreDirectory(
        app.extensions["parcours.db"], app.extensions["parcours.vault"],
        ttl=float(app.config["WEBHOOK_CACHE_SECONDS"]))
    app.register_blueprint(webhooks)
    app.register_blueprint(collect)


def _adapter(platform: str) -> PlatformAdapter:
    try:
        return adapter_for(platform)
    except ConfigError:
        raise NotFoundError(f"no webhook receiver for platform {platform!r}") from None


def _kept(adapter: PlatformAdapter, headers: Mapping[str, str]) -> dict[str, str]:
    return {name: value for name, value in headers.items()
            if name.startswith(adapter.kept_header_prefixes)
            or name in ("content-type", "user-agent")}


@webhooks.post("/<platform>")
@webhooks.post("/<platform>/<store_key>")
def receive_webhook(platform: str, store_key: str | None = None) -> Any:
    adapter = _adapter(platform)
    headers = lower_headers(dict(request.headers.items()))
    body = request.get_data(cache=False)  # raises 413 past MAX_CONTENT_LENGTH
    directory: StoreDirectory = current_app.extensions["parcours.store_directory"]
    db: Database = current_app.extensions["parcours.db"]

    if adapter.app_signed:
        secrets = app_secrets(current_app.config, platform)
        store = directory.by_domain(platform, adapter.shop_domain(headers) or "")
    else:
        if store_key is None:
            raise NotFoundError(f"{platform} webhooks are sent to /webhooks/{platform}/<store>")
        store = directory.by_key(platform, store_key)
        if store is None:
            raise NotFoundError(f"no {platform} store {store_key!r}")
        ping = adapter.ping_id(headers, body)
        if ping is not None:
            with db.write() as conn:
                receive(conn, store_id=store.id, source=platform, topic="ping",
                        delivery_key=f"{platform}:{store.key}:ping:{ping}", body=body,
                        headers=_kept(adapter, headers), status="ping")
            return jsonify(ok=True, ping=True)
        secrets = directory.secrets(store)

    verdict = adapter.verify(headers, body, secrets)
    if not verdict.ok and store is not None and not adapter.app_signed:
        verdict = adapter.verify(headers, body, directory.secrets(store, fresh=True))
    if not verdict.ok:
        log.warning("rejected %s delivery for %s: %s", platform,
                    store.key if store else "unknown store", verdict.reason)
        raise AuthError(f"signature rejected: {verdict.reason}")
    key = store.key if store else ""
    with db.write() as conn:
        new = receive(conn, store_id=store.id if store else None, source=platform,
                      topic=adapter.topic(headers)[:128],
                      delivery_key=adapter.delivery_key(key, headers, body), body=body,
                      headers=_kept(adapter, headers))
    if new:
        current_app.extensions["parcours.jobs"].wake()
    return _STORED if new else _DUPLICATE


@webhooks.errorhandler(DBAPIError)
def not_stored(exc: DBAPIError) -> Any:
    """The database could not store the delivery (down, read-only, disk full): refuse the ack.

    A 503 makes the platform (or the beacon, on `/collect`, which registers this handler too)
    send it again later, so nothing is lost; a 200 would drop it.
    The log names the database's reason in one line; the answer names none of it (it goes
    to whoever called, and may not learn about this server's storage).
    """
    reason = (str(exc.orig).strip().splitlines() or [type(exc).__name__])[0]
    log.error("delivery to %s not stored, answered 503 for a retry: %s", request.path, reason)
    message = "the delivery could not be stored; send it again later"
    return jsonify(error={"message": message}), 503, {"Retry-After": "30"}


collect.register_error_handler(DBAPIError, not_stored)  # a beacon batch is a delivery too
