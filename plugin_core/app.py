"""The Flask application factory.

Configuration comes from `PARCOURS_*` environment variables (Flask's `from_prefixed_env`), then
from the mapping given to `create_app` (tests). Nothing secret has a default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask, jsonify
from sqlalchemy import text
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from parcours import webhooks
from parcours.adapters.base import adapters
from parcours.api import api_v1
from parcours.credentials import Vault
from parcours.dashboard import init_app as init_dashboard
from parcours.db import Database
from parcours.errors import AuthError, Forbidden, NotFoundError, ParcoursError, ValidationError
from parcours.jobs import Jobs
from parcours.review_form import review_form
from parcours.widgets.routes import widgets_blueprint

DEFAULTS: dict[str, Any] = {
    "DATABASE_URL": None,  # default: SQLite file in the instance folder
    "REDIS_URL": None,  # default: SqliteHuey in the instance folder
    "JOBS_IMMEDIATE": False,  # run jobs in the request (tests only)
    "INBOX_BATCH": 500,
    "MAX_CONTENT_LENGTH": 5 * 1024 * 1024,  # bodies over it get 413
    "SECRET_KEYS": None,  # Fernet keys for credentials at rest (comma-separated, newest first)
    "SHOPIFY_API_SECRET": None,  # the app's secret: signs Shopify webhooks
    "SHOPIFY_API_SECRET_PREVIOUS": None,  # still accepted while rotating (comma-separated)
    "SHOPIFY_API_KEY": None,  # the app's client id (partner dashboard)
    "SHOPIFY_SHOP_ORIGIN": "https://{shop}",  # where a shop's admin API lives (tests: a fake)
    "PUBLIC_URL": None,  # this server as platforms reach it, e.g. https://parcours.example.com
    "UNINSTALL_RETENTION_DAYS": 30,  # data of an uninstalled store is deleted after this
    "WEBHOOK_CACHE_SECONDS": 30,  # how long a process trusts its copy of a store's secrets
    "MAX_EVENTS_PER_REQUEST": 1000,
    # Review requests by email: smtp://user:password@host:587 (STARTTLS), smtps://... (TLS),
    # or smtp://host:25 on a trusted network; MAIL_FROM is the envelope and From address.
    "SMTP_URL": None,
    "MAIL_FROM": None,
    # Review requests to a webhook on a private network (the merchant's intranet tool): off,
    # as a webhook URL is typed by merchants and Parcours must not probe its own network.
    "REVIEW_WEBHOOK_LOCAL": False,
    "DEMO_SHOP": None,  # a store key: serve the demo storefront for it at /demo/shop (demo only)
    # Reverse proxies in front of the app that set X-Forwarded-For/-Proto/-Host. 0 trusts none:
    # behind a proxy every shopper would then share its address (and its /collect rate limit).
    "PROXY_HOPS": 0,
}


def create_app(config: Mapping[str, Any] | None = None, *,
               instance_path: str | None = None) -> Flask:
    """The app; its instance folder (SQLite file, job queue) from the argument or
    `PARCOURS_INSTANCE_PATH`, else Flask's default."""
    app = Flask("parcours",
                instance_path=instance_path or os.environ.get("PARCOURS_INSTANCE_PATH") or None)
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("PARCOURS")
    if config:
        app.config.from_mapping(config)
    hops = int(app.config["PROXY_HOPS"])
    if hops > 0:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    Database().init_app(app)
    app.extensions["parcours.vault"] = Vault(app.config["SECRET_KEYS"])
    Jobs().init_app(app)
    app.register_blueprint(api_v1)
    webhooks.init_app(app)
    app.register_blueprint(widgets_blueprint)
    app.register_blueprint(review_form)
    init_dashboard(app)
    for adapter in adapters():
        adapter.init_app(app)
    if app.config["DEMO_SHOP"]:
        from parcours.widgets import demo_shop

        demo_shop.init_app(app, str(app.config["DEMO_SHOP"]))
    _register_errors(app)

    @app.get("/healthz")
    def healthz() -> Any:
        db: Database = app.extensions["parcours.db"]
        try:
            with db.read() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:
            return jsonify(status="error", database="unreachable"), 503
        return jsonify(status="ok")

    return app


def error_response(status: int, message: str, fields: Mapping[str, Any] | None = None) -> Any:
    body: dict[str, Any] = {"message": message}
    if fields:
        body["fields"] = dict(fields)
    return jsonify(error=body), status


def _register_errors(app: Flask) -> None:
    statuses = {ValidationError: 422, NotFoundError: 404, AuthError: 401, Forbidden: 403}

    @app.errorhandler(ParcoursError)
    def _parcours(exc: ParcoursError) -> Any:
        status = next((s for kind, s in statuses.items() if isinstance(exc, kind)), 500)
        fields = exc.errors if isinstance(exc, ValidationError) else None
        message = exc.args[0] if exc.args else type(exc).__name__
        return error_response(status, str(message), fields)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Any:
        return error_response(exc.code or 500, exc.description or exc.name)
