"""WooCommerce's key-approval endpoint, /wc-auth/v1/authorize (includes/class-wc-auth.php;
REST API docs, "Authentication endpoint").

The merchant is taken as logged in with `manage_woocommerce` (user `store.admin_user_id`), and
the "Approve"/"Deny" screen is played by the request: `approve=1`/`approve=0`, or
`store.auto_approve` when the parameter is absent.

- Validation (make_validation): every one of app_name, user_id, return_url, callback_url, scope
  present ("Missing parameter %s"), scope read|write|read_write ("Invalid scope %s"), both URLs
  valid ("The %s is not a valid URL", with the URL), callback_url over https ("The
  callback_url needs to be over SSL"). URLs without "://" get "https://" (get_formatted_url).
- A refusal is wp_die(): an HTML "Access denied" page "Error: <message>." with status 401
  (not 400).
- Deny: 302 to return_url with `success=0&user_id=<user_id>`.
- Approve: a key is made ("ck_"/"cs_" + 40 hex, description "<app_name> - API (<UTC date>)",
  permissions = scope, owned by the merchant) and POSTed to callback_url as JSON
  {"key_id": int, "user_id": <the user_id parameter, a string>, "consumer_key",
  "consumer_secret", "key_permissions"} with `Content-Type: application/json;charset=UTF-8`.
  Unless the answer is exactly 200, the key is deleted again and the merchant sees "Error: An
  error occurred in the request and at the time were unable to send the consumer data." (401).
  Else 302 to return_url with `success=1&user_id=<user_id>`.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from flask import Blueprint, Response, current_app, redirect, request

from tests.fake_woocommerce.resources import add_key, delete_key
from tests.fake_woocommerce.state import FakeWooStore, php_json
from tests.fake_woocommerce.webhooks import local_url

wc_auth_blueprint = Blueprint("fake_woocommerce_wc_auth", __name__)

PARAMS = ("app_name", "user_id", "return_url", "callback_url", "scope")
CALLBACK_TIMEOUT = 10.0  # WooCommerce waits 60 s


class Refused(Exception):
    pass


def formatted(url: str) -> str:
    """WC_Auth::get_formatted_url()."""
    return url if "://" in url else "https://" + url


def valid_url(url: str) -> bool:
    """filter_var( $url, FILTER_VALIDATE_URL ), roughly."""
    parts = urlsplit(url)
    return bool(parts.scheme and parts.netloc) and " " not in url


def add_query(url: str, **args: Any) -> str:
    """add_query_arg() on a URL that may already have a query string."""
    return f"{url}{'&' if '?' in url else '?'}{urlencode(args)}"


def die(message: str) -> Response:
    """wp_die() with the 'Access denied' title and a 401."""
    body = ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Access denied</title>"
            f"</head><body id=\"error-page\"><div class=\"wp-die-message\">Error: "
            f"{html.escape(message)}.</div></body></html>")
    return Response(body, 401, content_type="text/html; charset=utf-8")


def validate(data: dict[str, str]) -> None:
    for name in PARAMS:
        if not data.get(name):
            raise Refused(f"Missing parameter {name}")
    if data["scope"] not in ("read", "write", "read_write"):
        raise Refused(f"Invalid scope {data['scope']}")
    for name in ("return_url", "callback_url"):
        url = formatted(data[name])
        if not valid_url(url):
            raise Refused(f"The {url} is not a valid URL")
    if not formatted(data["callback_url"]).lower().startswith("https://"):
        raise Refused("The callback_url needs to be over SSL")


def post_consumer_data(store: FakeWooStore, consumer: dict[str, Any], url: str) -> None:
    body = php_json(consumer)
    entry: dict[str, Any] = {"url": url, "body": body}
    try:
        answer = requests.post(local_url(store, url), data=body, timeout=CALLBACK_TIMEOUT,
                               headers={"Content-Type": "application/json;charset=UTF-8"})
    except requests.RequestException as exc:
        entry["status"] = "error"
        store.auth_callbacks.append(entry)
        raise Refused(f"cURL error 7: {exc}") from exc
    entry["status"] = answer.status_code
    store.auth_callbacks.append(entry)
    if answer.status_code != 200:
        raise Refused("An error occurred in the request and at the time were unable to send "
                      "the consumer data")


@wc_auth_blueprint.route("/wc-auth/v1/<route>", methods=["GET", "POST"])
def auth_endpoint(route: str) -> Any:
    store: FakeWooStore = current_app.config["STORE"]
    data = {name: request.values.get(name, "") for name in PARAMS}
    consumer: dict[str, Any] = {}
    try:
        validate(data)
        if route.lower() not in ("authorize", "login", "access_granted"):
            raise Refused("You do not have permission to access this page")
        choice = request.values.get("approve")
        approved = store.auto_approve if choice is None else choice not in ("0", "no", "false")
        return_url = formatted(data["return_url"])
        if not approved:
            return redirect(add_query(return_url, success=0, user_id=data["user_id"]), 302)
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        key = add_key(store, user_id=store.admin_user_id, permissions=data["scope"],
                      description=f"{data['app_name'][:170]} - API ({stamp})")
        consumer = {"key_id": key.key_id, "user_id": data["user_id"],
                    "consumer_key": key.consumer_key, "consumer_secret": key.consumer_secret,
                    "key_permissions": key.permissions}
        post_consumer_data(store, consumer, formatted(data["callback_url"]))
        return redirect(add_query(return_url, success=1, user_id=data["user_id"]), 302)
    except Refused as refusal:
        if "key_id" in consumer:
            delete_key(store, consumer["key_id"])
        return die(str(refusal))
